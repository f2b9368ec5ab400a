/**
 * First stages beyond exact search and HNSW (issue 15): IVF clustered at a smaller prefix (AdANNS), PQ, OPQ,
 * SQ8 and median-centred sign bits. Each must find the true neighbours when its search is exhaustive, keep most
 * of them at everyday settings once the float rerank has run, cost what the model says, and write index files
 * that Python FAISS reads and searches to the same ids.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import {
  buildFirstStage, candidateDistances, faissNormalized, columnMedians, firstColumns, firstStageMflops, firstStageName, intMatrix, loadExperiment, loadRetrievalArrays,
  MrlError, nestedKnn, parseFirstStage, rerank, runInference, thresholdBits, writeMatrixNpy, type FirstStageIndex, type IntMatrix, type Matrix, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { python, tempDir, TEST_EXPERIMENT } from "./helpers";

let arrays: RetrievalArrays, database: Matrix, queries: Matrix;
before(async () => {
  const config = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
  database = arrays.database.matrix();
  queries = arrays.queries;
});

/**
 * How many queries' first k ids are the exact k-NN at `dim` up to ties: position by position, the true distance
 * of what was found equals the exact one (within 1e-6; ids may differ only among equal distances).
 */
function queriesMatchingExact(found: IntMatrix, dim: number, k: number): number {
  const exact = nestedKnn(database, queries, [dim], k)[0].labels;
  const got = candidateDistances(queries, database, firstColumns(found, k), dim, k);
  const want = candidateDistances(queries, database, exact, dim, k);
  let matching = 0;
  for (let q = 0; q < queries.rows; q++) {
    let same = true;
    for (let j = 0; j < k && same; j++) same = Math.abs(got[q * k + j] - want[q * k + j]) <= 1e-6;
    if (same) matching++;
  }
  return matching;
}

/** Share of the exact top-10 at `dim` (by id) found in the first 10 of `found`. */
function recallAt10(found: IntMatrix, dim: number): number {
  const exact = nestedKnn(database, queries, [dim], 10)[0].labels;
  let hits = 0;
  for (let q = 0; q < queries.rows; q++) {
    const mine = new Set(found.data.subarray(q * found.cols, q * found.cols + 10));
    for (let j = 0; j < 10; j++) if (mine.has(exact.data[q * 10 + j])) hits++;
  }
  return hits / (queries.rows * 10);
}

// each (stage, dim) is built once for the whole file (OPQ's training takes most of its time)
const built = new Map<string, FirstStageIndex>();
after(() => built.forEach((index) => index.free()));
function stage(name: string, dim: number): FirstStageIndex {
  const key = `${name}@${dim}`;
  if (!built.has(key)) built.set(key, buildFirstStage(parseFirstStage(name), database, dim));
  return built.get(key)!;
}

function shortlist(name: string, dim: number, k: number): { ids: IntMatrix; distancesPerQuery: number } {
  const index = stage(name, dim);
  const found = index.search(index.prepare(queries), k);
  return { ids: intMatrix(queries.rows, k, found.labels), distancesPerQuery: found.distances / queries.rows };
}

test("first-stage specs: names round-trip, bad names and misfits are one clear line", () => {
  for (const name of ["exact", "hnsw32", "hnsw8-ef64", "ivf256-p8", "ivf1024-p16-c8", "pq16", "opq8", "sq8", "binary"]) {
    assert.equal(firstStageName(parseFirstStage(name)), name);
  }
  assert.deepEqual(parseFirstStage("ivf1024-p16-c8"), { kind: "ivf", nlist: 1024, nprobe: 16, clusterDim: 8 });
  const bad = (name: string, re: RegExp): void => assert.throws(() => parseFirstStage(name), (e: unknown) => e instanceof MrlError && re.test(e.message) && !e.message.includes("\n"));
  bad("ivf", /first stage "ivf" is not one of: exact, hnsw<M>\[-ef<efSearch>\], ivf<nlist>-p<nprobe>\[-c<d_c>\], pq<m>, opq<m>, sq8, binary/);
  bad("ivf16-p32", /probes 32 of 16 lists; expected nprobe <= nlist/);
  bad("pq0", /is not one of/);
  assert.throws(() => buildFirstStage(parseFirstStage("pq5"), database, 16), /5 sub-quantizers do not divide 16 dims/);
  assert.throws(() => buildFirstStage(parseFirstStage("binary"), database, 12), /12 sign bits are not whole bytes/);
  assert.throws(() => buildFirstStage(parseFirstStage("ivf16-p4-c32"), database, 16), /clusters at 32 dims cannot be made from a 16-d prefix/);
});

