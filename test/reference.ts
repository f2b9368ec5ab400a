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
