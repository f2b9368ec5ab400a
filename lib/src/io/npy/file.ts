/**
 * Opening .npy files: the header of an open file without its data, the checks every reader makes (2-D, element
 * type, not truncated), exact reads at an offset, and the whole file into memory (huge pages when large).
 */
import * as fs from "node:fs";
import { MrlError } from "../../core/errors";
import { nativeKernels } from "../../kernels/native";
import { parseNpyHeader, type NpyHeader } from "./header";

/**
 * Files and arrays from this size on are read into huge-page memory populated up front (kernels/native.ts):
 * on virtual machines where every fresh page costs a slow fault, that reads a 491 MB array in about half the
 * time, and its pages are mapped already, so the first pass over it (a rerank) does not pay ~1 s of faults
 * for the pages the kernel filled.
 */
export const HUGE_PAGE_MIN_BYTES = 2 * 2 ** 20;

/** Reads exactly `target.length` bytes at `position` (readSync may return fewer, and takes at most 2 GiB). */
export function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(fd, target, done, Math.min(target.length - done, 2 ** 30), position + done);
    if (n === 0) throw new MrlError(`unexpected end of file at byte ${position + done}`, file);
    done += n;
  }
}

/** Bytes read per readSync while streaming (bounded extra memory whatever the file size). */
export const STREAM_BUFFER_BYTES = 32 * 1024 * 1024;

/** The whole file's bytes (in huge-page memory from HUGE_PAGE_MIN_BYTES), or an MrlError naming it. */
export function readFileOrThrow(file: string): Uint8Array {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size < HUGE_PAGE_MIN_BYTES) return fs.readFileSync(file);
    const bytes = new Uint8Array(nativeKernels().allocate(stat.size));
    const fd = fs.openSync(file, "r");
    try {
      readFully(fd, bytes, 0, file);
    } finally {
      fs.closeSync(fd);
    }
    return bytes;
  } catch (err) {
    if (err instanceof MrlError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new MrlError("file not found", file);
    if (code === "EISDIR") throw new MrlError("is a directory; expected a .npy array", file);
    throw new MrlError(`cannot read: ${(err as Error).message}`, file);
  }
}

function openOrThrow(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new MrlError("file not found", file);
    throw new MrlError(`cannot read: ${(err as Error).message}`, file);
  }
  // a directory opens fine on Linux; only its first read fails (EISDIR, naming no file)
  if (fs.fstatSync(fd).isDirectory()) {
    fs.closeSync(fd);
    throw new MrlError("is a directory; expected a .npy array", file);
  }
  return fd;
}

/** Header and size of an open .npy file. */
export interface NpyFile {
  file: string;
  fd: number;
  header: NpyHeader;
  /** Bytes of element data actually present. */
  available: number;
}

/** Opens a .npy file and parses its header without reading the data. Close with fs.closeSync(npy.fd). */
export function openNpy(file: string): NpyFile {
  const fd = openOrThrow(file);
  try {
    const size = fs.fstatSync(fd).size;
    const start = Buffer.alloc(Math.min(size, 12));
    readFully(fd, start, 0, file);
    // v1 has a 2-byte header length at 8, v2/v3 a 4-byte one: read exactly the header, then parse it.
    let headerEnd = start.length;
    if (start.length >= 10) {
      const major = start[6];
      const len = major === 1 ? start.readUInt16LE(8) : start.length >= 12 ? start.readUInt32LE(8) : 0;
      headerEnd = Math.min(size, (major === 1 ? 10 : 12) + len);
    }
    const headerBytes = Buffer.alloc(headerEnd);
    readFully(fd, headerBytes, 0, file);
    const header = parseNpyHeader(headerBytes, file);
    return { file, fd, header, available: size - header.dataOffset };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Rows, columns and element type of a 2-D .npy file, checked like readMatrixNpy (and not truncated). */
export function checkMatrixFile(npy: NpyFile, dtypes: string[], what: string): { rows: number; cols: number } {
  const { header, file } = npy;
  if (header.shape.length !== 2) {
    throw new MrlError(`expected a 2-D array (rows x dims), got shape (${header.shape.join(", ")})`, file);
  }
  if (!dtypes.includes(header.dtype)) throw new MrlError(`expected ${what}, got dtype ${header.dtype}`, file);
  checkComplete(npy);
  return { rows: header.shape[0], cols: header.shape[1] };
}

/** Throws when the file holds fewer data bytes than its header's shape needs. */
export function checkComplete(npy: NpyFile): void {
  const { header, file } = npy;
  if (npy.available < header.dataBytes) {
    throw new MrlError(`truncated: shape (${header.shape.join(", ")}) of ${header.dtype} needs ${header.dataBytes} data bytes, file has ${npy.available}`, file);
  }
}

/** Rows and columns of a 2-D .npy file, from its header and size (a truncated file is an error). */
export function npyShape(file: string): { rows: number; cols: number; dtype: string } {
  const npy = openNpy(file);
  fs.closeSync(npy.fd);
  if (npy.header.shape.length !== 2) throw new MrlError(`expected a 2-D array (rows x dims), got shape (${npy.header.shape.join(", ")})`, file);
  checkComplete(npy);
  return { rows: npy.header.shape[0], cols: npy.header.shape[1], dtype: npy.header.dtype };
}
