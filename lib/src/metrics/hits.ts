/**
 * The one pass over a shortlist that both metric families start from (metrics.ts, the original's; ranking.ts,
 * the IR-standard ones): which of each query's first neighbours share its label, and how many database items
 * its class has. Pure.
 */
import { check } from "../core/errors";
import type { IntMatrix } from "../core/matrix";

/** Same-class hits of a shortlist's first `depth` neighbours, per query. */
export interface ShortlistHits {
  /** Queries (the shortlist's rows). */
  rows: number;
  /** Neighbours looked at per query: max(1, ...ks). */
  depth: number;
  /** rows x depth: 1 where neighbour p of query i has the query's label (a -1 id never does), else 0. */
  hitAt: Uint8Array;
  /** Per query, R: the database items of its class. */
  classSize: Int32Array;
}

/** Database items per class label. */
function classCounts(databaseLabels: Int32Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (const label of databaseLabels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return counts;
}

/**
 * The hits of `neighbors` (nq x K database ids, nearest first) against the labels, to the largest of `ks`
 * (each an integer in 1..K; errors name the bad k or the row count that does not match the query labels).
 */
export function shortlistHits(neighbors: IntMatrix, queryLabels: Int32Array, databaseLabels: Int32Array, ks: number[]): ShortlistHits {
  check(neighbors.rows === queryLabels.length, `the shortlist has ${neighbors.rows} rows for ${queryLabels.length} query labels`);
  for (const k of ks) check(Number.isInteger(k) && k > 0 && k <= neighbors.cols, `k=${k} is outside the shortlist's 1..${neighbors.cols} neighbours`);
  const n = databaseLabels.length, counts = classCounts(databaseLabels);
  const depth = Math.max(1, ...ks);
  const hitAt = new Uint8Array(neighbors.rows * depth), classSize = new Int32Array(neighbors.rows);
  for (let i = 0; i < neighbors.rows; i++) {
    const target = queryLabels[i], row = i * neighbors.cols, out = i * depth;
    for (let p = 0; p < depth; p++) {
      const id = neighbors.data[row + p];
      hitAt[out + p] = id >= 0 && id < n && databaseLabels[id] === target ? 1 : 0;
    }
    classSize[i] = counts.get(target) ?? 0;
  }
  return { rows: neighbors.rows, depth, hitAt, classSize };
}
