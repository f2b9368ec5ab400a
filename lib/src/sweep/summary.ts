/**
 * A finished sweep as text: the CSV of every row, and the summary the CLI prints (Pareto fronts, the
 * planner's pick against exact search at the largest dim).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeAtomically } from "../core/atomic";
import { bestConfig, paretoFront } from "./pareto";
import type { SweepResult, SweepRow } from "./run";

/** The numeric columns of a sweep row, in CSV order. */
export const SWEEP_NUMBER_COLUMNS = ["mAP10", "top1", "precision10", "nDCG10", "recall10", "mflops", "batchSeconds", "msPerQuery", "qps", "p50Ms", "p95Ms"] as const;
/** The CSV's columns, in order. */
export const SWEEP_CSV_COLUMNS: (keyof SweepRow)[] = ["label", "kind", ...SWEEP_NUMBER_COLUMNS];
const COLUMNS = SWEEP_CSV_COLUMNS;

/** Every row as CSV (header first), the columns of SweepRow. */
export function sweepCsv(result: SweepResult): string {
  const cell = (v: unknown): string => (typeof v === "string" && /[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  return [COLUMNS.join(","), ...result.rows.map((r) => COLUMNS.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

/** Writes sweepCsv(result) to `file` atomically (folders made as needed); returns the file. */
export function saveSweepCsv(result: SweepResult, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeAtomically(file, (temp) => fs.writeFileSync(temp, sweepCsv(result)));
  return file;
}

/** The non-dominated rows on mAP@10 against MFLOPs and against measured time per query. */
export function sweepFronts(rows: readonly SweepRow[]): { byMflops: SweepRow[]; byTime: SweepRow[] } {
  const map = rows.map((r) => r.mAP10);
  return {
    byMflops: paretoFront(rows.map((r) => r.mflops), map).map((i) => rows[i]),
    byTime: paretoFront(rows.map((r) => r.msPerQuery), map).map((i) => rows[i]),
  };
}

/** The planner's answer to "within `tolerance` mAP@10 of exact search at the largest dim, cheapest", with the ratios. */
export function planAgainstExact(result: SweepResult, tolerance = 0.001): { exact: SweepRow; byMflops?: SweepRow; byTime?: SweepRow } | undefined {
  const largest = Math.max(...result.rows.filter((r) => r.config.kind === "exact").map((r) => (r.config.kind === "exact" ? r.config.dim : 0)));
  const exact = result.rows.find((r) => r.config.kind === "exact" && r.config.dim === largest);
  if (!exact) return undefined;
  const minMap = exact.mAP10 - tolerance;
  return { exact, byMflops: bestConfig(result.rows, { minMap }), byTime: bestConfig(result.rows, { minMap, minimize: "time" }) };
}

const fmt = (r: SweepRow): string =>
  `${r.label}: mAP@10 ${r.mAP10.toFixed(4)}, top-1 ${r.top1.toFixed(4)}, recall@10 ${r.recall10.toFixed(4)}, ${r.mflops.toFixed(3)} MFLOPs, ` +
  `${r.msPerQuery.toFixed(4)} ms/query (${Math.round(r.qps)} QPS), single query p50 ${r.p50Ms.toFixed(3)} / p95 ${r.p95Ms.toFixed(3)} ms`;

/** The lines the CLI prints after a sweep. */
export function sweepSummary(result: SweepResult): string[] {
  const resumed = result.resumed > 0 ? ` (${result.resumed} of them resumed from an earlier run, with that run's times)` : "";
  const lines = [`sweep: ${result.rows.length} configurations, ${result.databaseRows} database rows, ${result.queries} queries, ${result.seconds.toFixed(1)} s${resumed}`];
  const fronts = sweepFronts(result.rows);
  lines.push("Pareto front, mAP@10 vs MFLOPs:", ...fronts.byMflops.map((r) => `  ${fmt(r)}`));
  lines.push("Pareto front, mAP@10 vs measured time per query (batch):", ...fronts.byTime.map((r) => `  ${fmt(r)}`));
  const plan = planAgainstExact(result);
  if (plan) {
    lines.push(`exact ${plan.exact.label.replace("exact ", "")}: ${fmt(plan.exact)}`);
    for (const [what, row] of [["fewest MFLOPs", plan.byMflops], ["least time", plan.byTime]] as const) {
      if (!row) continue;
      lines.push(`within 0.001 mAP@10 of it, ${what}: ${fmt(row)}`,
        `  ${(plan.exact.mflops / row.mflops).toFixed(1)}x fewer MFLOPs, ${(plan.exact.msPerQuery / row.msPerQuery).toFixed(1)}x less time per query (batch, same run), ` +
        `${(plan.exact.p50Ms / row.p50Ms).toFixed(1)}x at p50 single-query`);
    }
  }
  return lines;
}
