/**
 * faiss_nn's HNSW indexes (hnsw8, hnsw32) against the original notebook's own path in Python FAISS
 * (test/hnsw_peer.py: faiss.normalize_L2 on the prefix, IndexHNSWFlat(d, M), one add): the same normalized
 * vectors bit for bit, the same graph, and the same ids on every query, at several dims, k and efSearch.
 * Real data: the shipped MRL model on the first 20000 / 2000 Fashion-MNIST images, plus near-duplicates of
 * some queries in the database (copies at 1e-4 relative noise, as ImageNet's val images have in train): there
 * float64 normalization (the project's before) and FAISS's float32 one round differently.
 * More than 16384 rows, so a build in blocks of that size (the project's before) would give another graph.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  arrayPath, loadExperiment, loadRetrievalArrays, matrix, runInference, writeLabelsNpy, writeMatrixNpy, type EfSearchSweep, type IndexType, type Matrix,
} from "@mrl-retrieval/lib/internal";
import { python, REPO, seededFloats, tempDir, TEST_EXPERIMENT } from "./helpers";

const DATASET = "FMNIST";
/** Columns kept from the 2048-d embeddings: the largest dim searched here (prefixes are all HNSW sees). */
const COLS = 64;

let database: Matrix;
let queries: Matrix;
let databaseLabels: Int32Array;
let queryLabels: Int32Array;

/** The first `cols` columns of the first `rows` rows, copied. */
function head(m: Matrix, rows: number, cols: number): Matrix {
  const out = matrix(rows, cols);
  for (let r = 0; r < rows; r++) out.data.set(m.data.subarray(r * m.cols, r * m.cols + cols), r * cols);
  return out;
}

