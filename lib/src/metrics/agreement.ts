/**
 * Tie-aware agreement of two rankings of the same queries, after faiss contrib's check_ref_knn_with_draws:
 * equal distances may come in any order, everything else must match. Used to check a fast path against a
 * readable reference (the reranking notebook) and an implementation against the original's.
 */
import { check } from "../core/errors";
import type { IntMatrix } from "../core/matrix";

export interface RankingAgreement {
  /** Queries compared. */
  queries: number;
  /** Queries whose ids are the same, position by position. */
  identical: number;
  /** Queries whose ids differ only by the order of candidates at equal distance. */
  tiesOnly: number;
  /** Queries that differ otherwise (their row numbers). */
  differing: number[];
}

/**
 * Compares `actual` with `expected` row by row (same shape). A row that is not identical still agrees when
 * the distances at every position match within `tolerance` (relative to the distance, at least absolute) and
 * each run of equal distances holds the same ids, except the last run, which k may cut anywhere.
 * `distance(row, id)` is the distance of candidate `id` from query `row` under the reference's arithmetic.
 */
export function compareRankings(expected: IntMatrix, actual: IntMatrix, distance: (row: number, id: number) => number, tolerance = 1e-6): RankingAgreement {
  check(expected.rows === actual.rows && expected.cols === actual.cols,
    `rankings of different shapes: ${expected.rows} x ${expected.cols} and ${actual.rows} x ${actual.cols}`);
  const k = expected.cols;
  const result: RankingAgreement = { queries: expected.rows, identical: 0, tiesOnly: 0, differing: [] };
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
  for (let r = 0; r < expected.rows; r++) {
    const e = expected.data.subarray(r * k, (r + 1) * k), a = actual.data.subarray(r * k, (r + 1) * k);
    if (e.every((id, j) => id === a[j])) {
      result.identical++;
      continue;
    }
    const de = Array.from(e, (id) => distance(r, id)), da = Array.from(a, (id) => distance(r, id));
    let agrees = de.every((d, j) => close(d, da[j]));
    // runs of equal distances must hold the same ids, except the last run, which k may cut
    for (let start = 0; agrees && start < k;) {
      let end = start + 1;
      while (end < k && close(de[end], de[start])) end++;
      if (end < k) {
        const ids = new Set(e.subarray(start, end));
        agrees = a.subarray(start, end).every((id) => ids.has(id));
      }
      start = end;
    }
    if (agrees) result.tiesOnly++;
    else result.differing.push(r);
  }
  return result;
}
