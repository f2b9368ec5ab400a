/**
 * `npm run bench -- --scale`: the retrieval stages at ImageNet-1K shape, through the project's CLI, side by
 * side with the Python originals' approach (bench/scale_peer.py), and once more on a memory budget smaller
 * than the database (the out-of-core path). Prints one table per stage and writes them to
 * results/bench-scale.md (atomically).
 *
 *   node build/bench/scale.js [--quick] [--work DIR] [--keep] [--memory-gb N] [--python-gb N] [--skip-python]
 *     [--skip-out-of-core] [--skip-rerank-access] [--access-only] [--access-queries N,N] [--access-repeat N] [--rows N] [--queries N] [--seed N]
 *     [--out FILE]
 *   (or: npm run bench -- --scale [same options]; bench/retrieval.ts hands over on --scale)
 *
 * 1. Writes synthetic ImageNet-1K-shape arrays into the work folder (default: a new folder under the system
 *    temp folder): database 1,281,167 x 2048 float32 (10.5 GB) with int64 labels (1000 classes, class-sorted),
 *    queries 10,000 x 2048 (10 per class), under the original names (1K_{train,val}_mrl1_e0_ff2048-{X,y}.npy).
 *    Free disk space is checked first. --quick: 128,000 rows, 2,000 queries.
 * 2. Runs each stage as its own process, measured by /usr/bin/time (wall seconds, peak RSS):
 *    faiss_nn (exact L2, k 2048) at the paper's 9 dims 8..2048: TS as a user runs it, all dims in one process and one
 *    pass (`mrl search --dims 8,...,2048 --no-index-files`), Python one process per dim; adaptive 16 -> 2048 @200;
 *    funnel 8 -> [16,32,64,128,2048] @[200,100,50,25,10]; metrics. Three sides, interleaved stage by stage so
 *    they share the machine's conditions: TypeScript (`node lib/dist/cli.js`) with the default memory budget
 *    (in memory), the Python peer under `prlimit --as` (--python-gb, default RAM - 2 GiB, 21.5 here: a stage that cannot fit
 *    says so instead of exhausting the machine), and TypeScript with `--memory-gb` (default 4: out of core).
 *    Each side writes into its own folder (ts/, py/, ts-ooc/) and reads only its own outputs.
 * 3. Reranking's access paths (bench/rerank_access.ts): `mrl rerank` forced to load the database, forced to read the
 *    candidate rows, and left to choose, page cache warm and cold, at 2,000 and all queries (--access-queries;
 *    --quick: 200 and 2,000; --access-repeat N: the fastest of N runs per cell), with auto's time over the better path.
 *    --access-only (with --keep and the same --work as a full run): this section alone, on that run's arrays and
 *    shortlists, written to results/bench-scale-access.md (re-measuring the access path after a change to it).
 * 4. Checks that the sides agree (mAP@10 per configuration, identical top-10 ids) and writes the tables.
 *
 * The work folder is deleted afterwards (also on failure or Ctrl-C) unless --keep; with --keep and the same
 * --work, a later run reuses the arrays if they were made with the same shape and seed.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { rerankAccessBench } from "./rerank_access";

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
export const CLI = path.join(PROJECT_ROOT, "lib", "dist", "cli.js");
const PEER = path.join(PROJECT_ROOT, "bench", "scale_peer.py");
export const PYTHON = "/usr/bin/python3";
const TIME = "/usr/bin/time";
const GIB = 2 ** 30;

export const DATASET = "1K";
const CONFIG = "mrl1_e0_ff2048";
const WIDTH = 2048;
const CLASSES = 1000;
export const K = 2048;
/** The paper's nesting dims: TS searches them all in one process (`mrl search --dims 8,...,2048`), Python one process per dim. */
const DIMS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048];
export const ADAPTIVE = { retrievalDim: 16, rerankDim: 2048, shortlist: 200 };
export const FUNNEL = { retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] };
const METRIC_KS = [10, 25, 50, 100];
const RECALL_DENOMINATOR = 1300;
export const ADAPTIVE_FLAG = `${ADAPTIVE.retrievalDim}:${ADAPTIVE.rerankDim}:${ADAPTIVE.shortlist}`;
export const FUNNEL_FLAG = `${FUNNEL.retrievalDim}:${FUNNEL.dims}:${FUNNEL.shortlists}`;
const ADAPTIVE_LABEL = `${ADAPTIVE.retrievalDim}->${ADAPTIVE.rerankDim} @${ADAPTIVE.shortlist}`;
const FUNNEL_LABEL = `${FUNNEL.retrievalDim}->[${FUNNEL.dims}] @[${FUNNEL.shortlists}]`;

interface Options {
  quick: boolean; work?: string; keep: boolean; memoryGb: number; pythonGb: number; skipPython: boolean; skipOutOfCore: boolean;
  skipRerankAccess: boolean; accessOnly: boolean; accessQueries: number[]; accessRepeat: number; rows: number; queries: number; seed: number; out: string;
}

const USAGE = "options: [--quick] [--work DIR] [--keep] [--memory-gb N] [--python-gb N] [--skip-python] [--skip-out-of-core] " +
  "[--skip-rerank-access] [--access-only] [--access-queries N,N] [--access-repeat N] [--rows N] [--queries N] [--seed N] [--out FILE]";

