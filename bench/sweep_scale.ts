/**
 * `mrl sweep` at ImageNet-1K shape: the synthetic arrays of the scale benchmark (bench/scale.ts writes them, or
 * reuses them from an earlier --keep run in the same --work folder), a seeded query sample and a grid sized to
 * finish well under an hour on 2 cores. Prints the sweep's summary (Pareto fronts, the planner's picks), its wall
 * time and peak RSS (/usr/bin/time), writes the CSV and both figures (PNG/SVG) into the results folder and the
 * summary to results/bench-sweep-scale.md (atomically).
 *
 *   node build/bench/sweep_scale.js [--quick] [--work DIR] [--keep] [--rows N] [--queries N] [--seed N]
 *     [--sweep-queries N] [--latency-queries N] [--first-stages exact,hnsw32,...] [--results DIR] [--out FILE]
 *
 * Full size: database 1,281,167 x 2048 float32 (10.5 GB, held in memory by the sweep), 10,000 queries of which
 * 1,000 are evaluated; --quick: 128,000 rows, 2,000 queries, 500 evaluated. The sweep checkpoints as it goes: a
 * killed run re-run with the same options (and --work DIR --keep for the arrays) resumes where it stopped.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { planAgainstExact, readSweepCsv, sweepCsvFile, type SweepResult } from "@mrl-retrieval/lib/internal";
import {
  checkInterrupted, cpuModel, errorLine, freeBytes, gb, interruptMeasured, layoutOf, measure, npyBytes, syntheticArrays, syntheticArraysReady, UserError,
} from "./scale";

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(PROJECT_ROOT, "lib", "dist", "cli.js");
const TIME = "/usr/bin/time";
const WIDTH = 2048;
const GIB = 2 ** 30;

/**
 * The grid: the paper's first-stage dims 8 and 16, four shortlist lengths, a middle and the full rerank dim, exact
 * baselines from 8 to 2048 dims and funnels of 3 and 5 steps. HNSW32 is built once per first-stage dim (1.28M adds
 * each), so its dims are what costs most; 8 and 16 keep it to two builds.
 */
const GRID_FLAGS = ["--retrieval-dims", "8,16", "--shortlists", "100,200,400,800", "--rerank-dims", "256,2048", "--exact-dims", "8,16,32,2048",
  "--funnel-shortlists", "200,800", "--funnel-steps", "3,5"];

/**
 * First stages: exact and HNSW32 at D_r 8 and 16, IVF (1024 lists clustered at 8 dims, 32 probed) and PQ8 there
 * too, and sign bits at 256 (FAISS's Hamming scan is slow on Debian's build, so no longer prefixes).
 */
const DEFAULT_FIRST_STAGES = "exact,hnsw32,ivf1024-p32-c8,pq8,binary";
const STAGE_DIMS: Record<string, number[]> = { binary: [256] };

interface Options {
  quick: boolean; work?: string; keep: boolean; rows: number; queries: number; seed: number; sweepQueries: number; latencyQueries: number;
  firstStages: string; results: string; out: string;
}

const USAGE = "options: [--quick] [--work DIR] [--keep] [--rows N] [--queries N] [--seed N] [--sweep-queries N] [--latency-queries N] " +
  "[--first-stages exact,hnsw32] [--results DIR] [--out FILE]";

function parseOptions(args: string[]): Options {
  const o: Partial<Options> & { quick: boolean; keep: boolean } = { quick: false, keep: false, seed: 2022, firstStages: DEFAULT_FIRST_STAGES };
  const here = (p: string | undefined): string => path.resolve(process.env.INIT_CWD ?? process.cwd(), p ?? "");
  const count = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) <= 0) throw new UserError(`${flag} needs a positive integer, got ${v ?? "nothing"}; ${USAGE}`);
    return Number(v);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") o.quick = true;
    else if (a === "--work") o.work = here(args[++i]);
    else if (a === "--keep") o.keep = true;
    else if (a === "--rows") o.rows = count(a, args[++i]);
    else if (a === "--queries") o.queries = count(a, args[++i]);
    else if (a === "--seed") o.seed = count(a, args[++i]);
    else if (a === "--sweep-queries") o.sweepQueries = count(a, args[++i]);
    else if (a === "--latency-queries") o.latencyQueries = count(a, args[++i]);
    else if (a === "--first-stages") o.firstStages = args[++i] ?? "";
    else if (a === "--results") o.results = here(args[++i]);
    else if (a === "--out") o.out = here(args[++i]);
    else throw new UserError(`unknown option ${a}; ${USAGE}`);
  }
  // the same shapes as bench/scale.ts (full and --quick), so one --work folder serves both benchmarks
  o.rows ??= o.quick ? 128_000 : 1_281_167;
  o.queries ??= o.quick ? 2_000 : 10_000;
  o.sweepQueries ??= o.quick ? 500 : 1_000;
  o.latencyQueries ??= o.quick ? 10 : 20;
  o.results ??= path.join(PROJECT_ROOT, "results", o.quick ? "sweep-scale-quick" : "sweep-scale");
  o.out ??= path.join(PROJECT_ROOT, "results", o.quick ? "bench-sweep-scale-quick.md" : "bench-sweep-scale.md");
  return o as Options;
}

