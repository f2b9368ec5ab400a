import * as fs from "node:fs";
import * as path from "node:path";
import { onDisk } from "./diskErrors";

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
