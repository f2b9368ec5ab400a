/**
 * Stage 4's evaluation (compute_metrics): the metrics and MFLOPs of every shortlist an experiment produced (and,
 * for HNSW shortlists, recall@10 against exact search at the same dim), one row per configuration. Reads the
 * shortlists; tableFiles.ts saves the rows, stage.ts decides whether to recompute them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { searchedDims, type Experiment } from "../experiment/experiment";
import { dimLabel, rerankLabel } from "../experiment/labels";
import type { IntMatrix } from "../core/matrix";
import type { IndexType } from "../experiment/types";
import type { RetrievalLabels } from "../io/arrays";
import { findFunnelFile, funnelPath, isPerSizeModel, neighborsPath, rerankedPath, timingsPath, type ArtifactSpec } from "../io/naming";
import { readCheckedShortlist } from "../io/shortlists";
import { shortlistHits } from "./hits";
import { mflops, metricsOfHits, type RetrievalMetrics } from "./metrics";
import { rankingColumns, rankingMeans, rankingOfHits, type RankingAtK } from "./ranking";
import { RECALL_VS_EXACT_COLUMN, sharedIdRecall } from "./recall";

/** The label arrays of a model; `dim` picks the ff baseline of that size (one array per size). */
export type LabelsOf = (dim?: number) => RetrievalLabels;

/** One row of the metrics table: a retrieval configuration and its metrics (flat, table/CSV friendly). */
export interface MetricsRow {
  model: string;
  index: string;
  method: "exact" | "adaptive" | "funnel";
  /** Short human label (experiment/labels.ts), e.g. "16d", "16->2048 @200", "8->[16,...,2048] @[200,...,10]". */
  config: string;
  retrievalDim: number;
  /** Final representation size used for the returned order. */
  rerankDim: number;
  shortlist: string;
  MFLOPs: number;
  top1: number;
  [metric: string]: string | number;
}

/** Flattens metrics into columns `mAP@10`, `precision@10`, `recall@10`, `top-10`. */
function metricColumns(m: RetrievalMetrics): Record<string, number> {
  const out: Record<string, number> = { top1: m.top1 };
  for (const a of m.atK) {
    out[`mAP@${a.k}`] = a.mAP;
    out[`precision@${a.k}`] = a.precision;
    out[`recall@${a.k}`] = a.recall;
    out[`top-${a.k}`] = a.topK;
  }
  return out;
}

/**
 * Both metric families of one shortlist (nq x K ids) at each k in `ks` from one hit-counting pass: the original's
 * (computeMetrics) and the IR-standard ones (rankingMetrics), the same numbers as calling each.
 */
export function shortlistMetrics(neighbors: IntMatrix, queryLabels: Int32Array, databaseLabels: Int32Array, ks: number[],
  recallDenominator: "class-count" | number = "class-count"): { metrics: RetrievalMetrics; ranking: RankingAtK[] } {
  const hits = shortlistHits(neighbors, queryLabels, databaseLabels, ks);
  return { metrics: metricsOfHits(hits, ks, recallDenominator), ranking: rankingMeans(rankingOfHits(hits, ks)) };
}

/** The measured speed of one served shortlist file (postgres/stage.ts writes them; timingsPath names the file). */
export interface ServingTimes {
  queries: number;
  /** Queries per second over every query's statement (query vectors in memory to ids in memory). */
  qps: number;
  /** One statement's milliseconds, median and 95th percentile over the queries. */
  p50Ms: number;
  p95Ms: number;
}

/** The timings file of an index type as a map from shortlist file name to its times (empty when there is none). */
export function readServingTimes(spec: ArtifactSpec): Record<string, ServingTimes> {
  const file = timingsPath(spec);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, ServingTimes> : {};
}

/** Depth of the recall-vs-exact column. */
const RECALL_AT = 10;

/**
 * The exact shortlist an approximate index's shortlist at `dim` is compared with (RECALL_VS_EXACT_COLUMN): the
 * same experiment's exactl2 shortlist at that dim, or undefined when the experiment has no exactl2 (or k < 10).
 */
