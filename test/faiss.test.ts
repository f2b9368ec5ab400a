import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { FaissIndex, faissNormalized, matrix, writeMatrixNpy, type Matrix } from "@mrl-retrieval/lib/internal";
import { float64Normalized, python, seededFloats, tempDir } from "./helpers";

/** Brute-force k-NN by squared L2, ties broken by id: the oracle for the FAISS path. */
function bruteForce(db: Float32Array, q: Float32Array, d: number, k: number): number[][] {
  const n = db.length / d, nq = q.length / d;
  const out: number[][] = [];
  for (let i = 0; i < nq; i++) {
    const dist = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += (q[i * d + c] - db[j * d + c]) ** 2;
      return [s, j] as [number, number];
    });
    dist.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    out.push(dist.slice(0, k).map((x) => x[1]));
  }
  return out;
}

test("patched faiss-node: typed-array add/search equals brute force, in batches", () => {
  const d = 12, n = 500, nq = 37, k = 20;
  const db = seededFloats(n * d, 1), q = seededFloats(nq * d, 2);
  const index = FaissIndex.create("exactl2", d);
  index.add(matrix(n, d, db), undefined, 128);
  assert.equal(index.ntotal, n);
  const res = index.search(matrix(nq, d, q), k, undefined, 10);
  const expected = bruteForce(db, q, d, k);
  for (let i = 0; i < nq; i++) assert.deepEqual(Array.from(res.labels.subarray(i * k, (i + 1) * k)), expected[i]);
  assert.throws(() => index.search(matrix(1, d), n + 1), /k=501 is larger than the database \(500 vectors\)/);
  assert.throws(() => index.search(matrix(1, d + 1), 3), /query dim 13 does not match the index dim 12/);
  assert.throws(() => FaissIndex.create("ivf" as never, d), /unknown index type "ivf"; expected one of: exactl2, hnsw8, hnsw32/);
});

test("index files round-trip with Python faiss.read_index and give the same neighbours", () => {
  const dir = tempDir();
  const d = 8, n = 300, nq = 5, k = 7;
  const db = seededFloats(n * d, 3), q = seededFloats(nq * d, 4);
  const index = FaissIndex.create("hnsw32", d);
  assert.equal(index.setEfSearch(64), true);
  index.add(matrix(n, d, db));
  const file = path.join(dir, "ours.index");
  index.write(file);
  const ours = index.search(matrix(nq, d, q), k);
  const got = python<{ I: number[][]; ntotal: number; pyfile: string }>(`
import faiss, numpy as np, sys, json
d = sys.argv[1]
index = faiss.read_index(d + "/ours.index")
index.hnsw.efSearch = 64
q = np.frombuffer(bytes.fromhex(sys.argv[2]), dtype=np.float32).reshape(-1, 8)
D, I = index.search(q, 7)
flat = faiss.IndexFlatL2(8)
flat.add(np.frombuffer(bytes.fromhex(sys.argv[3]), dtype=np.float32).reshape(-1, 8))
faiss.write_index(flat, d + "/python.index")
print(json.dumps({"I": I.tolist(), "ntotal": index.ntotal}))`,
  [dir, Buffer.from(q.buffer).toString("hex"), Buffer.from(db.buffer).toString("hex")]);
  assert.equal(got.ntotal, n);
  assert.deepEqual(got.I, Array.from({ length: nq }, (_, i) => Array.from(ours.labels.subarray(i * k, (i + 1) * k))));
  const fromPython = FaissIndex.read(path.join(dir, "python.index"));
  const res = fromPython.search(matrix(nq, d, q), k);
  const expected = bruteForce(db, q, d, k);
  for (let i = 0; i < nq; i++) assert.deepEqual(Array.from(res.labels.subarray(i * k, (i + 1) * k)), expected[i]);
  assert.throws(() => FaissIndex.read(path.join(dir, "none.index")), /none\.index: index file not found/);
});

