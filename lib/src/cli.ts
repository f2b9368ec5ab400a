#!/usr/bin/env node
/**
 * Command line for the pipeline stages: one command per notebook plus the whole run, each calling the same
 * stage loop (experiment/run.ts) as the notebooks, on the experiment file named by --experiment (or
 * MRL_EXPERIMENT, else experiments/fmnist.json) with the flags below as overrides.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { diskError } from "./core/diskErrors";
import { checkOneOf, MrlError } from "./core/errors";
import { inheritLock, lockFolder, type FolderLock } from "./core/lock";
import type { Matrix } from "./core/matrix";
import { PROJECT_ROOT, resultsDir } from "./core/paths";
import { defaultExperimentFile, describeExperiment, loadExperiment, saveExperiment, type Experiment } from "./experiment/experiment";
import { blameFlag, blameStageFlag, FLAG_USAGE, fitRerankConfigs, fitSweepFunnels, parseFlags, withSweepFlag, type FlagOrigin, type ParsedFlags, type SweepRunFlags } from "./experiment/flags";
import { memoryBudgetBytes, peakRssLine } from "./core/memory";
import { shardFromArgs, shardLabel, type ShardPlan } from "./shard/plan";
import { experimentArrays, mergeStageShards, runInference, runStageShard, type ShardedStage, runMetrics, runPipeline, runPostgres, runReranking, runRetrieval, runSearch, type RetrievalResult, type StageRun } from "./experiment/run";
import { POSTGRES_STEPS, type PostgresStep } from "./postgres/stage";
import { arrayFiles, databaseDataset, isPerSizeModel } from "./io/naming";
import { npyShape } from "./io/npy";
import { expandGrid, sweepGridWith, sweepLimits, type SweepGrid } from "./sweep/grid";
import { runCheckpointedSweep } from "./sweep/checkpoint";
import { sampleQueries, SWEEP_SAMPLE_SEED } from "./sweep/sample";
import { sweepSummary } from "./sweep/summary";
import { executeNotebook } from "./report/notebooks";
import { sweepCsvFile, sweepFigureFiles } from "./report/sweeps";
import { renderFigureFiles } from "./report/render";
import { writeReport } from "./report/report";
import { SLURM_FLAG_USAGE, splitSlurmFlags, type SlurmFlags } from "./cluster/flags";
import { runOnCluster } from "./cluster/run";
import { shellQuote, SLURM_STAGES } from "./cluster/scripts";
import { findSubmission } from "./cluster/submit";
import { waitForSubmission, type WaitResult } from "./cluster/wait";

interface Options {
  experiment: Experiment; force: boolean; wait: boolean; notebooks: boolean; results: string; sweep: SweepRunFlags; positional: string[];
  /** The experiment fields the flags set (an error about one names the flag). */
  origins: FlagOrigin[];
  /** The lock of the experiment's root this command holds (commands that write there). */
  lock?: FolderLock;
  /** `mrl slurm`'s own flags (cluster/flags.ts). */
  slurm?: SlurmFlags;
  /** This process's shard (--shard I/N, or a scheduler's variables), for infer, search and rerank. */
  shard?: ShardPlan;
  /** --shards N (a merge's shard count). */
  shards?: number;
  /** The arguments as typed, for the commands a merge's refusal prints. */
  args: string[];
}

// Paths on the command line are relative to where the user typed it (npm run moves to the project folder).
const resolveArg = (p: string): string => path.resolve(process.env.INIT_CWD ?? process.cwd(), p);

function parseOptions(args: string[]): Options {
  const flags = parseFlags(args);
  try {
    const options = optionsFrom(flags);
    checkFlagsAgainstArrays(options.experiment, flags.origins);
    return options;
  } catch (err) {
    throw blameFlag(err, flags.origins); // a value the user typed is named by its flag, not by the experiment file
  }
}

