import { check, MrlError } from "./errors";
import { allocateFloat32, nativeKernels } from "../kernels/native";
import { defaultThreads } from "../kernels/threads";

/** Row-major float32 matrix: element (r, c) is data[r * cols + c]. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Row-major int32 matrix (neighbour ids, labels per row). -1 marks a missing neighbour, as in FAISS. */
export interface IntMatrix {
  readonly data: Int32Array;
  readonly rows: number;
  readonly cols: number;
}

function checkShape(length: number, rows: number, cols: number, what: string): void {
  check(Number.isInteger(rows) && rows >= 0 && Number.isInteger(cols) && cols >= 0,
    `${what}: invalid shape ${rows} x ${cols}`);
  check(length === rows * cols, `${what}: data has ${length} elements, shape ${rows} x ${cols} needs ${rows * cols}`);
}

/** Wraps a Float32Array as a rows x cols matrix (no copy); a fresh zero matrix when data is omitted. */
export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  const values = data ?? new Float32Array(rows * cols);
  checkShape(values.length, rows, cols, "matrix");
  return { data: values, rows, cols };
}

/** Wraps an Int32Array as a rows x cols integer matrix (no copy); zeros when data is omitted. */
export function intMatrix(rows: number, cols: number, data?: Int32Array): IntMatrix {
  const values = data ?? new Int32Array(rows * cols);
  checkShape(values.length, rows, cols, "int matrix");
  return { data: values, rows, cols };
}

/** A view of row r (no copy). */
export function row(m: Matrix, r: number): Float32Array;
export function row(m: IntMatrix, r: number): Int32Array;
export function row(m: Matrix | IntMatrix, r: number): Float32Array | Int32Array {
  return m.data.subarray(r * m.cols, (r + 1) * m.cols);
}

/** The first `cols` ids of every row (the matrix itself when that is all of them, else a copy). */
export function firstColumns(m: IntMatrix, cols: number): IntMatrix {
  if (cols === m.cols) return m;
  check(Number.isInteger(cols) && cols > 0 && cols < m.cols, `cannot take ${cols} of ${m.cols} columns`);
  const out = new Int32Array(m.rows * cols);
  for (let r = 0; r < m.rows; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + cols), r * cols);
  return intMatrix(m.rows, cols, out);
}

/**
 * `count` rows spread evenly over the matrix (row floor(i * rows / count) for i = 0..count-1), copied; the matrix
 * itself when it has no more rows than that. A sample that spans class-sorted arrays (the originals' are).
 */
export function evenlySpacedRows(m: Matrix, count: number): Matrix {
  if (m.rows <= count) return m;
  const out = new Float32Array(count * m.cols);
  for (let i = 0; i < count; i++) {
    const r = Math.floor((i * m.rows) / count);
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  }
  return matrix(count, m.cols, out);
}

/**
 * The first `dims` columns of every row, copied into a contiguous matrix: the MRL nested representation
 * of size `dims`. `file` only names the source in the error.
 */
export function prefixColumns(m: Matrix, dims: number, file?: string): Matrix {
  if (!Number.isInteger(dims) || dims <= 0 || dims > m.cols) {
    throw new MrlError(`nesting dim ${dims} is outside the array's 1..${m.cols} columns`, file);
  }
  const out = m.rows * dims >= LARGE ? allocateFloat32(m.rows * dims) : new Float32Array(m.rows * dims);
  if (dims === m.cols) {
    out.set(m.data.subarray(0, m.rows * dims));
    return { data: out, rows: m.rows, cols: dims };
  }
  for (let r = 0; r < m.rows; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + dims), r * dims);
  return { data: out, rows: m.rows, cols: dims };
}

/**
 * L2-normalizes every row in place (as faiss.normalize_L2, but summing in float64, so a value may differ in its
 * last bit: vectors handed to FAISS go through search/faiss.ts faissNormalized, FAISS's own float32 function).
 * Rows with NaN/Inf or zero norm cannot be normalized and are reported with their index instead of silently
 * producing NaNs.
 */
export function l2NormalizeRows(m: Matrix, file?: string): Matrix {
  normalizeInto(m.data, m.rows, m.cols, m.cols, m.data, file);
  return m;
}

/**
 * The first `dim` columns, unit-normalized per row (l2NormalizeRows's float64 arithmetic on the nested
 * representation; for FAISS, search/faiss.ts faissNormalized).
 */
export function nestedNormalized(m: Matrix, dim: number, file?: string): Matrix {
  if (!Number.isInteger(dim) || dim <= 0 || dim > m.cols) {
    throw new MrlError(`nesting dim ${dim} is outside the array's 1..${m.cols} columns`, file);
  }
  // one pass (copy and normalize) into huge-page memory: at memory speed, where a fresh array's first touch is slow
  const out = m.rows * dim >= LARGE ? allocateFloat32(m.rows * dim) : new Float32Array(m.rows * dim);
  normalizeInto(m.data, m.rows, m.cols, dim, out, file);
  return { data: out, rows: m.rows, cols: dim };
}

/** Below this many values a plain array and one thread are as fast. */
const LARGE = 1 << 20;

/**
 * Rows of `src` (stride `stride`), first `dim` columns, L2-normalized into `dst` (rows x dim; may be `src` when
 * stride == dim). float64 sums of squares, each value times 1 / sqrt(sum), rounded to float32 (native code, the
 * same arithmetic as a plain loop). A row that is all zeros or not finite cannot be normalized: an error naming it.
 */
function normalizeInto(src: Float32Array, rows: number, stride: number, dim: number, dst: Float32Array, file?: string): void {
  const bad = nativeKernels().prefixNormalize(src, rows, stride, dim, dst, rows * dim >= LARGE ? defaultThreads() : 1);
  if (bad < 0) return;
  let sum = 0;
  for (let c = 0; c < dim; c++) sum += src[bad * stride + c] * src[bad * stride + c];
  throw new MrlError(Number.isFinite(sum) ? `row ${bad} is all zeros and cannot be L2-normalized` : `row ${bad} contains NaN or Inf values`, file);
}
