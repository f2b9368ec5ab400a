/**
 * The fast paths against the straightforward ones: the native rerank/funnel kernel (any threads, any query
 * order) vs the original one-candidate-at-a-time loop (bit-identical, test/reference.ts), streamed .npy row
 * blocks vs whole-file reads, binary shortlists vs numpy, batched FAISS search vs one search, and memory
 * reporting.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  DatabaseVectors,
  addNpyToIndex, buildIndex, localityOrder, DEFAULT_RERANK_PRECISION, validateExperiment, loadExperiment, FaissIndex, faissNormalized, funnelRerank, intMatrix, matrix, memoryReport, MrlError,
  nativeKernels, neighborsPath, npyHeaderBytes, npyRowBlocks, readMatrixNpy, readMatrixPrefixNpy, readShortlist, readShortlistCsv, readShortlistNpy,
  rerank, resetPeakRss, runIndexSearch, runRerankStage, writeMatrixNpy, writeMatrixNpyStreaming, writeShortlist, writeShortlistCsv,
  writeShortlistNpy, type ArtifactSpec, type IntMatrix, type Matrix, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { prefixColumns, python, seededFloats, tempDir, TEST_EXPERIMENT } from "./helpers";
import { differingRows, referenceFunnel, referenceLocalityOrder, referenceOf, referenceRerank, referenceRerankF32, sameIds as same } from "./reference";

const dir = tempDir("mrl-perf-");
const PRECISIONS = ["float64", "float32"] as const;

/** Seeded data with exact ties: database rows 0..9 are repeated at 10..19, and one row is all zeros. */
function tiedData(n: number, nq: number, d: number, k: number): { database: Matrix; queries: Matrix; candidates: IntMatrix } {
  const db = seededFloats(n * d, 11);
  db.copyWithin(10 * d, 0, 10 * d);
  db.fill(0, 20 * d, 21 * d);
  const queries = matrix(nq, d, seededFloats(nq * d, 12));
  // candidates: a seeded permutation prefix per query that always includes the tied and the zero rows
  const ids = new Int32Array(nq * k);
  let s = 7;
  for (let i = 0; i < nq; i++) {
    const used = new Set<number>();
    for (let j = 0; j < k; j++) {
      let id = j < 21 ? (j + i) % 21 : -1;
      while (id < 0 || used.has(id)) {
        s = (s * 1103515245 + 12345) >>> 0;
        id = s % n;
      }
      used.add(id);
      ids[i * k + j] = id;
    }
  }
  return { database: matrix(n, d, db), queries, candidates: intMatrix(nq, k, ids) };
}

/**
 * Rows that are one vector with a few coordinates moved by one float32 ulp, and queries alike: every distance
 * is a few rounding errors away from 0, so the order of the candidates is decided by the rounding of the sums
 * (and by the stable sort where they tie). A kernel that summed in any other order would reorder many. The
 * vector holds a zero, a -0 and a product that underflows.
 */
function nearDuplicates(n: number, nq: number, d: number, k: number): { database: Matrix; queries: Matrix; candidates: IntMatrix } {
  const base = seededFloats(d, 71);
  if (d > 5) { base[1] = 1e-30; base[3] = 0; base[5] = -0; }
  let s = 99;
  const next = (): number => (s = (s * 1103515245 + 12345) >>> 0);
  const nudged = (rows: number): Float32Array => {
    const out = new Float32Array(rows * d);
    const bits = new Int32Array(out.buffer);
    for (let r = 0; r < rows; r++) {
      out.set(base, r * d);
      for (let t = 0; t < 3; t++) {
        const at = r * d + (next() % d);
        if (Math.abs(out[at]) > 1e-20) bits[at] += next() % 2 === 0 ? 1 : -1; // one ulp, never across zero
      }
    }
    return out;
  };
  const ids = new Int32Array(nq * k);
  for (let i = 0; i < nq; i++) {
    const used = new Set<number>();
    for (let j = 0; j < k; j++) {
      let id = next() % n;
      while (used.has(id)) id = next() % n;
      used.add(id);
      ids[i * k + j] = id;
    }
  }
  return { database: matrix(n, d, nudged(n)), queries: matrix(nq, d, nudged(nq)), candidates: intMatrix(nq, k, ids) };
}

