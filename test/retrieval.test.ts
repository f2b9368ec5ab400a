import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  compareRankings, computeMetrics, DatabaseVectors, funnelRerank, intMatrix, loadExperiment, loadRetrievalArrays, localityOrder, matrix, mflops, MrlError,
  neighborsPath, readShortlistCsv, readShortlistNpy, rerank, rerankedPath, runInference, runIndexSearch, runRerankStage, runRetrieval, writeMatrixNpy,
  writeShortlistCsv, writeShortlistNpy, type ArtifactSpec, type Experiment, type IntMatrix, type Matrix, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { python, REPO, tempDir, TEST_EXPERIMENT } from "./helpers";
import { referenceFunnel, referenceLocalityOrder, referenceOf, sameIds } from "./reference";

let config: Experiment;
let arrays: RetrievalArrays;
let spec: ArtifactSpec;

before(async () => {
  // Real data: the shipped MRL model on the first 4000 / 400 Fashion-MNIST images (experiments/fmnist-test.json).
  config = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
  spec = { root: config.root, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
});

/** Unit-normalized prefix of row r, in float64 (the oracle's own normalization). */
function unitPrefix(m: Matrix, r: number, dim: number): Float64Array {
  const v = Float64Array.from(m.data.subarray(r * m.cols, r * m.cols + dim));
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}

function dist2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

const rowOf = (m: IntMatrix, r: number): number[] => Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols));

test("faiss_nn shortlists equal a brute-force search over normalized prefixes (ties within 1e-5)", () => {
  const results = runIndexSearch(spec, arrays, { k: config.k, nesting: config.nesting, quiet: true });
  assert.deepEqual(results.map((r) => r.action), config.nesting.map(() => "built"));
  for (const dim of [8, 64]) {
    const shortlist = readShortlistCsv(neighborsPath(spec, dim, config.k));
    assert.deepEqual([shortlist.rows, shortlist.cols], [arrays.queries.rows, config.k]);
    const db = Array.from({ length: arrays.database.rows }, (_, j) => unitPrefix(arrays.database.matrix(), j, dim));
    for (const qi of [0, 7, 199, 399]) {
      const q = unitPrefix(arrays.queries, qi, dim);
      const sorted = db.map((v) => dist2(q, v)).sort((a, b) => a - b);
      const got = rowOf(shortlist, qi).map((id) => dist2(q, db[id]));
      got.forEach((d, p) => assert.ok(Math.abs(d - sorted[p]) < 1e-5, `dim ${dim} query ${qi} position ${p}: ${d} vs ${sorted[p]}`));
      assert.equal(new Set(rowOf(shortlist, qi)).size, config.k, "ids are distinct");
    }
  }
  // second run reuses everything
  assert.deepEqual(runIndexSearch(spec, arrays, { k: config.k, nesting: config.nesting, quiet: true }).map((r) => r.action),
    config.nesting.map(() => "skipped"));
});

test("index files and shortlists interoperate with Python faiss and pandas", () => {
  const dim = 16;
  const got = python<{ same: boolean; ntotal: number; d: number }>(`
import faiss, numpy as np, pandas as pd, sys, json
index = faiss.read_index(sys.argv[1])
X = np.load(sys.argv[2])[:, :16].copy(); faiss.normalize_L2(X)
D, I = index.search(X, int(sys.argv[4]))
ours = pd.read_csv(sys.argv[3], header=None).to_numpy()
# exact ties may swap neighbours; compare the distances of both orders
Xb = index.reconstruct_n(0, index.ntotal)
dist = lambda ids: ((Xb[ids] - X[:, None, :]) ** 2).sum(-1)
print(json.dumps({"same": bool(np.allclose(dist(ours), D, atol=1e-5)), "ntotal": index.ntotal, "d": index.d}))`,
  [path.join(config.root, "index_files/mrl/FMNIST_16dim_exactl2.index"), arrays.files.queriesX, neighborsPath(spec, dim, config.k), String(config.k)]);
  assert.deepEqual(got, { same: true, ntotal: arrays.database.rows, d: dim });
});

