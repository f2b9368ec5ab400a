/**
 * How much of exact search an approximate index (HNSW) finds: ann-benchmarks' k-NN recall. Unlike the
 * metrics of metrics.ts it needs no labels, only the exact shortlist of the same queries at the same dim.
 */
import { check } from "../core/errors";
import type { IntMatrix } from "../core/matrix";

/** The metrics table's column of recallAgainstExact at 10 (for each HNSW shortlist with an exact counterpart). */
export const RECALL_VS_EXACT_COLUMN = "recall@10 vs exact";

/**
 * Per query, the fraction of the exact shortlist's first `at` ids that are among the approximate shortlist's
 * first `at`, averaged over queries. A missing neighbour (-1) in the approximate shortlist is never found.
 * Both are rows x (>= at) neighbour ids of the same queries, nearest first; `what` names them in errors.
 */
export function recallAgainstExact(exact: IntMatrix, approximate: IntMatrix, at = 10, what = "shortlists"): number {
  check(Number.isInteger(at) && at > 0, `recall depth must be a positive integer, got ${at}`);
  check(exact.rows === approximate.rows, `${what}: the exact shortlist has ${exact.rows} queries, the approximate one ${approximate.rows}`);
  check(exact.cols >= at && approximate.cols >= at,
    `${what}: recall@${at} needs ${at} neighbours per query, the exact shortlist has ${exact.cols}, the approximate one ${approximate.cols}`);
  if (exact.rows === 0) return NaN;
  let found = 0;
  for (let q = 0; q < exact.rows; q++) {
    const e = exact.data.subarray(q * exact.cols, q * exact.cols + at);
    const a = approximate.data.subarray(q * approximate.cols, q * approximate.cols + at);
    for (let i = 0; i < at; i++) {
      // exact search always finds k neighbours (k <= the database); a -1 here means the files do not match
      check(e[i] >= 0, `${what}: the exact shortlist has a missing neighbour (-1) at query ${q}, position ${i + 1}`);
      if (a.includes(e[i])) found++; // at is small (10): a scan beats building a set
    }
  }
  return found / (exact.rows * at);
}