test("IVF finds the true neighbours when every list is probed, clustered at its own dim or (AdANNS) at a smaller prefix", () => {
  for (const name of ["ivf32-p32", "ivf32-p32-c8"]) {
    const { ids, distancesPerQuery } = shortlist(name, 16, 50);
    assert.equal(queriesMatchingExact(ids, 16, 50), queries.rows, `${name}: every query's 50 nearest, up to ties`);
    assert.equal(distancesPerQuery, database.rows, `${name}: probing every list scans every row once`);
  }
  // fewer probes scan fewer rows and miss some, and the cost model counts what was scanned
  const few = shortlist("ivf32-p2-c8", 16, 50);
  assert.ok(few.distancesPerQuery < database.rows / 4, `2 of 32 lists: ${few.distancesPerQuery} rows per query`);
  assert.ok(queriesMatchingExact(few.ids, 16, 50) < queries.rows);
  assert.equal(firstStageMflops(parseFirstStage("ivf32-p2-c8"), 16, database.rows, few.distancesPerQuery), (32 * 8 + few.distancesPerQuery * 16) / 1e6);
});

test("HNSW through the same path finds the true neighbours when efSearch covers the database, and counts its distances", () => {
  const { ids, distancesPerQuery } = shortlist(`hnsw32-ef${database.rows}`, 16, 50);
  assert.ok(queriesMatchingExact(ids, 16, 50) >= queries.rows * 0.99);
  const cheap = shortlist("hnsw32", 16, 50);
  assert.ok(cheap.distancesPerQuery > 50 && cheap.distancesPerQuery < distancesPerQuery, `${cheap.distancesPerQuery} vs ${distancesPerQuery} distances per query`);
});

test("quantized first stages: exhaustive codes find the true neighbours, everyday codes keep most of them, and the float rerank recovers the rest", () => {
  // PQ with one 8-bit code per dim, and SQ8: 256 levels per dim, finer than the gaps between neighbours' distances mostly
  for (const [name, dim] of [["pq16", 16], ["sq8", 16]] as const) {
    const { ids } = shortlist(name, dim, 100);
    assert.ok(recallAt10(ids, dim) > 0.9, `${name} at ${dim}d: recall@10 ${recallAt10(ids, dim)}`);
    // reranking the quantized shortlist in float at the same dim: the exact top 10
    const reranked = rerank(database, queries, ids, dim, 100);
    assert.ok(queriesMatchingExact(reranked, dim, 10) >= queries.rows * 0.99, name);
  }
  // coarse codes: 4 sub-quantizers over 16 dims, with and without OPQ's rotation, and 64 centred sign bits
  for (const [name, dim] of [["pq4", 16], ["opq4", 16], ["binary", 64]] as const) {
    const { ids } = shortlist(name, dim, 200);
    const coarse = recallAt10(ids, dim), reranked = recallAt10(rerank(database, queries, ids, dim, 200), dim);
    assert.ok(coarse > 0.15 && reranked > 0.9 && reranked > coarse, `${name}: recall@10 ${coarse} from the codes, ${reranked} after the float rerank`);
  }
});

test("sign bits are centred at each dim's median: raw signs of ReLU features would be all ones", () => {
  const medians = columnMedians({ data: Float32Array.from([1, 5, 3, 0, 2, 4, 7, 1]), rows: 4, cols: 2 });
  assert.deepEqual([...medians], [2.5, 2.5]);
  assert.ok(database.data.every((v) => v >= 0), "the fixture's embeddings are non-negative (post-ReLU)");
  const dim = 64, bits = thresholdBits(database, dim, columnMedians(faissNormalized(database, dim)));
  let ones = 0;
  for (const byte of bits) for (let j = 0; j < 8; j++) ones += (byte >> j) & 1;
  const share = ones / (database.rows * dim);
  assert.ok(share > 0.3 && share < 0.7, `share of ones ${share}`);
});

test("index files: Python FAISS reads every first stage's index and finds the same ids for the same queries", () => {
  const dir = tempDir("mrl-stages-"), dim = 16, k = 20;
  const queriesFile = path.join(dir, "queries.npy");
  writeMatrixNpy(queriesFile, queries);
  const stages = ["ivf32-p4-c8", "pq4", "opq4", "sq8", "hnsw32", "binary"];
  const ours: Record<string, number[]> = {};
  for (const name of stages) {
    const index = stage(name, dim);
    ours[name] = Array.from(index.search(index.prepare(queries), k).labels);
    index.write(path.join(dir, `${name}.index`));
  }
  assert.ok(fs.existsSync(path.join(dir, "binary.index.thresholds.npy")));
  const theirs = python<Record<string, number[]>>(`
import json, sys, numpy as np, faiss
d, k, folder = ${dim}, ${k}, sys.argv[1]
q = np.load(folder + "/queries.npy")[:, :d].copy()
faiss.normalize_L2(q)
out = {}
for name in ${JSON.stringify(stages)}:
    f = folder + "/" + name + ".index"
    if name == "binary":
        t = np.load(f + ".thresholds.npy")
        codes = np.packbits(q > t, axis=1, bitorder="little")
        out[name] = faiss.read_index_binary(f).search(codes, k)[1].ravel().tolist()
    else:
        out[name] = faiss.read_index(f).search(q, k)[1].ravel().tolist()
print(json.dumps(out))`, [dir]);
  for (const name of stages) assert.deepEqual(theirs[name], ours[name], name);
});