function optionsFrom(flags: ParsedFlags): Options {
  const file = flags.experimentFile ? resolveArg(flags.experimentFile) : defaultExperimentFile();
  const overrides = { ...flags.overrides, root: flags.paths.root ? resolveArg(flags.paths.root) : undefined };
  if (overrides.nesting || overrides.k) {
    const fitted = fitRerankConfigs(loadExperiment({}, file), overrides);
    if (fitted.note) console.error(`note: ${fitted.note}`);
    Object.assign(overrides, { adaptive: overrides.adaptive ?? fitted.adaptive, funnels: overrides.funnels ?? fitted.funnels });
  }
  // --funnel-shortlists or --funnel-steps alone: the rule's other fields from the file's rule (or the default grid's)
  const funnels = fitSweepFunnels(overrides.sweep?.funnels ? loadExperiment({}, file).sweep : undefined, overrides);
  if (funnels) overrides.sweep = { ...overrides.sweep, funnels };
  return {
    experiment: loadExperiment(overrides, file), force: flags.force, wait: flags.wait, notebooks: flags.notebooks, origins: flags.origins,
    results: flags.paths.results ? resolveArg(flags.paths.results) : resultsDir(), sweep: flags.sweep, positional: flags.positional,
    shard: shardFromArgs(flags.shard, flags.shards), shards: flags.shards, args: [],
  };
}

/** The end of a wait for Slurm jobs: exit code 1 and one line when any failed (the wait printed each one). */
function slurmOutcome(result: WaitResult | undefined): void {
  if (!result || result.ok) return;
  throw new MrlError(`slurm: ${result.failed.length} task(s) failed or did not run; resubmit what failed: ${result.resubmit}`);
}

/** `mrl slurm STAGE` and `mrl slurm wait JOBID...`. */
function slurmCommand(o: Options): void {
  const [sub, ...ids] = o.positional;
  const flags = o.slurm ?? { wait: true, cluster: {} };
  if (sub === "wait") {
    if (ids.length === 0 || !ids.every((id) => /^\d+$/.test(id))) throw new MrlError(`mrl slurm wait "${ids.join(" ")}": expected the job ids mrl slurm --no-wait printed`);
    const submission = findSubmission(o.experiment.root, ids);
    console.error(`slurm: waiting for ${submission.stage} in ${rel(submission.dir)}`);
    return slurmOutcome(waitForSubmission(submission));
  }
  if (sub === undefined) throw new MrlError(`mrl slurm: expected a stage (${SLURM_STAGES.join(", ")}) or wait JOBID...`);
  const stage = checkOneOf(sub, SLURM_STAGES, "mrl slurm stage");
  const experiment = { ...o.experiment, cluster: { ...o.experiment.cluster, ...flags.cluster } };
  slurmOutcome(runOnCluster(experiment, stage, { shards: flags.shards, only: flags.only, wait: flags.wait, force: o.force }).result);
}

/** The sharded stages' commands: one shard (--shard I/N or the scheduler's variables), else the whole stage. */
async function runShard(o: Options, stage: ShardedStage): Promise<boolean> {
  if (!o.shard) return false;
  for (const { name, run } of await runStageShard(o.experiment, stage, o.shard, { force: o.force })) {
    console.error(`${name}: shard ${shardLabel(o.shard)} ${run.upToDate ? "up to date" : `written: ${run.files.map(rel).join(", ")}`}`);
  }
  return true;
}

/** The arguments a resubmitted shard takes: the merge's own, without the stage, --shards N and --force. */
function rerunArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--shards") i++;
    else if (args[i] !== "--force" && !(i === 0 && !args[i].startsWith("--"))) out.push(shellQuote(args[i]));
  }
  return out;
}

/** The notebooks `pipeline` executes, in order. */
export const NOTEBOOKS = ["inference.ipynb", "faiss_nn.ipynb", "reranking.ipynb", "compute_metrics.ipynb"];

const rel = (file: string): string => path.relative(process.cwd(), file);

function printTimings(runs: StageRun<RetrievalResult>[]): void {
  for (const { model, indexType, result: r } of runs) {
    const s = r.seconds;
    console.error(`${model}/${indexType}: faiss_nn ${s.search.toFixed(1)}s, rerank ${s.rerank.toFixed(1)}s, metrics ${s.metrics.toFixed(1)}s ` +
      `-> ${rel(r.metrics.file)} (up to date: ${r.search.filter((x) => x.action === "skipped").length}/${r.search.length} shortlists, ` +
      `${r.rerank.filter((x) => x.skipped).length}/${r.rerank.length} reranked)`);
  }
}

/** The grid's own checks (sweep/grid.ts) against the arrays' shape, a field set by a flag named by its flag. */
function checkGrid(grid: SweepGrid, database: { rows: number; cols: number }, gridFlags: string[]): void {
  try {
    expandGrid(grid, sweepLimits(grid, database)); // the limits runSweep checks against
  } catch (err) {
    throw err instanceof MrlError ? new MrlError(withSweepFlag(err.message, gridFlags)) : err;
  }
}

