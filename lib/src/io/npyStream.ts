/**
 * .npy files read and written in row blocks, for arrays larger than the memory budget (ImageNet-1K's
 * 1.28M x 2048 float32 database is 10.5 GB, 4K's is larger than many machines) and for memory that stays bounded: rows are read
 * with fs.readSync at their offsets, the dim prefix is taken while reading (a 1.28M x 2048 file yields a
 * 1.28M x 16 matrix through one small buffer), and blocks can go straight into a FAISS index
 * (search/stage.ts: addNpyToIndex). Also: binary shortlists as int32/int64 .npy, written and read in one go.
 */
import * as fs from "node:fs";
import { writeAtomically } from "../core/atomic";
import { check, MrlError } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { allocateFloat32 } from "../kernels/native";
import { HUGE_PAGE_MIN_BYTES, parseNpyHeader, readFully, type NpyHeader } from "./npy";

const ITEM_SIZE: Record<string, number> = { f4: 4, f8: 8, i4: 4, i8: 8 };

/** Bytes read per readSync while streaming (bounded extra memory whatever the file size). */
export const STREAM_BUFFER_BYTES = 32 * 1024 * 1024;

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
function checkMatrixFile(npy: NpyFile, dtypes: string[], what: string): { rows: number; cols: number } {
  const { header, file } = npy;
  if (header.shape.length !== 2) {
    throw new MrlError(`expected a 2-D array (rows x dims), got shape (${header.shape.join(", ")})`, file);
  }
  if (!dtypes.includes(header.dtype)) throw new MrlError(`expected ${what}, got dtype ${header.dtype}`, file);
  checkComplete(npy);
  return { rows: header.shape[0], cols: header.shape[1] };
}

/** Throws when the file holds fewer data bytes than its header's shape needs. */
function checkComplete(npy: NpyFile): void {
  const { header, file } = npy;
  if (npy.available < header.dataBytes) {
    throw new MrlError(`truncated: shape (${header.shape.join(", ")}) of ${header.dtype} needs ${header.dataBytes} data bytes, file has ${npy.available}`, file);
  }
}

export interface RowBlockOptions {
  /** Keep only the first `dims` columns (default: all). */
  dims?: number;
  /** Rows per block (default: as many as fit in STREAM_BUFFER_BYTES of file data). */
  blockRows?: number;
  /** First row and end row (exclusive) to read (default: all rows). */
  start?: number;
  end?: number;
}

/** A block of consecutive rows: `data` holds rows start..start+data.rows-1, `dims` columns each. */
export interface RowBlock {
  start: number;
  data: Matrix;
}

/**
 * Streams a 2-D float32 (or float64, converted) .npy file in row blocks, keeping the first `dims` columns.
 * The block's Float32Array is reused between blocks: copy what you keep. Memory: one file buffer
 * (<= STREAM_BUFFER_BYTES) plus one block.
 */
