/**
 * Larger than memory: with a budget too small to hold the database, every stage reads it from its file in
 * blocks, and the outputs are byte-identical to the in-memory run. Real data: the shipped MRL model on the
 * first 4000 / 400 Fashion-MNIST images (experiments/fmnist-test.json).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  FaissIndex, flatIndexShape, indexPath, intMatrix, l2NormalizeRows, loadExperiment, loadRetrievalArrays, MrlError, neighborsPath,
  prefixColumns, readShortlist, runIndexSearch, runInference, runRetrieval, RunningTopK, type ArtifactSpec, type Experiment,
} from "@mrl-retrieval/lib/internal";
import { python, tempDir, TEST_EXPERIMENT } from "./helpers";

let config: Experiment;
/** A budget the test arrays' database (4000 x 2048 float32, 33 MB) does not fit, but one block does. */
const SMALL_BUDGET_GB = 0.1;

before(async () => {
  config = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
});

/** Every file under root/<sub> (recursively), relative path -> bytes, manifests excluded (they hold times). */
function outputs(root: string, subs: string[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== "manifest.json") out.set(path.relative(root, p), fs.readFileSync(p));
    }
  };
  for (const sub of subs) walk(path.join(root, sub));
  return out;
}

/** A copy of the test arrays in a new root (hard links: the arrays are only read). */
function rootWithArrays(): string {
  const root = tempDir();
  for (const name of fs.readdirSync(config.root).filter((n) => n.endsWith(".npy"))) fs.linkSync(path.join(config.root, name), path.join(root, name));
  return root;
}

test("out of core (budget smaller than the database) gives byte-identical shortlists, reranks, indexes and metrics", () => {
  const inMemory = loadExperiment({ root: rootWithArrays() }, TEST_EXPERIMENT);
  const outOfCore = loadExperiment({ root: rootWithArrays(), memoryGb: SMALL_BUDGET_GB }, TEST_EXPERIMENT);
  // the in-memory run gets these arrays (same files, same budget), loaded: every stage reads rows from memory
  const held = loadRetrievalArrays(inMemory.root, inMemory.dataset, "mrl");
  assert.equal(held.database.inMemory, true);
  held.database.matrix();
  assert.equal(loadRetrievalArrays(outOfCore.root, outOfCore.dataset, "mrl", { memoryGb: SMALL_BUDGET_GB }).database.inMemory, false);
  runRetrieval(inMemory, { quiet: true });
  runRetrieval(outOfCore, { quiet: true });
  assert.ok(held.database.loaded);
  const a = outputs(inMemory.root, ["neighbors", "index_files", "metrics"]);
  const b = outputs(outOfCore.root, ["neighbors", "index_files", "metrics"]);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  assert.ok([...a.keys()].some((f) => f.includes("funnel_retrieval")) && [...a.keys()].some((f) => f.includes("reranked")));
  for (const [file, bytes] of a) assert.ok(bytes.equals(b.get(file)!), `${file} differs between the in-memory and out-of-core runs`);
});

test("block-by-block exact search merges to the whole-database search for any block size in 1024-row steps", () => {
  const arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
  const k = 50, dim = 16;
  const db = l2NormalizeRows(prefixColumns(arrays.database.matrix(), dim));
  const q = l2NormalizeRows(prefixColumns(arrays.queries, dim));
  const whole = FaissIndex.create("exactl2", dim);
  whole.add(db);
  const expected = whole.search(q, k);
  // Blocks in multiples of 1024 rows (as the stage cuts them): FAISS computes distances in 1024-row BLAS tiles, so
  // each distance is the same float as in one whole-database search (other cuts move the last bit).
  for (const blockRows of [1024, 2048, 3072]) {
    const topk = new RunningTopK(q.rows, k);
    for (let start = 0; start < db.rows; start += blockRows) {
      const end = Math.min(db.rows, start + blockRows);
      const index = FaissIndex.create("exactl2", dim);
      index.add({ rows: end - start, cols: dim, data: db.data.subarray(start * dim, end * dim) });
      const kb = Math.min(k, end - start);
      const found = index.search(q, kb);
      topk.merge(found.distances, found.labels, kb, start);
    }
    // same distances everywhere; ids equal except where FAISS itself may order equal distances either way
    assert.deepEqual(topk.distances, expected.distances, `distances with ${blockRows}-row blocks`);
    let differ = 0;
    for (let i = 0; i < topk.labels.length; i++) {
      if (topk.labels[i] !== expected.labels[i]) {
        differ++;
        assert.ok(expected.distances[i] === expected.distances[i + 1] || expected.distances[i] === expected.distances[i - 1], `id differs at ${i} without a tie`);
      }
    }
    assert.ok(differ <= topk.labels.length * 1e-3, `${differ} ids differ with ${blockRows}-row blocks`);
  }
});