function parseOptions(args: string[]): Options {
  // Python's address-space cap: RAM less 2 GiB for the OS, in half GiB (21.5 here, where the originals' 2048-d
  // search peaks at 20.14 GiB resident: 20 GiB of address space ran out)
  const pythonGb = Math.max(1, Math.floor((os.totalmem() / GIB - 2) * 2) / 2);
  const o: Partial<Options> & { quick: boolean } = { quick: false, keep: false, pythonGb, skipPython: false, skipOutOfCore: false,
    skipRerankAccess: false, accessOnly: false, seed: 2022 };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new UserError(`${flag} needs a positive number, got ${v ?? "nothing"}; ${USAGE}`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--scale") continue; // how bench/retrieval.ts hands over
    else if (a === "--quick") o.quick = true;
    else if (a === "--work") o.work = path.resolve(process.env.INIT_CWD ?? process.cwd(), args[++i] ?? "");
    else if (a === "--keep") o.keep = true;
    else if (a === "--memory-gb") o.memoryGb = num(a, args[++i]);
    else if (a === "--python-gb") o.pythonGb = num(a, args[++i]);
    else if (a === "--skip-python") o.skipPython = true;
    else if (a === "--skip-out-of-core") o.skipOutOfCore = true;
    else if (a === "--skip-rerank-access") o.skipRerankAccess = true;
    else if (a === "--access-only") o.accessOnly = true;
    else if (a === "--access-queries") o.accessQueries = (args[++i] ?? "").split(",").map((v) => Math.round(num(a, v)));
    else if (a === "--access-repeat") o.accessRepeat = Math.round(num(a, args[++i]));
    else if (a === "--rows") o.rows = Math.round(num(a, args[++i]));
    else if (a === "--queries") o.queries = Math.round(num(a, args[++i]));
    else if (a === "--seed") o.seed = Math.round(num(a, args[++i]));
    else if (a === "--out") o.out = path.resolve(process.env.INIT_CWD ?? process.cwd(), args[++i] ?? "");
    else throw new UserError(`unknown option ${a}; ${USAGE}`);
  }
  o.rows ??= o.quick ? 128_000 : 1_281_167;
  o.queries ??= o.quick ? 2_000 : 10_000;
  if (o.rows < K) throw new UserError(`--rows ${o.rows} is below k = ${K}`);
  // every class needs a row on each side (the synthetic labels are class-sorted, ImageNet-1K's 1000 classes)
  if (o.queries < CLASSES) throw new UserError(`--queries ${o.queries} is below the ${CLASSES} classes (each needs a query)`);
  // reranking's access paths at 2,000 and all queries (full size: 10,000); --quick: 200 and 2,000 (both sides of the choice)
  o.accessQueries ??= o.quick ? [200, o.queries] : [...new Set([Math.min(2_000, o.queries), o.queries])];
  o.accessRepeat ??= 1;
  const tooMany = o.accessQueries.find((n) => n > o.queries!);
  if (tooMany) throw new UserError(`--access-queries ${tooMany} is more than the ${o.queries} queries`);
  // out of core means a budget below the database: 4 GB for the full size, half the database for smaller ones (--quick: 0.5 GB)
  o.memoryGb ??= Math.min(4, Math.max(0.1, Math.floor((o.rows * WIDTH * 4) / 2e8) / 10));
  // a dry run does not replace the full run's table
  if (o.accessOnly && (o.skipRerankAccess || !o.work || !o.keep)) {
    throw new UserError("--access-only re-runs the access section on a kept full run: give that run's --work and --keep, not --skip-rerank-access");
  }
  o.out ??= path.join(PROJECT_ROOT, "results", `bench-scale${o.accessOnly ? "-access" : ""}${o.quick ? "-quick" : ""}.md`);
  return o as Options;
}

/** A problem the user can fix: printed as one line, no stack. */
export class UserError extends Error {}

