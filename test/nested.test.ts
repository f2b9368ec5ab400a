/**
 * The nested exact k-NN engine (search/nested.ts, lib/native/src/nested_knn.cc) against Python FAISS
 * IndexFlatL2 on the normalized prefixes, as the original faiss_nn notebook searches: every query, every dim,
 * compared tie-aware (test/knn_check.py). Then what makes its results well defined: they do not depend on
 * database blocks, query chunks, threads, or which other dims are searched with them; ties go to the smaller id.
 * Real data: the shipped MRL model on the first 4000 / 400 Fashion-MNIST images (experiments/fmnist-test.json).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  loadExperiment, loadRetrievalArrays, matrix, nestedKnn, NestedTopK, rowNorms, runInference, writeIntMatrixNpy, writeMatrixNpy,
  type KnnAtDim, type Matrix,
} from "@mrl-retrieval/lib/internal";
import { IMPORT_KNN_CHECK, python, seededFloats, tempDir, TEST_EXPERIMENT } from "./helpers";

let database: Matrix;
let queries: Matrix;

before(async () => {
  const config = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  const arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
  database = arrays.database.matrix();
  queries = arrays.queries;
});

/**
 * Problems Python finds comparing `ours` with a reference at each dim (one list per dim), tie-aware: FAISS
 * IndexFlatL2 on the same normalized prefixes, or `reference` (another of our results) where given.
 */
function disagreements(db: Matrix, q: Matrix, ours: KnnAtDim[], reference?: KnnAtDim[]): Record<string, string[]> {
  const dir = tempDir("mrl-nested-");
  writeMatrixNpy(path.join(dir, "db.npy"), db);
  writeMatrixNpy(path.join(dir, "q.npy"), q);
  for (const [name, results] of [["new", ours], ["ref", reference ?? []]] as const) {
    for (const r of results) {
      writeMatrixNpy(path.join(dir, `D${name}${r.dim}.npy`), r.distances);
      writeIntMatrixNpy(path.join(dir, `I${name}${r.dim}.npy`), r.labels);
    }
  }
  return python<Record<string, string[]>>(`
import json, numpy as np, os, sys
${IMPORT_KNN_CHECK}
d, dims = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
db, q = np.load(d + "/db.npy"), np.load(d + "/q.npy")
out = {}
for dim in dims:
    D_new, I_new = np.load(d + f"/Dnew{dim}.npy"), np.load(d + f"/Inew{dim}.npy")
    has_ref = os.path.exists(d + f"/Iref{dim}.npy")
    # with a reference, FAISS only normalizes the prefixes (k 1): its search would be thrown away
    xq, xb, D, I = faiss_exact(db, q, dim, 1 if has_ref else I_new.shape[1])
    if has_ref:
        D, I = np.load(d + f"/Dref{dim}.npy"), np.load(d + f"/Iref{dim}.npy")
    out[dim] = check_knn(xq, xb, D, I, I_new, D_new)[:5]
print(json.dumps(out))`, [dir, ours.map((r) => r.dim).join(",")]);
}

test("nested k-NN equals Python FAISS IndexFlatL2 on every query at every dim, up to ties", () => {
  const dims = [5, 8, 16, 32, 64, 100, 128, 256, 512, 768, 1024, 2048];
  const ours = nestedKnn(database, queries, dims, 256);
  assert.deepEqual(ours.map((r) => r.dim), dims);
  const problems = disagreements(database, queries, ours);
  for (const dim of dims) assert.deepEqual(problems[dim], [], `dim ${dim}`);
});

test("ties: duplicated rows and coarse values agree with FAISS, and equal distances keep the smaller id first", () => {
  // 600 rows from 150 distinct ones (each four times), values on a coarse grid: many exactly equal distances
  const distinct = seededFloats(150 * 24, 11).map((x) => Math.round(x * 4) / 4 || 0.25);
  const db = matrix(600, 24, new Float32Array(600 * 24));
  for (let r = 0; r < 600; r++) db.data.set(distinct.subarray((r % 150) * 24, (r % 150 + 1) * 24), r * 24);
  const q = matrix(40, 24, seededFloats(40 * 24, 12).map((x) => Math.round(x * 4) / 4 || 0.25));
  const ours = nestedKnn(db, q, [8, 24], 50);
  const problems = disagreements(db, q, ours);
  assert.deepEqual(problems, { 8: [], 24: [] });
  let tiedPairs = 0;
  for (const r of ours) {
    for (let i = 0; i + 1 < r.labels.data.length; i++) {
      if ((i + 1) % 50 === 0 || r.distances.data[i] !== r.distances.data[i + 1]) continue;
      tiedPairs++;
      assert.ok(r.labels.data[i] < r.labels.data[i + 1], `equal distances at ${i} are not in id order`);
    }
  }
  assert.ok(tiedPairs > 1000, `the case has ties (${tiedPairs} adjacent equal distances)`);
});

