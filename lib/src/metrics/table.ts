/**
 * Stage 4 runner (compute_metrics): reads the shortlists an experiment produced, computes the metrics and
 * MFLOPs per configuration (and, for HNSW shortlists, recall@10 against exact search at the same dim), and saves
 * the table as CSV and JSON next to the neighbours' root.
 */
import * as fs from "node:fs";
import { writeFileAtomic } from "../core/atomic";
import type { Experiment } from "../experiment/experiment";
import { dimLabel, rerankLabel } from "../experiment/labels";
import { MrlError } from "../core/errors";
import type { IntMatrix } from "../core/matrix";
import type { IndexType } from "../experiment/types";
import { RECALL_VS_EXACT_COLUMN, sharedIdRecall } from "./recall";
import { computeMetrics, mflops, type RetrievalMetrics } from "./metrics";
import { RANKING_COLUMNS, rankingColumns, rankingMetrics } from "./ranking";
import type { RetrievalLabels } from "../io/arrays";
import { isFresh, recordArtifact } from "../io/manifest";
import { findFunnelFile, funnelPath, isPerSizeModel, metricsPath, neighborsPath, rerankedPath, type ArtifactSpec } from "../io/naming";
import { readCheckedShortlist } from "../io/shortlists";

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
  const evaluate = (file: string, base: Omit<MetricsRow, "top1">, labels = labelsOf(), exactFile?: string): void => {
    // metrics look at the first max(k) neighbours only
    const read = (f: string, columns: number): IntMatrix => readCheckedShortlist(f, labels.queryLabels.length, labels.databaseLabels.length,
      f === exactFile ? "run faiss_nn for exactl2 first (HNSW rows are compared with it)" : "run the earlier stages first", { columns });
    const neighbors = read(file, Math.max(...experiment.metricKs, exactFile ? RECALL_AT : 0));
    const ks = experiment.metricKs.filter((k) => k <= neighbors.cols);
    const metrics = computeMetrics(neighbors, labels.queryLabels, labels.databaseLabels, ks, experiment.recallDenominator);
    const recall = exactFile ? { [RECALL_VS_EXACT_COLUMN]: sharedIdRecall(read(exactFile, RECALL_AT), neighbors, RECALL_AT, file) } : {};
    // the metrics beyond the original's go last, so the original's columns keep their order
    const beyond = rankingColumns(rankingMetrics(neighbors, labels.queryLabels, labels.databaseLabels, ks));
    rows.push({ ...base, ...metricColumns(metrics), ...recall, ...beyond } as MetricsRow);
  };
  for (const dim of experiment.nesting) {
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

/** All column names over the rows, in first-seen order (funnel rows lack k > final shortlist). */
export function tableColumns(rows: MetricsRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const key of Object.keys(r)) seen.add(key);
  return [...seen];
}

/** Formats rows as CSV (pandas-readable: header row, empty cells for missing values). */
export function metricsCsv(rows: MetricsRow[]): string {
  const columns = tableColumns(rows);
  const cell = (v: unknown): string => (v === undefined ? "" : typeof v === "string" && /[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

/** Saves the table as `metrics/<model>/<DATASET>_<index>_metrics.{csv,json}`; returns the CSV path. */
export function writeMetricsTable(spec: ArtifactSpec, rows: MetricsRow[]): string {
  const csv = metricsPath(spec, "csv");
  writeFileAtomic(csv, metricsCsv(rows));
  writeFileAtomic(metricsPath(spec, "json"), JSON.stringify(rows, null, 1) + "\n");
  return csv;
}

/** The files a metrics table is computed from: every shortlist of the experiment and the label arrays. */
export function metricsInputs(spec: ArtifactSpec, experiment: Experiment, labelsOf: LabelsOf): string[] {
  const perSize = isPerSizeModel(spec.model);
  const labelFiles = (perSize ? experiment.nesting.map((d) => labelsOf(d)) : [labelsOf()]).flatMap((l) => [l.files.databaseY, l.files.queriesY]);
  return [
    ...experiment.nesting.map((dim) => neighborsPath(spec, dim, experiment.k)),
    ...experiment.nesting.flatMap((dim) => exactCounterpart(spec, experiment, dim) ?? []),
    ...(perSize ? [] : experiment.adaptive.map((a) => rerankedPath(spec, a))),
    ...(perSize ? [] : experiment.funnels.map((f) => findFunnelFile(spec, f) ?? funnelPath(spec, f))),
    ...labelFiles,
  ];
}

/**
 * Stage 4 with the manifest's freshness rule: evaluates and saves the table, or reads the saved one when its
 * entry matches the configuration and the shortlists it was computed from.
 */
export function runMetricsStage(spec: ArtifactSpec, experiment: Experiment, labelsOf: LabelsOf, options: { force?: boolean } = {}):
  { rows: MetricsRow[]; file: string; skipped: boolean } {
  const inputs = metricsInputs(spec, experiment, labelsOf);
  const stageConfig = { k: experiment.k, nesting: experiment.nesting, adaptive: experiment.adaptive, funnels: experiment.funnels,
    metricKs: experiment.metricKs, recallDenominator: experiment.recallDenominator,
    // tables saved before these columns existed are recomputed rather than read back without them
    extraColumns: [RANKING_COLUMNS.apStandard("k"), RANKING_COLUMNS.ndcg("k")] };
  const csv = metricsPath(spec, "csv"), json = metricsPath(spec, "json");
  if (!options.force && isFresh(csv, "compute_metrics", stageConfig, inputs) && isFresh(json, "compute_metrics", stageConfig, inputs)) {
    return { rows: readMetricsTable(spec), file: csv, skipped: true };
  }
  const rows = evaluateExperiment(spec, experiment, labelsOf);
  const file = writeMetricsTable(spec, rows);
  recordArtifact(csv, "compute_metrics", stageConfig, inputs);
  recordArtifact(json, "compute_metrics", stageConfig, inputs);
  return { rows, file, skipped: false };
}

/** Reads a saved metrics table (JSON). */
export function readMetricsTable(spec: ArtifactSpec): MetricsRow[] {
  const file = metricsPath(spec, "json");
  if (!fs.existsSync(file)) throw new MrlError("metrics table not found; run compute_metrics first", file);
  return JSON.parse(fs.readFileSync(file, "utf8")) as MetricsRow[];
}