const log = (s: string): void => console.error(`bench-scale: ${s}`);
export const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e10 ? 2 : 1)} GB`;

// ---- files and disk -----------------------------------------------------------------------------------------

interface Layout {
  work: string;
  data: string;
  /** Output roots: TypeScript in memory, TypeScript out of core, Python. */
  ts: string; ooc: string; py: string;
  experiment: string;
}

const arrayName = (split: "train" | "val", part: "X" | "y"): string => `${DATASET}_${split}_${CONFIG}-${part}.npy`;
export const ARRAY_NAMES = [arrayName("train", "X"), arrayName("train", "y"), arrayName("val", "X"), arrayName("val", "y")];

export function layoutOf(work: string): Layout {
  return { work, data: path.join(work, "data"), ts: path.join(work, "ts"), ooc: path.join(work, "ts-ooc"), py: path.join(work, "py"),
    experiment: path.join(work, "scale-experiment.json") };
}

export const npyBytes = (rows: number, cols: number, itemBytes: number): number => 128 + rows * cols * itemBytes;

/** What the run writes, in bytes. */
function diskPlan(o: Options, sides: number): { data: number; indexes: number; indexMax: number; shortlists: number; needed: number; text: string } {
  const data = npyBytes(o.rows, WIDTH, 4) + npyBytes(o.rows, 1, 8) + npyBytes(o.queries, WIDTH, 4) + npyBytes(o.queries, 1, 8);
  const indexOf = (d: number): number => o.rows * d * 4 + 1024;
  const indexes = DIMS.reduce((s, d) => s + indexOf(d), 0);
  const indexMax = Math.max(...DIMS.map(indexOf));
  // CSV shortlists: at most (digits of the largest id + 1) bytes per entry, plus a partial checkpoint per dim
  const perId = String(o.rows - 1).length + 1;
  const shortlists = o.queries * (DIMS.length * K + ADAPTIVE.shortlist + FUNNEL.shortlists.at(-1)!) * perId + o.queries * K * 8;
  const margin = 1.5e9;
  // Python's index files are deleted right after the process that wrote them (they are not read later) unless --keep;
  // TS searches all dims in one process without index files (--no-index-files)
  const needed = data + (o.keep ? indexes : indexMax) + sides * shortlists + margin;
  const text = `database and queries ${gb(data)}, ${o.keep ? `Python's index files ${gb(indexes)} (kept)` : `Python's index files up to ${gb(indexMax)} at a time`}, ` +
    `shortlists ${sides} x ${gb(shortlists)}, margin ${gb(margin)}`;
  return { data, indexes, indexMax, shortlists, needed, text };
}

export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

const removeIndexFiles = (root: string): void => fs.rmSync(path.join(root, "index_files"), { recursive: true, force: true });

// ---- the synthetic arrays -----------------------------------------------------------------------------------

/** The shape and seed of the synthetic arrays (recorded in params.json beside them). */
export interface SyntheticShape { rows: number; queries: number; seed: number }

const paramsOf = (shape: SyntheticShape): Record<string, number> =>
  ({ rows: shape.rows, queries: shape.queries, dim: WIDTH, classes: CLASSES, seed: shape.seed, generator: 1 });

/** Whether `dataDir` holds the synthetic arrays of this shape and seed (written by an earlier --keep run). */
export function syntheticArraysReady(dataDir: string, shape: SyntheticShape): boolean {
  return JSON.stringify(readJson(path.join(dataDir, "params.json"))) === JSON.stringify(paramsOf(shape)) &&
    ARRAY_NAMES.every((f) => fs.existsSync(path.join(dataDir, f)));
}

/**
 * The synthetic ImageNet-1K-shape arrays in `dataDir` under the originals' names (1K_{train,val}_mrl1_e0_ff2048-
 * {X,y}.npy): reused when ready, else written by `bench/scale_peer.py generate` (any older arrays removed first).
 * Returns what the generator printed (undefined when reused).
 */
export async function syntheticArrays(dataDir: string, shape: SyntheticShape, work: string): Promise<Record<string, unknown> | undefined> {
  if (syntheticArraysReady(dataDir, shape)) {
    log(`reusing the arrays in ${dataDir} (same shape and seed)`);
    return undefined;
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  const bytes = npyBytes(shape.rows, WIDTH, 4) + npyBytes(shape.rows, 1, 8) + npyBytes(shape.queries, WIDTH, 4) + npyBytes(shape.queries, 1, 8);
  log(`writing ${shape.rows} x ${WIDTH} database and ${shape.queries} queries (${gb(bytes)}) into ${dataDir}`);
  const m = await measure([PYTHON, PEER, "generate", "--out", dataDir, "--rows", String(shape.rows), "--queries", String(shape.queries),
    "--dim", String(WIDTH), "--classes", String(CLASSES), "--seed", String(shape.seed)], { work });
  checkInterrupted();
  if (!m.ok) throw new UserError(`writing the arrays failed (exit ${m.exit}): ${errorLine(m)}`);
  fs.writeFileSync(path.join(dataDir, "params.json"), JSON.stringify(paramsOf(shape)));
  log(`arrays written in ${m.seconds.toFixed(0)} s`);
  return peerJson(m);
}

// ---- measured processes -------------------------------------------------------------------------------------

export interface Measured {
  ok: boolean;
  seconds: number;
  peakBytes: number;
  exit: number | null;
  signal: string | null;
  stdout: string;
  stderrTail: string;
  /** The process ran out of memory (a MemoryError under the address-space limit, or killed by the kernel). */
  outOfMemory: boolean;
  command: string[];
}

let current: ReturnType<typeof spawn> | undefined;
let interrupted: string | undefined;

/** On a signal: the measured process gets it too, and the run stops after it (throwing UserError "interrupted"). */
export function interruptMeasured(sig: NodeJS.Signals): void {
  interrupted = sig;
  current?.kill(sig);
}

/** Throws when a signal arrived (see interruptMeasured). */
export function checkInterrupted(): void {
  if (interrupted) throw new UserError(`interrupted (${interrupted})`);
}
let timeFileCount = 0;

const OOM = /MemoryError|bad_alloc|Cannot allocate memory|Unable to allocate|ENOMEM|heap out of memory|Array buffer allocation failed/;

/** Runs argv under /usr/bin/time (and prlimit --as when limitBytes is given); child stderr goes through to ours. */
export function measure(argv: string[], o: { work: string; env?: NodeJS.ProcessEnv; limitBytes?: number }): Promise<Measured> {
  const timeFile = path.join(o.work, `.time-${process.pid}-${timeFileCount++}`);
  const limit = o.limitBytes ? ["/usr/bin/prlimit", `--as=${o.limitBytes}`] : [];
  const command = [TIME, "-f", "%e %M %x", "-o", timeFile, ...limit, ...argv];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd: PROJECT_ROOT, env: o.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    current = child;
    let stdout = "", tail = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      process.stderr.write(s);
      tail = (tail + s).slice(-32_768);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      current = undefined;
      const wall = (performance.now() - t0) / 1000;
      let seconds = wall, peakBytes = NaN, exit: number | null = code;
      let killedBy: string | null = signal;
      try {
        const text = fs.readFileSync(timeFile, "utf8");
        fs.rmSync(timeFile, { force: true });
        const m = /(\d+(?:\.\d+)?) (\d+) (-?\d+)\s*$/.exec(text);
        if (m) {
          seconds = Number(m[1]);
          peakBytes = Number(m[2]) * 1024;
          exit = Number(m[3]);
        }
        const sig = /terminated by signal (\d+)/.exec(text);
        if (sig) killedBy = Object.entries(os.constants.signals).find(([, n]) => n === Number(sig[1]))?.[0] ?? `signal ${sig[1]}`;
      } catch {
        // time did not write (it was killed itself): keep our own wall clock
      }
      const ok = code === 0 && exit === 0 && !killedBy;
      const outOfMemory = !ok && (OOM.test(tail) || killedBy === "SIGKILL");
      resolve({ ok, seconds, peakBytes, exit, signal: killedBy, stdout, stderrTail: tail, outOfMemory, command: argv });
    });
  });
}

/** The last JSON line a peer command printed. */
export function peerJson(m: Measured): Record<string, unknown> | undefined {
  const line = m.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
}

/** The first line of an error worth showing in the notes. */
export function errorLine(m: Measured): string {
  const lines = m.stderrTail.split("\n").map((l) => l.trim()).filter(Boolean);
  const hit = [...lines].reverse().find((l) => /error|Error|bad_alloc|Killed/.test(l)) ?? lines.at(-1) ?? "";
  return hit.length > 160 ? `${hit.slice(0, 157)}...` : hit;
}

// ---- the three sides ----------------------------------------------------------------------------------------

type SideName = "ts" | "ooc" | "py";

interface Side {
  name: SideName;
  title: string;
  root: string;
  /** faiss_nn at one dim (Python: the originals' per-dim loop), or all dims in one process (TS, as a user runs it). */
  search(dim?: number): string[];
  rerank(kind: "adaptive" | "funnel"): string[];
  metrics(): string[];
  env?: NodeJS.ProcessEnv;
  limitBytes?: number;
}

function tsSide(name: "ts" | "ooc", title: string, root: string, experiment: string, memoryGb?: number): Side {
  const base = (command: string): string[] => [process.execPath, CLI, command, "--experiment", experiment, "--root", root, "--dataset", DATASET,
    "--model", "mrl", "--index", "exactl2", "--k", String(K), "--recall-denominator", String(RECALL_DENOMINATOR),
    ...(memoryGb !== undefined ? ["--memory-gb", String(memoryGb)] : []), "--force"];
  // the in-memory side gets the CLI's default budget: not one set in the environment
  const env = { ...process.env };
  delete env.MRL_MEMORY_GB;
  delete env.MRL_EXPERIMENT;
  return {
    name, title, root, env,
    search: () => [...base("search"), "--dims", DIMS.join(","), "--no-index-files"],
    rerank: (kind) => [...base("rerank"), ...(kind === "adaptive" ? ["--adaptive", ADAPTIVE_FLAG] : ["--funnel", FUNNEL_FLAG])],
    metrics: () => [...base("metrics"), "--dims", DIMS.join(","), "--adaptive", ADAPTIVE_FLAG, "--funnel", FUNNEL_FLAG],
  };
}

function pySide(layout: Layout, limitGiB: number): Side {
  const base = (command: string): string[] => [PYTHON, PEER, command, "--data", layout.data, "--root", layout.py];
  return {
    name: "py", title: "Python", root: layout.py, limitBytes: Math.floor(limitGiB * GIB),
    search: (dim) => [...base("search"), "--dim", String(dim ?? WIDTH), "--k", String(K)],
    rerank: (kind) => [...base("rerank"), ...(kind === "adaptive"
      ? ["--retrieval-dim", String(ADAPTIVE.retrievalDim), "--dims", String(ADAPTIVE.rerankDim), "--shortlists", String(ADAPTIVE.shortlist)]
      : ["--retrieval-dim", String(FUNNEL.retrievalDim), "--dims", FUNNEL.dims.join(","), "--shortlists", FUNNEL.shortlists.join(","), "--funnel"])],
    metrics: () => [...base("metrics"), "--dims", DIMS.join(","), "--adaptive", ADAPTIVE_FLAG, "--funnel", FUNNEL_FLAG,
      "--ks", METRIC_KS.join(","), "--recall-denominator", String(RECALL_DENOMINATOR)],
  };
}

/**
 * The experiment file the CLI runs on: this run's settings with no adaptive or funnel configurations, so each
 * command does exactly what its flags name (search one dim; rerank one configuration) and nothing from the
 * default experiment (experiments/fmnist.json) comes along. The flags repeat the settings for the record.
 */
function writeExperiment(layout: Layout): void {
  const experiment = {
    name: "scale-bench", description: "npm run bench -- --scale: synthetic ImageNet-1K-shape arrays",
    root: layout.ts, dataset: DATASET, models: ["mrl"], indexTypes: ["exactl2"], k: K, nesting: DIMS, adaptive: [], funnels: [],
    metricKs: METRIC_KS, recallDenominator: RECALL_DENOMINATOR,
  };
  fs.writeFileSync(layout.experiment, JSON.stringify(experiment, null, 1) + "\n");
}

// ---- stages -------------------------------------------------------------------------------------------------

interface Stage { key: string; label: string; argv: (s: Side) => string[]; after?: (s: Side) => void; only?: SideName[] }

type Results = Map<string, Map<SideName, Measured>>;

async function runStages(stages: Stage[], sides: Side[], work: string, results: Results): Promise<void> {
  const runsOf = (stage: Stage): Side[] => sides.filter((s) => !stage.only || stage.only.includes(s.name));
  const total = stages.reduce((n, stage) => n + runsOf(stage).length, 0);
  let n = 0;
  const t0 = performance.now();
  for (const stage of stages) {
    for (const side of runsOf(stage)) {
      checkInterrupted();
      n++;
      const elapsed = ((performance.now() - t0) / 1000).toFixed(0);
      log(`[${n}/${total}, ${elapsed} s] ${side.title}: ${stage.label}`);
      const m = await measure(stage.argv(side), { work, env: side.env, limitBytes: side.limitBytes });
      checkInterrupted();
      if (!results.has(stage.key)) results.set(stage.key, new Map());
      results.get(stage.key)!.set(side.name, m);
      log(`${side.title}: ${stage.label}: ${m.ok ? `${m.seconds.toFixed(1)} s, peak RSS ${(m.peakBytes / GIB).toFixed(2)} GiB` :
        `${m.outOfMemory ? "OUT OF MEMORY" : "FAILED"} (exit ${m.exit}${m.signal ? `, ${m.signal}` : ""}) after ${m.seconds.toFixed(1)} s: ${errorLine(m)}`}`);
      stage.after?.(side);
    }
  }
}

// ---- tables -------------------------------------------------------------------------------------------------

const fmtSeconds = (s: number): string => (s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2));
const fmtGiB = (b: number): string => (Number.isFinite(b) ? (b / GIB).toFixed(2) : "–");
const fmtRatio = (x: number): string => (Number.isFinite(x) && x > 0 ? `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}x` : "–");

interface Cell { seconds: number; peakBytes: number; text?: string }

function cellOf(m: Measured | undefined, side: Side | undefined): Cell | undefined {
  if (!m) return undefined;
  if (m.ok) return { seconds: m.seconds, peakBytes: m.peakBytes };
  if (m.outOfMemory && side?.limitBytes) return { seconds: NaN, peakBytes: NaN, text: `does not fit in ${(side.limitBytes / GIB).toFixed(0)} GiB` };
  if (m.outOfMemory) return { seconds: NaN, peakBytes: NaN, text: `out of memory (${m.signal ?? `exit ${m.exit}`})` };
  return { seconds: NaN, peakBytes: NaN, text: `failed (${m.signal ?? `exit ${m.exit}`})` };
}

function stageTable(title: string, first: string, rows: { label: string; cells: Partial<Record<SideName, Cell>> }[], sides: Side[]): string {
  const has = (n: SideName): boolean => sides.some((s) => s.name === n);
  const oocTitle = sides.find((s) => s.name === "ooc")?.title ?? "";
  const head = [first, "TS in memory: s", "peak RSS GiB"];
  if (has("ooc")) head.push(`${oocTitle}: s`, "peak RSS GiB");
  if (has("py")) head.push("Python: s", "peak RSS GiB", "TS/Python time", "TS/Python RSS");
  if (has("ooc")) head.push("out-of-core/in-memory time", "out-of-core/in-memory RSS");
  const lines = [`### ${title}`, "", `| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  const pair = (c?: Cell): string[] => (c === undefined ? ["–", "–"] : c.text ? [c.text, "–"] : [fmtSeconds(c.seconds), fmtGiB(c.peakBytes)]);
  for (const r of rows) {
    const { ts, ooc, py } = r.cells;
    const cols = [r.label, ...pair(ts)];
    if (has("ooc")) cols.push(...pair(ooc));
    if (has("py")) cols.push(...pair(py), fmtRatio((ts?.seconds ?? NaN) / (py?.seconds ?? NaN)), fmtRatio((ts?.peakBytes ?? NaN) / (py?.peakBytes ?? NaN)));
    if (has("ooc")) cols.push(fmtRatio((ooc?.seconds ?? NaN) / (ts?.seconds ?? NaN)), fmtRatio((ooc?.peakBytes ?? NaN) / (ts?.peakBytes ?? NaN)));
    lines.push(`| ${cols.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Sum of seconds and max of peaks over cells; undefined when any is missing or failed. */
function totalCell(cells: (Cell | undefined)[]): Cell | undefined {
  if (cells.some((c) => !c || c.text)) return cells.every((c) => !c) ? undefined : { seconds: NaN, peakBytes: NaN, text: "incomplete" };
  return { seconds: cells.reduce((s, c) => s + c!.seconds, 0), peakBytes: Math.max(...cells.map((c) => c!.peakBytes)) };
}

export function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** mAP@10 (and top-1) by configuration label from a metrics table (the CLI's JSON or the peer's). */
function qualityOf(file: string): Map<string, { map10?: number; top1?: number }> {
  const rows = readJson(file);
  const out = new Map<string, { map10?: number; top1?: number }>();
  if (!Array.isArray(rows)) return out;
  for (const r of rows as Record<string, unknown>[]) {
    out.set(String(r.config), { map10: typeof r["mAP@10"] === "number" ? r["mAP@10"] : undefined, top1: typeof r.top1 === "number" ? r.top1 : undefined });
  }
  return out;
}

const tsMetricsFile = (root: string): string => path.join(root, "metrics", "mrl", `${DATASET}_exactl2_metrics.json`);
const pyMetricsFile = (root: string): string => path.join(root, "metrics", `${DATASET}_exactl2_metrics.json`);

async function compareShortlists(a: string, b: string, work: string): Promise<Record<string, { identical?: number; same_set?: number; error?: string }>> {
  const m = await measure([PYTHON, PEER, "compare", "--a", a, "--b", b, "--dims", DIMS.join(","), "--adaptive", ADAPTIVE_FLAG, "--funnel", FUNNEL_FLAG], { work });
  return (m.ok ? peerJson(m) : undefined) as Record<string, { identical?: number; same_set?: number }> ?? {};
}

export function cpuModel(): string {
  try {
    return /model name\s*:\s*(.+)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown CPU";
  } catch {
    return os.cpus()[0]?.model ?? "unknown CPU";
  }
}

// ---- main ---------------------------------------------------------------------------------------------------

export async function runScaleBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  for (const [file, what] of [[TIME, "the Debian package time (npm run setup installs it)"], [CLI, "the compiled CLI (npm run build)"],
    [PYTHON, "Debian's python3"], ...(o.skipPython ? [] : [["/usr/bin/prlimit", "prlimit (Debian package util-linux)"]])]) {
    if (!fs.existsSync(file)) throw new UserError(`${file} not found; expected ${what}`);
  }
  const createdWork = !o.work || !fs.existsSync(o.work);
  const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), "mrl-scale-"));
  fs.mkdirSync(work, { recursive: true });
  const layout = layoutOf(work);
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping the current stage, then cleaning up`);
    interruptMeasured(sig);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const sig of signals) process.on(sig, onSignal);
  try {
    await (o.accessOnly ? runAccessOnly(o, layout) : run(o, layout));
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    if (o.keep) log(`kept the work folder ${work}`);
    else if (fs.existsSync(work)) {
      const wrote = fs.readdirSync(work).length > 0;
      for (const p of [layout.data, layout.ts, layout.ooc, layout.py, layout.experiment]) fs.rmSync(p, { recursive: true, force: true });
      for (const f of fs.existsSync(work) ? fs.readdirSync(work) : []) if (f.startsWith(".time-")) fs.rmSync(path.join(work, f), { force: true });
      if (createdWork) fs.rmSync(work, { recursive: true, force: true });
      if (wrote) log(`removed ${createdWork ? "the work folder" : "the generated files in"} ${work}`);
    }
  }
}

