import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { FaissIndex, matrix } from "@mrl-retrieval/lib/internal";
import { python, seededFloats, tempDir } from "./helpers";

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