/** Oracle: candidates sorted by distance between unit prefixes at `dim`, stable. */
function oracleRerank(candidates: number[], qi: number, dim: number): number[] {
  const q = unitPrefix(arrays.queries, qi, dim);
  return candidates.map((id, p) => ({ id, p, d: dist2(q, unitPrefix(arrays.database.matrix(), id, dim)) }))
    .sort((a, b) => a.d - b.d || a.p - b.p).map((x) => x.id);
}

test("adaptive rerank and funnel equal brute-force distance sorts", () => {
  const base = readShortlistCsv(neighborsPath(spec, 16, config.k));
  const adaptive = rerank(arrays.database, arrays.queries, base, 2048, 200);
  assert.deepEqual([adaptive.rows, adaptive.cols], [arrays.queries.rows, 200]);
  for (const qi of [0, 3, 250]) assert.deepEqual(rowOf(adaptive, qi), oracleRerank(rowOf(base, qi).slice(0, 200), qi, 2048));

  const base8 = readShortlistCsv(neighborsPath(spec, 8, config.k));
  const funnel = funnelRerank(arrays.database, arrays.queries, base8, { dims: [16, 64, 2048], shortlists: [200, 50, 10] });
  assert.equal(funnel.cols, 10);
  for (const qi of [1, 100]) {
    let c = rowOf(base8, qi).slice(0, 200);
    c = oracleRerank(c, qi, 16).slice(0, 50);
    c = oracleRerank(c, qi, 64).slice(0, 10);
    assert.deepEqual(rowOf(funnel, qi), oracleRerank(c, qi, 2048));
  }
});

/** The first n rows of a shortlist, its first `cols` columns. */
function firstRows(m: IntMatrix, n: number, cols = m.cols): IntMatrix {
  const out = new Int32Array(n * cols);
  for (let r = 0; r < n; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + cols), r * cols);
  return intMatrix(n, cols, out);
}

test("on the real embeddings, adaptive and funnel are bit-identical to the original loop in both precisions (threads, in memory or from the file); the same query order", () => {
  // the first 100 queries; the oracles are plain loops
  const n = 100, database = arrays.database.matrix();
  const queries = matrix(n, arrays.queries.cols, arrays.queries.data.subarray(0, n * arrays.queries.cols));
  const base16 = firstRows(readShortlistCsv(neighborsPath(spec, 16, config.k)), n, 200);
  const base8 = firstRows(readShortlistCsv(neighborsPath(spec, 8, config.k)), n, 200);
  const fromFile = new DatabaseVectors(arrays.files.databaseX, database.rows, database.cols, false);
  const funnel = { dims: [16, 64, 2048], shortlists: [200, 50, 10] };
  const q = arrays.queries;
  assert.deepEqual(Array.from(localityOrder(q.data, q.cols, q.rows)), Array.from(referenceLocalityOrder(q.data, q.cols, q.rows)), "the queries' locality order");
  for (const precision of ["float64", "float32"] as const) {
    const adaptive = referenceOf(precision)(database, queries, base16, 2048, 200);
    const cascade = referenceFunnel(precision, database, queries, base8, funnel.dims, funnel.shortlists);
    for (const [where, db] of [["Matrix", database], ["DatabaseVectors in memory", arrays.database], ["DatabaseVectors from its file", fromFile]] as const) {
      for (const threads of [1, 2]) {
        const what = `${precision}, ${where}, ${threads} threads`;
        assert.ok(sameIds(rerank(db, queries, base16, 2048, 200, { precision, threads }), adaptive), `adaptive, ${what}`);
        assert.ok(sameIds(funnelRerank(db, queries, base8, funnel, { precision, threads }), cascade), `funnel, ${what}`);
      }
    }
  }
});

