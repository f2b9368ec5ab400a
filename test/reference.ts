/**
 * The oracles of reranking, written out independently of the library as one-candidate-at-a-time loops with a
 * comparator sort, in float64 and in float32 arithmetic: the query's and each candidate's dim-prefixes
 * unit-normalized, the squared distance summed from differences, sum (x/|x| - q/|q|)^2, a stable sort. A zero
 * row gets 2 - 1/r, r = |query prefix| / |query whole row| (-Infinity when r = 0): where the original, which
 * leaves it at zero and does not re-normalize the query prefix, ranks it. A candidate id of -1 (missing) is
 * skipped and -1 fills the row's tail. The native kernel must give the same ids bit for bit.
 */
import { intMatrix, type IntMatrix, type Matrix } from "@mrl-retrieval/lib/internal";

const fround = Math.fround;

/** |first `dim` values of row r|, float64 in column order. */
function prefixNorm(m: Matrix, r: number, dim = m.cols): number {
  let s = 0;
  for (let c = 0; c < dim; c++) s += m.data[r * m.cols + c] * m.data[r * m.cols + c];
  return Math.sqrt(s);
}

/** Query i's unit dim-prefix q/|q| (zeros for a zero prefix) and a zero row's distance 2 - 1/r. */
function unitQuery(queries: Matrix, i: number, dim: number): { unit: Float64Array; zeroDist: number } {
  const norm = prefixNorm(queries, i, dim), whole = prefixNorm(queries, i);
  const unit = Float64Array.from(queries.data.subarray(i * queries.cols, i * queries.cols + dim), (v) => (norm > 0 ? v / norm : 0));
  const r = whole > 0 ? norm / whole : 0;
  return { unit, zeroDist: r > 0 ? 2 - 1 / r : -Infinity };
}

/** Reranks every query with `distance(query, id)`, skipping -1 ids: stable comparator sort, -1 after the real ones. */
function sortEach(queries: Matrix, candidates: IntMatrix, shortlist: number, distance: (i: number, id: number) => number): IntMatrix {
  const out = new Int32Array(queries.rows * shortlist).fill(-1);
  for (let i = 0; i < queries.rows; i++) {
    const real = Array.from(candidates.data.subarray(i * candidates.cols, i * candidates.cols + shortlist)).filter((id) => id !== -1);
    const dist = real.map((id) => distance(i, id));
    const order = real.map((_, j) => j).sort((a, b) => dist[a] - dist[b] || a - b);
    order.forEach((j, p) => { out[i * shortlist + p] = real[j]; });
  }
  return intMatrix(queries.rows, shortlist, out);
}

/** The float64 loop: norms and squared distances as float64 sums in dimension order. */
export function referenceRerank(database: Matrix, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number): IntMatrix {
  const db = database.data;
  const q = Array.from({ length: queries.rows }, (_, i) => unitQuery(queries, i, dim));
  return sortEach(queries, candidates, shortlist, (i, id) => {
    const o = id * database.cols;
    let nn = 0;
    for (let c = 0; c < dim; c++) nn += db[o + c] * db[o + c];
    if (nn === 0) return q[i].zeroDist;
    const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    let d = 0;
    for (let c = 0; c < dim; c++) {
      const e = db[o + c] * inv - q[i].unit[c];
      d += e * e;
    }
    return d;
  });
}

/**
 * The float32 sum of term(0..dim-1): sixteen float32 partial sums (lane c mod 16), the prefix padded with zeros
 * to a multiple of 16, combined as t8[i] = s[i] + s[i+8], t4[i] = t8[i] + t8[i+4], t2[i] = t4[i] + t4[i+2],
 * t2[0] + t2[1].
 */
export function scalarSumF32(dim: number, term: (c: number) => number): number {
  const s = new Array<number>(16).fill(0);
  for (let c = 0; c < Math.ceil(dim / 16) * 16; c++) s[c % 16] = fround(s[c % 16] + (c < dim ? term(c) : 0));
  const t8 = Array.from({ length: 8 }, (_, i) => fround(s[i] + s[i + 8]));
  const t4 = Array.from({ length: 4 }, (_, i) => fround(t8[i] + t8[i + 4]));
  const t2 = [fround(t4[0] + t4[2]), fround(t4[1] + t4[3])];
  return fround(t2[0] + t2[1]);
}

/** The float32 loop: q/|q| and x/|x| rounded to float32, every product and difference rounded, scalarSumF32 sums. */
export function referenceRerankF32(database: Matrix, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number): IntMatrix {
  const db = database.data;
  const q = Array.from({ length: queries.rows }, (_, i) => unitQuery(queries, i, dim));
  return sortEach(queries, candidates, shortlist, (i, id) => {
    const o = id * database.cols;
    const nn = scalarSumF32(dim, (c) => fround(db[o + c] * db[o + c]));
    if (nn === 0) return q[i].zeroDist;
    const inv = fround(nn > 0 ? 1 / Math.sqrt(nn) : 0);
    return scalarSumF32(dim, (c) => {
      const e = fround(fround(db[o + c] * inv) - fround(q[i].unit[c]));
      return fround(e * e);
    });
  });
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

