/**
 * The two recalls of an approximate shortlist against exact search at the same dim. Unlike the metrics of
 * metrics.ts they need no labels. They count different things:
 *
 *   sharedIdRecall@k          = (exact top-k ids found among the approximate top-k) / k, mean over queries.
 *                               The metrics table's "recall@10 vs exact" column (HNSW rows) and the efSearch
 *                               sweep's recall. A tie at the k-th distance broken the other way counts as a miss.
 *   distanceThresholdRecall@k = (approximate top-k candidates within the k-th exact distance + 1e-3) / k, mean
 *                               over queries: ann-benchmarks' `knn` recall. Needs the vectors (candidateDistances);
 *                               the sweep's recall10 column.
 */
import { check } from "../core/errors";
import type { IntMatrix, Matrix } from "../core/matrix";

/** The metrics table's column of sharedIdRecall at 10 (for each HNSW shortlist with an exact counterpart). */
export const RECALL_VS_EXACT_COLUMN = "recall@10 vs exact";

/**
 * Shared-id recall@at: per query, the number of the exact shortlist's first `at` ids that are also among the
 * approximate shortlist's first `at`, divided by `at`; the mean over queries. Ids only: a candidate at the same
 * distance as an exact neighbour but with another id is not counted (distanceThresholdRecall counts it). A
 * missing neighbour (-1) in the approximate shortlist is never found.
 * `exact`, `approximate`: rows x (>= at) neighbour ids of the same queries, nearest first; `what` names them in errors.
 */
export function sharedIdRecall(exact: IntMatrix, approximate: IntMatrix, at = 10, what = "shortlists"): number {
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

// ---- distance-threshold recall (ann-benchmarks' `knn`) ----------------------------------------------------------

/** ann-benchmarks' default distance tolerance of its `knn` recall (distanceThresholdRecall's epsilon). */
export const DISTANCE_THRESHOLD_EPSILON = 1e-3;

/**
 * The L2 (not squared) distance from each query to each of its first `k` candidates, between unit-normalized
 * `dim`-prefixes (the space faiss_nn searches at that dim), in float64: nq x k values, Infinity where the id is
 * -1 (so a missing candidate is never within any threshold). ann-benchmarks compares distances in the metric's own
 * units, the Euclidean distance for "euclidean" datasets; FAISS's IndexFlatL2 returns squared L2, so take
 * Math.sqrt of FAISS distances before comparing them with these. `databaseNorms` (NaN = not yet known) carries
 * the rows' norms at `dim` from call to call (a sweep scores hundreds of shortlists against one database).
 */
export function candidateDistances(queries: Matrix, database: Matrix, shortlist: IntMatrix, dim: number, k: number,
  databaseNorms?: Float64Array): Float64Array {
  check(shortlist.rows === queries.rows, `the shortlist has ${shortlist.rows} rows for ${queries.rows} queries`);
  check(Number.isInteger(k) && k > 0 && k <= shortlist.cols, `k=${k} is outside the shortlist's 1..${shortlist.cols} neighbours`);
  check(Number.isInteger(dim) && dim > 0 && dim <= queries.cols && dim <= database.cols,
    `dim ${dim} is outside the arrays' 1..${Math.min(queries.cols, database.cols)} columns`);
  const norm = (m: Matrix, r: number): number => {
    let s = 0;
    for (let c = 0; c < dim; c++) s += m.data[r * m.cols + c] * m.data[r * m.cols + c];
    if (!(s > 0 && Number.isFinite(s))) check(false, `row ${r} of the ${m === queries ? "queries" : "database"} cannot be L2-normalized at ${dim}d`);
    return Math.sqrt(s);
  };
  // each database row's norm once (rows recur across queries); NaN = not yet computed
  check(databaseNorms === undefined || databaseNorms.length === database.rows, "one database norm per row");
  const rowNorm = databaseNorms ?? new Float64Array(database.rows).fill(NaN);
  const out = new Float64Array(queries.rows * k), qd = queries.data, xd = database.data;
  for (let q = 0; q < queries.rows; q++) {
    const qn = norm(queries, q), qo = q * queries.cols;
    for (let p = 0; p < k; p++) {
      const id = shortlist.data[q * shortlist.cols + p];
      if (id < 0) { out[q * k + p] = Infinity; continue; }
      if (id >= database.rows) check(false, `query ${q}: candidate id ${id} is outside the database's ${database.rows} rows`);
      if (Number.isNaN(rowNorm[id])) rowNorm[id] = norm(database, id);
      const xn = rowNorm[id], xo = id * database.cols;
      // |q/|q| - x/|x||^2 = 2 - 2 q.x / (|q| |x|), in float64: far below recall's 1e-3 tolerance, and one
      // multiply-add per dim instead of two divisions (the sweep scores every configuration with it)
      let dot = 0;
      for (let c = 0; c < dim; c++) dot += qd[qo + c] * xd[xo + c];
      out[q * k + p] = Math.sqrt(Math.max(0, 2 - (2 * dot) / (qn * xn)));
    }
  }
  return out;
}

/**
 * Distance-threshold recall@k, ann-benchmarks' `knn` recall (plotting/metrics.py, get_recall_values with
 * knn_threshold): per query, the number of the first `k` candidate distances that are <= (the k-th exact
 * neighbour's distance + epsilon), divided by k; the mean over queries. Distances, not ids: any candidate as
 * close as the k-th true neighbour counts, whichever id it has (sharedIdRecall counts ids). A candidate exactly at the threshold counts, so ties with the k-th true
 * neighbour are found; a missing candidate (Infinity, or NaN) never counts.
 * `candidate`: nq x candidateCols distances of the approximate shortlist's ids (candidateDistances), in its order;
 * `exact`: nq x exactCols exact k-NN distances, ascending, same units. Both need >= k columns.
 */
export function distanceThresholdRecall(candidate: Float32Array | Float64Array, candidateCols: number, exact: Float32Array | Float64Array, exactCols: number,
  k: number, epsilon = DISTANCE_THRESHOLD_EPSILON): number {
  check(Number.isInteger(k) && k > 0, `recall depth must be a positive integer, got ${k}`);
  check(candidateCols >= k && exactCols >= k, `recall@${k} needs ${k} distances per query, the candidates have ${candidateCols}, the exact ones ${exactCols}`);
  check(candidate.length % candidateCols === 0 && exact.length % exactCols === 0, "distance arrays must hold whole rows");
  const nq = candidate.length / candidateCols;
  check(exact.length / exactCols === nq, `the candidates have ${nq} queries, the exact distances ${exact.length / exactCols}`);
  if (nq === 0) return NaN;
  let found = 0;
  for (let q = 0; q < nq; q++) {
    const threshold = exact[q * exactCols + k - 1] + epsilon;
    for (let p = 0; p < k; p++) if (candidate[q * candidateCols + p] <= threshold) found++;
  }
  return found / (nq * k);
}
