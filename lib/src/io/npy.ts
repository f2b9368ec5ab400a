/**
 * .npy read/write, interoperable with numpy (np.load / np.save) both ways. Parsing and writing of the data go
 * through npyjs; this module adds what a pipeline needs on top: validation with errors that name the file,
 * shape-aware matrix/label readers, and atomic writes.
 */
import * as fs from "node:fs";
import { dump, parse, type DType } from "npyjs";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { nativeKernels } from "../kernels/native";

/** Element types this project reads; everything else is rejected with a clear error. */
const ITEM_SIZE: Record<string, number> = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, i1: 1 };

export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface NpyArray {
  data: NpyData;
  shape: number[];
  /** numpy dtype code without byte order, e.g. "f4", "i8". */
  dtype: string;
}

/** The parsed header of a .npy file. */
export interface NpyHeader {
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  /** Byte offset of the first element. */
  dataOffset: number;
  /** Bytes of element data the shape calls for. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Parses and validates the header at the start of `bytes` (the whole file or at least its header).
 * Throws MrlError naming `file` for: not an .npy file, corrupt header, big-endian or unsupported dtype,
 * Fortran order.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new MrlError("not a .npy file (missing the \\x93NUMPY magic bytes)", file);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new MrlError(`unsupported .npy format version ${major}.${bytes[7]}`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new MrlError("truncated .npy header", file);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lenBytes + headerLen;
  if (bytes.length < dataOffset) {
    throw new MrlError(`truncated .npy header (header says ${headerLen} bytes, file has ${bytes.length - 8 - lenBytes})`, file);
  }
  const dict = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lenBytes, dataOffset));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(dict)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new MrlError(`corrupt .npy header (expected 'descr', 'fortran_order' and 'shape'): ${JSON.stringify(dict.trim())}`, file);
  }
  const shapeParts = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = shapeParts.map(Number);
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new MrlError(`corrupt .npy header: bad shape (${shapeText})`, file);
  }
  if (descr.startsWith(">") && !descr.endsWith("1")) {
    throw new MrlError(`big-endian dtype '${descr}' is not supported; save with arr.astype('<${descr.slice(1)}')`, file);
  }
  const dtype = descr.replace(/^[<|=]/, "");
  const itemSize = ITEM_SIZE[dtype];
  if (itemSize === undefined) {
    throw new MrlError(`unsupported dtype '${descr}'; expected float32 ('<f4'), float64, int32, int64 or uint8`, file);
  }
  if (fortran === "True") {
    throw new MrlError("Fortran-order arrays are not supported; expected C order: save with np.save(path, np.ascontiguousarray(arr))", file);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, fortranOrder: false, dataOffset, dataBytes: count * itemSize };
}

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

function readFileOrThrow(file: string): Uint8Array {
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

function writeNpy(file: string, data: Float32Array | BigInt64Array | Int32Array, shape: number[], dtype: DType): void {
  const buffer = dump(data, shape, { dtype });
  writeFileAtomic(file, new Uint8Array(buffer));
}

/** Writes a float32 matrix as a C-order '<f4' array (np.load gives shape (rows, cols)). */
export function writeMatrixNpy(file: string, m: Matrix): void {
  writeNpy(file, m.data, [m.rows, m.cols], "f4");
}

/** Writes labels as int64, the dtype PyTorch/numpy pipelines produce. */
export function writeLabelsNpy(file: string, labels: Int32Array): void {
  writeNpy(file, BigInt64Array.from(labels, (v) => BigInt(v)), [labels.length], "i8");
}

/** Writes an integer matrix as int64, like FAISS's I array. */
export function writeIntMatrixNpy(file: string, m: IntMatrix): void {
  writeNpy(file, BigInt64Array.from(m.data, (v) => BigInt(v)), [m.rows, m.cols], "i8");
}