test("results do not depend on database blocks, query chunks, threads or the other dims searched", () => {
  const dims = [8, 64, 2048];
  const k = 100;
  const reference = nestedKnn(database, queries, dims, k, { blockRows: 4000, threads: 2 });
  const same = (got: KnnAtDim[], what: string): void => {
    for (const g of got) {
      const ref = reference.find((r) => r.dim === g.dim)!;
      assert.deepEqual(g.labels.data, ref.labels.data, `${what}: ids at dim ${g.dim}`);
      assert.deepEqual(g.distances.data, ref.distances.data, `${what}: distances at dim ${g.dim}`);
    }
  };
  same(nestedKnn(database, queries, dims, k, { blockRows: 1024, threads: 1 }), "1024-row blocks, one thread");
  same(nestedKnn(database, queries, dims, k, { blockRows: 3072 }), "3072-row blocks");
  same(nestedKnn(database, queries, [64], k), "dim 64 alone");
  same(nestedKnn(database, queries, [2048, 8], k), "dims in another order");
  // query chunks of whole engine tiles (256 queries), as the stage cuts them
  const chunked = new NestedTopK(matrix(256, queries.cols, queries.data.subarray(0, 256 * queries.cols)), dims, k);
  const parts: KnnAtDim[][] = [];
  for (const [q0, q1] of [[0, 256], [256, queries.rows]]) {
    chunked.restart(matrix(q1 - q0, queries.cols, queries.data.subarray(q0 * queries.cols, q1 * queries.cols)));
    chunked.add(database);
    // views valid until the next restart: copy them
    parts.push(chunked.result().map((r) => ({ dim: r.dim, distances: matrix(r.distances.rows, k, r.distances.data.slice()),
      labels: { rows: r.labels.rows, cols: k, data: r.labels.data.slice() } })));
  }
  same(dims.map((dim, s) => ({
    dim,
    distances: matrix(queries.rows, k, Float32Array.from([...parts[0][s].distances.data, ...parts[1][s].distances.data])),
    labels: { rows: queries.rows, cols: k, data: Int32Array.from([...parts[0][s].labels.data, ...parts[1][s].labels.data]) },
  })), "two query chunks");
});

test("a few queries at a time (the matrix-vector path) agree with the batch path and with FAISS, up to ties", () => {
  const dims = [8, 100, 512, 2048], k = 128, n = 24;
  const q = matrix(n, queries.cols, queries.data.subarray(0, n * queries.cols));
  const batch = nestedKnn(database, q, dims, k);
  const norms = rowNorms(database, dims);
  // queries one at a time (given norms, one thread), three at a time (norms computed, two threads), four at a time
  for (const [size, options] of [[1, { norms, threads: 1 }], [3, { threads: 2 }], [4, { norms, blockRows: 3072 }]] as const) {
    const parts: KnnAtDim[][] = [];
    for (let q0 = 0; q0 < n; q0 += size) {
      const part = matrix(Math.min(size, n - q0), q.cols, q.data.subarray(q0 * q.cols, Math.min(n, q0 + size) * q.cols));
      parts.push(nestedKnn(database, part, dims, k, options));
    }
    const joined = dims.map((dim, s) => ({
      dim,
      distances: matrix(n, k, Float32Array.from(parts.flatMap((p) => [...p[s].distances.data]))),
      labels: { rows: n, cols: k, data: Int32Array.from(parts.flatMap((p) => [...p[s].labels.data])) },
    }));
    const vsBatch = disagreements(database, q, joined, batch), vsFaiss = disagreements(database, q, joined);
    for (const dim of dims) {
      assert.deepEqual(vsBatch[dim], [], `${size} at a time vs the batch path, dim ${dim}`);
      assert.deepEqual(vsFaiss[dim], [], `${size} at a time vs FAISS, dim ${dim}`);
    }
    // the same floats whatever the threads: one query on one and on two threads
    const one = matrix(1, q.cols, q.data.subarray(0, q.cols));
    const [a, b] = [1, 2].map((threads) => nestedKnn(database, one, dims, k, { threads, norms }));
    a.forEach((r, s) => assert.deepEqual([r.labels.data, r.distances.data], [b[s].labels.data, b[s].distances.data], `threads, dim ${r.dim}`));
  }
  assert.throws(() => nestedKnn(database, q, [8], k, { norms }), /the row norms given are for 4000 rows at dims \[8,100,512,2048\], not 4000 rows at \[8\]/);
});

test("k from 1 to the whole database; bad shapes are refused", () => {
  const small = matrix(300, database.cols, database.data.subarray(0, 300 * database.cols));
  const q = matrix(7, queries.cols, queries.data.subarray(0, 7 * queries.cols));
  const all = nestedKnn(small, q, [16], 300)[0];
  for (let i = 0; i < 7; i++) {
    assert.deepEqual([...all.labels.data.subarray(i * 300, (i + 1) * 300)].sort((a, b) => a - b), [...Array(300).keys()], "every row once");
  }
  const one = nestedKnn(small, q, [16], 1)[0];
  for (let i = 0; i < 7; i++) assert.equal(one.labels.data[i], all.labels.data[i * 300]);
  assert.throws(() => nestedKnn(small, q, [0, 16], 5), /nesting dims \[0,16\] must lie in 1\.\.2048/);
  assert.throws(() => nestedKnn(small, q, [16], 301), /k=301 is larger than the database \(300 rows\)/);
  assert.throws(() => nestedKnn(small, matrix(2, 16), [16], 5), /queries are 16-d, the database is 2048-d/);
});
