/**
 * One writer per output folder. Every stage that writes under a root (the CLI's commands, the notebooks' stage
 * calls) holds `<root>/.mrl.lock` while it runs: an flock, which the kernel drops when its holder exits however it
 * exits (a SIGKILL included), on a file that names the holder (pid, host, command, start time) for the message a
 * second run prints. A second run waits for the first, or with `wait: false` (`--no-wait`) stops at once with
 * that message. The lock is re-entrant within a process: a stage called inside a command that holds it goes on.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processAlive } from "./atomic";
import { onDisk } from "./diskErrors";
import { MrlError } from "./errors";
import { nativeKernels } from "../kernels/native";

export const LOCK_NAME = ".mrl.lock";

/** Who holds (or last held) a folder's lock. */
export interface LockHolder { pid: number; host: string; command: string; started: string }

export interface LockOptions {
  /** What this process is doing, for the holder line another run prints (default: its command line). */
  command?: string;
  /** Wait for the holder to finish (default), or stop at once with an error naming it. */
  wait?: boolean;
  /** Lines for the user: that this run waits, or took over a lock left by a process that is gone. */
  onNote?: (line: string) => void;
  /** Milliseconds between attempts while waiting. */
  pollMs?: number;
  /**
   * Share the folder with other shared holders (the shard tasks of one job, each writing only its own files),
   * while excluding every exclusive holder (a whole run, a merge). Shared holders do not name themselves.
   */
  shared?: boolean;
}

/** A held lock; release() once per lockFolder() call (the last one frees it). */
export interface FolderLock { file: string; release(): void }

/** Locks this process holds: its descriptor, how many lockFolder calls hold it, and the folder if it made it. */
const held = new Map<string, { fd: number; count: number; shared: boolean; folder?: string }>();

/**
 * Locks held by this process's ancestors, which wait for it (the pipeline executing its notebooks, whose stage
 * calls lock the same root): `<pid>:<lock file>` lines, passed down through the environment by inheritLock.
 */
export const INHERITED_LOCKS_ENV = "MRL_HELD_LOCKS";

function heldByAncestor(file: string): boolean {
  for (const entry of (process.env[INHERITED_LOCKS_ENV] ?? "").split("\n")) {
    const colon = entry.indexOf(":");
    const pid = Number(entry.slice(0, colon));
    if (colon > 0 && entry.slice(colon + 1) === file && pid !== process.pid && processAlive(pid) && holderPid(file) === pid) return true;
  }
  return false;
}

