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
  exactDimGroups, FaissIndex, flatIndexShape, gigabytes, indexPath, intMatrix, loadExperiment, loadRetrievalArrays, MrlError, neighborsPath,
  readShortlist, runIndexSearch, runInference, runRetrieval, type ArtifactSpec, type Experiment,
} from "@mrl-retrieval/lib/internal";
import { IMPORT_KNN_CHECK, python, tempDir, TEST_EXPERIMENT } from "./helpers";

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

test("an exact search interrupted in a later query chunk resumes from its checkpoint and gives the same shortlists", () => {
  const root = rootWithArrays();
  const spec: ArtifactSpec = { root, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
  const arrays = loadRetrievalArrays(root, config.dataset, "mrl", { memoryGb: SMALL_BUDGET_GB });
  const dims = [16, 2048];
  const options = { k: config.k, nesting: dims, quiet: true, checkpointSeconds: 0, maxChunkQueries: 256 };
  // interrupted while the second chunk (queries 256..399) is half searched
  assert.throws(() => runIndexSearch(spec, arrays, { ...options, onProgress: (queriesDone, rows) => {
    if (queriesDone >= 256 && rows > arrays.database.rows / 2) throw new MrlError("interrupted");
  } }), /interrupted/);
  for (const dim of dims) {
    assert.ok(fs.existsSync(`${neighborsPath(spec, dim, config.k)}.partial`), "a checkpoint was left");
    assert.ok(!fs.existsSync(neighborsPath(spec, dim, config.k)), "no shortlist was written");
  }
  const resumed = runIndexSearch(spec, arrays, options);
  assert.deepEqual(resumed.map((r) => r.resumedQueries), [256, 256], "the second run started from the checkpoint");
  for (const dim of dims) assert.ok(!fs.existsSync(`${neighborsPath(spec, dim, config.k)}.partial`), "the checkpoint is removed once done");
  const fresh = rootWithArrays();
  runIndexSearch({ ...spec, root: fresh }, loadRetrievalArrays(fresh, config.dataset, "mrl"), { k: config.k, nesting: dims, quiet: true });
  for (const dim of dims) {
    assert.ok(fs.readFileSync(neighborsPath(spec, dim, config.k)).equals(fs.readFileSync(neighborsPath({ ...spec, root: fresh }, dim, config.k))));
    assert.ok(fs.readFileSync(indexPath(spec, dim)).equals(fs.readFileSync(indexPath({ ...spec, root: fresh }, dim))));
  }
});

test("exact index files written block by block are FAISS's own format: Python reads them and finds our shortlist", () => {
  const root = rootWithArrays();
  const spec: ArtifactSpec = { root, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
  runIndexSearch(spec, loadRetrievalArrays(root, config.dataset, "mrl", { memoryGb: SMALL_BUDGET_GB }), { k: 10, nesting: [64], quiet: true });
  const file = indexPath(spec, 64);
  assert.deepEqual(flatIndexShape(file), { dim: 64, ntotal: 4000 });
  const x = path.join(root, `${config.dataset}_train_mrl1_e0_ff2048-X.npy`);
  const check = python<{ ntotal: number; d: number; maxdiff: number; problems: string[] }>(`
import faiss, numpy as np, pandas as pd, sys, json
${IMPORT_KNN_CHECK}
index = faiss.read_index(sys.argv[1])
x = np.array(np.load(sys.argv[2])[:, :64]); faiss.normalize_L2(x)
stored = index.reconstruct_n(0, index.ntotal)
q = np.array(np.load(sys.argv[3])[:, :64]); faiss.normalize_L2(q)
D, I = index.search(q, 10)
ours = pd.read_csv(sys.argv[4], header=None).to_numpy()
print(json.dumps({"ntotal": int(index.ntotal), "d": int(index.d), "maxdiff": float(np.abs(stored - x).max()),
  "problems": check_knn(q, stored, D, I, ours)[:5]}))`,
  [file, x, x.replace("_train_", "_val_"), neighborsPath(spec, 64, 10)]);
  assert.equal(check.ntotal, 4000);
  assert.equal(check.d, 64);
  assert.equal(check.maxdiff, 0, "stored vectors are faiss.normalize_L2's, bit for bit (FAISS normalizes them)");
  assert.deepEqual(check.problems, [], "Python's search of our index file gives our shortlist (every query, up to ties)");
  // a rerun with another k keeps the cached index file and searches the arrays again
  const [again] = runIndexSearch(spec, loadRetrievalArrays(root, config.dataset, "mrl"), { k: 12, nesting: [64], quiet: true });
  assert.equal(again.action, "reused-index");
  const shortlist = readShortlist(neighborsPath(spec, 64, 12));
  const first10 = readShortlist(neighborsPath(spec, 64, 10));
  let same = 0;
  for (let r = 0; r < shortlist.rows; r++) for (let c = 0; c < 10; c++) same += Number(shortlist.data[r * 12 + c] === first10.data[r * 10 + c]);
  assert.ok(same / (shortlist.rows * 10) > 0.999);
  void intMatrix;
});

test("without index files (indexFiles: false) the shortlists are the same, none is written, and a rerun skips", () => {
  const root = rootWithArrays(), other = rootWithArrays();
  const spec: ArtifactSpec = { root, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
  const options = { k: 20, nesting: [8, 64], quiet: true };
  const first = runIndexSearch(spec, loadRetrievalArrays(root, config.dataset, "mrl"), { ...options, indexFiles: false });
  assert.deepEqual(first.map((r) => r.action), ["searched", "searched"]);
  for (const dim of [8, 64]) assert.ok(!fs.existsSync(indexPath(spec, dim)), `no index file at ${dim}`);
  runIndexSearch({ ...spec, root: other }, loadRetrievalArrays(other, config.dataset, "mrl"), options);
  for (const dim of [8, 64]) {
    assert.ok(fs.existsSync(indexPath({ ...spec, root: other }, dim)), "index files by default");
    assert.ok(fs.readFileSync(neighborsPath(spec, dim, 20)).equals(fs.readFileSync(neighborsPath({ ...spec, root: other }, dim, 20))));
  }
  const again = runIndexSearch(spec, loadRetrievalArrays(root, config.dataset, "mrl"), { ...options, indexFiles: false });
  assert.deepEqual(again.map((r) => r.action), ["skipped", "skipped"]);
});

test("dims that do not fit the budget together are searched in groups, with the same shortlists", () => {
  const tight = rootWithArrays(), roomy = rootWithArrays();
  const spec: ArtifactSpec = { root: tight, model: "mrl", dataset: config.dataset, indexType: "exactl2" };
  const options = { k: 4000, nesting: [8, 16, 32, 64, 128], quiet: true };
  const arrays = loadRetrievalArrays(tight, config.dataset, "mrl", { memoryGb: 0.1 });
  // 4000-NN shortlists of 400 queries and the search state of 256 of them: three dims fit in 0.1 GB, four do not
  assert.deepEqual(exactDimGroups(arrays, options.nesting, options.k), [[8, 16, 32], [64, 128]]);
  assert.deepEqual(exactDimGroups(loadRetrievalArrays(roomy, config.dataset, "mrl"), options.nesting, options.k), [options.nesting]);
  runIndexSearch(spec, arrays, options);
  runIndexSearch({ ...spec, root: roomy }, loadRetrievalArrays(roomy, config.dataset, "mrl"), options);
  for (const dim of options.nesting) {
    assert.ok(fs.readFileSync(neighborsPath(spec, dim, 4000)).equals(fs.readFileSync(neighborsPath({ ...spec, root: roomy }, dim, 4000))), `${dim}d`);
  }
});

test("a budget smaller than one block is refused before anything is written, naming the file", () => {
  const root = rootWithArrays();
  assert.throws(() => loadRetrievalArrays(root, config.dataset, "mrl", { memoryGb: 0.01 }),
    (err: Error) => err instanceof MrlError && /X\.npy: memory budget 0\.010 GB is smaller than one block/.test(err.message));
  assert.deepEqual(fs.readdirSync(root).filter((n) => !n.endsWith(".npy")), []);
});

test("a need one byte over its budget never prints as equal to it: the budget rounds down, the need up", () => {
  for (const budget of [999_999, 1_000_499, 1_000_500, 9_999_999, 99_999_999, 100_000_000, 1_234_999_999, 15_170_000_000]) {
    const shown = Number(gigabytes(budget, "down").split(" ")[0]), need = Number(gigabytes(budget + 1, "up").split(" ")[0]);
    assert.ok(shown < need, `${budget} bytes: budget ${shown} GB, need ${need} GB`);
    assert.ok(shown * 1e9 <= budget && need * 1e9 >= budget + 1, `${budget} bytes: both bound the true values`);
  }
  assert.equal(gigabytes(1_234_999_999), "1.23 GB"); // messages that compare nothing still round to nearest
  assert.equal(gigabytes(1_235_000_001), "1.24 GB");
});