/** The queries `mrl sweep` runs on: all, or --sweep-queries N of them, a seeded sample (sweep/sample.ts). */
function sweepQueries(queries: Matrix, labels: Int32Array, n?: number): { queries: Matrix; labels: Int32Array } {
  if (n === undefined) return { queries, labels };
  if (n >= queries.rows) {
    console.error(`sweep: all ${queries.rows} queries (--sweep-queries ${n} is not fewer)`);
    return { queries, labels };
  }
  console.error(`sweep: ${n} of ${queries.rows} queries, a seeded sample (seed ${SWEEP_SAMPLE_SEED})`);
  return sampleQueries(queries, labels, n);
}

const commands: Record<string, { usage: string; run: (o: Options) => Promise<void> | void }> = {
  pipeline: {
    usage: "pipeline   all stages, then the notebooks executed into the results folder and the report",
    run: async (o) => {
      console.error(describeExperiment(o.experiment));
      printTimings(await runPipeline(o.experiment, { force: o.force, local: true }));
      if (!o.notebooks) return;
      const out = path.join(o.results, "notebooks");
      // The notebooks read the same experiment, flags included, through one file.
      const experimentFile = saveExperiment(o.experiment, path.join(o.results, "experiment.json"));
      for (const name of NOTEBOOKS) {
        console.error(`pipeline: executing notebooks/${name}`);
        executeNotebook(path.join(PROJECT_ROOT, "notebooks", name), path.join(out, name), {
          html: true, env: { MRL_EXPERIMENT: experimentFile, MRL_RESULTS: o.results, ...(o.lock ? inheritLock(o.lock) : {}) },
        });
      }
      console.error(`pipeline: executed notebooks and HTML in ${rel(out)}`);
      const report = await writeReport(o.experiment, { outDir: o.results, notebooksDir: out });
      console.error(`pipeline: report ${rel(report.reportFile)} with ${report.figureFiles.length} figure files`);
    },
  },
  infer: {
    usage: "infer      stage 1 (inference): embed database and queries with the experiment's ONNX models",
    run: async (o) => {
      if (await runShard(o, "infer")) return;
      for (const { model, result: r } of await runInference(o.experiment, { force: o.force, local: true })) {
        console.error(r.skipped ? `${model}: up to date` : `${model}: ${Object.values(r.files).map(rel).join(", ")}`);
      }
    },
  },
  search: {
    usage: "search     stage 2 (faiss_nn): index and search every nesting dim",
    run: async (o) => {
      if (await runShard(o, "search")) return;
      for (const run of runSearch(o.experiment, { force: o.force, local: true })) {
        console.error(`${run.model}/${run.indexType}: ${run.result.map((d) => `${d.dim}d ${d.action}`).join(", ")} (${run.seconds.toFixed(1)}s)`);
      }
    },
  },
  rerank: {
    usage: "rerank     stage 3 (reranking): adaptive and funnel retrieval",
    run: async (o) => {
      if (await runShard(o, "rerank")) return;
      for (const run of runReranking(o.experiment, { force: o.force, local: true })) {
        console.error(`${run.model}/${run.indexType}: ${run.result.filter((r) => r.skipped).length}/${run.result.length} up to date (${run.seconds.toFixed(1)}s)`);
      }
    },
  },
  merge: {
    usage: "merge infer|search|rerank   the shards of a stage (--shard I/N runs) into the original files: exact k-way merge (search), concatenation",
    run: (o) => {
      const stage = o.positional[0];
      if (stage !== "infer" && stage !== "search" && stage !== "rerank") throw new MrlError(`usage: mrl merge infer|search|rerank [--shards N] [flags of the shard runs]; got ${stage ?? "no stage"}`);
      for (const { name, files } of mergeStageShards(o.experiment, stage, o.shards, rerunArgs(o.args), { force: o.force })) {
        for (const file of files) console.error(`${name}: merged ${rel(file)}`);
      }
    },
  },
  metrics: {
    usage: "metrics    stage 4 (compute_metrics): metrics tables as CSV and JSON",
    run: (o) => {
      for (const run of runMetrics(o.experiment, { force: o.force })) {
        console.error(`${run.model}/${run.indexType}: ${run.result.skipped ? "up to date" : "saved"} ${rel(run.result.file)}`);
      }
    },
  },
  retrieve: {
    usage: "retrieve   stages 2-4: faiss_nn, reranking, compute_metrics",
    run: (o) => printTimings(runRetrieval(o.experiment, { force: o.force, local: true })),
  },
  sweep: {
    usage: "sweep      every configuration of the grid (the experiment's \"sweep\" over DEFAULT_SWEEP_GRID) on the first MRL model: Pareto fronts, the planner's pick",
    run: async (o) => {
      const e = o.experiment, model = e.models.find((m) => m !== "ff") ?? e.models[0];
      const arrays = experimentArrays(e, model);
      // the default grid fitted to the arrays (each change said); values the user set are checked as given
      const fitted = sweepGridWith(e.sweep, { rows: arrays.database.rows, cols: arrays.database.cols, onNote: (line) => console.error(`sweep: note: ${line}`) });
      const grid: SweepGrid = { ...fitted, ...(o.sweep.noFunnels ? { funnels: undefined } : {}) };
      checkGrid(grid, arrays.database, o.sweep.gridFlags); // before the database loads
      const { queries, labels } = sweepQueries(arrays.queries, arrays.queryLabels, o.sweep.queries);
      const file = sweepCsvFile(o.results, e.dataset, model);
      // a killed sweep resumes from <csv>.partial.jsonl (--force starts afresh); the CSV is written at the end
      let shown = performance.now();
      const result = runCheckpointedSweep(arrays.database.matrix(), queries, arrays.databaseLabels, labels, grid, file, {
        latencyQueries: o.sweep.latencyQueries, fresh: o.force, onNote: (line) => console.error(`sweep: ${line}`),
        // each first-stage index as FAISS writes it, named like faiss_nn's (Python: faiss.read_index / read_index_binary)
        indexFile: (stage, dim) => path.join(e.root, "index_files", model, "sweep", `${databaseDataset(e.dataset)}_${dim}dim_${stage}.index`),
        onConfig: (done, total, label) => {
          // every 20th configuration, and at least every half minute on large arrays
          if (done % 20 !== 0 && done !== total && performance.now() - shown < 30_000) return;
          shown = performance.now();
          console.error(`sweep: ${done}/${total} ${label}`);
        },
      });
      console.error(`sweep: ${result.resumed} of ${result.rows.length} configurations resumed from an earlier run, ${result.rows.length - result.resumed} computed`);
      for (const line of sweepSummary(result)) console.log(line);
      const figures = await renderFigureFiles(sweepFigureFiles(e.dataset, model, result), path.dirname(file));
      console.error(`sweep: ${rel(file)}, ${figures.map(rel).join(", ")}`);
    },
  },
  postgres: {
    usage: "postgres [load|search|rerank]   serve the pgvector-* index types from Postgres (PGlite in process, or --database-url): " +
      "load the database, first-stage shortlists, adaptive and funnels as SQL (default: all three); then `mrl metrics`",
    run: async (o) => {
      const steps = o.positional.length > 0 ? o.positional : [...POSTGRES_STEPS];
      const unknown = steps.find((s) => !(POSTGRES_STEPS as readonly string[]).includes(s));
      if (unknown) throw new MrlError(`mrl postgres: unknown step "${unknown}"; expected one or more of: ${POSTGRES_STEPS.join(", ")}`);
      for (const run of await runPostgres(o.experiment, { force: o.force, steps: steps as PostgresStep[] })) {
        const load = run.load ? `load ${run.load.action} (${run.load.rowsWritten}/${run.load.rows} rows, ${run.load.seconds.toFixed(1)}s)` : "load not needed";
        const built = Object.entries(run.indexSeconds).filter(([, s]) => s > 0).map(([d, s]) => `${d}d index ${s.toFixed(1)}s`);
        console.error(`${run.model}/${run.indexType}: ${[load, ...built].join(", ")}`);
        for (const f of run.files) {
          console.error(`  ${f.label}: ${f.skipped ? "up to date" : `${f.times!.qps.toFixed(0)} QPS, p50 ${f.times!.p50Ms.toFixed(2)} ms, p95 ${f.times!.p95Ms.toFixed(2)} ms`} ${rel(f.file)}`);
        }
      }
    },
  },
  report: {
    usage: "report     figures (PNG/SVG), retrieval gallery and report.html from finished metrics into the results folder",
    run: async (o) => {
      const report = await writeReport(o.experiment, { outDir: o.results, notebooksDir: path.join(o.results, "notebooks") });
      console.error(`report: ${report.reportFile}, ${report.figureFiles.length} figure files, gallery ${report.galleryFile}`);
    },
  },
  slurm: {
    usage: "slurm STAGE  infer|search|rerank|retrieve as Slurm array jobs of --shards N tasks (--shard I/N each), then their merge; slurm wait JOBID...",
    run: slurmCommand,
  },
  notebook: {
    usage: "notebook IN OUT   execute a notebook headless (tslab kernel) on the experiment, writing OUT and OUT's .html",
    run: (o) => {
      const [input, output] = o.positional;
      if (!input || !output) throw new MrlError("usage: mrl notebook IN.ipynb OUT.ipynb [--experiment FILE]");
      const experimentFile = saveExperiment(o.experiment, path.join(path.dirname(resolveArg(output)), "experiment.json"));
      executeNotebook(resolveArg(input), resolveArg(output), { html: true, env: { MRL_EXPERIMENT: experimentFile, MRL_RESULTS: o.results } });
    },
  },
};

