/**
 * Metrics beyond the original compute_metrics, reported beside its columns (which stay as they are): the
 * IR-standard AP@k, nDCG@k with binary same-class relevance, and queries per second (the two recalls against
 * exact search are in recall.ts). Pure functions over typed arrays.
 *
 * Relevance is the original's: database item j is relevant to a query when labels match. R is the number of
 * database items of the query's class. A neighbour id of -1 (FAISS: not found) is never relevant.
 *
 *   AP@k (standard) = sum over hit positions p <= k of precision@p (hits in the first p / p), divided by
 *                     min(k, R). The original's AP@k divides the same sum by k instead, so it is below 1 even
 *                     for a perfect ranking when R < k; this one is 1 for any perfect ranking.
 *   nDCG@k          = DCG / IDCG, DCG = sum over p <= k of rel_p / log2(p + 1) (p 1-based, rel_p in {0, 1}),
 *                     IDCG = the same for min(k, R) relevant items at the top.
 *   A query whose class has no database item (R = 0) has nothing to find: both are 0 for it, and it stays in the
 *   mean over queries (as sklearn's ndcg_score does, and as the original's recall@k is 0 for it). Test sets
 *   drawn from the database's classes never have one.
 *
 * Both assume a shortlist lists each id at most once (every search and rerank here does); a repeated relevant
 * id would count twice.
 */
import { check } from "../core/errors";
import type { IntMatrix } from "../core/matrix";
import { shortlistHits, type ShortlistHits } from "./hits";

/** The metrics table's column names of the new metrics at k (beside the original's `mAP@k` ...); "k" gives the pattern. */
export const RANKING_COLUMNS = {
  apStandard: (k: number | "k"): string => `mAP@${k} (standard)`,
  ndcg: (k: number | "k"): string => `nDCG@${k}`,
} as const;

/** Per query at one k: standard AP@k and nDCG@k (each nq values). */
export interface RankingPerQuery {
  k: number;
  apStandard: Float64Array;
  ndcg: Float64Array;
}

/** Means over queries at one k: "mAP@k (standard)" and nDCG@k. */
export interface RankingAtK {
  k: number;
  apStandard: number;
  ndcg: number;
}

/**
 * Standard AP@k and nDCG@k of every query of `neighbors` (nq x K database ids, nearest first) at each k in `ks`
 * (each <= K), with same-class relevance. See the module comment for the definitions and R = 0.
 */
export function rankingMetricsPerQuery(neighbors: IntMatrix, queryLabels: Int32Array, databaseLabels: Int32Array, ks: number[]): RankingPerQuery[] {
  return rankingOfHits(shortlistHits(neighbors, queryLabels, databaseLabels, ks), ks);
}

/** rankingMetricsPerQuery from a shortlist's hits (shortlistHits to at least max(ks)), for callers that share the pass. */
export function rankingOfHits(hits: ShortlistHits, ks: number[]): RankingPerQuery[] {
  const { depth: maxK, rows } = hits;
  for (const k of ks) check(Number.isInteger(k) && k > 0 && k <= maxK, `k=${k} is outside the hits' 1..${maxK} neighbours`);
  // discount[p] = 1 / log2(p + 2): position p + 1 (1-based); idealDcg[m] = sum of the first m discounts
  const discount = new Float64Array(maxK);
  const idealDcg = new Float64Array(maxK + 1);
  for (let p = 0; p < maxK; p++) {
    discount[p] = 1 / Math.log2(p + 2);
    idealDcg[p + 1] = idealDcg[p] + discount[p];
  }
  const out = ks.map((k) => ({ k, apStandard: new Float64Array(rows), ndcg: new Float64Array(rows) }));
  for (let i = 0; i < rows; i++) {
    const hitAt = hits.hitAt.subarray(i * maxK, (i + 1) * maxK);
    const relevant = hits.classSize[i];
    for (const o of out) {
      if (relevant === 0) continue; // nothing to find: 0 (see the module comment)
      let found = 0, precisionSum = 0, dcg = 0;
      for (let p = 0; p < o.k; p++) {
        if (!hitAt[p]) continue;
        found++;
        precisionSum += found / (p + 1);
        dcg += discount[p];
      }
      const ideal = Math.min(o.k, relevant);
      o.apStandard[i] = precisionSum / ideal;
      o.ndcg[i] = dcg / idealDcg[ideal];
    }
  }
  return out;
}

/** Means over queries of rankingMetricsPerQuery at each k (NaN when there are no queries). */
export function rankingMetrics(neighbors: IntMatrix, queryLabels: Int32Array, databaseLabels: Int32Array, ks: number[]): RankingAtK[] {
  return rankingMeans(rankingMetricsPerQuery(neighbors, queryLabels, databaseLabels, ks));
}

/** Means over queries of per-query ranking metrics (NaN when there are no queries). */
export function rankingMeans(perQuery: RankingPerQuery[]): RankingAtK[] {
  const mean = (v: Float64Array): number => (v.length === 0 ? NaN : v.reduce((s, x) => s + x, 0) / v.length);
  return perQuery.map((o) => ({ k: o.k, apStandard: mean(o.apStandard), ndcg: mean(o.ndcg) }));
}

/** The metrics table columns of rankingMetrics: `mAP@k (standard)` and `nDCG@k` for each k. */
export function rankingColumns(metrics: RankingAtK[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) out[RANKING_COLUMNS.apStandard(m.k)] = m.apStandard;
  for (const m of metrics) out[RANKING_COLUMNS.ndcg(m.k)] = m.ndcg;
  return out;
}

// ---- throughput -------------------------------------------------------------------------------------------------

/**
 * Queries per second: `queries` answered in `seconds` of wall-clock time. What is timed is the caller's to state;
 * the project's convention (as ann-benchmarks') is the search call(s) alone, from the query vectors in memory to
 * the shortlist of ids in memory: no file reading, index building or metrics.
 */
export function queriesPerSecond(queries: number, seconds: number): number {
  check(Number.isFinite(queries) && queries >= 0, `a query count must be a non-negative number, got ${queries}`);
  check(Number.isFinite(seconds) && seconds > 0, `a duration must be a positive number of seconds, got ${seconds}`);
  return queries / seconds;
}

/** The p-quantile (0..1) of single-query times, as the sweep reports p50 / p95: the value at floor(p * n) of the sorted times. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