/**
 * Query 0 of tiedData reranked at full width (dim = the rows' width): rows 3 and 13 are copies, so they tie and
 * come out next to each other in shortlist order; the all-zero row 20 stays at zero (as sklearn's normalize
 * leaves it), so its distance is |q'| = 1: it comes right after the candidates nearer than that, i.e. those
 * with cos > 1/2 (float64, independent of the kernel).
 */
function assertTiesInShortlistOrder(reranked: IntMatrix, candidates: IntMatrix, database: Matrix, queries: Matrix): void {
  const n = reranked.cols, d = database.cols;
  const row0 = Array.from(reranked.data.subarray(0, n)), cand0 = Array.from(candidates.data.subarray(0, n));
  const [earlier, later] = cand0.indexOf(3) < cand0.indexOf(13) ? [3, 13] : [13, 3];
  assert.equal(row0.indexOf(later), row0.indexOf(earlier) + 1);
  const cos = (id: number): number => {
    let dot = 0, xx = 0, qq = 0;
    for (let c = 0; c < d; c++) {
      const x = database.data[id * d + c], q = queries.data[c];
      dot += x * q; xx += x * x; qq += q * q;
    }
    return xx > 0 ? dot / Math.sqrt(xx * qq) : NaN;
  };
  assert.equal(row0.indexOf(20), cand0.filter((id) => cos(id) > 0.5).length, "the all-zero row sits at distance 1");
}

/** tiedData's candidates with some ids replaced by -1 (missing, as FAISS HNSW returns), some rows ending in -1s. */
function withMissing(candidates: IntMatrix): IntMatrix {
  const ids = candidates.data.slice();
  for (let i = 0; i < candidates.rows; i++) {
    if (i % 3 === 0) ids[i * candidates.cols + (i % candidates.cols)] = -1;
    if (i % 5 === 0) ids.fill(-1, i * candidates.cols + Math.floor(candidates.cols / 2), (i + 1) * candidates.cols);
  }
  return intMatrix(candidates.rows, candidates.cols, ids);
}

test("rerank: the native kernel, with any threads and query order, is bit-identical to the original loop, ties included", () => {
  const { database, queries, candidates } = tiedData(3000, 301, 96, 120);
  for (const [dim, shortlist] of [[96, 120], [16, 100], [33, 7], [1, 5]]) {
    const expected = referenceRerank(database, queries, candidates, dim, shortlist);
    for (const threads of [1, 2, 3]) {
      for (const localityOrder of [true, false]) {
        const got = rerank(database, queries, candidates, dim, shortlist, { threads, precision: "float64", localityOrder });
        assert.ok(same(got, expected), `${threads} threads, locality order ${localityOrder}, dim ${dim} @${shortlist}`);
      }
    }
  }
  assertTiesInShortlistOrder(rerank(database, queries, candidates, 96, 120, { threads: 2, precision: "float64" }), candidates, database, queries);
});

test("funnel: the native kernel with any threads equals repeated original reranks", () => {
  const { database, queries, candidates } = tiedData(2500, 257, 64, 200);
  const dims = [8, 16, 32, 64], shortlists = [200, 100, 50, 10];
  const expected = referenceFunnel("float64", database, queries, candidates, dims, shortlists);
  for (const threads of [1, 2, 3]) {
    assert.ok(same(funnelRerank(database, queries, candidates, { dims, shortlists }, { threads, precision: "float64" }), expected), `${threads} threads`);
  }
});

test("rerank float32: the native kernel, with any threads and query order, equals the float32 oracle, ties included", () => {
  const { database, queries, candidates } = tiedData(3000, 301, 99, 120);
  for (const [dim, shortlist] of [[99, 120], [96, 117], [16, 100], [33, 7], [1, 5], [2, 9], [3, 12], [6, 1]]) {
    const expected = referenceRerankF32(database, queries, candidates, dim, shortlist);
    for (const threads of [1, 2, 3]) {
      for (const localityOrder of [true, false]) {
        const got = rerank(database, queries, candidates, dim, shortlist, { threads, precision: "float32", localityOrder });
        assert.ok(same(got, expected), `${threads} threads, locality order ${localityOrder}, dim ${dim} @${shortlist}`);
      }
    }
  }
  assertTiesInShortlistOrder(rerank(database, queries, candidates, 99, 120, { threads: 2, precision: "float32" }), candidates, database, queries);
});