/**
 * Flag values checked against the arrays before a stage starts, so the error names the flag the user typed (the
 * stages' own checks name the array file): dims and rerank dims within the arrays' width, k within the database.
 */
function checkFlagsAgainstArrays(e: Experiment, origins: readonly FlagOrigin[]): void {
  const model = e.models.find((m) => !isPerSizeModel(m));
  const file = model && arrayFiles(e.root, e.dataset, model).databaseX;
  if (!file || !fs.existsSync(file)) return; // the stage reports missing arrays itself
  const { rows, cols } = npyShape(file);
  // a flag given twice: the last one holds (as parseFlags reads them)
  const last = [...new Map(origins.map((o) => [o.field, o])).values()];
  for (const o of last) {
    const dims = o.flag === "--dims" ? e.nesting
      : o.flag === "--adaptive" ? [e.adaptive[o.index ?? -1]?.rerankDim ?? 0]
        : o.flag === "--funnel" ? e.funnels[o.index ?? -1]?.dims ?? [] : [];
    const over = dims.find((d) => d > cols);
    if (over !== undefined) throw new MrlError(`${o.flag} "${o.value}": dim ${over} is larger than the arrays' ${cols} dims (${rel(file)}); expected dims up to ${cols}`);
    if (o.flag === "--k" && e.k > rows) throw new MrlError(`--k "${o.value}": larger than the database's ${rows} rows (${rel(file)}); expected k up to ${rows}`);
  }
}

