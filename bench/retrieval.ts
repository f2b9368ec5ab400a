/**
 * `npm run bench`: every retrieval stage of this project against a Python peer (bench/retrieval_peer.py: the
 * original notebooks' logic with Debian's python3-faiss, numpy and pandas), in one run on the same arrays,
 * plus the adaptive-retrieval speed comparison and an ImageNet-1K-shape scaling run. Prints a table and
 * writes it to results/bench.md (atomically).
 *
 *   node --expose-gc build/bench/retrieval.js [--root DIR] [--quick] [--no-scale] [--scale-width W]
 *     [--out FILE] [--keep-scale] [--repeat N]
 *
 * --root: folder with FMNIST_{train,val}_mrl1_e0_ff2048-{X,y}.npy; made by the inference
 * stage when missing. --quick: 10k database rows, 1k queries, a 128k-row scaling run. Stages alternate with the
 * peer's (a child process taking one stage per command), so both see the same load on a shared machine;
 * --repeat N alternates N times and keeps each side's best. --scale-width: columns of the synthetic file the
 * scaling run streams its 16-d prefix from (default 2048: a 10.5 GB file; removed afterwards unless --keep-scale).
 *
 * --scale hands over to the ImageNet-1K-shape benchmark of every stage through the CLI against the Python
 * originals (bench/scale.ts, its own options; not the same as this file's scaling run, which --no-scale skips).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { scaleMain } from "./scale";
import {
  addNpyToIndex, arrayPath, buildIndex, computeMetrics, defaultThreads, FaissIndex, funnelRerank, intMatrix,
  knnLabels, l2NormalizeRows, memoryReport, nestedNormalized, PROJECT_ROOT, readLabelsNpy, readMatrixPrefixNpy, readShortlistCsv,
  rerank, rerankPrecision, resetPeakRss, searchIndex, writeFileAtomic, writeMatrixNpyStreaming, writeShortlistCsv, writeShortlistNpy,
  type IntMatrix, type Matrix,
} from "@mrl-retrieval/lib/internal";

interface Options { root: string; quick: boolean; scale: boolean; scaleWidth: number; out: string; keepScale: boolean; repeat: number }

function parseOptions(args: string[]): Options {
  const o: Options = {
    root: path.join(PROJECT_ROOT, "data", "retrieval"), quick: false, scale: true, scaleWidth: 0,
    out: path.join(PROJECT_ROOT, "results", "bench.md"), keepScale: false, repeat: 1,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--root") o.root = path.resolve(args[++i]);
    else if (a === "--quick") o.quick = true;
    else if (a === "--no-scale") o.scale = false;
    else if (a === "--scale-width") o.scaleWidth = Number(args[++i]);
    else if (a === "--out") o.out = path.resolve(args[++i]);
    else if (a === "--keep-scale") o.keepScale = true;
    else if (a === "--repeat") o.repeat = Math.max(1, Number(args[++i]));
    else throw new Error(`unknown option ${a}; see the header of bench/retrieval.ts`);
  }
  if (o.scaleWidth === 0) o.scaleWidth = o.quick ? 64 : 2048;
  return o;
}

interface Timing { seconds: number; peakMiB: number }

/** Runs fn with the peak RSS reset first; repeats (best of up to 3) while a run is shorter than repeatBelow s. */
function timed<T>(fn: () => T, repeatBelow = 0): { result: T; timing: Timing } {
  let best = Infinity, peak = 0;
  let result: T | undefined;
  for (let i = 0; i < 3; i++) {
    resetPeakRss();
    const t0 = performance.now();
    result = fn();
    const seconds = (performance.now() - t0) / 1000;
    peak = Math.max(peak, memoryReport().peakRssMiB);
    best = Math.min(best, seconds);
    if (seconds >= repeatBelow) break;
  }
  return { result: result as T, timing: { seconds: best, peakMiB: peak } };
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

interface Target { text: string; pass: (row: Row) => boolean | undefined }
interface Row { stage: string; ours?: Timing; peer?: Timing; note?: string; target?: Target; /** the peer's stage name */ peerStage?: string }

const speedup = (r: Row): number | undefined => (r.ours && r.peer ? r.peer.seconds / r.ours.seconds : undefined);
const atLeast = (x: number, text: string): Target => ({ text, pass: (r) => { const s = speedup(r); return s === undefined ? undefined : s >= x; } });

/** Stage 1 (inference) makes the arrays when they are missing. */
function ensureArrays(root: string): void {
  const need = ["X", "y"].flatMap((part) => ["train", "val"].map((split) => arrayPath(root, "FMNIST", split as "train", "mrl", part as "X")));
  if (need.every((f) => fs.existsSync(f))) return;
  console.error(`bench: ${need.find((f) => !fs.existsSync(f))} is missing; running the inference stage`);
  const run = spawnSync(process.execPath, [path.join(PROJECT_ROOT, "lib", "dist", "cli.js"), "infer", "--root", root], { stdio: "inherit" });
  if (run.status !== 0) throw new Error("the inference stage failed");
}

/** mAP@10 of a shortlist (first 10 columns). */
function map10(nn: IntMatrix, queryLabels: Int32Array, databaseLabels: Int32Array): number {
  return computeMetrics(nn, queryLabels, databaseLabels, [10]).atK[0].mAP;
}

function firstColumns(m: IntMatrix, cols: number): IntMatrix {
  const out = new Int32Array(m.rows * cols);
  for (let r = 0; r < m.rows; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + cols), r * cols);
  return intMatrix(m.rows, cols, out);
}