test("funnel float32: the native kernel with any threads equals repeated float32 oracle reranks", () => {
  const { database, queries, candidates } = tiedData(2500, 257, 67, 200);
  const dims = [7, 16, 33, 67], shortlists = [200, 100, 50, 10];
  const expected = referenceFunnel("float32", database, queries, candidates, dims, shortlists);
  for (const threads of [1, 2]) {
    assert.ok(same(funnelRerank(database, queries, candidates, { dims, shortlists }, { threads, precision: "float32" }), expected), `${threads} threads`);
  }
});

test("missing candidates (-1) are skipped by rerank and funnel in both precisions, the rows ending in -1, as the oracles do", () => {
  const { database, queries, candidates } = tiedData(2000, 120, 40, 100);
  const missing = withMissing(candidates);
  for (const precision of PRECISIONS) {
    const adaptive = rerank(database, queries, missing, 40, 100, { precision, threads: 2 });
    assert.ok(same(adaptive, referenceOf(precision)(database, queries, missing, 40, 100)), `adaptive, ${precision}`);
    assert.deepEqual(Array.from(adaptive.data.subarray(50, 100)), new Array(50).fill(-1), "query 0 had 49 real candidates");
    const funnel = { dims: [8, 16, 40], shortlists: [100, 60, 10] };
    assert.ok(same(funnelRerank(database, queries, missing, funnel, { precision, threads: 2 }),
      referenceFunnel(precision, database, queries, missing, funnel.dims, funnel.shortlists)), `funnel, ${precision}`);
  }
});

test("distances decided by rounding: both precisions equal their oracle at every dim remainder and shortlist length", () => {
  const { database, queries, candidates } = nearDuplicates(600, 40, 67, 60);
  // the data tells summation orders apart: float32 and float64 sums order most queries' candidates differently
  assert.ok(differingRows(referenceRerank(database, queries, candidates, 67, 60), referenceRerankF32(database, queries, candidates, 67, 60)) > 30);
  const shortlists = [60, 23, 16, 8, 5];
  [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 33, 64, 67].forEach((dim, t) => {
    const shortlist = shortlists[t % shortlists.length];
    for (const precision of PRECISIONS) {
      const expected = referenceOf(precision)(database, queries, candidates, dim, shortlist);
      for (const threads of [1, 2]) {
        assert.ok(same(rerank(database, queries, candidates, dim, shortlist, { threads, precision }), expected), `${precision}, dim ${dim} @${shortlist}, ${threads} threads`);
      }
    }
  });
  for (const precision of PRECISIONS) {
    const funnel = { dims: [9, 33, 67], shortlists: [60, 21, 6] };
    assert.ok(same(funnelRerank(database, queries, candidates, funnel, { precision }), referenceFunnel(precision, database, queries, candidates, funnel.dims, funnel.shortlists)), precision);
  }
});

test("many exact ties at every sort run/merge boundary keep shortlist order, as a stable comparator sort does", () => {
  // 4 distinct vectors, repeated: every distance is one of 4 values
  const d = 8, n = 400, nq = 5;
  const base = seededFloats(4 * d, 41);
  const database = matrix(n, d, Float32Array.from({ length: n * d }, (_, x) => base[(Math.floor(x / d) % 4) * d + (x % d)]));
  const queries = matrix(nq, d, seededFloats(nq * d, 42));
  const k = 300;
  const candidates = intMatrix(nq, k, Int32Array.from({ length: nq * k }, (_, x) => (Math.floor(x / k) * 31 + (x % k) * 7) % n));
  for (const shortlist of [1, 2, 15, 16, 17, 31, 32, 33, 200, 257, 300]) {
    for (const precision of PRECISIONS) {
      assert.ok(same(rerank(database, queries, candidates, d, shortlist, { precision }), referenceOf(precision)(database, queries, candidates, d, shortlist)), `${precision} @${shortlist}`);
    }
  }
});