test("an exact search interrupted between blocks resumes from its checkpoint and gives the same shortlist", () => {
  const root = rootWithArrays();
  const spec: ArtifactSpec = { root, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
  const arrays = loadRetrievalArrays(root, config.dataset, "mrl", { memoryGb: SMALL_BUDGET_GB });
  const options = { k: config.k, nesting: [2048], quiet: true, checkpointSeconds: 0 };
  assert.throws(() => runIndexSearch(spec, arrays, { ...options, onBlock: (_dim, rows) => { if (rows < arrays.database.rows) throw new MrlError("interrupted"); } }), /interrupted/);
  assert.ok(fs.existsSync(`${neighborsPath(spec, 2048, config.k)}.partial`), "a checkpoint was left");
  assert.ok(!fs.existsSync(neighborsPath(spec, 2048, config.k)), "no shortlist was written");
  const [resumed] = runIndexSearch(spec, arrays, options);
  assert.ok((resumed.resumedRows ?? 0) > 0, "the second run started from the checkpoint");
  assert.ok(!fs.existsSync(`${neighborsPath(spec, 2048, config.k)}.partial`), "the checkpoint is removed once done");
  const fresh = rootWithArrays();
  runIndexSearch({ ...spec, root: fresh }, loadRetrievalArrays(fresh, config.dataset, "mrl"), { k: config.k, nesting: [2048], quiet: true });
  assert.ok(fs.readFileSync(neighborsPath(spec, 2048, config.k)).equals(fs.readFileSync(neighborsPath({ ...spec, root: fresh }, 2048, config.k))));
  assert.ok(fs.readFileSync(indexPath(spec, 2048)).equals(fs.readFileSync(indexPath({ ...spec, root: fresh }, 2048))));
});

test("exact index files written block by block are FAISS's own format: Python reads them, and we search Python's", () => {
  const root = rootWithArrays();
  const spec: ArtifactSpec = { root, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
  runIndexSearch(spec, loadRetrievalArrays(root, config.dataset, "mrl", { memoryGb: SMALL_BUDGET_GB }), { k: 10, nesting: [64], quiet: true });
  const file = indexPath(spec, 64);
  assert.deepEqual(flatIndexShape(file), { dim: 64, ntotal: 4000 });
  const x = path.join(root, `${config.dataset}_train_mrl1_e0_ff2048-X.npy`);
  const check = python<{ ntotal: number; d: number; maxdiff: number; same_ids: boolean }>(`
import faiss, numpy as np, pandas as pd, sys, json
index = faiss.read_index(sys.argv[1])
x = np.ascontiguousarray(np.load(sys.argv[2])[:, :64]); faiss.normalize_L2(x)
stored = index.reconstruct_n(0, index.ntotal)
q = np.ascontiguousarray(np.load(sys.argv[3])[:, :64]); faiss.normalize_L2(q)
_, I = index.search(q, 10)
ours = pd.read_csv(sys.argv[4], header=None).to_numpy()
print(json.dumps({"ntotal": int(index.ntotal), "d": int(index.d), "maxdiff": float(np.abs(stored - x).max()), "same_ids": bool((I == ours).mean() > 0.999)}))`,
  [file, x, x.replace("_train_", "_val_"), neighborsPath(spec, 64, 10)]);
  assert.equal(check.ntotal, 4000);
  assert.equal(check.d, 64);
  assert.ok(check.maxdiff < 1e-6, `stored vectors differ from normalized prefixes by ${check.maxdiff}`);
  assert.ok(check.same_ids, "Python's search of our index file gives our shortlist");
  // and a rerun reads the cached index (block by block) instead of the database
  const [again] = runIndexSearch(spec, loadRetrievalArrays(root, config.dataset, "mrl"), { k: 12, nesting: [64], quiet: true });
  assert.equal(again.action, "reused-index");
  const shortlist = readShortlist(neighborsPath(spec, 64, 12));
  const first10 = readShortlist(neighborsPath(spec, 64, 10));
  let same = 0;
  for (let r = 0; r < shortlist.rows; r++) for (let c = 0; c < 10; c++) same += Number(shortlist.data[r * 12 + c] === first10.data[r * 10 + c]);
  assert.ok(same / (shortlist.rows * 10) > 0.999);
  void intMatrix;
});

test("a budget smaller than one block is refused before anything is written, naming the file", () => {
  const root = rootWithArrays();
  assert.throws(() => loadRetrievalArrays(root, config.dataset, "mrl", { memoryGb: 0.01 }),
    (err: Error) => err instanceof MrlError && /X\.npy: memory budget 0\.010 GB is smaller than one block/.test(err.message));
  assert.deepEqual(fs.readdirSync(root).filter((n) => !n.endsWith(".npy")), []);
});
