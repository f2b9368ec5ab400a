/**
 * Stage 4 (compute_metrics): retrieval metrics over k-NN shortlists, as the original defines them, and the
 * per-query cost model (MFLOPs) of the paper's mAP@10-vs-MFLOPs figure. Pure functions.
 *
 *   hits@k      = number of the first k neighbours whose label equals the query's
 *   AP@k        = sum over hit positions p <= k of (hits in the first p) / p, divided by k (as the original)
 *   precision@k = hits@k / k;   top-k = 1 if hits@k > 0;   top-1 = label of the first neighbour matches
 *   recall@k    = hits@k / (database items of the query's class), or / a fixed number (the original: 1300)
 * A neighbour id of -1 (FAISS: not found) counts as a miss.
 */
import { check } from "../core/errors";
import type { IntMatrix } from "../core/matrix";
import { shortlistHits, type ShortlistHits } from "./hits";

export interface MetricsAtK {
  k: number;
  mAP: number;
  precision: number;
  recall: number;
  topK: number;
}

export interface RetrievalMetrics {
  top1: number;
  atK: MetricsAtK[];
}

/** A registry of the metrics, so table columns and figure labels come from one place. */
export const METRICS = {
  mAP: { label: "mAP", description: "mean average precision over the first k neighbours" },
  precision: { label: "precision", description: "fraction of the first k neighbours in the query's class" },
  recall: { label: "recall", description: "hits in the first k / database items of the query's class" },
  topK: { label: "top-k", description: "fraction of queries with at least one hit in the first k" },
} as const;
export type MetricName = keyof typeof METRICS;

/**
 * Metrics of `neighbors` (nq x K database ids) for every k in `ks` (each <= K).
 * `recallDenominator`: "class-count" (default) or a fixed number.
 */
export function computeMetrics(neighbors: IntMatrix, queryLabels: Int32Array, databaseLabels: Int32Array, ks: number[],
  recallDenominator: "class-count" | number = "class-count"): RetrievalMetrics {
  return metricsOfHits(shortlistHits(neighbors, queryLabels, databaseLabels, ks), ks, recallDenominator);
}

/** computeMetrics from a shortlist's hits (shortlistHits to at least max(ks)), for callers that share the pass. */
export function metricsOfHits(hits: ShortlistHits, ks: number[], recallDenominator: "class-count" | number = "class-count"): RetrievalMetrics {
  const { depth, rows } = hits;
  for (const k of ks) check(Number.isInteger(k) && k > 0 && k <= depth, `k=${k} is outside the hits' 1..${depth} neighbours`);
  const sums = ks.map(() => ({ ap: 0, precision: 0, recall: 0, topK: 0 }));
  let top1 = 0;
  const cumHits = new Int32Array(depth);
  for (let i = 0; i < rows; i++) {
    const hitAt = hits.hitAt.subarray(i * depth, (i + 1) * depth);
    let count = 0;
    for (let p = 0; p < depth; p++) {
      count += hitAt[p];
      cumHits[p] = count;
    }
    top1 += hitAt[0];
    const denominator = recallDenominator === "class-count" ? hits.classSize[i] : recallDenominator;
    ks.forEach((k, j) => {
      let ap = 0;
      for (let p = 0; p < k; p++) if (hitAt[p]) ap += cumHits[p] / (p + 1);
      const h = cumHits[k - 1];
      sums[j].ap += ap / k;
      sums[j].precision += h / k;
      sums[j].recall += denominator > 0 ? h / denominator : 0;
      sums[j].topK += h > 0 ? 1 : 0;
    });
  }
  const nq = rows; // no queries: every mean is NaN (as rankingMetrics), not a misleading 0
  return {
    top1: top1 / nq,
    atK: ks.map((k, j) => ({ k, mAP: sums[j].ap / nq, precision: sums[j].precision / nq, recall: sums[j].recall / nq, topK: sums[j].topK / nq })),
  };
}

/** Multiply-adds per query, in millions, for each retrieval method (database of `n` items). */
export const mflops = {
  /** Exact search at d over n items. */
  exact: (dim: number, n: number): number => (dim * n) / 1e6,
  /** Shortlist at D_r over n items, then rerank `shortlist` candidates at D_s. */
  adaptive: (retrievalDim: number, rerankDim: number, shortlist: number, n: number): number =>
    (retrievalDim * n + rerankDim * shortlist) / 1e6,
  /** Shortlist at D_r, then every cascade step reranks its input shortlist at its dim. */
  funnel: (retrievalDim: number, dims: number[], shortlists: number[], n: number): number =>
    (retrievalDim * n + dims.reduce((s, d, i) => s + d * shortlists[i], 0)) / 1e6,
};