test("funnel: ties at the cut between steps keep the earlier candidates, as a full stable sort would", () => {
  // 60 rows that are copies of 4 vectors: every step's cut falls inside a run of equal distances
  const d = 8, n = 60, nq = 23, k = 48;
  const base = seededFloats(4 * d, 61);
  const db = Float32Array.from({ length: n * d }, (_, x) => base[(Math.floor(x / d) % 4) * d + (x % d)]);
  const database = matrix(n, d, db), queries = matrix(nq, d, seededFloats(nq * d, 62));
  const ids = Int32Array.from({ length: nq * k }, (_, x) => (Math.floor(x / k) * 17 + (x % k) * 7) % n);
  const candidates = intMatrix(nq, k, ids);
  const dims = [4, 6, 8], shortlists = [48, 21, 5];
  for (const precision of PRECISIONS) {
    const expected = referenceFunnel(precision, database, queries, candidates, dims, shortlists);
    for (const threads of [1, 2]) {
      assert.ok(same(funnelRerank(database, queries, candidates, { dims, shortlists }, { threads, precision }), expected), `${precision}, ${threads} threads`);
    }
  }
});

test("near-duplicates keep their order in both precisions (distances from differences, not 2 - 2cos); the precision comes from the option or the experiment", () => {
  // query (1, 0, 0, 0); candidate 0 is (1, 2e-4, 0, 0), candidate 1 is (1, 1e-4, 0, 0): 2 - 2cos in float32
  // rounds both to 0 (cos rounds to 1) and would tie them; the differences (2e-4 vs 1e-4 in dim 1) do not
  const database = matrix(2, 4, Float32Array.from([1, 2e-4, 0, 0, 1, 1e-4, 0, 0]));
  const queries = matrix(1, 4, Float32Array.from([1, 0, 0, 0]));
  const candidates = intMatrix(1, 2, Int32Array.from([0, 1]));
  const cosF32 = (id: number): number => Math.fround(Math.fround(1 * database.data[id * 4]) / Math.fround(Math.sqrt(Math.fround(1 + Math.fround(database.data[id * 4 + 1] ** 2)))));
  assert.equal(cosF32(0), cosF32(1), "in float32 both cosines round to the same value");
  assert.deepEqual(Array.from(rerank(database, queries, candidates, 4, 2, { precision: "float64" }).data), [1, 0]);
  assert.deepEqual(Array.from(rerank(database, queries, candidates, 4, 2, { precision: "float32" }).data), [1, 0]);
  assert.deepEqual(Array.from(rerank(database, queries, candidates, 4, 2).data), [1, 0]);
  assert.throws(() => rerank(database, queries, candidates, 4, 2, { precision: "half" as "float32" }),
    (e: unknown) => e instanceof MrlError && /unknown rerank precision "half"; expected one of: float32, float64/.test(e.message));
  // experiments carry the precision to every stage; the default is DEFAULT_RERANK_PRECISION
  assert.equal(loadExperiment({}, TEST_EXPERIMENT).rerankPrecision, DEFAULT_RERANK_PRECISION);
  assert.equal(loadExperiment({ rerankPrecision: "float64" }, TEST_EXPERIMENT).rerankPrecision, "float64");
  assert.throws(() => validateExperiment({ ...loadExperiment({}, TEST_EXPERIMENT), rerankPrecision: "f16" }, "x.json"),
    /x\.json: field "rerankPrecision" is "f16"; expected one of: float32, float64/);
});

