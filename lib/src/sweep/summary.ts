/**
 * A finished sweep in words: the Pareto fronts and the planner's pick against exact search at the largest dim,
 * as the CLI prints them and the report shows them. (The CSV: csv.ts.)
 */
import { bestConfig, paretoFront } from "./pareto";
import type { SweepResult, SweepRow } from "./run";

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
  // a sweep read back from a CSV without its JSON (readSweepCsv) does not know its sizes
  const known = (n: number, text: string): string => (Number.isFinite(n) ? `, ${text}` : "");
  const lines = [`sweep: ${result.rows.length} configurations${known(result.databaseRows, `${result.databaseRows} database rows`)}` +
    `${known(result.queries, `${result.queries} queries`)}${known(result.seconds, `${result.seconds.toFixed(1)} s`)}${resumed}`];
  const fronts = sweepFronts(result.rows);
  lines.push("Pareto front, mAP@10 vs MFLOPs:", ...fronts.byMflops.map((r) => `  ${fmt(r)}`));
  lines.push("Pareto front, mAP@10 vs measured time per query (batch):", ...fronts.byTime.map((r) => `  ${fmt(r)}`));
  return [...lines, ...sweepPlanLines(result), ...stagePlanLines(result)];
}

/** A configuration's first stage: its spec, "exact" for exact first stages, undefined for exact search alone. */
const stageOf = (r: SweepRow): string | undefined => (r.config.kind === "exact" ? undefined : r.config.firstStage);

/**
 * Per first stage, the planner's picks within `tolerance` mAP@10 of exact search at the largest dim (fewest MFLOPs,
 * least time), so stages can be compared at the same quality; a stage with none there is left out.
 */
export function planByFirstStage(result: SweepResult, tolerance = 0.001): { stage: string; byMflops: SweepRow; byTime: SweepRow }[] {
  const plan = planAgainstExact(result, tolerance);
  if (!plan) return [];
  const minMap = plan.exact.mAP10 - tolerance;
  const stages = [...new Set(result.rows.map(stageOf).filter((s): s is string => s !== undefined))];
  return stages.flatMap((stage) => {
    const rows = result.rows.filter((r) => stageOf(r) === stage);
    const byMflops = bestConfig(rows, { minMap }), byTime = bestConfig(rows, { minMap, minimize: "time" });
    return byMflops && byTime ? [{ stage, byMflops, byTime }] : [];
  });
}

function stagePlanLines(result: SweepResult): string[] {
  const plan = planAgainstExact(result), picks = planByFirstStage(result);
  if (!plan || picks.length === 0) return [];
  return ["within 0.001 mAP@10 of exact search, by first stage (x fewer MFLOPs / x less time per query than it):",
    ...picks.map(({ stage, byMflops, byTime }) => `  ${stage}: fewest MFLOPs ${byMflops.label} (mAP@10 ${byMflops.mAP10.toFixed(4)}, ` +
      `${byMflops.mflops.toFixed(3)} MFLOPs, ${(plan.exact.mflops / byMflops.mflops).toFixed(1)}x); least time ${byTime.label} (mAP@10 ` +
      `${byTime.mAP10.toFixed(4)}, ${byTime.msPerQuery.toFixed(4)} ms, ${(plan.exact.msPerQuery / byTime.msPerQuery).toFixed(1)}x, recall@10 ${byTime.recall10.toFixed(3)})`)];
}

/** The planner's picks within 0.001 mAP@10 of exact search at the largest dim, with their ratios (none without that row). */
export function sweepPlanLines(result: SweepResult): string[] {
  const plan = planAgainstExact(result);
  if (!plan) return [];
  const lines = [`exact search at the largest dim, ${fmt(plan.exact)}`];
  for (const [what, row] of [["fewest MFLOPs", plan.byMflops], ["least time", plan.byTime]] as const) {
    if (!row) continue;
    if (row === plan.exact) {
      lines.push(`within 0.001 mAP@10 of it, ${what}: nothing cheaper than exact search itself`);
      continue;
    }
    lines.push(`within 0.001 mAP@10 of it, ${what}: ${fmt(row)}`,
      `  ${(plan.exact.mflops / row.mflops).toFixed(1)}x fewer MFLOPs, ${(plan.exact.msPerQuery / row.msPerQuery).toFixed(1)}x less time per query (batch, same run), ` +
      `${(plan.exact.p50Ms / row.p50Ms).toFixed(1)}x at p50 single-query`);
  }
  return lines;
}