/** Seeded gaussian-ish rows (sum of uniforms) without holding the file: ImageNet-1K shapes for the scaling run. */
function writeSynthetic(file: string, rows: number, cols: number, seed: number): void {
  let a = seed >>> 0;
  writeMatrixNpyStreaming(file, rows, cols, (_start, block) => {
    const d = block.data;
    for (let i = 0; i < d.length; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      d[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5 + ((a >>> 8) & 0xffff) / 65536 - 0.5;
    }
  });
}

/** The Python peer as a child process that runs one stage per command, so stages alternate with ours. */
class PeerProcess {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;

  constructor(job: object, work: string) {
    const jobFile = path.join(work, "peer-job.json");
    fs.writeFileSync(jobFile, JSON.stringify(job));
    this.child = spawn("/usr/bin/python3", [path.join(PROJECT_ROOT, "bench", "retrieval_peer.py"), jobFile], { stdio: ["pipe", "pipe", "inherit"] });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async run(command: string): Promise<Record<string, number | string>> {
    this.child.stdin.write(`${command}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`the Python peer exited during "${command}" (exit ${this.child.exitCode})`);
    return JSON.parse(next.value) as Record<string, number | string>;
  }

  async timing(command: string): Promise<Timing & { record: Record<string, number | string> }> {
    const record = await this.run(command);
    return { seconds: Number(record.seconds), peakMiB: Number(record.peak_mib), record };
  }

  close(): void {
    this.child.stdin.end();
  }
}

function fmt(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(digits);
}

function table(rows: Row[]): string {
  const lines = ["| stage | ours (s) | peer (s) | speed-up (peer/ours) | peak RSS ours / peer (MiB) | target | result |", "|---|---|---|---|---|---|---|"];
  for (const r of rows) {
    const s = speedup(r);
    const verdict = r.target ? r.target.pass(r) : undefined;
    lines.push(`| ${r.stage} | ${fmt(r.ours?.seconds, 3)} | ${fmt(r.peer?.seconds, 3)} | ${s === undefined ? "–" : `${fmt(s)}x`} | ` +
      `${fmt(r.ours?.peakMiB, 0)} / ${fmt(r.peer?.peakMiB, 0)} | ${r.target?.text ?? ""}${r.note ? ` ${r.note}` : ""} | ` +
      `${verdict === undefined ? "" : verdict ? "PASS" : "MISS"} |`);
  }
  return lines.join("\n");
}

/** Best of `repeat` (ours, peer) alternations for one stage. */
async function pair<T>(repeat: number, ours: () => { result: T; timing: Timing }, peer?: () => Promise<Timing & { record: Record<string, number | string> }>):
  Promise<{ result: T; ours: Timing; peer?: Timing; record?: Record<string, number | string> }> {
  let best: { result: T; ours: Timing; peer?: Timing; record?: Record<string, number | string> } | undefined;
  for (let i = 0; i < repeat; i++) {
    const o = ours();
    const p = peer ? await peer() : undefined;
    if (!best) best = { result: o.result, ours: o.timing, peer: p, record: p?.record };
    else {
      if (o.timing.seconds < best.ours.seconds) best.ours = o.timing;
      if (p && best.peer && p.seconds < best.peer.seconds) best.peer = p;
    }
  }
  return best!;
}

async function main(): Promise<void> {
  if (process.argv.includes("--scale")) return scaleMain(process.argv.slice(2));
  const o = parseOptions(process.argv.slice(2));
  ensureArrays(o.root);
  const work = path.join(PROJECT_ROOT, "build", "bench-work");
  fs.mkdirSync(work, { recursive: true });
  const files = {
    databaseX: arrayPath(o.root, "FMNIST", "train", "mrl", "X"), queriesX: arrayPath(o.root, "FMNIST", "val", "mrl", "X"),
    databaseY: arrayPath(o.root, "FMNIST", "train", "mrl", "y"), queriesY: arrayPath(o.root, "FMNIST", "val", "mrl", "y"),
  };
  const k = 2048, hnswK = 200, R = o.repeat;
  const rows: Row[] = [];
  const log = (s: string): void => console.error(`bench: ${s}`);
  const scale = o.quick ? { n: 128_000, nq: 5_000 } : { n: 1_281_167, nq: 50_000 };
  const scaleDim = 16, scaleK = 200;
  const scaleFiles = { database: path.join(work, `synthetic_${scale.n}x${o.scaleWidth}.npy`), queries: path.join(work, `synthetic_${scale.nq}x${o.scaleWidth}.npy`) };
  const nDbWanted = o.quick ? 10000 : undefined, nQWanted = o.quick ? 1000 : undefined;

  const load = timed(() => {
    const databaseAll = readMatrixPrefixNpy(files.databaseX, { end: nDbWanted });
    const queries = readMatrixPrefixNpy(files.queriesX, { end: nQWanted });
    return { database: databaseAll, queries, dbLabels: readLabelsNpy(files.databaseY).slice(0, databaseAll.rows), qLabels: readLabelsNpy(files.queriesY).slice(0, queries.rows) };
  });
  let { database, queries } = load.result as { database?: Matrix; queries?: Matrix };
  const { dbLabels, qLabels } = load.result;
  const nDb = database!.rows, nQ = queries!.rows;
  const peer = new PeerProcess({
    work, database: files.databaseX, queries: files.queriesX, database_labels: files.databaseY, query_labels: files.queriesY,
    n_db: nDb, n_q: nQ, k, hnsw_k: hnswK, scale: { database: scaleFiles.database, queries: scaleFiles.queries, dim: scaleDim, k: scaleK },
  }, work);
  const versions = await peer.run("versions");
  log(`database ${nDb} x ${database!.cols}, queries ${nQ}, k=${k}, ${defaultThreads()} threads; stages alternate with the Python peer`);
  rows.push({ stage: `load arrays (${nDb} + ${nQ} x 2048 float32)`, ours: load.timing, peer: await peer.timing("load") });

  const indexes = new Map<string, FaissIndex>();
  const shortlists = new Map<number, IntMatrix>();
  for (const dim of [8, 16, 128, 2048]) {
    const r = await pair(R, () => timed(() => {
      const index = buildIndex("exactl2", nestedNormalized(database!, dim), "add", true);
      return { index, nn: knnLabels(searchIndex(index, nestedNormalized(queries!, dim), k, "search", true)) };
    }), () => peer.timing(`exact ${dim}`));
    if (dim === 16 || dim === 2048) indexes.set(`exact${dim}`, r.result.index);
    shortlists.set(dim, r.result.nn);
    writeShortlistNpy(path.join(work, `nn${dim}.npy`), r.result.nn);
    rows.push({ stage: `exact L2 d=${dim}: build + search k=${k}${dim === 8 ? " (funnel input)" : ""}`, ours: r.ours, peer: r.peer, target: atLeast(1 / 1.1, "≥ 0.91x (within 1.1x)") });
    log(`exact ${dim}: ours ${r.ours.seconds.toFixed(2)} s, peer ${r.peer!.seconds.toFixed(2)} s`);
  }
  const hnsw = await pair(R, () => timed(() => {
    const index = buildIndex("hnsw32", nestedNormalized(database!, 16), "add", true);
    index.setEfSearch(hnswK); // FAISS 1.7.3 returns -1 past efSearch results
    return { index, nn: knnLabels(searchIndex(index, nestedNormalized(queries!, 16), hnswK, "search", true)) };
  }), () => peer.timing("hnsw"));
  indexes.set("hnsw32", hnsw.result.index);
  rows.push({ stage: `HNSW32 d=16: build + search k=${hnswK}, efSearch ${hnswK}`, ours: hnsw.ours, peer: hnsw.peer, target: atLeast(1 / 1.1, "≥ 0.91x (within 1.1x)") });
  log(`hnsw32: ours ${hnsw.ours.seconds.toFixed(2)} s, peer ${hnsw.peer!.seconds.toFixed(2)} s`);

  const nn16 = shortlists.get(16)!, nn8 = shortlists.get(8)!, nn2048 = shortlists.get(2048)!;
  rows.push({ stage: "normalize database + queries at 2048 (peer's reranking cell; ours needs none)", peer: await peer.timing("normalize") });
  // the default precision (experiment/types.ts: DEFAULT_RERANK_PRECISION, which experiments and rerank calls default to) carries the targets;
  // the other precision is shown next to it
  const prec = rerankPrecision(), other = prec === "float32" ? "float64" : "float32";
  const rr = await pair(R, () => timed(() => rerank(database!, queries!, nn16, 2048, 200), 2), () => peer.timing("rerank"));
  const rrOther = timed(() => rerank(database!, queries!, nn16, 2048, 200, { precision: other }), 2);
  const rr1 = timed(() => rerank(database!, queries!, nn16, 2048, 200, { threads: 1 }), 2);
  const rrNoOrder = timed(() => rerank(database!, queries!, nn16, 2048, 200, { localityOrder: false }), 2);
  const identical = [rr1, rrNoOrder].every((x) => x.result.data.every((v, i) => v === rr.result.data[i]));
  const rowsDiffer = (a: IntMatrix, b: IntMatrix): number => {
    let n = 0;
    for (let r = 0; r < a.rows; r++) if (a.data.subarray(r * a.cols, (r + 1) * a.cols).some((v, j) => v !== b.data[r * b.cols + j])) n++;
    return n;
  };
  rows.push({ stage: `rerank 16 -> 2048 @200 (${defaultThreads()} threads, ${prec}: the default)`, ours: rr.ours, peer: rr.peer, target: atLeast(5, "≥ 5x") });
  rows.push({ stage: `rerank 16 -> 2048 @200 (${defaultThreads()} threads, ${other})`, ours: rrOther.timing, peer: rr.peer,
    note: `(${rowsDiffer(rr.result, rrOther.result)} of ${nQ} queries order their 200 ids differently from ${prec})` });
  rows.push({ stage: `rerank 16 -> 2048 @200 (${defaultThreads()} threads, ${prec}, queries in shortlist order, not locality order)`, ours: rrNoOrder.timing });
  rows.push({ stage: `rerank 16 -> 2048 @200 (1 thread, ${prec})`, ours: rr1.timing, note: identical ? `(ids identical across the ${prec} rerank rows)` : "(ids DIFFER between rerank rows)" });
  const funnelSpec = { dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] };
  const fn = await pair(R, () => timed(() => funnelRerank(database!, queries!, nn8, funnelSpec), 2), () => peer.timing("funnel"));
  const fnOther = timed(() => funnelRerank(database!, queries!, nn8, funnelSpec, { precision: other }), 2);
  const fn1 = timed(() => funnelRerank(database!, queries!, nn8, funnelSpec, { threads: 1 }), 2);
  const fnNoOrder = timed(() => funnelRerank(database!, queries!, nn8, funnelSpec, { localityOrder: false }), 2);
  rows.push({ stage: `funnel 8 -> [16,32,64,128,2048] @[200,100,50,25,10] (${defaultThreads()} threads, ${prec}: the default)`, ours: fn.ours, peer: fn.peer, target: atLeast(5, "≥ 5x") });
  rows.push({ stage: `funnel (${defaultThreads()} threads, ${other})`, ours: fnOther.timing, peer: fn.peer, target: atLeast(5, "≥ 5x"),
    note: `(${rowsDiffer(fn.result, fnOther.result)} of ${nQ} queries order their 10 ids differently from ${prec})` });
  rows.push({ stage: `funnel (${defaultThreads()} threads, ${prec}, queries in shortlist order, not locality order)`, ours: fnNoOrder.timing });
  rows.push({ stage: `funnel (1 thread, ${prec})`, ours: fn1.timing });
  writeShortlistNpy(path.join(work, "ours_rerank.npy"), rr.result);
  writeShortlistNpy(path.join(work, "ours_funnel.npy"), fn.result);
  log(`rerank ours ${rr.ours.seconds.toFixed(2)} s, peer ${rr.peer!.seconds.toFixed(2)} s; funnel ours ${fn.ours.seconds.toFixed(2)} s, peer ${fn.peer!.seconds.toFixed(2)} s`);

  const ks = [10, 25, 50, 100];
  const met = await pair(R, () => timed(() => computeMetrics(nn2048, qLabels, dbLabels, ks), 2), () => peer.timing("metrics"));
  const metricsAgree = Math.abs(met.result.atK[0].mAP - Number(met.record?.["mAP@10"])) < 1e-9;
  rows.push({ stage: `metrics (top-1, mAP/precision/recall/top-k @[${ks}]) on ${nQ} x ${k}`, ours: met.ours, peer: met.peer, target: atLeast(5, "≥ 5x"),
    note: metricsAgree ? "(mAP@10 equal to the peer's)" : `(mAP@10 ${met.result.atK[0].mAP} vs peer ${met.record?.["mAP@10"]})` });

  const csvFile = path.join(work, "ours.csv");
  const csvW = await pair(R, () => timed(() => writeShortlistCsv(csvFile, nn2048), 2), () => peer.timing("csv_write"));
  rows.push({ stage: `shortlist CSV write (${nQ} x ${k})`, ours: csvW.ours, peer: csvW.peer, target: atLeast(3, "≥ 3x") });
  const csvR = await pair(R, () => timed(() => readShortlistCsv(csvFile), 2), () => peer.timing("csv_read"));
  rows.push({ stage: "shortlist CSV read", ours: csvR.ours, peer: csvR.peer });
  const npyW = timed(() => writeShortlistNpy(path.join(work, "ours_shortlist.npy"), nn2048), 1);
  rows.push({ stage: "shortlist .npy write (int32), vs pandas CSV write", ours: npyW.timing, peer: csvW.peer });

  // Adaptive retrieval vs exact 2048-d: query time only (indexes built above), same queries, mAP@10 of both.
  const exactQ = await pair(R, () => timed(() => knnLabels(searchIndex(indexes.get("exact2048")!, nestedNormalized(queries!, 2048), 10, "s", true))),
    () => peer.timing("adaptive_exact"));
  const adaptiveH = await pair(R, () => timed(() => {
    const shortlist = knnLabels(searchIndex(indexes.get("hnsw32")!, nestedNormalized(queries!, 16), 200, "s", true));
    return firstColumns(rerank(database!, queries!, shortlist, 2048, 200), 10);
  }), () => peer.timing("adaptive_hnsw"));
  const adaptiveHOther = await pair(R, () => timed(() => {
    const shortlist = knnLabels(searchIndex(indexes.get("hnsw32")!, nestedNormalized(queries!, 16), 200, "s", true));
    return firstColumns(rerank(database!, queries!, shortlist, 2048, 200, { precision: other }), 10);
  }));
  const adaptiveE = await pair(R, () => timed(() => {
    const shortlist = knnLabels(searchIndex(indexes.get("exact16")!, nestedNormalized(queries!, 16), 200, "s", true));
    return firstColumns(rerank(database!, queries!, shortlist, 2048, 200), 10);
  }), () => peer.timing("adaptive_exact16"));
  const mapExact = map10(exactQ.result, qLabels, dbLabels);
  const mapH = map10(adaptiveH.result, qLabels, dbLabels), mapE = map10(adaptiveE.result, qLabels, dbLabels);
  const mapHOther = map10(adaptiveHOther.result, qLabels, dbLabels);
  const peerMap = (r: { record?: Record<string, number | string> }): string => Number(r.record?.["mAP@10"]).toFixed(4);
  const adaptiveTarget = (t: Timing, m: number): Target => ({
    text: `≥ 10x faster than exact 2048-d (ours: ${fmt(exactQ.ours.seconds / t.seconds)}x), mAP@10 within 0.005 (${(m - mapExact >= 0 ? "+" : "") + (m - mapExact).toFixed(4)})`,
    pass: () => exactQ.ours.seconds / t.seconds >= 10 && Math.abs(m - mapExact) <= 0.005,
  });
  const adaptiveRows: Row[] = [
    { stage: `query time: exact L2 2048-d, k=10 (mAP@10 ours ${mapExact.toFixed(4)}, peer ${peerMap(exactQ)})`, ours: exactQ.ours, peer: exactQ.peer },
    { stage: `query time: adaptive HNSW32 16-d k=200 + rerank 2048 @200, ${prec}: the default (mAP@10 ours ${mapH.toFixed(4)}, peer ${peerMap(adaptiveH)})`, ours: adaptiveH.ours, peer: adaptiveH.peer,
      target: adaptiveTarget(adaptiveH.ours, mapH) },
    { stage: `query time: adaptive HNSW32 16-d k=200 + rerank 2048 @200, ${other} (mAP@10 ours ${mapHOther.toFixed(4)}, peer ${peerMap(adaptiveH)})`, ours: adaptiveHOther.ours, peer: adaptiveH.peer,
      target: adaptiveTarget(adaptiveHOther.ours, mapHOther) },
    { stage: `query time: adaptive exact 16-d k=200 + rerank 2048 @200, ${prec} (mAP@10 ours ${mapE.toFixed(4)}, peer ${peerMap(adaptiveE)})`, ours: adaptiveE.ours, peer: adaptiveE.peer,
      target: adaptiveTarget(adaptiveE.ours, mapE) },
  ];
  log(`adaptive: exact ${exactQ.ours.seconds.toFixed(2)} s, hnsw+rerank ${adaptiveH.ours.seconds.toFixed(2)} s, exact16+rerank ${adaptiveE.ours.seconds.toFixed(2)} s`);

  // Free the Fashion-MNIST arrays and indexes (both sides) before the scaling run, so its peak is its own.
  database = undefined;
  queries = undefined;
  indexes.clear();
  shortlists.clear();
  gc();
  await peer.run("free");

  // ---- scaling: ImageNet-1K shapes at a low dim, streamed from disk -------------------------------------------
  const scaleRows: Row[] = [];
  if (o.scale) {
    const gen = timed(() => {
      if (!fs.existsSync(scaleFiles.database)) writeSynthetic(scaleFiles.database, scale.n, o.scaleWidth, 1);
      if (!fs.existsSync(scaleFiles.queries)) writeSynthetic(scaleFiles.queries, scale.nq, o.scaleWidth, 2);
    });
    const gib = (fs.statSync(scaleFiles.database).size / 2 ** 30).toFixed(1);
    log(`scaling data: ${scale.n} x ${o.scaleWidth} (${gib} GiB) and ${scale.nq} queries, written in ${gen.timing.seconds.toFixed(1)} s`);
    const run = await pair(1, () => timed(() => {
      const index = FaissIndex.create("exactl2", scaleDim);
      addNpyToIndex(index, scaleFiles.database, scaleDim);
      const q = l2NormalizeRows(readMatrixPrefixNpy(scaleFiles.queries, { dims: scaleDim }));
      return searchIndex(index, q, scaleK, "search", true).nq;
    }), () => peer.timing("scale"));
    scaleRows.push({ stage: `scaling: ${scale.n} x ${o.scaleWidth} file (${gib} GiB) -> ${scaleDim}-d prefix, exact L2 build + search ${scale.nq} queries k=${scaleK}`,
      ours: run.ours, peer: run.peer, target: { text: "finishes on 2 cores / 24 GiB", pass: () => run.result === scale.nq } });
    log(`scaling: ours ${run.ours.seconds.toFixed(1)} s, peak ${run.ours.peakMiB.toFixed(0)} MiB; peer ${run.peer!.seconds.toFixed(1)} s`);
  }
  peer.close();

  // Agreement with the peer's outputs (exact distance ties may order differently: numpy's argsort is not stable).
  const agree = (ours: string, theirs: string): string => {
    const r = spawnSync("/usr/bin/python3", ["-c", "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); print(f'{(a==b).all(axis=1).mean()*100:.2f}')",
      path.join(work, ours), path.join(work, theirs)], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : "?";
  };
  const rerankAgree = agree("ours_rerank.npy", "peer_rerank.npy"), funnelAgree = agree("ours_funnel.npy", "peer_funnel.npy");

  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const text = [
    `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `peer: Python ${versions.python}, FAISS ${versions.faiss} (${versions.omp_threads} OpenMP threads), numpy ${versions.numpy}, pandas ${versions.pandas}.`,
    `Data: Fashion-MNIST MRL embeddings, ${nDb} x 2048 database, ${nQ} queries${o.quick ? " (--quick)" : ""}. Stages alternate between ours and the ` +
      `peer (best of ${R}); stages under 2 s are best of 3. Peak RSS: the process's high-water mark during the stage (Linux clear_refs), loaded arrays included.`,
    "",
    table([...rows, ...adaptiveRows, ...scaleRows]),
    "",
    `Peer = the original notebooks' code: faiss_nn (prefix, normalize_L2, IndexFlatL2 / IndexHNSWFlat, search), reranking's ` +
      `per-query numpy loop (naive_rerank), compute_metrics' per-query loop, pandas to_csv / read_csv. Rerank and funnel start from ` +
      `the same shortlists on both sides; rows with identical ids: rerank ${rerankAgree}%, funnel ${funnelAgree}% (the rest differ only in the ` +
      `order of exactly tied or float-rounding-close distances: numpy's argsort is not stable, and it works in float32).`,
  ].join("\n");
  console.log(text);
  writeFileAtomic(o.out, `# Benchmark (npm run bench${o.quick ? " -- --quick" : ""}), ${new Date().toISOString()}\n\n${text}\n`);
  console.error(`bench: wrote ${path.relative(process.cwd(), o.out)}`);
  if (o.scale && !o.keepScale) for (const f of Object.values(scaleFiles)) fs.rmSync(f, { force: true });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