test("localityOrder is a permutation that keeps clustered queries together", () => {
  // 1000 queries around 10 well-separated centres, in random cluster order
  const nq = 1000, d = 12;
  const noise = seededFloats(nq * d, 51), centres = seededFloats(10 * d, 52);
  const cluster = Array.from({ length: nq }, (_, i) => (i * 7919 + (i >> 3)) % 10);
  const points = Float32Array.from({ length: nq * d }, (_, k) => 10 * centres[cluster[Math.floor(k / d)] * d + (k % d)] + 0.1 * noise[k]);
  const order = localityOrder(points, d, nq);
  assert.deepEqual(Array.from(order).sort((a, b) => a - b), Array.from({ length: nq }, (_, i) => i));
  assert.deepEqual(Array.from(localityOrder(points, d, nq)), Array.from(order), "deterministic");
  const changes = (o: ArrayLike<number>): number => Array.from({ length: nq - 1 }, (_, t) => cluster[o[t]] !== cluster[o[t + 1]]).filter(Boolean).length;
  assert.ok(changes(order) <= 30, `${changes(order)} cluster changes along the order (input order: ${changes(Array.from({ length: nq }, (_, i) => i))})`);
  assert.deepEqual(Array.from(localityOrder(new Float32Array(5 * 3).fill(NaN), 3, 5)).sort(), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(localityOrder(new Float32Array(0), 3, 0)), []);
});

test("the native localityOrder is the order the TypeScript one gave, ties, NaN and infinities included", () => {
  const clustered = seededFloats(3000 * 12, 53);
  const ties = Float32Array.from(seededFloats(700 * 5, 54), (v) => Math.round(v * 3) / 3); // few distinct values
  const odd = seededFloats(300 * 9, 55);
  odd[7] = NaN; odd[40] = Infinity; odd[41] = -Infinity; odd.fill(NaN, 90, 180);
  const cases: [string, Float32Array, number, number, number?, number?][] = [
    ["clustered", clustered, 12, 3000], ["ties", ties, 5, 700], ["NaN and infinities", odd, 9, 300],
    ["dims > stride", ties, 5, 700, 8], ["dims 3, leaf 1", clustered, 12, 3000, 3, 1], ["fewer than a leaf", odd, 9, 5],
  ];
  for (const [what, data, stride, nq, dims, leaf] of cases) {
    assert.deepEqual(Array.from(localityOrder(data, stride, nq, dims, leaf)), Array.from(referenceLocalityOrder(data, stride, nq, dims, leaf)), what);
  }
});

test("a candidate id outside the database is an MrlError naming query and position, before anything is read", () => {
  const { database, queries, candidates } = tiedData(500, 40, 8, 20);
  for (const badId of [500, -2, 2 ** 31 - 1]) {
    const bad = intMatrix(candidates.rows, candidates.cols, candidates.data.slice());
    bad.data[35 * 20 + 3] = badId;
    for (const threads of [1, 2]) {
      const message = new RegExp(`neighbour id ${badId} \\(query 35, position 3\\) is outside the database's 0\\.\\.499`);
      assert.throws(() => rerank(database, queries, bad, 8, 20, { threads }), (e: unknown) => e instanceof MrlError && message.test(e.message), `${badId}, threads ${threads}`);
      assert.throws(() => funnelRerank(database, queries, bad, { dims: [4, 8], shortlists: [20, 5] }, { threads }),
        (e: unknown) => e instanceof MrlError && message.test(e.message), `funnel, ${badId}, threads ${threads}`);
    }
    // past the shortlist the ids are not read, so not checked
    assert.equal(rerank(database, queries, bad, 8, 3).cols, 3);
  }
  assert.throws(() => rerank(database, queries, candidates, 8, 20, { threads: 0 }), /threads must be a positive integer, got 0/);
});