function holderPid(file: string): number | undefined {
  try {
    const fd = fs.openSync(file, "r");
    try {
      return readHolder(fd)?.pid;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * The environment that lets a child process this one waits for (the pipeline's notebooks) write under a folder
 * this process holds: its stage calls go on instead of waiting for their own parent.
 */
export function inheritLock(lock: FolderLock): Record<string, string> {
  return { [INHERITED_LOCKS_ENV]: [process.env[INHERITED_LOCKS_ENV], `${process.pid}:${lock.file}`].filter(Boolean).join("\n") };
}

/** What this process is, in a few words: `mrl retrieve --root ...`, a notebook, or its script. */
export function processCommand(): string {
  const script = process.argv[1] ?? "";
  if (script.endsWith(path.join("dist", "cli.js"))) return ["mrl", ...process.argv.slice(2)].join(" ");
  if (/tslab/.test(script)) return "a notebook (tslab kernel)";
  return ["node", path.basename(script), ...process.argv.slice(2)].join(" ").trim();
}

export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host} (${h.command}, since ${h.started})`;
}

function readHolder(fd: number): LockHolder | undefined {
  const size = fs.fstatSync(fd).size;
  if (size === 0 || size > 65536) return undefined;
  const bytes = Buffer.alloc(size);
  fs.readSync(fd, bytes, 0, size, 0);
  try {
    const h = JSON.parse(bytes.toString("utf8")) as LockHolder;
    return typeof h.pid === "number" && typeof h.host === "string" ? h : undefined;
  } catch {
    return undefined; // written by a process killed mid-write: nobody to name
  }
}


const sleep = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

/**
 * Takes the lock of `folder` (created if missing, and removed again on release if it is still empty) for this
 * process, waiting while another process holds it (or throwing, with wait: false). The folder's path as given is
 * named in messages. A clean release removes the lock file; one left by a killed holder names it.
 */
export function lockFolder(folder: string, options: LockOptions = {}): FolderLock {
  const created = !fs.existsSync(folder);
  onDisk(folder, () => fs.mkdirSync(folder, { recursive: true }));
  const file = path.join(fs.realpathSync(folder), LOCK_NAME);
  const mine = held.get(file);
  if (mine) {
    mine.count++;
    return { file, release: () => release(file) };
  }
  if (heldByAncestor(file)) return { file, release: () => {} };
  let waited = false;
  for (;;) {
    const fd = onDisk(file, () => fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o666));
    try {
      if (!nativeKernels().flockTry(fd, !options.shared)) {
        const holder = readHolder(fd);
        const who = holder ? describeHolder(holder) : "another process";
        if (options.wait === false) throw new MrlError(`in use by ${who}; not waiting (--no-wait): run again when it has finished`, folder);
        if (!waited) options.onNote?.(`${folder}: in use by ${who}; waiting for it to finish`);
        waited = true;
        fs.closeSync(fd);
        sleep(options.pollMs ?? 500);
        continue;
      }
      if (!sameFile(fd, file)) { // the holder released and removed the file while this one waited: lock the new one
        fs.closeSync(fd);
        continue;
      }
      if (!options.shared) claim(fd, folder, options);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    held.set(file, { fd, count: 1, shared: options.shared === true, folder: created ? folder : undefined });
    return { file, release: () => release(file) };
  }
}

function sameFile(fd: number, file: string): boolean {
  const now = fs.statSync(file, { throwIfNoEntry: false });
  const locked = fs.fstatSync(fd);
  return now !== undefined && now.ino === locked.ino && now.dev === locked.dev;
}

/** Writes this process into the lock file; a holder named there already was killed (the kernel dropped its lock). */
function claim(fd: number, folder: string, options: LockOptions): void {
  const before = readHolder(fd);
  if (before && before.pid !== process.pid) {
    const gone = before.host === os.hostname() && !processAlive(before.pid) ? "which is no longer running" : "which no longer holds it";
    options.onNote?.(`${folder}: took over the lock left by ${describeHolder(before)}, ${gone}; finished outputs are kept, the rest is redone`);
  }
  const me: LockHolder = { pid: process.pid, host: os.hostname(), command: options.command ?? processCommand(), started: new Date().toISOString() };
  const text = Buffer.from(JSON.stringify(me) + "\n");
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, text, 0, text.length, 0);
}

function release(file: string): void {
  const mine = held.get(file);
  if (!mine || --mine.count > 0) return;
  held.delete(file);
  try {
    // the last holder removes the file (a shared one only when no other shares it); waiters then lock a new one
    if (!mine.shared || nativeKernels().flockTry(mine.fd, true)) fs.rmSync(file, { force: true });
  } finally {
    fs.closeSync(mine.fd); // drops the flock
  }
  if (mine.folder) {
    try {
      fs.rmdirSync(mine.folder); // made only for the lock and still empty (a stage that failed before writing)
    } catch {
      // it holds outputs now
    }
  }
}

/** Runs `work` holding the lock of `folder` (see lockFolder). */
export function withFolderLock<T>(folder: string, work: () => T, options: LockOptions = {}): T {
  const lock = lockFolder(folder, options);
  let result: T;
  try {
    result = work();
  } catch (err) {
    lock.release();
    throw err;
  }
  if (result instanceof Promise) return result.finally(() => lock.release()) as T;
  lock.release();
  return result;
}
