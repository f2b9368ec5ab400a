/**
 * Reading .npy files, interoperable with numpy (np.load / np.save): whole arrays (parsed by npyjs) as matrices
 * and labels, and 2-D float arrays larger than the memory budget (ImageNet-1K's 1.28M x 2048 float32 database is
 * 10.5 GB) in row blocks at their offsets, keeping a dim prefix while reading (a 1.28M x 2048 file yields a
 * 1.28M x 16 matrix through one small buffer). Every reader validates with errors that name the file.
 */
import * as fs from "node:fs";
import { parse } from "npyjs";
import { check, MrlError } from "../../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../../core/matrix";
import { allocateFloat32, nativeKernels } from "../../kernels/native";
import { checkMatrixFile, HUGE_PAGE_MIN_BYTES, npyShape, openNpy, readFileOrThrow, readFully, STREAM_BUFFER_BYTES } from "./file";
import { ITEM_SIZE, parseNpyHeader } from "./header";

export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface NpyArray {
  data: NpyData;
  shape: number[];
  /** numpy dtype code without byte order, e.g. "f4", "i8". */
  dtype: string;
}

function typedArrayOf(dtype: string, buffer: ArrayBuffer): NpyData {
  switch (dtype) {
    case "f4": return new Float32Array(buffer);
    case "f8": return new Float64Array(buffer);
    case "i4": return new Int32Array(buffer);
    case "i8": return new BigInt64Array(buffer);
    case "i1": return new Int8Array(buffer);
    default: return new Uint8Array(buffer);
  }
}

/** Reads any supported .npy file (C order, little-endian f4/f8/i4/i8/u1/i1). */
export function readNpy(file: string): NpyArray {
  const bytes = readFileOrThrow(file);
  const header = parseNpyHeader(bytes, file);
  const available = bytes.length - header.dataOffset;
  if (available < header.dataBytes) {
    throw new MrlError(`truncated: shape (${header.shape.join(", ")}) of ${header.dtype} needs ${header.dataBytes} data bytes, file has ${available}`, file);
  }
  // npyjs views the data in place, so give it a buffer holding exactly this file; Node's small-file buffer
  // pool shares ArrayBuffers, and then we copy.
  const end = header.dataOffset + header.dataBytes;
  if (header.dataOffset % ITEM_SIZE[header.dtype] !== 0) {
    // Not written by numpy or npyjs (both align the data); copy the payload to an aligned buffer.
    return { data: typedArrayOf(header.dtype, bytes.slice(header.dataOffset, end).buffer), shape: header.shape, dtype: header.dtype };
  }
  const buffer = bytes.byteOffset === 0 && bytes.buffer.byteLength === end
    ? (bytes.buffer as ArrayBuffer)
    : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + end) as ArrayBuffer;
  const parsed = parse(buffer);
  return { data: parsed.data as NpyData, shape: header.shape, dtype: header.dtype };
}

/**
 * Reads a 2-D float array (embeddings) as a Matrix. float64 input is converted to float32 (FAISS works in
 * float32); anything else, or a non 2-D shape, is an error naming the file.
 */
export function readMatrixNpy(file: string): Matrix {
  const arr = readNpy(file);
  if (arr.shape.length !== 2) {
    throw new MrlError(`expected a 2-D array (rows x dims), got shape (${arr.shape.join(", ")})`, file);
  }
  const [rows, cols] = arr.shape;
  if (arr.data instanceof Float32Array) return matrix(rows, cols, arr.data);
  if (arr.data instanceof Float64Array) return matrix(rows, cols, Float32Array.from(arr.data));
  throw new MrlError(`expected float32 vectors, got dtype ${arr.dtype}`, file);
}

/** Converts any integer npy payload to Int32Array, rejecting values outside int32. */
function toInt32(arr: NpyArray, file: string, what: string): Int32Array {
  const data = arr.data;
  if (data instanceof Int32Array) return data;
  if (data instanceof BigInt64Array) {
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v > 2147483647n || v < -2147483648n) throw new MrlError(`${what} value ${v} at position ${i} does not fit in int32`, file);
      out[i] = Number(v);
    }
    return out;
  }
  if (data instanceof Uint8Array || data instanceof Int8Array) return Int32Array.from(data);
  throw new MrlError(`${what} must be integers, got dtype ${arr.dtype}; expected int64, int32 or uint8 ` +
    "(e.g. np.save(path, y.astype(np.int64)))", file);
}

/** Reads class labels: a 1-D (or N x 1) integer array. */
export function readLabelsNpy(file: string): Int32Array {
  const arr = readNpy(file);
  const ok = arr.shape.length === 1 || (arr.shape.length === 2 && arr.shape[1] === 1);
  if (!ok) throw new MrlError(`expected a 1-D label array, got shape (${arr.shape.join(", ")})`, file);
  return toInt32(arr, file, "labels");
}

/** Reads a 2-D integer array (e.g. a binary neighbour shortlist) as an IntMatrix. */
export function readIntMatrixNpy(file: string): IntMatrix {
  const arr = readNpy(file);
  if (arr.shape.length !== 2) throw new MrlError(`expected a 2-D integer array, got shape (${arr.shape.join(", ")})`, file);
  return intMatrix(arr.shape[0], arr.shape[1], toInt32(arr, file, "neighbour ids"));
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

/**
 * A whole 2-D float32 .npy file as a matrix over the file's own pages (a private mapping, read in now): from the
 * page cache it costs neither a copy nor memory beyond the cache's; the values are those readMatrixPrefixNpy
 * gives. Other dtypes (float64: converted) and empty arrays are read as readMatrixPrefixNpy reads them. The file
 * must not shrink while the matrix is in use (the lock of its folder keeps this project's own writers out).
 */
export function mapMatrixNpy(file: string): Matrix {
  const npy = openNpy(file);
  let mapped: ArrayBuffer | undefined, rows = 0, cols = 0;
  try {
    ({ rows, cols } = checkMatrixFile(npy, ["f4", "f8"], "float32 vectors"));
    const { dtype, dataOffset, dataBytes } = npy.header;
    if (dtype === "f4" && dataBytes > 0 && dataOffset % 4 === 0) mapped = nativeKernels().mapFile(npy.fd, dataOffset + dataBytes);
  } finally {
    fs.closeSync(npy.fd);
  }
  if (!mapped) return readMatrixPrefixNpy(file);
  return matrix(rows, cols, new Float32Array(mapped, npy.header.dataOffset, rows * cols));
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