/** Writes `text` under `title` to o.out (atomically) and prints it. */
function writeResults(o: Options, title: string, text: string): void {
  console.log(`\n${text}`);
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const tmp = `${o.out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${title}\n\n${text}\n`);
  fs.renameSync(tmp, o.out);
  log(`wrote ${path.relative(process.cwd(), o.out)}`);
}

const machineLine = (): string => `Machine: ${cpuModel()}, ${os.cpus().length} cores, ${(os.totalmem() / GIB).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}; ` +
  `Node ${process.version}`;

/** The rerank access section on the arrays and the in-memory side's shortlists. */
const accessSection = (o: Options, layout: Layout) => rerankAccessBench({ work: layout.work, dataDir: layout.data, shortlistRoot: layout.ts,
  experiment: layout.experiment, queryCounts: o.accessQueries, repeat: o.accessRepeat }, log);

/** --access-only: the rerank access section on a kept run's arrays and in-memory shortlists. */
async function runAccessOnly(o: Options, layout: Layout): Promise<void> {
  if (!syntheticArraysReady(layout.data, o)) throw new UserError(`no arrays of this shape and seed in ${layout.data}: run the full benchmark with --keep first`);
  if (!fs.existsSync(path.join(layout.ts, "neighbors", "mrl"))) throw new UserError(`no shortlists in ${layout.ts}: run the full benchmark with --keep first`);
  writeExperiment(layout);
  const access = await accessSection(o, layout);
  writeResults(o, `# Scale benchmark, rerank access only: ${o.rows} x ${WIDTH} database, ${o.queries} queries`,
    [`${machineLine()}; ${new Date().toISOString()}.`, "", access.table, "", "Notes:", "", ...access.notes].join("\n"));
}