before(async () => {
  const config = loadExperiment({ root: tempDir(), inference: { limit: { database: 20000, queries: 2000 } } }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  const arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
  const real = head(arrays.database.matrix(), arrays.database.rows, COLS);
  queries = head(arrays.queries, arrays.queries.rows, COLS);
  // two copies of every 10th query, each value times (1 + 1e-4 u), u uniform in [-1, 1)
  const copies = 2, every = 10, dups = Math.floor(queries.rows / every) * copies;
  database = matrix(real.rows + dups, COLS);
  database.data.set(real.data);
  const noise = seededFloats(dups * COLS, 14);
  databaseLabels = new Int32Array(database.rows);
  databaseLabels.set(arrays.databaseLabels);
  queryLabels = arrays.queryLabels;
  for (let i = 0; i < dups; i++) {
    const q = Math.floor(i / copies) * every, r = real.rows + i;
    for (let c = 0; c < COLS; c++) database.data[r * COLS + c] = queries.data[q * COLS + c] * (1 + 1e-4 * noise[i * COLS + c]);
    databaseLabels[r] = queryLabels[q];
  }
});

/** A root holding `db` / `q` (and labels) under the original names. */
function rootWith(db: Matrix, q: Matrix): string {
  const root = tempDir("mrl-hnsw-");
  writeMatrixNpy(arrayPath(root, DATASET, "train", "mrl", "X"), db);
  writeLabelsNpy(arrayPath(root, DATASET, "train", "mrl", "y"), databaseLabels.subarray(0, db.rows));
  writeMatrixNpy(arrayPath(root, DATASET, "val", "mrl", "X"), q);
  writeLabelsNpy(arrayPath(root, DATASET, "val", "mrl", "y"), queryLabels.subarray(0, q.rows));
  return root;
}

/** test/hnswChild.ts with `job`, on one OpenMP thread; its stdout. */
function oneThread(job: Record<string, unknown>): string {
  const child = spawnSync(process.execPath, [path.join(__dirname, "hnswChild.js"), JSON.stringify(job)],
    { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" }, maxBuffer: 64 * 2 ** 20 });
  if (child.status !== 0) throw new Error(`hnswChild (${job.mode}) failed (${child.status}):\n${child.stderr}`);
  return child.stdout;
}

interface Run { name: string; k: number; efSearch?: number }
interface PeerResult {
  M: number; dim: number; run: string; positions: number; identicalPositions: number; rows: number; identicalRows: number;
  missing: number; ourMissing: number; problems: string[]; fileIdentical: boolean; graphEqual: boolean; vectorsEqual: boolean;
}

/**
 * faiss_nn (test/hnswChild.ts, on one OpenMP thread) then the Python peer on the same root; the peer's results
 * per (M, dim, run).
 */
function compareWithPython(root: string, ms: number[], dims: number[], runs: Run[]): PeerResult[] {
  const out = tempDir("mrl-hnsw-out-");

  oneThread({ mode: "stage", root, dataset: DATASET, model: "mrl", nesting: dims, indexTypes: ms.map((m) => `hnsw${m}` as IndexType), runs, out });
  const peer = spawnSync("/usr/bin/python3", [path.join(REPO, "test", "hnsw_peer.py"), JSON.stringify({
    database: arrayPath(root, DATASET, "train", "mrl", "X"), queries: arrayPath(root, DATASET, "val", "mrl", "X"), ours: out,
    index_files: path.join(root, "index_files", "mrl"), dataset: DATASET, dims, ms, runs,
  })], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  if (peer.status !== 0) throw new Error(`hnsw_peer.py failed (${peer.status}):\n${peer.stderr}`);
  const results = JSON.parse(peer.stdout.trim().split("\n").pop()!) as PeerResult[];
  assert.equal(results.length, ms.length * dims.length * runs.length, "a result per M, dim and run");
  return results;
}

const percent = (r: PeerResult): string => `${(100 * r.identicalPositions / r.positions).toFixed(2)}%`;

test("hnsw8 and hnsw32 equal Python's IndexHNSWFlat(d, M) (one add, normalize_L2) on every query, with near-duplicates", (t) => {
  const root = rootWith(database, queries);
  const runs: Run[] = [{ name: "k10", k: 10 }, { name: "k10-ef128", k: 10, efSearch: 128 }, { name: "k100", k: 100 }];
  const results = compareWithPython(root, [8, 32], [8, 16, 64], runs);
  // every agreement figure first, so a failure still shows them all
  for (const r of results) {
    t.diagnostic(`HNSW${r.M} at ${r.dim}d, ${r.run}: ${percent(r)} of ids equal Python's (${r.identicalRows}/${r.rows} queries identical, ` +
      `${r.missing} -1 ids; graph ${r.graphEqual ? "equal" : "differs"}, vectors ${r.vectorsEqual ? "equal" : "differ"})`);
  }
  for (const r of results) {
    const what = `HNSW${r.M} at ${r.dim}d, ${r.run}`;
    assert.equal(r.vectorsEqual, true, `${what}: the stored normalized vectors are faiss.normalize_L2's, bit for bit`);
    assert.equal(r.graphEqual, true, `${what}: the same graph as one add in Python`);
    assert.deepEqual(r.problems, [], `${what}: every query agrees (tie-aware)`);
    assert.equal(r.identicalPositions, r.positions, `${what}: every id equals Python's`);
    assert.equal(r.fileIdentical, true, `${what}: Python's search of our index file gives our ids`);
  }
});

test("k close to the database size: HNSW's missing neighbours come back as -1, where Python's are", () => {
  const small = matrix(500, COLS, database.data.subarray(0, 500 * COLS));
  const root = rootWith(small, matrix(50, COLS, queries.data.subarray(0, 50 * COLS)));
  const [r] = compareWithPython(root, [8], [8], [{ name: "k490", k: 490 }]);
  assert.ok(r.missing > 0, `FAISS finds fewer than k=490 of 500 neighbours for some queries (${r.missing} -1 ids)`);
  assert.equal(r.ourMissing, r.missing, "as many -1 ids as Python");
  assert.deepEqual(r.problems, []);
  assert.equal(r.identicalPositions, r.positions, "every id, -1 included, at Python's position");
  assert.ok(fs.existsSync(path.join(root, "index_files", "mrl", `${DATASET}_8dim_hnsw8.index`)));
});

test("efSearch sweep: recall@10 vs exact of each efSearch equals Python's IndexHNSWFlat against IndexFlatL2", () => {
  const root = rootWith(database, queries);
  const dim = 16, efSearch = [16, 64, 256], at = 10;
  const sweep = JSON.parse(oneThread({ mode: "sweep", root, dataset: DATASET, model: "mrl", indexTypes: ["hnsw8", "hnsw32"], dim, efSearch, at })) as EfSearchSweep;
  assert.deepEqual(sweep.points.map((p) => `${p.index} ${p.efSearch}`), ["hnsw8", "hnsw32"].flatMap((t) => efSearch.map((ef) => `${t} ${ef}`)));
  const peer = python<Record<string, number[]>>(`
import faiss, json, numpy as np, sys
faiss.omp_set_num_threads(1)
dim, at, efs = ${dim}, ${at}, ${JSON.stringify(efSearch)}
xb = np.array(np.load(sys.argv[1])[:, :dim], copy=True); faiss.normalize_L2(xb)
xq = np.array(np.load(sys.argv[2])[:, :dim], copy=True); faiss.normalize_L2(xq)
flat = faiss.IndexFlatL2(dim); flat.add(xb)
_, E = flat.search(xq, at)
out = {}
for m in [8, 32]:
    index = faiss.IndexHNSWFlat(dim, m); index.add(xb)
    out[f"hnsw{m}"] = []
    for ef in efs:
        index.hnsw.efSearch = ef
        _, I = index.search(xq, at)
        out[f"hnsw{m}"].append(float(np.mean([len(np.intersect1d(E[q], I[q])) / at for q in range(len(xq))])))
print(json.dumps(out))`, [arrayPath(root, DATASET, "train", "mrl", "X"), arrayPath(root, DATASET, "val", "mrl", "X")]);
  for (const p of sweep.points) {
    const expected = peer[p.index][efSearch.indexOf(p.efSearch)];
    assert.ok(Math.abs(p.recall - expected) < 1e-12, `${p.index} efSearch ${p.efSearch}: recall ${p.recall}, Python ${expected}`);
    assert.ok(p.queriesPerSecond > 0 && p.seconds > 0);
  }
  const recallOf = (index: string, ef: number): number => sweep.points.find((p) => p.index === index && p.efSearch === ef)!.recall;
  assert.ok(recallOf("hnsw32", 256) > recallOf("hnsw8", 16), "a wider search of a denser graph finds more of the exact neighbours");
  assert.ok(recallOf("hnsw32", 256) > 0.99, `hnsw32 at efSearch 256: recall ${recallOf("hnsw32", 256)}`);
  assert.equal(sweep.queries, queries.rows);
  assert.ok(sweep.exact.queriesPerSecond > 0);
});
