/**
 * Disk errors as one line a user can act on. A full disk, a quota, a read-only mount or a folder without write
 * permission reaches Node as an errno error whose message often names no file (a failed write() has only a
 * descriptor) and whose stack means nothing to the user. Writers wrap their file operations in onDisk(), which
 * rethrows these as an MrlError naming the file, the bytes it needed where known, and what to do.
 */
import * as path from "node:path";
import { MrlError } from "./errors";
import { gigabytes } from "./memory";

const DISK_PROBLEMS: Record<string, { what: string; todo: (dir: string) => string }> = {
  ENOSPC: { what: "no space left on the device", todo: (dir) => `free space there (df -h ${dir}) or point --root/--results at a larger disk` },
  EDQUOT: { what: "disk quota exceeded", todo: (dir) => `free space within your quota (quota -s; du -sh ${dir}) or point --root/--results elsewhere` },
  EROFS: { what: "the file system is read-only", todo: () => "point --root/--results at a writable folder" },
  EACCES: { what: "permission denied", todo: (dir) => `make ${dir} writable for this user (ls -ld ${dir}) or point --root/--results elsewhere` },
  EPERM: { what: "operation not permitted", todo: (dir) => `make ${dir} writable for this user or point --root/--results elsewhere` },
};

/** The errno code of a Node system error, if it is one of the disk problems above. */
export function diskErrorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && code in DISK_PROBLEMS ? code : undefined;
}

/**
 * The MrlError for a disk problem writing `file` (`bytes`: what the write needed, where known), or undefined when
 * `err` is something else. Finished outputs are never touched by a failed write (they are renamed into place
 * whole), so a re-run after the fix continues where this one stopped.
 */
export function diskError(err: unknown, file: string, bytes?: number): MrlError | undefined {
  if (err instanceof MrlError) return undefined;
  const code = diskErrorCode(err);
  if (!code) return undefined;
  const problem = DISK_PROBLEMS[code];
  const dir = path.dirname(path.resolve(file));
  const need = bytes !== undefined && code !== "EACCES" && code !== "EROFS" && code !== "EPERM" ? ` writing ${gigabytes(bytes)}` : "";
  return new MrlError(`${problem.what} (${code})${need}; ${problem.todo(dir)}, then run again: finished outputs are kept`, file);
}

/** Runs `work`, turning a disk problem into diskError(err, file, bytes). */
export function onDisk<T>(file: string, work: () => T, bytes?: number): T {
  try {
    return work();
  } catch (err) {
    throw diskError(err, file, bytes) ?? err;
  }
}