export function* npyRowBlocks(file: string, options: RowBlockOptions = {}): Generator<RowBlock> {
  const npy = openNpy(file);
  try {
    const { rows, cols } = checkMatrixFile(npy, ["f4", "f8"], "float32 vectors");
    const dims = options.dims ?? cols;
    if (!Number.isInteger(dims) || dims <= 0 || dims > cols) throw new MrlError(`nesting dim ${dims} is outside the array's 1..${cols} columns`, file);
    const start = options.start ?? 0, end = options.end ?? rows;
    check(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= rows,
      `row range ${start}..${end} is outside the array's 0..${rows} rows`, file);
    const item = ITEM_SIZE[npy.header.dtype];
    const rowBytes = cols * item;
    const blockRows = Math.max(1, options.blockRows ?? Math.floor(STREAM_BUFFER_BYTES / Math.max(1, rowBytes)));
    const buffer = new Uint8Array(Math.min(end - start, blockRows) * rowBytes);
    const out = new Float32Array(Math.min(end - start, blockRows) * dims);
    for (let r = start; r < end; r += blockRows) {
      const count = Math.min(blockRows, end - r);
      const bytes = buffer.subarray(0, count * rowBytes);
      readFully(npy.fd, bytes, npy.header.dataOffset + r * rowBytes, file);
      const block = out.subarray(0, count * dims);
      if (item === 4) {
        const values = new Float32Array(buffer.buffer, buffer.byteOffset, count * cols);
        if (dims === cols) block.set(values);
        else for (let i = 0; i < count; i++) block.set(values.subarray(i * cols, i * cols + dims), i * dims);
      } else {
        const values = new Float64Array(buffer.buffer, buffer.byteOffset, count * cols);
        for (let i = 0; i < count; i++) for (let c = 0; c < dims; c++) block[i * dims + c] = values[i * cols + c];
      }
      yield { start: r, data: matrix(count, dims, block) };
    }
  } finally {
    fs.closeSync(npy.fd);
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

export interface ReadPrefixOptions extends RowBlockOptions {
  onRows?: (rows: number) => void;
}

/**
 * The first `dims` columns of every row of a 2-D float .npy file, read in blocks: never more than the result
 * plus one buffer in memory, whatever the file's size (a typed array may hold more than 4 GiB: ImageNet-1K's
 * 10.5 GB database is one Float32Array).
 */
export function readMatrixPrefixNpy(file: string, options: ReadPrefixOptions = {}): Matrix {
  const { rows, cols } = npyShape(file);
  const dims = options.dims ?? cols;
  const first = options.start ?? 0, end = options.end ?? rows;
  const count = Math.max(0, end - first);
  const bytes = count * dims * 4;
  // large results in huge-page memory, for the reason readNpy gives
  const data = bytes >= HUGE_PAGE_MIN_BYTES ? allocateFloat32(count * dims) : new Float32Array(bytes / 4);
  if (dims === cols) {
    // Whole float32 rows: read straight into the result, 1 GiB per call (readSync's length limit is 2 GiB).
    const npy = openNpy(file);
    try {
      checkMatrixFile(npy, ["f4", "f8"], "float32 vectors");
      check(Number.isInteger(first) && Number.isInteger(end) && 0 <= first && first <= end && end <= rows,
        `row range ${first}..${end} is outside the array's 0..${rows} rows`, file);
      if (npy.header.dtype === "f4") {
        // a byte view per call: one over the whole array would pass the typed-array length limit (2^32) above 4 GiB
        const step = 2 ** 30, offset = npy.header.dataOffset + first * cols * 4;
        for (let at = 0; at < data.byteLength; at += step) {
          readFully(npy.fd, new Uint8Array(data.buffer, data.byteOffset + at, Math.min(step, data.byteLength - at)), offset + at, file);
        }
        options.onRows?.(count);
        return matrix(count, dims, data);
      }
    } finally {
      fs.closeSync(npy.fd);
    }
  }
  for (const block of npyRowBlocks(file, options)) {
    data.set(block.data.data, (block.start - first) * dims);
    options.onRows?.(block.data.rows);
  }
  return matrix(count, dims, data);
}

// ---- writing ---------------------------------------------------------------------------------------------

/** A version 1.0 .npy header for a C-order array, padded so the data starts at a multiple of 64 bytes. */
export function npyHeaderBytes(descr: "<f4" | "<i4" | "<i8", shape: number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, total - 10, true);
  const text = dict.padEnd(total - 11, " ") + "\n";
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

/**
 * Writes a rows x cols float32 .npy file block by block (atomically: temp file renamed at the end), for
 * arrays too large to hold: `fill(start, block)` fills rows start.. of a reused block.
 */
export function writeMatrixNpyStreaming(file: string, rows: number, cols: number,
  fill: (start: number, block: Matrix) => void, blockRows = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / (cols * 4)))): void {
  check(Number.isInteger(rows) && rows >= 0 && Number.isInteger(cols) && cols > 0, `invalid shape ${rows} x ${cols}`, file);
  writeAtomically(file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      const header = npyHeaderBytes("<f4", [rows, cols]);
      fs.writeSync(fd, header);
      const buffer = new Float32Array(Math.min(rows, blockRows) * cols);
      let position = header.length;
      for (let start = 0; start < rows; start += blockRows) {
        const count = Math.min(blockRows, rows - start);
        const block = matrix(count, cols, buffer.subarray(0, count * cols));
        fill(start, block);
        const bytes = new Uint8Array(block.data.buffer, block.data.byteOffset, block.data.byteLength);
        let done = 0;
        while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
        position += bytes.length;
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}

/**
 * Writes neighbour ids as a binary .npy shortlist (np.load gives the (nq, k) array): int32 (default, half
 * the size) or int64 (FAISS's own I dtype). One write of the raw bytes, no per-element formatting.
 */
export function writeShortlistNpy(file: string, m: IntMatrix, dtype: "i4" | "i8" = "i4"): void {
  const header = npyHeaderBytes(dtype === "i4" ? "<i4" : "<i8", [m.rows, m.cols]);
  let payload: Uint8Array;
  if (dtype === "i4") {
    payload = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  } else {
    // little-endian int64 = (low word, sign-extended high word)
    const wide = new Int32Array(m.data.length * 2);
    for (let i = 0; i < m.data.length; i++) {
      wide[2 * i] = m.data[i];
      wide[2 * i + 1] = m.data[i] < 0 ? -1 : 0;
    }
    payload = new Uint8Array(wide.buffer);
  }
  writeAtomically(file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      fs.writeSync(fd, header);
      let done = 0;
      while (done < payload.length) done += fs.writeSync(fd, payload, done, payload.length - done);
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** Reads a binary shortlist (.npy, int32 or int64, 2-D) as an IntMatrix; int64 values must fit in int32. */
export function readShortlistNpy(file: string): IntMatrix {
  const npy = openNpy(file);
  try {
    if (npy.header.shape.length !== 2) throw new MrlError(`expected a 2-D integer array, got shape (${npy.header.shape.join(", ")})`, npy.file);
    const { rows, cols } = checkMatrixFile(npy, ["i4", "i8"], "int32 or int64 neighbour ids");
    const out = new Int32Array(rows * cols);
    if (npy.header.dtype === "i4") {
      readFully(npy.fd, new Uint8Array(out.buffer), npy.header.dataOffset, file);
      return intMatrix(rows, cols, out);
    }
    // int64 in blocks: low word is the value when the high word is its sign extension.
    const blockValues = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / 8));
    const words = new Int32Array(Math.min(rows * cols, blockValues) * 2);
    for (let start = 0; start < rows * cols; start += blockValues) {
      const count = Math.min(blockValues, rows * cols - start);
      readFully(npy.fd, new Uint8Array(words.buffer, 0, count * 8), npy.header.dataOffset + start * 8, file);
      for (let i = 0; i < count; i++) {
        const lo = words[2 * i], hi = words[2 * i + 1];
        if (hi !== (lo < 0 ? -1 : 0)) {
          const value = (BigInt(hi) << 32n) + BigInt(lo >>> 0);
          throw new MrlError(`neighbour id ${value} at position ${start + i} does not fit in int32`, file);
        }
        out[start + i] = lo;
      }
    }
    return intMatrix(rows, cols, out);
  } finally {
    fs.closeSync(npy.fd);
  }
}

