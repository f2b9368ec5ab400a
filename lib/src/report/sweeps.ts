/**
 * The report's sweep section: the sweeps `mrl sweep` left in `<results>/sweep/` for the experiment's dataset and
 * models, read back from their CSV (sweep/csv.ts), as the two sweep figures and the planner's picks and Pareto fronts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Experiment } from "../experiment/experiment";
import type { MetricsRow } from "../metrics/evaluate";
import { readSweepCsv } from "../sweep/csv";
import type { SweepResult, SweepRow } from "../sweep/run";
import { sweepFronts, sweepPlanLines, sweepSummary } from "../sweep/summary";
import { modelLabel, sweepMflopsFigure, sweepRecallQpsFigure } from "./figures";
import type { FigureFile } from "./render";
import { escapeHtml, htmlTable } from "./tables";

/** One model's sweep, as found in a results folder. */
export interface ReportSweep {
  model: string;
  file: string;
  result: SweepResult;
}

/** Where `mrl sweep` writes a model's sweep CSV under a results folder. */
export const sweepCsvFile = (resultsDir: string, dataset: string, model: string): string => path.join(resultsDir, "sweep", `${dataset}_${model}_sweep.csv`);

/** The sweeps of the experiment's models found under `resultsDir` (none when no sweep was run). */
export function findSweeps(experiment: Experiment, resultsDir: string): ReportSweep[] {
  return experiment.models.map((model) => ({ model, file: sweepCsvFile(resultsDir, experiment.dataset, model) }))
    .filter((s) => fs.existsSync(s.file))
    .map((s) => ({ ...s, result: readSweepCsv(s.file) }));
}

/** A sweep's two figures, named as `mrl sweep` names their files. */
export function sweepFigureFiles(dataset: string, model: string, result: SweepResult): FigureFile[] {
  return [
    { name: `${dataset}_${model}_sweep_mAP@10_vs_MFLOPs`, figure: sweepMflopsFigure(result) },
    { name: `${dataset}_${model}_sweep_recall@10_vs_QPS`, figure: sweepRecallQpsFigure(result) },
  ];
}

/** A front's rows as a table: the numbers a reader picks a configuration by. */
function frontTable(rows: SweepRow[]): string {
  return htmlTable(rows.map((r) => ({
    configuration: r.label, "mAP@10": r.mAP10, "top-1": r.top1, "recall@10": r.recall10, MFLOPs: r.mflops, "ms/query": r.msPerQuery, QPS: Math.round(r.qps),
    "p50 ms": r.p50Ms,
  }) as unknown as MetricsRow));
}

/**
 * The HTML of one sweep: what it ran, the planner's picks against exact search at the largest dim, both figures
 * (drawn by `figureBlock`) and both Pareto fronts. `link` turns a file into the report's relative link.
 */
export function sweepSectionHtml(sweep: ReportSweep, dataset: string, figureBlock: (f: FigureFile) => string, link: (file: string) => string): string {
  const fronts = sweepFronts(sweep.result.rows);
  // a pick's ratio line (indented) goes with the pick
  const plan = sweepPlanLines(sweep.result).reduce<string[]>((items, line) =>
    (line.startsWith("  ") && items.length > 0 ? [...items.slice(0, -1), `${items[items.length - 1]}; ${line.trim()}`] : [...items, line]), []);
  return `<h2>Sweep: ${escapeHtml(modelLabel(sweep.model))} on ${escapeHtml(dataset)}</h2>
<p class="note">${escapeHtml(sweepSummary(sweep.result)[0])} · <a href="${link(sweep.file)}">CSV</a></p>
${plan.length ? `<h3>The planner: within 0.001 mAP@10 of exact search at the largest dim</h3><ul>${plan.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>`
    : '<p class="note">No exact search at the largest dim in this sweep: no planner pick against it.</p>'}
<div class="figs">${sweepFigureFiles(dataset, sweep.model, sweep.result).map(figureBlock).join("\n")}</div>
<h3>Pareto front: mAP@10 vs MFLOPs per query</h3>${frontTable(fronts.byMflops)}
<h3>Pareto front: mAP@10 vs measured time per query (batch)</h3>${frontTable(fronts.byTime)}`;
}
