/**
 * Rerank and funnel, cold and warm, against the original notebook's numpy loop (bench/retrieval_peer.py
 * naive_rerank) on the Fashion-MNIST arrays: 60k x 2048 database, the first N queries, shortlists = the exact
 * 16-d (rerank) and 8-d (funnel) top-200 from nestedKnn on the raw arrays.
 *
 *   node build/bench/rerank.js [--root DIR] [--queries N] [--work DIR] [--input npy|prefix|normalized] [--no-peer]
 *     [--compare DIR]
 *
 * Every case runs in its own process, so its first call is a cold one (nothing loaded, no caches): the
 * database is a plain Matrix as a notebook would make it: readMatrixNpy (default), readMatrixPrefixNpy, or
 * faissNormalized(readMatrixNpy(...), 2048). Warm = best of the three calls that follow. The ids of every case are written to
 * WORK/ours_<case>.npy; --compare DIR counts the rows identical to DIR's files of the same names (e.g. the
 * output of another build), and the peer's ids are compared the same way.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import {
  arrayPath, faissNormalized, funnelRerank, nestedKnn, PROJECT_ROOT, readMatrixNpy, readMatrixPrefixNpy, readShortlistNpy, rerank,
  writeShortlistNpy, type IntMatrix, type Matrix, type RerankPrecision,
} from "@mrl-retrieval/lib/internal";

interface Options { root: string; queries: number; work: string; input: "npy" | "prefix" | "normalized"; peer: boolean; compare?: string }

const CASES = ["rerank-float32", "rerank-float64", "funnel-float32", "funnel-float64"] as const;
type Case = (typeof CASES)[number];
const FUNNEL = { dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] };

function parseOptions(args: string[]): Options & { child?: Case } {
  const o: Options & { child?: Case } = {
    root: path.join(PROJECT_ROOT, "data", "retrieval"), queries: 2000, work: path.join(PROJECT_ROOT, "build", "bench-rerank"), input: "npy", peer: true,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--root") o.root = path.resolve(args[++i]);
    else if (a === "--queries") o.queries = Number(args[++i]);
    else if (a === "--work") o.work = path.resolve(args[++i]);
    else if (a === "--input") o.input = args[++i] as Options["input"];
    else if (a === "--no-peer") o.peer = false;
    else if (a === "--compare") o.compare = path.resolve(args[++i]);
    else if (a === "--child") o.child = args[++i] as Case;
    else throw new Error(`unknown option ${a}; see the header of bench/rerank.ts`);
  }
  return o;
}

const files = (o: Options) => ({ database: arrayPath(o.root, "FMNIST", "train", "mrl", "X"), queries: arrayPath(o.root, "FMNIST", "val", "mrl", "X") });

/** The database as --input says (readMatrixNpy, readMatrixPrefixNpy, or faissNormalized at 2048 of the former), the first N queries. */
function loadArrays(o: Options): { database: Matrix; queries: Matrix } {
  const raw = o.input === "prefix" ? readMatrixPrefixNpy(files(o).database) : readMatrixNpy(files(o).database);
  return { database: o.input === "normalized" ? faissNormalized(raw, raw.cols) : raw, queries: readMatrixPrefixNpy(files(o).queries, { end: o.queries }) };
}

/** The shortlists both sides rerank (nn16.npy, nn8.npy in the work folder: the peer's names), made once. */
function ensureShortlists(o: Options): void {
  if (fs.existsSync(path.join(o.work, "nn16.npy")) && readShortlistNpy(path.join(o.work, "nn16.npy")).rows === o.queries) return;
  const { database, queries } = loadArrays({ ...o, input: "prefix" });
  for (const knn of nestedKnn(database, queries, [8, 16], 200)) writeShortlistNpy(path.join(o.work, `nn${knn.dim}.npy`), knn.labels);
}

