/**
 * The oracles of reranking, written out independently of the library: the original one-candidate-at-a-time
 * loop with a comparator sort, in float64 and in float32 arithmetic. The native kernel must give the same ids
 * bit for bit.
 */
import { intMatrix, type IntMatrix, type Matrix } from "@mrl-retrieval/lib/internal";

/** The reranking loop as it was before any kernel (float64 sums in dimension order, stable comparator sort). */
export function referenceRerank(database: Matrix, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number): IntMatrix {
  const out = new Int32Array(queries.rows * shortlist);
  const dist = new Float64Array(shortlist);
  const order = new Int32Array(shortlist);
  const stride = database.cols, db = database.data, q = queries.data, ids = candidates.data;
  for (let i = 0; i < queries.rows; i++) {
    const qo = i * stride;
    let qq = 0;
    for (let c = 0; c < dim; c++) qq += q[qo + c] * q[qo + c];
    const qInv = qq > 0 ? 1 / Math.sqrt(qq) : 0;
    const row = i * candidates.cols;
    for (let j = 0; j < shortlist; j++) {
      const o = ids[row + j] * stride;
      let dot = 0, cc = 0;
      for (let c = 0; c < dim; c++) {
        const v = db[o + c];
        dot += v * q[qo + c];
        cc += v * v;
      }
      dist[j] = cc > 0 ? 2 - 2 * dot * qInv / Math.sqrt(cc) : 4;
      order[j] = j;
    }
    order.sort((a, b) => dist[a] - dist[b] || a - b);
    for (let j = 0; j < shortlist; j++) out[i * shortlist + j] = ids[row + order[j]];
  }
  return intMatrix(queries.rows, shortlist, out);
}

const fround = Math.fround;

/**
 * The float32 dot product: four partial sums in float32 (lane c mod 4, each product rounded to float32), the
 * prefix padded with zeros to a multiple of 4, then (s0 + s1) + (s2 + s3).
 */
export function scalarDotF32(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  const s = [0, 0, 0, 0];
  for (let c = 0; c < Math.ceil(dim / 4) * 4; c++) {
    const p = c < dim ? fround(a[ao + c] * b[bo + c]) : 0;
    s[c % 4] = fround(s[c % 4] + p);
  }
  return fround(fround(s[0] + s[1]) + fround(s[2] + s[3]));
}

/** The original loop in float32 arithmetic (scalarDotF32 for dots and norms), comparator sort: the float32 oracle. */
export function referenceRerankF32(database: Matrix, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number): IntMatrix {
  const out = new Int32Array(queries.rows * shortlist);
  const stride = database.cols, db = database.data, q = queries.data, ids = candidates.data;
  for (let i = 0; i < queries.rows; i++) {
    const qq = scalarDotF32(q, i * stride, q, i * stride, dim);
    const qInv = qq > 0 ? 1 / Math.sqrt(qq) : 0;
    const row = i * candidates.cols;
    const dist = Array.from({ length: shortlist }, (_, j) => {
      const o = ids[row + j] * stride;
      const cc = scalarDotF32(db, o, db, o, dim);
      return cc > 0 ? 2 - 2 * scalarDotF32(db, o, q, i * stride, dim) * qInv / Math.sqrt(cc) : 4;
    });
    const order = dist.map((_, j) => j).sort((a, b) => dist[a] - dist[b] || a - b);
    for (let j = 0; j < shortlist; j++) out[i * shortlist + j] = ids[row + order[j]];
  }
  return intMatrix(queries.rows, shortlist, out);
}

/** The oracle of a precision. */
export const referenceOf = (precision: "float32" | "float64") => (precision === "float64" ? referenceRerank : referenceRerankF32);

/** A funnel as repeated oracle reranks. */
export function referenceFunnel(precision: "float32" | "float64", database: Matrix, queries: Matrix, candidates: IntMatrix,
  dims: number[], shortlists: number[]): IntMatrix {
  let ids = candidates;
  dims.forEach((d, i) => { ids = referenceOf(precision)(database, queries, ids, d, shortlists[i]); });
  return ids;
}

/** Same shape and the same ids everywhere. */
export const sameIds = (a: IntMatrix, b: IntMatrix): boolean =>
  a.rows === b.rows && a.cols === b.cols && a.data.every((v, i) => v === b.data[i]);

/** Rows of `a` and `b` (same shape) whose ids differ. */
export function differingRows(a: IntMatrix, b: IntMatrix): number {
  let n = 0;
  for (let r = 0; r < a.rows; r++) if (a.data.subarray(r * a.cols, (r + 1) * a.cols).some((v, j) => v !== b.data[r * b.cols + j])) n++;
  return n;
}

/**
 * The locality order as it was written in TypeScript before it moved to lib/native/src/locality.cc: the
 * leaves of a k-d tree over the first `dims` columns, split at the median of the column with the largest range.
 */
export function referenceLocalityOrder(queries: Float32Array, stride: number, nq: number, dims = 8, leaf = 8): Int32Array {
  const order = new Int32Array(nq);
  const cols = Math.min(dims, stride);
  const points = new Float32Array(nq * cols); // the columns used, contiguous
  for (let i = 0; i < nq; i++) {
    order[i] = i;
    for (let c = 0; c < cols; c++) points[i * cols + c] = queries[i * stride + c];
  }
  const key = new Float64Array(nq), min = new Float64Array(cols), max = new Float64Array(cols);
  const split = (lo: number, hi: number): void => {
    if (hi - lo <= leaf) return;
    min.fill(Infinity);
    max.fill(-Infinity);
    for (let t = lo; t < hi; t++) {
      const o = order[t] * cols;
      for (let c = 0; c < cols; c++) {
        const v = points[o + c];
        if (v < min[c]) min[c] = v;
        if (v > max[c]) max[c] = v;
      }
    }
    let best = 0, range = -1;
    for (let c = 0; c < cols; c++) if (max[c] - min[c] > range) { range = max[c] - min[c]; best = c; }
    if (!(range > 0)) return; // all equal (or NaN): nothing to split on
    for (let t = lo; t < hi; t++) {
      const v = points[order[t] * cols + best];
      key[order[t]] = v === v ? v : Infinity; // NaN with the largest
    }
    const mid = (lo + hi) >> 1;
    selectNth(order, key, lo, hi, mid);
    split(lo, mid);
    split(mid, hi);
  };
  split(0, nq);
  return order;
}

/**
 * Rearranges order[lo..hi) so that order[nth] is the element a sort by (key, index) would put there, smaller
 * ones before it and larger ones after (quickselect, middle pivot; deterministic).
 */
function selectNth(order: Int32Array, key: Float64Array, lo: number, hi: number, nth: number): void {
  const less = (a: number, b: number): boolean => key[a] < key[b] || (key[a] === key[b] && a < b);
  let l = lo, r = hi - 1;
  while (r > l) {
    const pivot = order[(l + r) >> 1];
    let i = l, j = r;
    while (i <= j) {
      while (less(order[i], pivot)) i++;
      while (less(pivot, order[j])) j--;
      if (i <= j) {
        const t = order[i]; order[i] = order[j]; order[j] = t;
        i++; j--;
      }
    }
    if (nth <= j) r = j;
    else if (nth >= i) l = i;
    else return;
  }
}