test("adaptive and funnel agree with the original notebook's numpy loop (naive_rerank) up to ties and float32 rounding", () => {
  const dir = tempDir("mrl-naive-");
  const base16 = readShortlistCsv(neighborsPath(spec, 16, config.k)), base8 = readShortlistCsv(neighborsPath(spec, 8, config.k));
  writeShortlistNpy(path.join(dir, "nn16.npy"), base16);
  writeShortlistNpy(path.join(dir, "nn8.npy"), base8);
  // bench/retrieval_peer.py's naive_rerank is reranking.ipynb's loop as written, on arrays normalized at 2048
  python(`
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from retrieval_peer import naive_rerank, normalize
db = normalize(np.load(sys.argv[2])); q = normalize(np.load(sys.argv[3])); d = sys.argv[4]
np.save(d + "/adaptive.npy", naive_rerank(db, q, 0, [2048], [200], np.load(d + "/nn16.npy").astype(np.int64)))
np.save(d + "/funnel.npy", naive_rerank(db, q, 1, [16, 64, 2048], [200, 50, 10], np.load(d + "/nn8.npy").astype(np.int64)))
print("{}")`, [path.join(REPO, "bench"), arrays.files.databaseX, arrays.files.queriesX, dir]);
  const database = arrays.database.matrix();
  const distance = (dim: number) => (row: number, id: number): number => dist2(unitPrefix(arrays.queries, row, dim), unitPrefix(database, id, dim));
  const theirs = { adaptive: readShortlistNpy(path.join(dir, "adaptive.npy")), funnel: readShortlistNpy(path.join(dir, "funnel.npy")) };
  for (const precision of ["float64", "float32"] as const) {
    const ours = {
      adaptive: rerank(database, arrays.queries, base16, 2048, 200, { precision }),
      funnel: funnelRerank(database, arrays.queries, base8, { dims: [16, 64, 2048], shortlists: [200, 50, 10] }, { precision }),
    };
    for (const kind of ["adaptive", "funnel"] as const) {
      const agreement = compareRankings(theirs[kind], ours[kind], distance(2048), 1e-5);
      assert.ok(agreement.identical > 0.9 * agreement.queries, `${kind}, ${precision}: ${JSON.stringify(agreement)}`);
      assert.deepEqual(agreement.differing, [], `${kind}, ${precision}: ${JSON.stringify(agreement)}`);
    }
  }
});

