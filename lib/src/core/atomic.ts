import * as fs from "node:fs";
import * as path from "node:path";
import { diskError, onDisk } from "./diskErrors";

/** A temp path next to `target` (same filesystem, so rename is atomic). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/**
 * Writes through a temp file and renames it over `target`, so readers never see a half-written file and an
 * interrupted run leaves the previous version intact. `write` receives the temp path. A full disk, a quota, a
 * read-only or unwritable folder becomes one line naming `target` (and `bytes`, what it needed, when given).
 */
export function writeAtomically(target: string, write: (tempPath: string) => void, bytes?: number): void {
  onDisk(target, () => {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const temp = tempPathFor(target);
    try {
      write(temp);
      fs.renameSync(temp, target);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw err;
    }
  }, bytes);
}

const TEMP_NAME = /^\..+\.(\d+)\.\d+\.tmp$/;

/**
 * Removes temp files in `folder` left by runs that were killed mid-write (their process is gone); files of
 * live processes, e.g. a notebook writing next to the CLI, are kept. Returns the removed names.
 */
export function removeStaleTempFiles(folder: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(folder, { withFileTypes: false }) as string[]) {
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    fs.rmSync(path.join(folder, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** Whether process `pid` runs on this machine (one we may not signal counts as running). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Atomic writeFileSync. */
export function writeFileAtomic(target: string, data: string | NodeJS.ArrayBufferView): void {
  writeAtomically(target, (temp) => fs.writeFileSync(temp, data), typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
}

/**
 * A file written piece by piece (a large index or shard file) into a temp file of this process (its pid in the
 * name, so two writers never share one), renamed to `file` by finish(). A disk error removes the temp file and
 * names `file` (and `bytes`, the size it was to reach, when known) in one line; an interrupted run leaves only a
 * temp file, which the next run in that folder clears (removeStaleTempFiles).
 */
export class StreamedFileWriter {
  readonly temp: string;
  private fd: number;
  private end = 0;

  constructor(readonly file: string, private readonly bytes?: number) {
    this.temp = tempPathFor(file);
    this.fd = this.guard(() => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      return fs.openSync(this.temp, "w");
    });
  }

  /** Writes `data` at `position` (default: after everything written so far). */
  write(data: Uint8Array, position = this.end): void {
    this.guard(() => {
      let done = 0;
      while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, position + done);
    });
    this.end = Math.max(this.end, position + data.length);
  }

  /** Flushes and renames the file into place. */
  finish(): void {
    this.guard(() => {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
      fs.renameSync(this.temp, this.file);
    });
  }

  /** Stops without finishing: the temp file is removed (safe to call twice). */
  close(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed by a failed finish()
      }
      this.fd = -1;
    }
    fs.rmSync(this.temp, { force: true });
  }

  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      const named = diskError(err, this.file, this.bytes);
      if (named) this.close();
      throw named ?? err;
    }
  }
}
