import { check } from "./errors";

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
