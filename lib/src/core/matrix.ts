import { check, MrlError } from "./errors";

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

/**
 * The first `dims` columns of every row, copied into a contiguous matrix: the MRL nested representation
 * of size `dims`. `file` only names the source in the error.
 */
export function prefixColumns(m: Matrix, dims: number, file?: string): Matrix {
  if (!Number.isInteger(dims) || dims <= 0 || dims > m.cols) {
    throw new MrlError(`nesting dim ${dims} is outside the array's 1..${m.cols} columns`, file);
  }
  if (dims === m.cols) return { data: m.data.slice(), rows: m.rows, cols: dims };
  const out = new Float32Array(m.rows * dims);
  for (let r = 0; r < m.rows; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + dims), r * dims);
  return { data: out, rows: m.rows, cols: dims };
}

/**
 * L2-normalizes every row in place (faiss.normalize_L2). Rows with NaN/Inf or zero norm cannot be
 * normalized and are reported with their index instead of silently producing NaNs.
 */
export function l2NormalizeRows(m: Matrix, file?: string): Matrix {
  const { data, rows, cols } = m;
  for (let r = 0; r < rows; r++) {
    const start = r * cols;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += data[start + c] * data[start + c];
    if (!Number.isFinite(sum)) throw new MrlError(`row ${r} contains NaN or Inf values`, file);
    if (sum === 0) throw new MrlError(`row ${r} is all zeros and cannot be L2-normalized`, file);
    const inv = 1 / Math.sqrt(sum);
    for (let c = 0; c < cols; c++) data[start + c] *= inv;
  }
  return m;
}

/** The first `dim` columns, unit-normalized per row (faiss.normalize_L2 on the nested representation). */
export function nestedNormalized(m: Matrix, dim: number, file?: string): Matrix {
  return l2NormalizeRows(prefixColumns(m, dim, file), file);
}