const log = (s: string): void => console.error(`bench-sweep-scale: ${s}`);

/**
 * The planner's picks at several tolerances below exact search at the largest dim (the CLI prints 0.001 only; on
 * these synthetic arrays nothing cheaper gets that close, so wider ones show what the budget buys).
 */
function plannerTable(result: SweepResult, tolerances = [0.001, 0.01, 0.02, 0.05]): string[] {
  const lines = ["| within mAP@10 of exact | fewest MFLOPs | mAP@10 | MFLOPs vs exact | least time (batch) | mAP@10 | time vs exact |", "|---|---|---:|---:|---|---:|---:|"];
  for (const tol of tolerances) {
    const plan = planAgainstExact(result, tol);
    if (!plan) return [];
    const cell = (r: typeof plan.byMflops, ratio: number): string[] => (r ? [r.label, r.mAP10.toFixed(4), `${ratio.toFixed(1)}x fewer`] : ["none", "", ""]);
    lines.push(`| ${tol} | ${[...cell(plan.byMflops, plan.exact.mflops / (plan.byMflops?.mflops ?? NaN)),
      ...cell(plan.byTime, plan.exact.msPerQuery / (plan.byTime?.msPerQuery ?? NaN)).map((c, i) => (i === 2 ? c.replace("fewer", "less") : c))].join(" | ")} |`);
  }
  return lines;
}

/** The experiment the CLI runs on: the arrays' folder, ImageNet-1K's tag, nothing else from the default experiment. */
function writeExperiment(file: string, root: string, firstStages: string): void {
  const stages = firstStages.split(",");
  const firstStageDims = Object.fromEntries(Object.entries(STAGE_DIMS).filter(([stage]) => stages.includes(stage)));
  fs.writeFileSync(file, JSON.stringify({
    name: "sweep-scale-bench", description: "node build/bench/sweep_scale.js: mrl sweep on synthetic ImageNet-1K-shape arrays",
    root, dataset: "1K", models: ["mrl"], indexTypes: ["exactl2"], k: 2048, nesting: [8, 16, 32, 64, 2048], adaptive: [], funnels: [], metricKs: [10],
    sweep: { firstStageDims },
  }, null, 1) + "\n");
}