export function exactCounterpart(spec: ArtifactSpec, experiment: Experiment, dim: number): string | undefined {
  const exact: IndexType = "exactl2";
  if (spec.indexType === exact || !experiment.indexTypes.includes(exact) || experiment.k < RECALL_AT) return undefined;
  return neighborsPath({ ...spec, indexType: exact }, dim, experiment.k);
}

/**
 * The experiment's shortlist files with their configuration; only k <= the final shortlist are evaluated.
 * Needs the labels only. The ff baselines (one model per size) have exact rows only, each with its own labels.
 * An HNSW shortlist row also gets recall@10 against the exactl2 shortlist at its dim (exactCounterpart).
 */
export function evaluateExperiment(spec: ArtifactSpec, experiment: Experiment, labelsOf: LabelsOf): MetricsRow[] {
  const perSize = isPerSizeModel(spec.model);
  const n = labelsOf(perSize ? experiment.nesting[0] : undefined).databaseLabels.length;
  const rows: MetricsRow[] = [];
  const times = readServingTimes(spec);
  const evaluate = (file: string, base: Omit<MetricsRow, "top1">, labels = labelsOf(), exactFile?: string): void => {
    // metrics look at the first max(k) neighbours only
    const read = (f: string, columns: number): IntMatrix => readCheckedShortlist(f, labels.queryLabels.length, labels.databaseLabels.length,
      f === exactFile ? "run faiss_nn for exactl2 first (HNSW rows are compared with it)" : "run the earlier stages first", { columns });
    const neighbors = read(file, Math.max(...experiment.metricKs, exactFile ? RECALL_AT : 0));
    const ks = experiment.metricKs.filter((k) => k <= neighbors.cols);
    const { metrics, ranking } = shortlistMetrics(neighbors, labels.queryLabels, labels.databaseLabels, ks, experiment.recallDenominator);
    const recall = exactFile ? { [RECALL_VS_EXACT_COLUMN]: sharedIdRecall(read(exactFile, RECALL_AT), neighbors, RECALL_AT, file) } : {};
    // the metrics beyond the original's go last, so the original's columns keep their order
    const t = times[path.basename(file)];
    const speed = t ? { QPS: t.qps, "p50 ms": t.p50Ms, "p95 ms": t.p95Ms } : {};
    rows.push({ ...base, ...metricColumns(metrics), ...recall, ...rankingColumns(ranking), ...speed } as MetricsRow);
  };
  for (const dim of searchedDims(experiment, spec.indexType)) {
    evaluate(neighborsPath(spec, dim, experiment.k), {
      model: spec.model, index: spec.indexType, method: "exact", config: dimLabel(dim), retrievalDim: dim, rerankDim: dim,
      shortlist: String(experiment.k), MFLOPs: mflops.exact(dim, n),
    }, perSize ? labelsOf(dim) : undefined, exactCounterpart(spec, experiment, dim));
  }
  if (perSize) return rows;
  for (const a of experiment.adaptive) {
    evaluate(rerankedPath(spec, a), {
      model: spec.model, index: spec.indexType, method: "adaptive", config: rerankLabel(a),
      retrievalDim: a.retrievalDim, rerankDim: a.rerankDim, shortlist: String(a.shortlist),
      MFLOPs: mflops.adaptive(a.retrievalDim, a.rerankDim, a.shortlist, n),
    });
  }
  for (const f of experiment.funnels) {
    evaluate(findFunnelFile(spec, f) ?? funnelPath(spec, f), {
      model: spec.model, index: spec.indexType, method: "funnel", config: rerankLabel(f),
      retrievalDim: f.retrievalDim, rerankDim: f.dims[f.dims.length - 1], shortlist: `[${f.shortlists}]`,
      MFLOPs: mflops.funnel(f.retrievalDim, f.dims, f.shortlists, n),
    });
  }
  return rows;
}