test("faissNormalized is faiss.normalize_L2 bit for bit (float64 normalization is not), on prefixes and in place; bad rows are named", () => {
  const dir = tempDir();
  const n = 12000, d = 24; // more than 10,000 rows: FAISS normalizes on its OpenMP threads
  const x = matrix(n, d, seededFloats(n * d, 21));
  const prefix = faissNormalized(x, 7, "x.npy");
  const whole = faissNormalized(x, d);
  const inPlace = matrix(n, d, x.data.slice());
  assert.equal(faissNormalized(inPlace, d, undefined, inPlace.data).data, inPlace.data, "in place: the same array");
  assert.deepEqual(inPlace.data, whole.data);
  const reused = new Float32Array(n * 7 + 5);
  assert.deepEqual(faissNormalized(x, 7, undefined, reused).data, prefix.data, "into a larger reused buffer");
  writeMatrixNpy(path.join(dir, "x.npy"), x);
  writeMatrixNpy(path.join(dir, "p.npy"), prefix);
  writeMatrixNpy(path.join(dir, "w.npy"), whole);
  writeMatrixNpy(path.join(dir, "f64.npy"), float64Normalized(x, 7));
  const got = python<{ prefix: boolean; whole: boolean; float64Rows: number }>(`
import faiss, json, numpy as np, sys
d = sys.argv[1]
x = np.load(d + "/x.npy")
p = np.array(x[:, :7], copy=True); faiss.normalize_L2(p)
w = np.array(x, copy=True); faiss.normalize_L2(w)
print(json.dumps({"prefix": bool(np.array_equal(np.load(d + "/p.npy"), p)), "whole": bool(np.array_equal(np.load(d + "/w.npy"), w)),
  "float64Rows": int((np.load(d + "/f64.npy") != p).any(1).sum())}))`, [dir]);
  assert.deepEqual([got.prefix, got.whole], [true, true]);
  assert.ok(got.float64Rows > 0, "float64 sums round differently on some rows (why FAISS's own function is used)");
  const bad = (row: number, values: number[]): Matrix => {
    const m = matrix(6, 3, seededFloats(18, 22));
    m.data.set(values, row * 3);
    return m;
  };
  assert.throws(() => faissNormalized(bad(3, [0, 0, 0]), 3, "db.npy"), /db\.npy: row 3 is all zeros in its first 3 dims and cannot be L2-normalized/);
  assert.throws(() => faissNormalized(bad(5, [1, NaN, 0]), 3, "db.npy"), /db\.npy: row 5 contains NaN or Inf values/);
  assert.throws(() => faissNormalized(bad(2, [Infinity, 0, 1]), 3), /row 2 contains NaN or Inf values/);
  assert.throws(() => faissNormalized(bad(1, [1e-30, -1e-30, 0]), 3), /row 1 has a squared norm that underflows to 0 in float32/);
  assert.throws(() => faissNormalized(x, 25), /nesting dim 25 is outside the array's 1\.\.24 columns/);
  assert.throws(() => faissNormalized(x, 7, undefined, new Float32Array(10)), /cannot write 12000 x 7 values into 10/);
  assert.throws(() => faissNormalized(x, 7, undefined, x.data), /normalizing a 7-prefix in place needs all 24 columns/);
});

test("an HNSW index is added in one call, a flat one in blocks; an index read from a file knows whether it is HNSW", () => {
  const dir = tempDir();
  const d = 8, n = 1000;
  const db = faissNormalized(matrix(n, d, seededFloats(n * d, 23)));
  const hnsw = FaissIndex.create("hnsw8", d), flat = FaissIndex.create("exactl2", d);
  const calls = { hnsw: [] as number[], flat: [] as number[] };
  hnsw.add(db, (rows) => calls.hnsw.push(rows), 300);
  flat.add(db, (rows) => calls.flat.push(rows), 300);
  assert.deepEqual(calls, { hnsw: [1000], flat: [300, 300, 300, 100] });
  hnsw.write(path.join(dir, "h.index"));
  flat.write(path.join(dir, "f.index"));
  assert.deepEqual([hnsw.hnsw, flat.hnsw, FaissIndex.read(path.join(dir, "h.index")).hnsw, FaissIndex.read(path.join(dir, "f.index")).hnsw], [true, false, true, false]);
});