test("the native kernel checks shapes itself: arrays too short for the call are a RangeError, nothing is read past them", () => {
  const { database, queries, candidates } = tiedData(100, 10, 8, 20);
  const k = nativeKernels();
  const args = (over: Partial<Record<string, unknown>> = {}): Parameters<typeof k.rerank> => {
    const a = { db: database.data, rows: 100, stride: 8, q: queries.data, qStride: 8, nq: 10, c: candidates.data, cols: 20,
      dims: Int32Array.from([8]), shortlists: Int32Array.from([20]), f32: false, order: new Int32Array(0), out: new Int32Array(200), threads: 2,
      norms: new Float64Array(10).fill(1), ...over };
    return [a.db, a.rows, a.stride, a.q, a.qStride, a.nq, a.c, a.cols, a.dims, a.shortlists, a.f32, a.order, a.out, a.threads, a.norms] as Parameters<typeof k.rerank>;
  };
  assert.equal(k.rerank(...args()), -1);
  const cases: [string, Partial<Record<string, unknown>>][] = [
    ["database", { rows: 101 }], ["queries", { nq: 11, c: new Int32Array(11 * 20), out: new Int32Array(220) }],
    ["candidates", { c: candidates.data.subarray(0, 199) }], ["out", { out: new Int32Array(199) }], ["dim", { dims: Int32Array.from([9]) }],
    ["shortlist", { shortlists: Int32Array.from([21]) }], ["order", { order: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 8]) }],
    ["order length", { order: Int32Array.from([0]) }], ["query norms", { norms: new Float64Array(9) }], ["steps", { dims: Int32Array.from([4, 8]), shortlists: Int32Array.from([20, 20]) }],
  ];
  for (const [what, over] of cases) assert.throws(() => k.rerank(...args(over)), RangeError, what);
});
test("streamed .npy row blocks with a dim prefix equal the whole-file read (float32 and float64 from numpy)", () => {
  const f32 = path.join(dir, "x32.npy"), f64 = path.join(dir, "x64.npy");
  python(`
import numpy as np, sys
rng = np.random.default_rng(0)
x = rng.standard_normal((103, 24)).astype(np.float32)
np.save(sys.argv[1], x); np.save(sys.argv[2], x.astype(np.float64))
print("{}")`, [f32, f64]);
  const full = readMatrixNpy(f32);
  for (const file of [f32, f64]) {
    for (const [dims, blockRows] of [[24, 10], [5, 7], [1, 200], [24, 1]]) {
      const expected = prefixColumns(full, dims);
      const seen: number[] = [];
      const got = new Float32Array(103 * dims);
      for (const block of npyRowBlocks(file, { dims, blockRows })) {
        assert.ok(block.data.rows <= blockRows);
        seen.push(block.start);
        got.set(block.data.data, block.start * dims);
      }
      assert.deepEqual(seen, Array.from({ length: Math.ceil(103 / blockRows) }, (_, i) => i * blockRows));
      assert.deepEqual(got, expected.data, `${path.basename(file)} dims ${dims} blocks of ${blockRows}`);
      assert.deepEqual(readMatrixPrefixNpy(file, { dims, blockRows }).data, expected.data);
    }
  }
  const part = readMatrixPrefixNpy(f32, { dims: 3, start: 50, end: 60 });
  assert.deepEqual([part.rows, part.cols], [10, 3]);
  assert.deepEqual(part.data, prefixColumns(full, 3).data.slice(150, 180));
  const whole = readMatrixPrefixNpy(f32, { start: 100 });
  assert.deepEqual(whole.data, full.data.slice(100 * 24));

  assert.throws(() => readMatrixPrefixNpy(f32, { dims: 25 }), /x32\.npy: nesting dim 25 is outside the array's 1\.\.24 columns/);
  assert.throws(() => readMatrixPrefixNpy(f32, { start: 5, end: 200 }), /row range 5\.\.200 is outside the array's 0\.\.103 rows/);
  const cut = path.join(dir, "cut.npy");
  fs.writeFileSync(cut, fs.readFileSync(f32).subarray(0, 1000));
  assert.throws(() => [...npyRowBlocks(cut)], /cut\.npy: truncated: shape \(103, 24\) of f4 needs 9888 data bytes/);
  assert.throws(() => readMatrixPrefixNpy(path.join(dir, "none.npy")), /none\.npy: file not found/);
});

test("streaming write and block-wise FAISS add equal the in-memory path", () => {
  const file = path.join(dir, "big.npy");
  const n = 1000, d = 32;
  const source = seededFloats(n * d, 5);
  writeMatrixNpyStreaming(file, n, d, (start, block) => block.data.set(source.subarray(start * d, start * d + block.data.length)), 64);
  const loaded = python<{ shape: number[]; sum: number; first: number }>(`
import numpy as np, sys, json
x = np.load(sys.argv[1]); print(json.dumps({"shape": list(x.shape), "sum": float(x.astype(np.float64).sum()), "first": float(x[0, 0])}))`, [file]);
  assert.deepEqual(loaded.shape, [n, d]);
  assert.equal(loaded.first, source[0]);
  assert.ok(Math.abs(loaded.sum - source.reduce((s, v) => s + v, 0)) < 1e-6);

  const dims = 12;
  const streamed = FaissIndex.create("exactl2", dims);
  assert.equal(addNpyToIndex(streamed, file, dims, { blockRows: 77 }), n);
  const reference = buildIndex("exactl2", faissNormalized(matrix(n, d, source), dims), "add", true);
  const queries = faissNormalized(matrix(20, d, seededFloats(20 * d, 6)), dims);
  assert.deepEqual(streamed.search(queries, 15).labels, reference.search(queries, 15).labels);
});

test("batched FAISS search equals one search, and each native call stays within the batch", () => {
  const d = 16, n = 2000, nq = 333, k = 64;
  const index = FaissIndex.create("exactl2", d);
  index.add(matrix(n, d, seededFloats(n * d, 8)));
  const queries = matrix(nq, d, seededFloats(nq * d, 9));
  const one = index.search(queries, k, undefined, nq);
  const calls: number[] = [];
  const batched = index.search(queries, k, (rows) => calls.push(rows), 50);
  assert.deepEqual(batched.labels, one.labels);
  // BLAS blocks differently per batch size: distances agree to float rounding
  batched.distances.forEach((v, i) => assert.ok(Math.abs(v - one.distances[i]) <= 1e-6 * Math.max(1, v), `distance ${i}`));
  assert.deepEqual(calls, [50, 50, 50, 50, 50, 50, 33]);
});

test("binary shortlists: int32/int64 .npy that numpy reads, and numpy's int64 files read back", () => {
  const ids = Int32Array.from({ length: 41 * 9 }, (_, i) => (i * 7919) % 60000);
  ids[3] = -1; ids[4] = 2147483647; ids[5] = -2147483648;
  const m = intMatrix(41, 9, ids);
  writeShortlistNpy(path.join(dir, "s32.npy"), m);
  writeShortlistNpy(path.join(dir, "s64.npy"), m, "i8");
  const got = python<{ d32: string; d64: string; same: boolean; shape: number[]; values: number[] }>(`
import numpy as np, sys, json
a = np.load(sys.argv[1] + "/s32.npy"); b = np.load(sys.argv[1] + "/s64.npy")
np.save(sys.argv[1] + "/py64.npy", b)
big = b.copy(); big[2, 1] = 2**40; np.save(sys.argv[1] + "/big.npy", big)
print(json.dumps({"d32": str(a.dtype), "d64": str(b.dtype), "same": bool((a == b).all()), "shape": list(a.shape), "values": a.ravel().tolist()}))`, [dir]);
  assert.deepEqual([got.d32, got.d64, got.same], ["int32", "int64", true]);
  assert.deepEqual(got.shape, [41, 9]);
  assert.deepEqual(got.values, Array.from(ids));
  assert.ok(same(readShortlistNpy(path.join(dir, "py64.npy")), m));
  assert.ok(same(readShortlist(path.join(dir, "s32.npy")), m));
  assert.throws(() => readShortlistNpy(path.join(dir, "big.npy")), /big\.npy: neighbour id 1099511627776 at position 19 does not fit in int32/);
  // CSV extremes, and pandas agrees byte for byte
  writeShortlist(path.join(dir, "s.csv"), m);
  assert.ok(same(readShortlistCsv(path.join(dir, "s.csv")), m));
  const pandas = python<{ same: boolean }>(`
import numpy as np, pandas as pd, sys, json
d = sys.argv[1]
pd.DataFrame(np.load(d + "/s64.npy")).to_csv(d + "/pd.csv", header=None, index=None)
print(json.dumps({"same": open(d + "/pd.csv", "rb").read() == open(d + "/s.csv", "rb").read()}))`, [dir]);
  assert.ok(pandas.same);
});

test("shortlistFormat npy: the stages write and read .npy shortlists with the same ids as CSV", () => {
  const n = 800, nq = 60, d = 32;
  const files = { databaseX: path.join(dir, "db.npy"), queriesX: path.join(dir, "q.npy"), databaseY: path.join(dir, "db-y.npy"), queriesY: path.join(dir, "q-y.npy") };
  writeMatrixNpy(files.databaseX, matrix(n, d, seededFloats(n * d, 21)));
  const arrays: RetrievalArrays = {
    database: new DatabaseVectors(files.databaseX, n, d, true), queries: matrix(nq, d, seededFloats(nq * d, 22)),
    databaseLabels: Int32Array.from({ length: n }, (_, i) => i % 5), queryLabels: Int32Array.from({ length: nq }, (_, i) => i % 5),
    files, budgetBytes: 2e9,
  };
  writeMatrixNpy(arrays.files.queriesX, arrays.queries);
  const results = (["csv", "npy"] as const).map((shortlistFormat) => {
    const spec: ArtifactSpec = { root: path.join(dir, shortlistFormat), model: "mrl", dataset: "T", indexType: "exactl2", shortlistFormat };
    runIndexSearch(spec, arrays, { k: 50, nesting: [8, 32], quiet: true });
    const reranked = runRerankStage(spec, arrays, { k: 50, adaptive: [{ retrievalDim: 8, rerankDim: 32, shortlist: 40 }],
      funnels: [{ retrievalDim: 8, dims: [16, 32], shortlists: [40, 10] }], quiet: true });
    return { spec, files: [neighborsPath(spec, 8, 50), ...reranked.map((r) => r.file)] };
  });
  assert.ok(results[1].files.every((f) => f.endsWith(".npy") && fs.existsSync(f)), results[1].files.join(", "));
  assert.ok(results[0].files.every((f) => f.endsWith(".csv")));
  results[0].files.forEach((csv, i) => assert.ok(same(readShortlist(csv), readShortlist(results[1].files[i])), path.basename(csv)));
});

test("memory report: peak RSS follows a large allocation and can be reset", () => {
  if (!resetPeakRss()) return; // not Linux: nothing to check
  const before = memoryReport();
  assert.ok(before.peakRssMiB >= before.rssMiB - 1 && before.peakRssMiB < before.rssMiB + 64, JSON.stringify(before));
  let block: Float32Array | undefined = new Float32Array(64 * 2 ** 20).fill(1); // 256 MiB, touched
  const during = memoryReport();
  assert.ok(during.peakRssMiB >= before.rssMiB + 200, `${JSON.stringify(before)} -> ${JSON.stringify(during)}`);
  assert.equal(block[block.length - 1], 1);
  block = undefined;
});

test("arrays over 4 GiB: allocateFloat32 past Node's external-buffer limit and readMatrixPrefixNpy past the typed-array view limit (a sparse .npy)", () => {
  // The ImageNet-1K database is 10.5 GB. Node 20 caps external ArrayBuffers at 4 GiB (over it: a double free,
  // SIGABRT) and typed arrays at 2^32 elements (a byte view of the whole array: RangeError). A child process, so
  // an abort fails this test instead of the runner. The file is sparse: 4.3 GB on paper, a few pages on disk.
  const cols = 1024, rows = 2 ** 32 / (cols * 4) + 4096, file = path.join(dir, "over4gib.npy");
  const header = npyHeaderBytes("<f4", [rows, cols]);
  const marks: [number, number][] = [[0, 1.5], [2 ** 30 + 7, -2.25], [2 ** 32 / 4 + 3, 3.75], [rows * cols - 1, 4.5]]; // float index, value
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, header, 0, header.length, 0);
  fs.ftruncateSync(fd, header.length + rows * cols * 4);
  for (const [at, v] of marks) fs.writeSync(fd, new Uint8Array(Float32Array.of(v).buffer), 0, 4, header.length + at * 4);
  fs.closeSync(fd);
  const script = `const lib = require(${JSON.stringify(require.resolve("@mrl-retrieval/lib/internal"))});
    const a = lib.allocateFloat32(${rows * cols}); a[a.length - 1] = 1;
    const m = lib.readMatrixPrefixNpy(${JSON.stringify(file)});
    console.log(JSON.stringify({ allocated: a.length, rows: m.rows, cols: m.cols, marks: ${JSON.stringify(marks.map(([at]) => at))}.map((i) => m.data[i]) }));`;
  const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  fs.rmSync(file);
  assert.equal(child.signal, null, `killed by ${child.signal}: ${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { allocated: rows * cols, rows, cols, marks: marks.map(([, v]) => v) });
});
