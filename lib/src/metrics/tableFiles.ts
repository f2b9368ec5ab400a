/**
 * The saved metrics table: `metrics/<model>/<DATASET>_<index>_metrics.csv` (pandas-readable) and `.json` beside
 * it (what readMetricsTable reads back).
 */
import * as fs from "node:fs";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { metricsPath, type ArtifactSpec } from "../io/naming";
import { formatCsvTable } from "../io/tableCsv";
import type { MetricsRow } from "./evaluate";

/** All column names over the rows, in first-seen order (funnel rows lack k > final shortlist). */
export function tableColumns(rows: MetricsRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const key of Object.keys(r)) seen.add(key);
  return [...seen];
}

/** Formats rows as CSV (pandas-readable: header row, empty cells for missing values). */
export function metricsCsv(rows: MetricsRow[]): string {
  return formatCsvTable(tableColumns(rows), rows);
}

/** Saves the table as `metrics/<model>/<DATASET>_<index>_metrics.{csv,json}`; returns the CSV path. */
export function writeMetricsTable(spec: ArtifactSpec, rows: MetricsRow[]): string {
  const csv = metricsPath(spec, "csv");
  writeFileAtomic(csv, metricsCsv(rows));
  writeFileAtomic(metricsPath(spec, "json"), JSON.stringify(rows, null, 1) + "\n");
  return csv;
}

/** Reads a saved metrics table (JSON). */
export function readMetricsTable(spec: ArtifactSpec): MetricsRow[] {
  const file = metricsPath(spec, "json");
  if (!fs.existsSync(file)) throw new MrlError("metrics table not found; run compute_metrics first", file);
  let rows: unknown;
  try {
    rows = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new MrlError(`not a readable metrics table (${(err as Error).message}); delete it and run compute_metrics again`, file);
  }
  if (!Array.isArray(rows) || rows.some((r) => r === null || typeof r !== "object" || typeof (r as MetricsRow).config !== "string")) {
    throw new MrlError("not a metrics table (expected a JSON list of rows with a \"config\" each); delete it and run compute_metrics again", file);
  }
  return rows as MetricsRow[];
}