test("metrics equal hand-computed values on a tiny case", () => {
  // database labels: ids 0..5 -> classes [0, 0, 1, 1, 1, 2]; queries of class 1 and 0
  const dbLabels = Int32Array.from([0, 0, 1, 1, 1, 2]);
  const queryLabels = Int32Array.from([1, 0]);
  const nn = intMatrix(2, 4, Int32Array.from([2, 0, 3, 5, /* */ 5, 1, -1, 0]));
  const m = computeMetrics(nn, queryLabels, dbLabels, [2, 4]);
  // query 0: hits at 1 and 3 -> AP@4 = (1/1 + 2/3) / 4, AP@2 = (1/1) / 2; precision@4 = 2/4, recall@4 = 2/3
  // query 1: hits at 2 and 4 (-1 is a miss) -> AP@4 = (1/2 + 2/4) / 4, AP@2 = (1/2) / 2; recall@4 = 2/2
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(m.top1, 0.5);
  close(m.atK[0].mAP, (1 / 2 + 1 / 4) / 2);
  close(m.atK[1].mAP, ((1 + 2 / 3) / 4 + (1 / 2 + 2 / 4) / 4) / 2);
  close(m.atK[0].precision, (1 / 2 + 1 / 2) / 2);
  close(m.atK[1].precision, (2 / 4 + 2 / 4) / 2);
  close(m.atK[1].recall, (2 / 3 + 2 / 2) / 2);
  close(m.atK[0].topK, 1);
  close(computeMetrics(nn, queryLabels, dbLabels, [4], 1300).atK[0].recall, (2 / 1300 + 2 / 1300) / 2);
  assert.throws(() => computeMetrics(nn, queryLabels, dbLabels, [5]), /k=5 is outside the shortlist's 1\.\.4 neighbours/);
  close(mflops.exact(16, 60000), 0.96);
  close(mflops.adaptive(16, 2048, 200, 60000), 0.96 + 0.4096);
  close(mflops.funnel(8, [16, 32], [200, 100], 60000), 0.48 + 0.0032 + 0.0032);
});

test("the whole experiment writes metrics whose mAP@10 rises from 8 to 64 dims on real data", () => {
  const [run] = runRetrieval(config, { quiet: true });
  assert.deepEqual([run.model, run.indexType], ["mrl", "exactl2"]);
  const result = { metrics: run.result.metrics.rows, metricsFile: run.result.metrics.file };
  const exact = result.metrics.filter((r) => r.method === "exact");
  assert.deepEqual(exact.map((r) => r.retrievalDim), config.nesting);
  const map10 = (dim: number): number => exact.find((r) => r.retrievalDim === dim)!["mAP@10"] as number;
  assert.ok(map10(64) > map10(8), `mAP@10 64d ${map10(64)} vs 8d ${map10(8)}`);
  const adaptive = result.metrics.find((r) => r.method === "adaptive")!;
  assert.ok(Math.abs((adaptive["mAP@10"] as number) - map10(2048)) < 0.02, "adaptive 16->2048 is close to exact 2048");
  const funnel = result.metrics.find((r) => r.method === "funnel")!;
  assert.equal(funnel["mAP@25"], undefined, "funnel rows stop at the final shortlist");
  const csv = python<{ shape: number[]; cols: string[] }>(`
import pandas as pd, sys, json
t = pd.read_csv(sys.argv[1]); print(json.dumps({"shape": list(t.shape), "cols": list(t.columns)[:9]}))`, [result.metricsFile]);
  assert.equal(csv.shape[0], result.metrics.length);
  assert.deepEqual(csv.cols, ["model", "index", "method", "config", "retrievalDim", "rerankDim", "shortlist", "MFLOPs", "top1"]);
});

test("adaptive and funnel run on HNSW shortlists with the paper's settings: missing candidates (-1) skipped, rows next to exactl2 with recall vs exact", () => {
  // hnsw8 over 4000 rows with k = 256 finds fewer than k for most queries: -1s inside the first 200
  const hnsw = loadExperiment({ root: config.root, indexTypes: ["exactl2", "hnsw8"] }, TEST_EXPERIMENT);
  const runs = runRetrieval(hnsw, { quiet: true });
  const hnswSpec: ArtifactSpec = { ...spec, indexType: "hnsw8" };
  const [adaptive] = hnsw.adaptive;
  const input = readShortlistCsv(neighborsPath(hnswSpec, adaptive.retrievalDim, hnsw.k));
  const reranked = readShortlistCsv(rerankedPath(hnswSpec, adaptive));
  let withMissing = 0;
  for (let q = 0; q < input.rows; q++) {
    const real = rowOf(input, q).slice(0, adaptive.shortlist).filter((id) => id >= 0);
    if (real.length < adaptive.shortlist) withMissing++;
    const out = rowOf(reranked, q);
    assert.deepEqual(out.slice(real.length), new Array(adaptive.shortlist - real.length).fill(-1), `query ${q}: the tail is missing`);
    // its real candidates in the float64 oracle's order, up to float32 rounding ties
    const expected = oracleRerank(real, q, adaptive.rerankDim), unitQ = unitPrefix(arrays.queries, q, adaptive.rerankDim);
    const d = (id: number): number => dist2(unitQ, unitPrefix(arrays.database.matrix(), id, adaptive.rerankDim));
    expected.forEach((id, p) => assert.ok(out[p] === id || Math.abs(d(out[p]) - d(id)) < 1e-6, `query ${q}, position ${p}: ${out[p]} vs ${id}`));
    assert.deepEqual([...out.slice(0, real.length)].sort((x, y) => x - y), [...real].sort((x, y) => x - y), `query ${q}: its real candidates`);
  }
  assert.ok(withMissing > 10, `hnsw8 left ${withMissing} queries short of ${adaptive.shortlist} candidates: the case under test`);
  const rows = runs.find((r) => r.indexType === "hnsw8")!.result.metrics.rows;
  for (const method of ["exact", "adaptive", "funnel"] as const) {
    const row = rows.find((r) => r.method === method)!;
    assert.ok((row["mAP@10"] as number) > 0.5, `hnsw8 ${method}: mAP@10 ${row["mAP@10"]}`);
  }
  for (const row of rows.filter((r) => r.method === "exact")) {
    const recall = row["recall@10 vs exact"] as number;
    assert.ok(recall > 0.5 && recall <= 1, `hnsw8 ${row.config}: recall@10 vs exact ${recall}`);
  }
});

test("bad retrieval input gets clear errors naming the file", () => {
  const bad = (fn: () => unknown, re: RegExp): void => assert.throws(fn, (e: unknown) => e instanceof MrlError && re.test(e.message), String(re));
  bad(() => runIndexSearch(spec, arrays, { k: arrays.database.rows + 1, nesting: [8] }), /FMNIST_train_mrl1_e0_ff2048-X\.npy: k=4001 is larger than the database \(4000 rows\)/);
  bad(() => runIndexSearch(spec, arrays, { k: 0, nesting: [8] }), /k must be a positive integer, got 0/);
  bad(() => runIndexSearch(spec, arrays, { k: 10, nesting: [4096] }), /X\.npy: nesting dim 4096 is larger than the array's 2048 dims/);
  const short = intMatrix(arrays.queries.rows, 50, new Int32Array(arrays.queries.rows * 50));
  bad(() => rerank(arrays.database, arrays.queries, short, 2048, 200), /cannot rerank 200 candidates: the shortlist has only 50 per query/);
  bad(() => funnelRerank(arrays.database, arrays.queries, short, { dims: [16, 32], shortlists: [40, 40] }), /must be strictly decreasing/);
  bad(() => funnelRerank(arrays.database, arrays.queries, short, { dims: [16, 32], shortlists: [40] }), /must be non-empty lists of the same length/);
  bad(() => loadExperiment({ indexTypes: ["ivf" as never] }, TEST_EXPERIMENT), /fmnist-test\.json: field "indexTypes\[0\]" is "ivf"; expected one of: exactl2, hnsw8, hnsw32/);

  // a shortlist CSV with an id outside the database
  const root = tempDir();
  const local: ArtifactSpec = { ...spec, root };
  const ids = new Int32Array(arrays.queries.rows * 20);
  ids[25] = 999999;
  writeShortlistCsv(neighborsPath(local, 16, 20), intMatrix(arrays.queries.rows, 20, ids));
  bad(() => runRerankStage(local, arrays, { k: 20, adaptive: [{ retrievalDim: 16, rerankDim: 64, shortlist: 10 }], funnels: [], quiet: true }),
    /exactl2_16dim_20shortlist_FMNIST\.csv: neighbour id 999999 at line 2 is outside the database's 0\.\.3999/);
  bad(() => runRerankStage(local, arrays, { k: 20, adaptive: [{ retrievalDim: 32, rerankDim: 64, shortlist: 10 }], funnels: [], quiet: true }),
    /exactl2_32dim_20shortlist_FMNIST\.csv: shortlist not found/);

  // X / y row mismatch, and query dim != database dim
  const r2 = tempDir();
  for (const f of ["train", "val"]) {
    fs.copyFileSync(path.join(config.root, `FMNIST_${f}_mrl1_e0_ff2048-y.npy`), path.join(r2, `FMNIST_${f}_mrl1_e0_ff2048-y.npy`));
  }
  writeMatrixNpy(path.join(r2, "FMNIST_train_mrl1_e0_ff2048-X.npy"), matrix(10, 4));
  writeMatrixNpy(path.join(r2, "FMNIST_val_mrl1_e0_ff2048-X.npy"), matrix(400, 8));
  bad(() => loadRetrievalArrays(r2, "FMNIST", "mrl"), /FMNIST_train_mrl1_e0_ff2048-y\.npy: has 4000 labels but .*X\.npy has 10 rows/);
  writeMatrixNpy(path.join(r2, "FMNIST_train_mrl1_e0_ff2048-X.npy"), matrix(4000, 4));
  bad(() => loadRetrievalArrays(r2, "FMNIST", "mrl"), /FMNIST_val_mrl1_e0_ff2048-X\.npy: queries are 8-d but the database .* is 4-d/);
  // all-zero rows cannot be normalized
  const zeroSpec: ArtifactSpec = { ...spec, root: r2 };
  writeMatrixNpy(path.join(r2, "FMNIST_val_mrl1_e0_ff2048-X.npy"), matrix(400, 4));
  bad(() => runIndexSearch(zeroSpec, loadRetrievalArrays(r2, "FMNIST", "mrl"), { k: 5, nesting: [4], quiet: true }), /X\.npy: row 0 is all zeros in its first 4 dims and cannot be L2-normalized/);
});
