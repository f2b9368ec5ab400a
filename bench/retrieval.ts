/**
 * `npm run bench`: every retrieval stage of this project against a Python peer (bench/retrieval_peer.py: the
 * original notebooks' logic with Debian's python3-faiss, numpy and pandas), in one run on the same arrays,
 * plus the adaptive-retrieval speed comparison and an ImageNet-1K-shape scaling run. Prints a table and
 * writes it to results/bench.md (atomically).
 *
 *   node --expose-gc build/bench/retrieval.js [--root DIR] [--quick] [--no-scale] [--scale-width W]
 *     [--out FILE] [--keep-scale]
 *
 * --root (or MRL_ROOT): folder with FMNIST_{train,val}_mrl1_e0_ff2048-{X,y}.npy; made by the inference
 * stage when missing. --quick: 10k database rows, 1k queries, a 128k-row scaling run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  addNpyToIndex, arrayPath, buildIndex, closeWorkers, computeMetrics, defaultThreads, FaissIndex, funnelRerank, intMatrix,
  knnLabels, l2NormalizeRows, memoryReport, nestedNormalized, PROJECT_ROOT, readLabelsNpy, readMatrixPrefixNpy, readShortlistCsv,
  rerank, resetPeakRss, searchIndex, writeFileAtomic, writeMatrixNpyStreaming, writeShortlistCsv, writeShortlistNpy,
  type IntMatrix, type Matrix,
} from "@mrl-retrieval/lib";

interface Options { root: string; quick: boolean; scale: boolean; scaleWidth: number; out: string; keepScale: boolean }

function parseOptions(args: string[]): Options {
  const o: Options = {
    root: process.env.MRL_ROOT ?? path.join(PROJECT_ROOT, "data", "retrieval"), quick: false, scale: true, scaleWidth: 0,
    out: path.join(PROJECT_ROOT, "results", "bench.md"), keepScale: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--root") o.root = path.resolve(args[++i]);
    else if (a === "--quick") o.quick = true;
    else if (a === "--no-scale") o.scale = false;
    else if (a === "--scale-width") o.scaleWidth = Number(args[++i]);
    else if (a === "--out") o.out = path.resolve(args[++i]);
    else if (a === "--keep-scale") o.keepScale = true;
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

function runPeer(job: object, work: string): Map<string, Record<string, number | string>> {
  const jobFile = path.join(work, `peer-job-${process.pid}.json`);
  fs.writeFileSync(jobFile, JSON.stringify(job));
  console.error(`bench: running the Python peer (${(job as { stages: string[] }).stages.join(", ")})`);
  const run = spawnSync("/usr/bin/python3", [path.join(PROJECT_ROOT, "bench", "retrieval_peer.py"), jobFile],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 });
  fs.rmSync(jobFile, { force: true });
  if (run.status !== 0) throw new Error(`the Python peer failed (exit ${run.status})`);
  const out = new Map<string, Record<string, number | string>>();
  for (const line of run.stdout.trim().split("\n")) {
    const rec = JSON.parse(line) as Record<string, number | string>;
    out.set(String(rec.stage), rec);
  }
  return out;
}

const peerTiming = (peer: Map<string, Record<string, number | string>>, stage: string): Timing | undefined => {
  const r = peer.get(stage);
  return r ? { seconds: Number(r.seconds), peakMiB: Number(r.peak_mib) } : undefined;
};

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

function main(): void {
  const o = parseOptions(process.argv.slice(2));
  ensureArrays(o.root);
  const work = path.join(PROJECT_ROOT, "build", "bench-work");
  fs.mkdirSync(work, { recursive: true });
  const files = {
    databaseX: arrayPath(o.root, "FMNIST", "train", "mrl", "X"), queriesX: arrayPath(o.root, "FMNIST", "val", "mrl", "X"),
    databaseY: arrayPath(o.root, "FMNIST", "train", "mrl", "y"), queriesY: arrayPath(o.root, "FMNIST", "val", "mrl", "y"),
  };
  const k = 2048, hnswK = 200;
  const rows: Row[] = [];
  const log = (s: string): void => console.error(`bench: ${s}`);

  // ---- ours ----------------------------------------------------------------------------------------------
  const load = timed(() => {
    const databaseAll = readMatrixPrefixNpy(files.databaseX, { shared: true, end: o.quick ? 10000 : undefined });
    const queries = readMatrixPrefixNpy(files.queriesX, { shared: true, end: o.quick ? 1000 : undefined });
    return { database: databaseAll, queries, dbLabels: readLabelsNpy(files.databaseY).slice(0, databaseAll.rows), qLabels: readLabelsNpy(files.queriesY).slice(0, queries.rows) };
  });
  let { database, queries } = load.result as { database?: Matrix; queries?: Matrix };
  const { dbLabels, qLabels } = load.result;
  const nDb = database!.rows, nQ = queries!.rows;
  log(`database ${nDb} x ${database!.cols}, queries ${nQ}, k=${k}, ${defaultThreads()} threads`);
  rows.push({ stage: `load arrays (${nDb} + ${nQ} x 2048 float32)`, ours: load.timing, peerStage: "load arrays" });

  const indexes = new Map<string, FaissIndex>();
  const shortlists = new Map<number, IntMatrix>();
  for (const dim of [8, 16, 128, 2048]) {
    const r = timed(() => {
      const index = buildIndex("exactl2", nestedNormalized(database!, dim), "add", true);
      return { index, nn: knnLabels(searchIndex(index, nestedNormalized(queries!, dim), k, "search", true)) };
    });
    if (dim === 16 || dim === 2048) indexes.set(`exact${dim}`, r.result.index);
    shortlists.set(dim, r.result.nn);
    writeShortlistNpy(path.join(work, `nn${dim}.npy`), r.result.nn);
    rows.push({ stage: `exact L2 d=${dim}: build + search k=${k}${dim === 8 ? " (funnel input)" : ""}`, ours: r.timing, target: atLeast(1 / 1.1, "≥ 0.91x (within 1.1x)"), peerStage: `exact ${dim}` });
    log(`exact ${dim}: ${r.timing.seconds.toFixed(2)} s`);
  }
  const hnsw = timed(() => {
    const index = buildIndex("hnsw32", nestedNormalized(database!, 16), "add", true);
    index.setEfSearch(hnswK); // FAISS 1.7.3 returns -1 past efSearch results
    return { index, nn: knnLabels(searchIndex(index, nestedNormalized(queries!, 16), hnswK, "search", true)) };
  });
  indexes.set("hnsw32", hnsw.result.index);
  rows.push({ stage: `HNSW32 d=16: build + search k=${hnswK}, efSearch ${hnswK}`, ours: hnsw.timing, target: atLeast(1 / 1.1, "≥ 0.91x (within 1.1x)"), peerStage: "hnsw32 16" });
  log(`hnsw32: ${hnsw.timing.seconds.toFixed(2)} s`);

  const nn16 = shortlists.get(16)!, nn8 = shortlists.get(8)!, nn2048 = shortlists.get(2048)!;
  const rr = timed(() => rerank(database!, queries!, nn16, 2048, 200), 2);
  const rr1 = timed(() => rerank(database!, queries!, nn16, 2048, 200, { threads: 1 }), 2);
  const identical = rr.result.data.every((v, i) => v === rr1.result.data[i]);
  rows.push({ stage: `rerank 16 -> 2048 @200 (${defaultThreads()} threads)`, ours: rr.timing, target: atLeast(5, "≥ 5x"), peerStage: "rerank" });
  rows.push({ stage: "rerank 16 -> 2048 @200 (1 thread)", ours: rr1.timing, note: identical ? "(ids identical to the threaded run)" : "(DIFFERS from the threaded run)" });
  const funnelSpec = { dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] };
  const fn = timed(() => funnelRerank(database!, queries!, nn8, funnelSpec), 2);
  const fn1 = timed(() => funnelRerank(database!, queries!, nn8, funnelSpec, { threads: 1 }), 2);
  rows.push({ stage: `funnel 8 -> [16,32,64,128,2048] @[200,100,50,25,10] (${defaultThreads()} threads)`, ours: fn.timing, target: atLeast(5, "≥ 5x"), peerStage: "funnel" });
  rows.push({ stage: "funnel (1 thread)", ours: fn1.timing });
  writeShortlistNpy(path.join(work, "ours_rerank.npy"), rr.result);
  writeShortlistNpy(path.join(work, "ours_funnel.npy"), fn.result);
  log(`rerank ${rr.timing.seconds.toFixed(2)} s, funnel ${fn.timing.seconds.toFixed(2)} s`);

  const ks = [10, 25, 50, 100];
  const met = timed(() => computeMetrics(nn2048, qLabels, dbLabels, ks), 2);
  rows.push({ stage: `metrics (top-1, mAP/precision/recall/top-k @[${ks}]) on ${nQ} x ${k}`, ours: met.timing, target: atLeast(5, "≥ 5x"), peerStage: "metrics" });

  const csvFile = path.join(work, "ours.csv");
  const csvW = timed(() => writeShortlistCsv(csvFile, nn2048), 2);
  rows.push({ stage: `shortlist CSV write (${nQ} x ${k})`, ours: csvW.timing, target: atLeast(3, "≥ 3x"), peerStage: "csv write" });
  const csvR = timed(() => readShortlistCsv(csvFile), 2);
  rows.push({ stage: "shortlist CSV read", ours: csvR.timing, peerStage: "csv read" });
  const npyW = timed(() => writeShortlistNpy(path.join(work, "ours_shortlist.npy"), nn2048), 1);
  rows.push({ stage: "shortlist .npy write (int32; peer: pandas CSV)", ours: npyW.timing, peerStage: "csv write" });

  // Adaptive retrieval vs exact 2048-d: query time only (indexes built above), same queries, mAP@10 of both.
  const exactQ = timed(() => knnLabels(searchIndex(indexes.get("exact2048")!, nestedNormalized(queries!, 2048), 10, "s", true)));
  const adaptiveH = timed(() => {
    const shortlist = knnLabels(searchIndex(indexes.get("hnsw32")!, nestedNormalized(queries!, 16), 200, "s", true));
    return firstColumns(rerank(database!, queries!, shortlist, 2048, 200), 10);
  });
  const adaptiveE = timed(() => {
    const shortlist = knnLabels(searchIndex(indexes.get("exact16")!, nestedNormalized(queries!, 16), 200, "s", true));
    return firstColumns(rerank(database!, queries!, shortlist, 2048, 200), 10);
  });
  const mapExact = map10(exactQ.result, qLabels, dbLabels);
  const mapH = map10(adaptiveH.result, qLabels, dbLabels), mapE = map10(adaptiveE.result, qLabels, dbLabels);
  const adaptiveRows: Row[] = [
    { stage: `query time: exact L2 2048-d, k=10 (mAP@10 ${mapExact.toFixed(4)})`, ours: exactQ.timing, peerStage: "adaptive: exact 2048" },
    { stage: `query time: adaptive HNSW32 16-d k=200 + rerank 2048 @200 (mAP@10 ${mapH.toFixed(4)})`, ours: adaptiveH.timing, peerStage: "adaptive: hnsw32 16 + rerank 2048" },
    { stage: `query time: adaptive exact 16-d k=200 + rerank 2048 @200 (mAP@10 ${mapE.toFixed(4)})`, ours: adaptiveE.timing },
  ];
  const adaptiveTarget = (t: Timing, m: number): Target => ({
    text: `≥ 10x faster than exact 2048-d (ours: ${fmt(exactQ.timing.seconds / t.seconds)}x), mAP@10 within 0.005 (${(m - mapExact >= 0 ? "+" : "") + (m - mapExact).toFixed(4)})`,
    pass: () => exactQ.timing.seconds / t.seconds >= 10 && Math.abs(m - mapExact) <= 0.005,
  });
  adaptiveRows[1].target = adaptiveTarget(adaptiveH.timing, mapH);
  adaptiveRows[2].target = adaptiveTarget(adaptiveE.timing, mapE);
  log(`adaptive: exact ${exactQ.timing.seconds.toFixed(2)} s, hnsw+rerank ${adaptiveH.timing.seconds.toFixed(2)} s, exact16+rerank ${adaptiveE.timing.seconds.toFixed(2)} s`);

  // Free the Fashion-MNIST arrays and indexes before the scaling run, so its peak is its own.
  database = undefined;
  queries = undefined;
  indexes.clear();
  shortlists.clear();
  closeWorkers();
  gc();

  // ---- scaling: ImageNet-1K shapes at a low dim, streamed from disk -------------------------------------------
  const scaleRows: Row[] = [];
  const scale = o.quick ? { n: 128_000, nq: 5_000 } : { n: 1_281_167, nq: 50_000 };
  const scaleDim = 16, scaleK = 200;
  const scaleFiles = { database: path.join(work, `synthetic_${scale.n}x${o.scaleWidth}.npy`), queries: path.join(work, `synthetic_${scale.nq}x${o.scaleWidth}.npy`) };
  if (o.scale) {
    const gen = timed(() => {
      if (!fs.existsSync(scaleFiles.database)) writeSynthetic(scaleFiles.database, scale.n, o.scaleWidth, 1);
      if (!fs.existsSync(scaleFiles.queries)) writeSynthetic(scaleFiles.queries, scale.nq, o.scaleWidth, 2);
    });
    const gib = (fs.statSync(scaleFiles.database).size / 2 ** 30).toFixed(1);
    log(`scaling data: ${scale.n} x ${o.scaleWidth} (${gib} GiB) and ${scale.nq} queries, ${gen.timing.seconds.toFixed(1)} s`);
    const run = timed(() => {
      const index = FaissIndex.create("exactl2", scaleDim);
      addNpyToIndex(index, scaleFiles.database, scaleDim);
      const q = l2NormalizeRows(readMatrixPrefixNpy(scaleFiles.queries, { dims: scaleDim }));
      return searchIndex(index, q, scaleK, "search", true).nq;
    });
    scaleRows.push({ stage: `scaling: ${scale.n} x ${o.scaleWidth} file (${gib} GiB) -> ${scaleDim}-d prefix, exact L2 build + search ${scale.nq} queries k=${scaleK}`, ours: run.timing, peerStage: "scale",
      target: { text: "finishes on 2 cores / 24 GiB", pass: () => run.result === scale.nq } });
    log(`scaling: ${run.timing.seconds.toFixed(1)} s, peak ${run.timing.peakMiB.toFixed(0)} MiB`);
  }

  // ---- the Python peer, on the same arrays and shortlists ------------------------------------------------------
  const peer = runPeer({
    work, database: files.databaseX, queries: files.queriesX, database_labels: files.databaseY, query_labels: files.queriesY,
    n_db: nDb, n_q: nQ, k, hnsw_k: hnswK, exact_dims: [8, 16, 128, 2048],
    stages: ["exact", "hnsw", "rerank", "funnel", "metrics", "csv", "adaptive"], scale: {},
  }, work);
  const scalePeer = o.scale ? runPeer({ work, n_db: 0, n_q: 0, k, stages: ["scale"], scale: { database: scaleFiles.database, queries: scaleFiles.queries, dim: scaleDim, k: scaleK } }, work) : new Map();
  for (const r of [...rows, ...adaptiveRows]) if (r.peerStage) r.peer = peerTiming(peer, r.peerStage);
  for (const r of scaleRows) if (r.peerStage) r.peer = peerTiming(scalePeer, r.peerStage);
  const peerMapExact = Number(peer.get("adaptive: exact 2048 mAP@10")?.value);
  const peerMapH = Number(peer.get("adaptive: hnsw32 16 + rerank 2048 mAP@10")?.value);

  // Agreement with the peer's outputs (exact distance ties may order differently: numpy's argsort is not stable).
  const agree = (ours: string, theirs: string): string => {
    const r = spawnSync("/usr/bin/python3", ["-c", "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); print(f'{(a==b).all(axis=1).mean()*100:.2f}')",
      path.join(work, ours), path.join(work, theirs)], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : "?";
  };
  const rerankAgree = agree("ours_rerank.npy", "peer_rerank.npy"), funnelAgree = agree("ours_funnel.npy", "peer_funnel.npy");

  const versions = peer.get("versions") ?? {};
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const all = [...rows, ...adaptiveRows, ...scaleRows];
  const text = [
    `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `peer: Python ${versions.python}, FAISS ${versions.faiss} (${versions.omp_threads} OpenMP threads), numpy ${versions.numpy}, pandas ${versions.pandas}.`,
    `Data: Fashion-MNIST MRL embeddings, ${nDb} x 2048 database, ${nQ} queries${o.quick ? " (--quick)" : ""}. Each stage once; ` +
      "stages under 2 s best of 3. Peak RSS: the process's high-water mark during the stage (Linux clear_refs), loaded arrays included.",
    "",
    table(all),
    "",
    `Peer = the original notebooks' code: faiss_nn (prefix, normalize_L2, IndexFlatL2 / IndexHNSWFlat, search), reranking's ` +
      `per-query numpy loop (naive_rerank), compute_metrics' per-query loop, pandas to_csv / read_csv. Rerank and funnel start from ` +
      `the same shortlists on both sides; rows with identical ids: rerank ${rerankAgree}%, funnel ${funnelAgree}% (the rest differ only in the ` +
      `order of exactly tied or float-rounding-close distances). Peer adaptive mAP@10: exact ${peerMapExact.toFixed(4)}, HNSW32+rerank ${peerMapH.toFixed(4)}.`,
  ].join("\n");
  console.log(text);
  writeFileAtomic(o.out, `# Benchmark (npm run bench${o.quick ? " -- --quick" : ""}), ${new Date().toISOString()}\n\n${text}\n`);
  console.error(`bench: wrote ${path.relative(process.cwd(), o.out)}`);
  if (o.scale && !o.keepScale) for (const f of Object.values(scaleFiles)) fs.rmSync(f, { force: true });
}

main();