async function run(o: Options, layout: Layout): Promise<void> {
  const { work } = layout;
  const sidesWanted = 1 + (o.skipPython ? 0 : 1) + (o.skipOutOfCore ? 0 : 1);
  const reuse = syntheticArraysReady(layout.data, o);
  // clean outputs of an earlier --keep run: each side must start from its own fresh folder
  for (const p of [layout.ts, layout.ooc, layout.py]) fs.rmSync(p, { recursive: true, force: true });
  if (!reuse) fs.rmSync(layout.data, { recursive: true, force: true });

  const plan = diskPlan(o, sidesWanted);
  const free = freeBytes(work), needed = plan.needed - (reuse ? plan.data : 0);
  if (free < needed) {
    throw new UserError(`not enough free disk in ${work}: this run needs ${gb(needed)} (${plan.text}), ${gb(free)} free; ` +
      "use --work DIR on a larger disk, or --quick");
  }
  log(`work folder ${work}: ${gb(free)} free, this run needs up to ${gb(needed)} (${plan.text})`);
  const databaseBytes = npyBytes(o.rows, WIDTH, 4);
  if (!o.skipOutOfCore && o.memoryGb * 1e9 >= databaseBytes) {
    log(`warning: --memory-gb ${o.memoryGb} holds the whole ${gb(databaseBytes)} database, so the "out of core" run keeps it in memory`);
  }

  // 1. data
  const generated = await syntheticArrays(layout.data, o, work);
  const versions = peerJson(await measure([PYTHON, PEER, "versions"], { work })) ?? {};

  // each TypeScript side reads the arrays through hard links in its own root (no copy, no shared outputs)
  for (const root of [layout.ts, ...(o.skipOutOfCore ? [] : [layout.ooc])]) {
    fs.mkdirSync(root, { recursive: true });
    for (const f of ARRAY_NAMES) {
      try {
        fs.linkSync(path.join(layout.data, f), path.join(root, f));
      } catch {
        fs.symlinkSync(path.join(layout.data, f), path.join(root, f));
      }
    }
  }
  fs.mkdirSync(layout.py, { recursive: true });
  writeExperiment(layout);

  const sides: Side[] = [tsSide("ts", "TS in memory", layout.ts, layout.experiment)];
  if (!o.skipPython) sides.push(pySide(layout, o.pythonGb));
  if (!o.skipOutOfCore) sides.push(tsSide("ooc", `TS out of core (--memory-gb ${o.memoryGb})`, layout.ooc, layout.experiment, o.memoryGb));

  // 2. the stages, interleaved over the sides
  const dropIndexes = (s: Side): void => {
    if (!o.keep) removeIndexFiles(s.root);
  };
  const stages: Stage[] = [
    { key: "searchAll", label: `faiss_nn, all ${DIMS.length} dims in one process (exact L2, k ${K}, no index files)`, argv: (s) => s.search(),
      only: ["ts", "ooc"] },
    ...DIMS.map((dim): Stage => ({ key: `search${dim}`, label: `faiss_nn ${dim}-d (exact L2, k ${K})`, argv: (s) => s.search(dim), after: dropIndexes,
      only: ["py"] })),
    { key: "adaptive", label: `rerank adaptive ${ADAPTIVE_LABEL}`, argv: (s) => s.rerank("adaptive") },
    { key: "funnel", label: `rerank funnel ${FUNNEL_LABEL}`, argv: (s) => s.rerank("funnel") },
    { key: "metrics", label: "metrics", argv: (s) => s.metrics() },
  ];
  const results: Results = new Map();
  const t0 = performance.now();
  await runStages(stages, sides, work, results);
  const stageSeconds = (performance.now() - t0) / 1000;

  // reranking's access paths (load the database or read the candidate rows), warm and cold, on the TS side's shortlists
  const access = o.skipRerankAccess ? undefined : await accessSection(o, layout);

  // 3. agreement and tables
  log("comparing the shortlists of the sides");
  const agreePy = o.skipPython ? {} : await compareShortlists(layout.ts, layout.py, work);
  const agreeOoc = o.skipOutOfCore ? {} : await compareShortlists(layout.ts, layout.ooc, work);
  const quality = { ts: qualityOf(tsMetricsFile(layout.ts)), ooc: qualityOf(tsMetricsFile(layout.ooc)), py: qualityOf(pyMetricsFile(layout.py)) };

  const cells = (key: string): Partial<Record<SideName, Cell>> => {
    const r = results.get(key);
    return Object.fromEntries(sides.map((s) => [s.name, cellOf(r?.get(s.name), s)]));
  };
  // the per-dim rows hold only Python's processes: without Python, the one all-dims row is the table
  const perDimRows = DIMS.map((d) => ({ label: `${d}-d (Python: one process)`, cells: cells(`search${d}`) }));
  const all = cells("searchAll");
  const searchRows = [...(o.skipPython ? [] : perDimRows), {
    label: o.skipPython ? `all ${DIMS.length} dims (one process, one pass)` : `all ${DIMS.length} dims (TS: one process, one pass; Python: the per-dim loop)`,
    cells: { ts: all.ts, ooc: all.ooc, py: totalCell(perDimRows.map((r) => r.cells.py)) },
  }];
  const tables = [
    stageTable(`faiss_nn: exact L2 search, k ${K}, ${o.queries} queries (TS: \`mrl search --dims ${DIMS.join(",")} --no-index-files\`; ` +
      "Python: the originals' loop, one process per dim, each writing its index file)", "dim", searchRows, sides),
    stageTable("reranking (one process per configuration)", "configuration", [
      { label: `adaptive ${ADAPTIVE_LABEL}`, cells: cells("adaptive") },
      { label: `funnel ${FUNNEL_LABEL}`, cells: cells("funnel") },
    ], sides),
    stageTable(`compute_metrics: top-1, mAP/precision/recall/top-k @[${METRIC_KS}] of ${DIMS.length + 2} shortlists`, "stage", [{ label: "metrics", cells: cells("metrics") }], sides),
  ];

  const configs = [...DIMS.map((d) => `${d}d`), ADAPTIVE_LABEL, FUNNEL_LABEL];
  const pct = (x?: number): string => (x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);
  const m4 = (x?: number): string => (x === undefined ? "–" : x.toFixed(4));
  const qHead = ["configuration", "mAP@10 TS in memory", ...(o.skipOutOfCore ? [] : ["mAP@10 TS out of core"]), ...(o.skipPython ? [] : ["mAP@10 Python"]),
    "top-1 TS", ...(o.skipPython ? [] : ["top-10 ids identical TS vs Python", "same top-10 set"]), ...(o.skipOutOfCore ? [] : ["top-10 identical out of core vs in memory"])];
  const qLines = ["### Result quality (each side's own shortlists)", "", `| ${qHead.join(" | ")} |`, `|---|${qHead.slice(1).map(() => "---:").join("|")}|`];
  let worstGap = 0;
  for (const c of configs) {
    const t = quality.ts.get(c), p = quality.py.get(c), q = quality.ooc.get(c);
    if (t?.map10 !== undefined && p?.map10 !== undefined) worstGap = Math.max(worstGap, Math.abs(t.map10 - p.map10));
    qLines.push(`| ${c} | ${m4(t?.map10)} | ${[...(o.skipOutOfCore ? [] : [m4(q?.map10)]), ...(o.skipPython ? [] : [m4(p?.map10)]), m4(t?.top1),
      ...(o.skipPython ? [] : [pct(agreePy[c]?.identical), pct(agreePy[c]?.same_set)]), ...(o.skipOutOfCore ? [] : [pct(agreeOoc[c]?.identical)])].join(" | ")} |`);
  }
  tables.push(qLines.join("\n"));
  if (access) tables.push(access.table);

  const v = versions as Record<string, string | number>;
  const machine = `${machineLine()}; Python ${v.python ?? "?"}, numpy ${v.numpy ?? "?"}, pandas ${v.pandas ?? "?"}, FAISS ${v.faiss ?? "?"} ` +
    `(${v.omp_threads ?? "?"} OpenMP threads); ${new Date().toISOString()}.`;
  const failures: string[] = [], overBudget: string[] = [];
  const labelOf = (key: string): string => stages.find((st) => st.key === key)?.label ?? key;
  for (const [key, bySide] of results) {
    for (const [side, m] of bySide) {
      if (!m.ok) failures.push(`${sides.find((s) => s.name === side)?.title} ${labelOf(key)}: ${m.outOfMemory ? "out of memory" : "failed"} after ${m.seconds.toFixed(0)} s (${errorLine(m)})`);
      if (side === "ooc" && m.ok && m.peakBytes > o.memoryGb * 1e9) overBudget.push(`${labelOf(key)} ${gb(m.peakBytes)}`);
    }
  }
  const pyMetrics = results.get("metrics")?.get("py");
  const pyMissing = (pyMetrics?.ok ? (peerJson(pyMetrics)?.missing as string[] | undefined) : undefined) ?? [];
  const budget = /budget ([\d.]+ GB)/.exec(results.get("searchAll")?.get("ts")?.stderrTail ?? "")?.[1];
  const dataNote = generated ? ` written in ${Number(generated.seconds).toFixed(0)} s by \`bench/scale_peer.py generate\`` : " (reused from an earlier --keep run)";
  const notes = [
    `- Data: synthetic ImageNet-1K shapes, database ${o.rows} x ${WIDTH} float32 (${gb(npyBytes(o.rows, WIDTH, 4))}) and ${o.queries} queries, int64 ` +
      `labels of ${CLASSES} classes in class order (ImageFolder order), seed ${o.seed}${dataNote}: ${String(generated?.model ?? "see bench/scale_peer.py")}. ` +
      "Per-dim energy decays with the dim and the class signal decays faster than the noise, so 8-16 dims retrieve clearly worse than 2048.",
    "- Each cell is one process measured by `/usr/bin/time -f '%e %M'`: wall seconds including start-up and reading the arrays, and the " +
      "process's peak resident set size. Stages run interleaved (each stage on every side before the next stage), so the sides see the " +
      "same machine conditions; index files are deleted after each search process (untimed) unless --keep.",
    `- TS: \`node lib/dist/cli.js search|rerank|metrics --experiment <work>/scale-experiment.json --root <side folder> --dataset ${DATASET} ` +
      `--model mrl --index exactl2 --k ${K} --recall-denominator ${RECALL_DENOMINATOR} [--dims D | --adaptive ${ADAPTIVE_FLAG} | --funnel ${FUNNEL_FLAG}] --force\` ` +
      "(the experiment file only empties the default adaptive/funnel lists, so each process runs what its flags name). " +
      `In memory: the CLI's default budget${budget ? ` (${budget})` : ""}, MRL_MEMORY_GB unset; out of core: \`--memory-gb ${o.memoryGb}\`, ` +
      (o.memoryGb * 1e9 < npyBytes(o.rows, WIDTH, 4) ? `below the ${gb(npyBytes(o.rows, WIDTH, 4))} database, so the database is read from its file in blocks.`
        : `which holds the whole ${gb(npyBytes(o.rows, WIDTH, 4))} database: NOT out of core.`),
    `- Python: \`bench/scale_peer.py\` = the originals' code under \`prlimit --as=${o.pythonGb} GiB\` ("does not fit" = a MemoryError under that ` +
      "limit). faiss_nn.ipynb per dim: np.load the database, first d dims, ascontiguousarray, faiss.normalize_L2, IndexFlatL2, add, " +
      "write_index, search k 2048, pd.DataFrame(I).to_csv; its unused top-level `database = np.load(...)` is skipped (it would hold one more " +
      "copy of the database through every dim). reranking.ipynb: db[:, :2048] and queries loaded and normalised (numpy in place of sklearn's " +
      "normalize, with its one copy), the per-query loop as written; adaptive and funnel are separate runs, as the notebook runs them. " +
      `compute_metrics.ipynb's loop with recall denominator ${RECALL_DENOMINATOR}, on the Python side's own shortlists.`,
    `- Result quality: mAP@10 from each side's metrics table; "identical" = share of queries whose first 10 ids agree in order (exact ` +
      "distance ties and float rounding can swap close neighbours). " + (o.skipPython ? "" : `Largest mAP@10 difference TS vs Python: ${worstGap.toFixed(4)}.`),
    ...(pyMissing.length ? [`- The Python metrics process had ${DIMS.length + 2 - pyMissing.length} of ${DIMS.length + 2} shortlists (no ${pyMissing.join(", ")}: ` +
      "their stage did not fit), so its time is not comparable with the TS rows."] : []),
    ...(overBudget.length ? [`- Over the out-of-core budget of ${o.memoryGb} GB (peak RSS, which includes the Node runtime): ${overBudget.join("; ")}.`] : []),
    ...(access?.notes ?? []),
    `- All stages took ${(stageSeconds / 60).toFixed(1)} min.` + (failures.length ? ` Failed or out of memory: ${failures.join("; ")}.` : ""),
  ];
  const text = [machine, "", ...tables.flatMap((t) => [t, ""]), "Notes:", "", ...notes].join("\n");
  writeResults(o, `# Scale benchmark (npm run bench -- --scale${o.quick ? " --quick" : ""}): ${o.rows} x ${WIDTH} database, ${o.queries} queries`, text);
  const tsFailed = [...results.values()].some((r) => r.get("ts") && !r.get("ts")!.ok);
  if (tsFailed) process.exitCode = 1;
}

/** The command line: runs the benchmark, printing a user error as one line; sets the exit code. */
export async function scaleMain(args: string[]): Promise<void> {
  try {
    await runScaleBench(args);
  } catch (err) {
    console.error(err instanceof UserError ? `bench-scale: ${err.message}` : err);
    process.exitCode = 1;
  }
}

if (require.main === module) void scaleMain(process.argv.slice(2));