export async function runSweepScaleBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  for (const [file, what] of [[TIME, "the Debian package time (npm run setup installs it)"], [CLI, "the compiled CLI (npm run build)"]]) {
    if (!fs.existsSync(file)) throw new UserError(`${file} not found; expected ${what}`);
  }
  const createdWork = !o.work || !fs.existsSync(o.work);
  const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), "mrl-sweep-scale-"));
  fs.mkdirSync(work, { recursive: true });
  const layout = layoutOf(work), experiment = path.join(work, "sweep-experiment.json");
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping the sweep (its finished configurations stay in the partial file), then cleaning up`);
    interruptMeasured(sig);
  };
  for (const sig of signals) process.on(sig, onSignal);
  try {
    const shape = { rows: o.rows, queries: o.queries, seed: o.seed };
    const data = npyBytes(o.rows, WIDTH, 4) + npyBytes(o.rows, 1, 8) + npyBytes(o.queries, WIDTH, 4) + npyBytes(o.queries, 1, 8);
    const needed = (syntheticArraysReady(layout.data, shape) ? 0 : data) + 1e9; // + the results and a margin
    const free = freeBytes(work);
    if (free < needed) throw new UserError(`not enough free disk in ${work}: this run needs ${gb(needed)}, ${gb(free)} free; use --work DIR on a larger disk, or --quick`);
    log(`work folder ${work}: ${gb(free)} free, this run needs up to ${gb(needed)}`);
    const generated = await syntheticArrays(layout.data, shape, work);
    writeExperiment(experiment, layout.data, o.firstStages);

    const argv = [process.execPath, CLI, "sweep", "--experiment", experiment, "--results", o.results, ...GRID_FLAGS, "--first-stages", o.firstStages,
      "--sweep-queries", String(o.sweepQueries), "--latency-queries", String(o.latencyQueries)];
    const env = { ...process.env };
    delete env.MRL_MEMORY_GB; // the CLI's default budget: the database is held in memory
    delete env.MRL_EXPERIMENT;
    log(`running mrl ${argv.slice(2).join(" ")}`);
    const m = await measure(argv, { work, env });
    checkInterrupted();
    if (!m.ok) throw new UserError(`mrl sweep ${m.outOfMemory ? "ran out of memory" : "failed"} (exit ${m.exit}${m.signal ? `, ${m.signal}` : ""}) after ${m.seconds.toFixed(0)} s: ${errorLine(m)}`);

    const resumed = /sweep: (\d+) of (\d+) configurations resumed/.exec(m.stderrTail);
    const files = /sweep: (\S+\.csv), (.+)$/m.exec(m.stderrTail);
    const lines = [
      `Machine: ${cpuModel()}, ${os.cpus().length} cores, ${(os.totalmem() / GIB).toFixed(1)} GiB RAM; Node ${process.version}; ${new Date().toISOString()}.`,
      "",
      `Data: synthetic ImageNet-1K shapes (bench/scale_peer.py generate, seed ${o.seed}${generated ? `, written in ${Number(generated.seconds).toFixed(0)} s` : ", reused"}): ` +
        `database ${o.rows} x ${WIDTH} float32 (${gb(npyBytes(o.rows, WIDTH, 4))}), ${o.queries} queries, ${o.sweepQueries} of them evaluated (seeded sample), ` +
        `${o.latencyQueries} timed one at a time.`,
      "",
      `Command: \`node lib/dist/cli.js sweep --experiment <work>/sweep-experiment.json --results ${path.relative(PROJECT_ROOT, o.results)} ${GRID_FLAGS.join(" ")} ` +
        `--first-stages ${o.firstStages} --sweep-queries ${o.sweepQueries} --latency-queries ${o.latencyQueries}\``,
      "",
      `Wall time ${m.seconds.toFixed(0)} s (${(m.seconds / 60).toFixed(1)} min), peak RSS ${(m.peakBytes / GIB).toFixed(2)} GiB (/usr/bin/time, the whole process: ` +
        `loading the arrays, search, index builds, rerank, figures)${resumed && resumed[1] !== "0" ? `; ${resumed[1]} of ${resumed[2]} configurations resumed from an earlier, killed run` : ""}.`,
      "",
      "```", ...m.stdout.trimEnd().split("\n"), "```",
      "",
      "The planner at wider tolerances (exact 2048-d as the reference, same run):",
      "",
      ...plannerTable(readSweepCsv(sweepCsvFile(o.results, "1K", "mrl"))),
      "",
      files ? `Files: ${files[1]}, ${files[2]}` : "",
    ];
    const text = lines.join("\n");
    console.log(`\n${text}`);
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    const tmp = `${o.out}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `# Sweep at ImageNet-1K shape (node build/bench/sweep_scale.js${o.quick ? " --quick" : ""})\n\n${text}\n`);
    fs.renameSync(tmp, o.out);
    log(`wrote ${path.relative(process.cwd(), o.out)}`);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    if (o.keep) log(`kept the work folder ${work}`);
    else {
      fs.rmSync(layout.data, { recursive: true, force: true });
      fs.rmSync(experiment, { force: true });
      for (const f of fs.existsSync(work) ? fs.readdirSync(work) : []) if (f.startsWith(".time-")) fs.rmSync(path.join(work, f), { force: true });
      if (createdWork) fs.rmSync(work, { recursive: true, force: true });
      log(`removed ${createdWork ? "the work folder" : "the arrays in"} ${work}`);
    }
  }
}

/** The command line: runs the benchmark, printing a user error as one line; sets the exit code. */
export async function sweepScaleMain(args: string[]): Promise<void> {
  try {
    await runSweepScaleBench(args);
  } catch (err) {
    console.error(err instanceof UserError ? `bench-sweep-scale: ${err.message}` : err);
    process.exitCode = 1;
  }
}

if (require.main === module) void sweepScaleMain(process.argv.slice(2));
