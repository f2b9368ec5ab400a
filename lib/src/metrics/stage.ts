/**
 * Stage 4 runner (compute_metrics) with the manifest's freshness rule: evaluates an experiment's shortlists
 * (evaluate.ts) and saves the table (tableFiles.ts), or reads the saved one when nothing it depends on changed.
 */
import * as fs from "node:fs";
import { searchedDims, type Experiment } from "../experiment/experiment";
import { isFresh, recordArtifact } from "../io/manifest";
import { findFunnelFile, funnelPath, isPerSizeModel, metricsPath, neighborsPath, rerankedPath, timingsPath, type ArtifactSpec } from "../io/naming";
import { evaluateExperiment, exactCounterpart, type LabelsOf, type MetricsRow } from "./evaluate";
import { RANKING_COLUMNS } from "./ranking";
import { readMetricsTable, writeMetricsTable } from "./tableFiles";

/** The files a metrics table is computed from: every shortlist of the experiment and the label arrays. */
export function metricsInputs(spec: ArtifactSpec, experiment: Experiment, labelsOf: LabelsOf): string[] {
  const perSize = isPerSizeModel(spec.model);
  const labelFiles = (perSize ? experiment.nesting.map((d) => labelsOf(d)) : [labelsOf()]).flatMap((l) => [l.files.databaseY, l.files.queriesY]);
  const dims = searchedDims(experiment, spec.indexType);
  return [
    ...dims.map((dim) => neighborsPath(spec, dim, experiment.k)),
    ...dims.flatMap((dim) => exactCounterpart(spec, experiment, dim) ?? []),
    ...(perSize ? [] : experiment.adaptive.map((a) => rerankedPath(spec, a))),
    ...(perSize ? [] : experiment.funnels.map((f) => findFunnelFile(spec, f) ?? funnelPath(spec, f))),
    ...labelFiles,
    // served shortlists' speed (QPS, p50/p95), when Postgres wrote it
    ...(fs.existsSync(timingsPath(spec)) ? [timingsPath(spec)] : []),
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