/** The commands that write under the experiment's root. */
const WRITES_ROOT = ["pipeline", "infer", "search", "rerank", "merge", "metrics", "retrieve", "sweep", "postgres"];

async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    console.error(`usage: mrl <command> ${FLAG_USAGE}\n             ${SLURM_FLAG_USAGE}\n\n` + Object.values(commands).map((c) => `  ${c.usage}`).join("\n"));
    process.exitCode = name && name !== "help" && name !== "--help" ? 2 : 0;
    return;
  }
  // mrl slurm's own flags come out first (its --no-wait is about the jobs, not the root's lock)
  const { flags: slurm, rest } = name === "slurm" ? splitSlurmFlags(args) : { flags: undefined, rest: args };
  const options = { ...parseOptions(rest), args: rest, slurm };
  if (options.shard && !["infer", "search", "rerank"].includes(name)) {
    if (rest.includes("--shard")) throw new MrlError(`--shard ${shardLabel(options.shard)}: mrl ${name} does not run in shards; expected infer, search or rerank (then mrl merge)`);
    options.shard = undefined; // a scheduler's variables concern the shard tasks, not a merge job beside them
  }
  // one writer per root: a second run waits for this one (or stops, --no-wait); the stages it calls go on under it.
  // Shards of one stage share it (each writes only its own files); a merge or a whole run excludes them.
  const lock = WRITES_ROOT.includes(name)
    ? lockFolder(options.experiment.root, { wait: options.wait, shared: options.shard !== undefined, onNote: (line) => console.error(`note: ${line}`) }) : undefined;
  try {
    await command.run({ ...options, lock });
  } catch (err) {
    throw blameStageFlag(err, options.origins);
  } finally {
    lock?.release();
  }
  // what the stage used, against the budget it kept to
  if (name !== "notebook") console.error(peakRssLine(name, memoryBudgetBytes(options.experiment.memoryGb)));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // User errors print as one readable message; a disk problem no writer named gets the file Node names; anything
  // else keeps its stack for a bug report.
  const path = (err as NodeJS.ErrnoException | undefined)?.path;
  const shown = err instanceof MrlError ? err : diskError(err, path ?? "the output folder");
  console.error(shown ? `error: ${shown.message}` : err);
  process.exitCode = 1;
});