/** One case in this process: the cold first call, then the best of three warm calls. */
function runChild(o: Options, which: Case): void {
  const { database, queries } = loadArrays(o);
  const [kind, precision] = which.split("-") as ["rerank" | "funnel", RerankPrecision];
  const candidates = readShortlistNpy(path.join(o.work, kind === "rerank" ? "nn16.npy" : "nn8.npy"));
  const call = (): IntMatrix => kind === "rerank"
    ? rerank(database, queries, candidates, 2048, 200, { precision }) : funnelRerank(database, queries, candidates, FUNNEL, { precision });
  let t0 = performance.now();
  const ids = call();
  const cold = (performance.now() - t0) / 1000;
  let warm = Infinity;
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    const again = call();
    warm = Math.min(warm, (performance.now() - t0) / 1000);
    if (!again.data.every((v, j) => v === ids.data[j])) throw new Error(`${which}: a warm call gave other ids than the cold one`);
  }
  writeShortlistNpy(path.join(o.work, `ours_${which}.npy`), ids);
  console.log(JSON.stringify({ cold, warm }));
}

/** Rows of two saved id arrays that are identical (undefined when `b` is missing). */
function identicalRows(a: string, b: string): number | undefined {
  if (!fs.existsSync(b)) return undefined;
  const x = readShortlistNpy(a), y = readShortlistNpy(b);
  if (x.rows !== y.rows || x.cols !== y.cols) return 0;
  let same = 0;
  for (let r = 0; r < x.rows; r++) if (x.data.subarray(r * x.cols, (r + 1) * x.cols).every((v, j) => v === y.data[r * y.cols + j])) same++;
  return same;
}

/** The numpy loop on the same shortlists (retrieval_peer.py's load, normalize, rerank, funnel); seconds per stage. */
async function runPeer(o: Options): Promise<Record<string, number>> {
  const job = path.join(o.work, "peer-job.json");
  const names = { database_labels: arrayPath(o.root, "FMNIST", "train", "mrl", "y"), query_labels: arrayPath(o.root, "FMNIST", "val", "mrl", "y") };
  fs.writeFileSync(job, JSON.stringify({ work: o.work, ...files(o), ...names, n_db: 60000, n_q: o.queries, k: 200, hnsw_k: 200 }));
  const child = spawn("/usr/bin/python3", [path.join(PROJECT_ROOT, "bench", "retrieval_peer.py"), job], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const seconds: Record<string, number> = {};
  for (const command of ["load", "normalize", "rerank", "funnel"]) {
    child.stdin.write(`${command}\n`);
    const line = await lines.next();
    if (line.done) throw new Error(`the Python peer exited during ${command}`);
    seconds[command] = Number(JSON.parse(line.value).seconds);
  }
  child.stdin.end();
  return seconds;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.child) return runChild(o, o.child);
  fs.mkdirSync(o.work, { recursive: true });
  ensureShortlists(o);
  const forward = ["--root", o.root, "--queries", String(o.queries), "--work", o.work, "--input", o.input];
  const results = new Map<Case, { cold: number; warm: number }>();
  for (const which of CASES) {
    const run = spawnSync(process.execPath, [__filename, ...forward, "--child", which], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (run.status !== 0) throw new Error(`case ${which} failed (exit ${run.status})`);
    results.set(which, JSON.parse(run.stdout.trim().split("\n").pop()!));
    console.error(`bench-rerank: ${which}: ${JSON.stringify(results.get(which))}`);
  }
  const peer = o.peer ? await runPeer(o) : undefined;
  const lines = [`${o.queries} queries x 60000 x 2048 (database from ${o.input === "npy" ? "readMatrixNpy" : o.input === "prefix" ? "readMatrixPrefixNpy" : "faissNormalized"}), rerank 16 -> 2048 @200, funnel 8 -> [${FUNNEL.dims}] @[${FUNNEL.shortlists}]`,
    "| case | cold (s) | warm (s) | numpy loop (s) | numpy / cold | identical rows vs numpy | identical rows vs --compare |", "|---|---|---|---|---|---|---|"];
  for (const which of CASES) {
    const r = results.get(which)!, kind = which.split("-")[0];
    const ours = path.join(o.work, `ours_${which}.npy`);
    const p = peer?.[kind];
    const vsPeer = peer ? identicalRows(ours, path.join(o.work, `peer_${kind}.npy`)) : undefined;
    const vsCompare = o.compare ? identicalRows(ours, path.join(o.compare, `ours_${which}.npy`)) : undefined;
    lines.push(`| ${which} | ${r.cold.toFixed(3)} | ${r.warm.toFixed(3)} | ${p?.toFixed(3) ?? "–"} | ${p ? (p / r.cold).toFixed(1) + "x" : "–"} | ` +
      `${vsPeer ?? "–"} | ${vsCompare ?? "–"} |`);
  }
  console.log(lines.join("\n"));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
