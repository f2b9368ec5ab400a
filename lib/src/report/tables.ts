/**
 * Tables for notebooks: danfojs-node DataFrames of metric rows, and an HTML rendering for tslab.
 * danfojs (with TensorFlow.js) loads lazily so the CLI's other commands start fast.
 */
import type { MetricsRow } from "../metrics/evaluate";
import { tableColumns } from "../metrics/tableFiles";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DataFrame = any;

/** A danfojs DataFrame of the rows (columns in first-seen order; missing cells are NaN). */
export function metricsDataFrame(rows: MetricsRow[], columns?: string[]): DataFrame {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dfd = require("danfojs-node");
  const cols = columns ?? tableColumns(rows);
  const data = rows.map((r) => cols.map((c) => (r[c] === undefined ? NaN : r[c])));
  return new dfd.DataFrame(data, { columns: cols });
}

/** Text safe inside HTML elements and double-quoted attributes. */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** An HTML table of a DataFrame (or rows); numbers with `digits` decimals (MFLOPs with 2). */
export function htmlTable(table: DataFrame | MetricsRow[], digits = 4): string {
  const df = Array.isArray(table) ? metricsDataFrame(table) : table;
  const columns: string[] = df.columns;
  const values: unknown[][] = df.values;
  const fmt = (v: unknown, col: string): string => typeof v === "number"
    ? (Number.isNaN(v) ? "" : Number.isInteger(v) ? String(v) : v.toFixed(col === "MFLOPs" ? 2 : digits)) : escapeHtml(String(v));
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = values.map((r) => `<tr>${r.map((v, i) => `<td>${fmt(v, columns[i])}</td>`).join("")}</tr>`).join("\n");
  return `<table class="mrl-table" style="font-size:12px;border-collapse:collapse"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}
