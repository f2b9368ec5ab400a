/**
 * The metrics beyond the original's (metrics/ranking.ts): standard AP@k, nDCG@k, QPS, and ann-benchmarks'
 * distance-threshold recall (metrics/recall.ts). First hand-made cases with the arithmetic written out, then every
 * query of real shortlists (the test
 * experiment: shipped MRL model, first 4000 / 400 Fashion-MNIST images; exactl2 and hnsw8, adaptive, funnel)
 * against an independent numpy implementation (test/ranking_ref.py), and the saved table's new columns.
 *
 * Tolerances: AP and nDCG are float64 sums of at most k terms <= 1 (numpy adds pairwise, the project in order):
 * 1e-12 per query, 1e-9 for means over 400 queries (as metrics-agreement.test.ts). distance-threshold recall counts
 * integers: equal exactly.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  distanceThresholdRecall, DISTANCE_THRESHOLD_EPSILON, arrayFiles, candidateDistances, computeMetrics, experimentSpec, findFunnelFile, funnelPath, intMatrix,
  loadExperiment, loadRetrievalLabels, matrix, neighborsPath, queriesPerSecond, RANKING_COLUMNS, rankingMetrics, rankingMetricsPerQuery,
  readMatrixNpy, readShortlist, sharedIdRecall, rerankedPath, runInference, runRetrieval, type Experiment, type MetricsRow,
  type RetrievalLabels,
} from "@mrl-retrieval/lib/internal";
import { python, REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

const close = (actual: number, expected: number, what: string, tolerance = 1e-15): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`);

// ---- hand-made cases ------------------------------------------------------------------------------------------

// database labels: class 0 has R = 2 items (ids 0, 1), class 1 R = 3 (ids 2, 3, 4), class 2 R = 1 (id 5)
const DB = Int32Array.from([0, 0, 1, 1, 1, 2]);
// q0 class 0: hits at positions 1 and 3; q1 class 1: a -1, a hit at 2, then id 5 (class 2);
// q2 class 2: its only item first (R = 1 < k); q3 class 7: no database item (R = 0)
const QUERIES = Int32Array.from([0, 1, 2, 7]);
const SHORTLIST = intMatrix(4, 3, Int32Array.from([0, 2, 1, -1, 2, 5, 5, 0, 1, 0, 1, 2]));
const L = (p: number): number => 1 / Math.log2(p + 1); // discount of 1-based position p

test("standard AP@k: precision at the hit positions, divided by min(k, R); -1 a miss; R < k; R = 0 is 0", () => {
  const [at3, at1] = rankingMetricsPerQuery(SHORTLIST, QUERIES, DB, [3, 1]);
  close(at3.apStandard[0], (1 / 1 + 2 / 3) / 2, "q0: hits at 1 and 3, min(3, R=2) = 2");
  close(at3.apStandard[1], (1 / 2) / 3, "q1: -1 misses, hit at 2, min(3, R=3) = 3");
  close(at3.apStandard[2], (1 / 1) / 1, "q2: R = 1 < k, the perfect ranking scores 1");
  assert.equal(at3.apStandard[3], 0, "q3: R = 0, defined as 0");
  close(at1.apStandard[0], 1, "q0 at k=1: a hit, min(1, 2) = 1");
  assert.equal(at1.apStandard[1], 0, "q1 at k=1: the -1");
  // the mean keeps the R = 0 query: (5/6 + 1/6 + 1 + 0) / 4
  close(rankingMetrics(SHORTLIST, QUERIES, DB, [3])[0].apStandard, (5 / 6 + 1 / 6 + 1 + 0) / 4, "mAP@3 (standard)");
  // why a second AP: the original divides by k, so q2's perfect ranking gets 1/3 there
  close(computeMetrics(intMatrix(1, 3, SHORTLIST.data.slice(6, 9)), QUERIES.subarray(2, 3), DB, [3]).atK[0].mAP, 1 / 3, "original AP@3 of q2");
});

test("nDCG@k: binary same-class gains, log2(p + 1) discounts, ideal = min(k, R) hits at the top", () => {
  const [at3, at2] = rankingMetricsPerQuery(SHORTLIST, QUERIES, DB, [3, 2]);
  close(at3.ndcg[0], (L(1) + L(3)) / (L(1) + L(2)), "q0: hits at 1 and 3 over R = 2 ideal hits");
  close(at3.ndcg[1], L(2) / (L(1) + L(2) + L(3)), "q1: a hit at 2 over 3 ideal hits");
  close(at3.ndcg[2], 1, "q2: R = 1 found first");
  assert.equal(at3.ndcg[3], 0, "q3: R = 0, defined as 0");
  close(at2.ndcg[0], L(1) / (L(1) + L(2)), "q0 at k=2: the hit at 3 is past k");
  const mean = rankingMetrics(SHORTLIST, QUERIES, DB, [3])[0].ndcg;
  close(mean, ((L(1) + L(3)) / (L(1) + L(2)) + L(2) / (L(1) + L(2) + L(3)) + 1 + 0) / 4, "nDCG@3 mean");
  const none = rankingMetricsPerQuery(intMatrix(1, 2, Int32Array.from([-1, -1])), Int32Array.from([0]), DB, [2])[0];
  assert.deepEqual([none.apStandard[0], none.ndcg[0]], [0, 0], "only -1 ids: nothing found");
});

test("ranking metrics: shape errors name the problem", () => {
  assert.throws(() => rankingMetrics(SHORTLIST, QUERIES, DB, [4]), /k=4 is outside the shortlist's 1\.\.3 neighbours/);
  assert.throws(() => rankingMetrics(SHORTLIST, QUERIES.subarray(0, 3), DB, [3]), /the shortlist has 4 rows for 3 query labels/);
  assert.ok(Number.isNaN(rankingMetrics(intMatrix(0, 3), new Int32Array(0), DB, [3])[0].ndcg), "no queries: no mean");
});

test("distanceThresholdRecall: candidates within the k-th true distance + epsilon, / k; a tie at the threshold counts; missing never", () => {
  // one query, k = 3, true distances 0.25, 0.5, 1 (exact in float32): threshold 1 + 1e-3
  const exact = Float32Array.from([0.25, 0.5, 1]);
  const atThreshold = 1 + DISTANCE_THRESHOLD_EPSILON; // the same float64 sum the threshold is
  assert.equal(distanceThresholdRecall(Float64Array.from([0.25, 1, atThreshold]), 3, exact, 3, 3), 3 / 3, "a tie with the k-th and one exactly at the threshold count");
  assert.equal(distanceThresholdRecall(Float64Array.from([0.25, 1.0011, Infinity]), 3, exact, 3, 3), 1 / 3, "past the threshold, and a -1 (Infinity)");
  assert.equal(distanceThresholdRecall(Float64Array.from([NaN, 0.5, 0.3]), 3, exact, 3, 3), 2 / 3, "NaN never counts");
  // k = 2 uses the 2nd true distance (0.5): of [0.25, 0.9] only the first; epsilon 0.5 makes it 1.0 and both count
  assert.equal(distanceThresholdRecall(Float64Array.from([0.25, 0.9, 0]), 3, exact, 3, 2), 1 / 2, "k < the columns: the k-th true distance");
  assert.equal(distanceThresholdRecall(Float64Array.from([0.25, 0.9, 0]), 3, exact, 3, 2, 0.5), 2 / 2, "epsilon widens the threshold");
  // two queries: mean of 1/2 and 0/2
  assert.equal(distanceThresholdRecall(Float64Array.from([0.1, 5, 9, 9]), 2, Float32Array.from([0.1, 0.2, 1, 2]), 2, 2), (1 + 0) / 4, "mean over queries");
  assert.throws(() => distanceThresholdRecall(new Float64Array(2), 2, exact, 3, 3), /recall@3 needs 3 distances per query, the candidates have 2, the exact ones 3/);
  assert.throws(() => distanceThresholdRecall(new Float64Array(6), 3, exact, 3, 3), /the candidates have 2 queries, the exact distances 1/);
});

test("candidateDistances: L2 between unit-normalized prefixes, Infinity for -1", () => {
  // query prefix (3, 4) -> (0.6, 0.8); database prefixes (0, 1), (6, 8) -> (0.6, 0.8), (-3, -4) -> (-0.6, -0.8); the 3rd column is cut
  const queries = matrix(1, 3, Float32Array.from([3, 4, 100]));
  const database = matrix(3, 3, Float32Array.from([0, 1, 5, 6, 8, 0, -3, -4, 0]));
  const d = candidateDistances(queries, database, intMatrix(1, 4, Int32Array.from([1, 0, 2, -1])), 2, 4);
  close(d[0], 0, "same direction");
  close(d[1], Math.sqrt(0.6 ** 2 + 0.2 ** 2), "(0.6, 0.8) to (0, 1)");
  close(d[2], 2, "opposite directions");
  assert.equal(d[3], Infinity, "-1");
  assert.throws(() => candidateDistances(queries, database, intMatrix(1, 1, Int32Array.from([3])), 2, 1), /candidate id 3 is outside the database's 3 rows/);
  assert.throws(() => candidateDistances(queries, matrix(1, 3), intMatrix(1, 1), 2, 1), /row 0 of the database cannot be L2-normalized at 2d/);
});

test("queriesPerSecond: queries / seconds; no duration is an error", () => {
  assert.equal(queriesPerSecond(400, 0.5), 800);
  assert.throws(() => queriesPerSecond(400, 0), /a duration must be a positive number of seconds, got 0/);
  assert.throws(() => queriesPerSecond(-1, 1), /a query count must be a non-negative number, got -1/);
});

// ---- real shortlists against numpy ----------------------------------------------------------------------------

const KS = [1, 10, 25, 50, 100];
let config: Experiment;
let labels: RetrievalLabels;
let tables: Map<string, MetricsRow[]>;
/** Shortlist files with the table rows they make. */
let cases: Array<{ name: string; file: string; table: string; pick: (r: MetricsRow) => boolean }>;

before(async () => {
  config = loadExperiment({ root: tempDir(), indexTypes: ["exactl2", "hnsw8"] }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  tables = new Map(runRetrieval(config, { quiet: true }).map((r) => [r.indexType, r.result.metrics.rows]));
  labels = loadRetrievalLabels(config.root, config.dataset, "mrl");
  cases = [];
  for (const index of ["exactl2", "hnsw8"] as const) {
    const spec = experimentSpec(config, "mrl", index);
    for (const dim of config.nesting) {
      cases.push({ name: `${index} ${dim}d`, file: neighborsPath(spec, dim, config.k), table: index, pick: (r) => r.method === "exact" && r.retrievalDim === dim });
    }
    const [a] = config.adaptive, [f] = config.funnels;
    cases.push({ name: `${index} adaptive`, file: rerankedPath(spec, a), table: index, pick: (r) => r.method === "adaptive" });
    cases.push({ name: `${index} funnel`, file: findFunnelFile(spec, f) ?? funnelPath(spec, f), table: index, pick: (r) => r.method === "funnel" });
  }
});

interface Ref {
  ranking: Record<string, Record<string, { ap: number[]; ndcg: number[] }>>;
  ann: Record<string, { per_query: number[]; mean: number }>;
}

function reference(shortlists: Record<string, string>, ann: Record<string, { dim: number; k: number; shortlist: string }> = {}): Ref {
  const x = arrayFiles(config.root, config.dataset, "mrl");
  const job = path.join(tempDir("mrl-ranking-ref-"), "job.json");
  fs.writeFileSync(job, JSON.stringify({
    db_labels: x.databaseY, query_labels: x.queriesY, shortlists, ks: KS,
    ann: Object.fromEntries(Object.entries(ann).map(([name, c]) => [name, { ...c, db_x: x.databaseX, query_x: x.queriesX }])),
  }));
  return python<Ref>(`import sys; sys.path.insert(0, ${JSON.stringify(path.join(REPO, "test"))}); from ranking_ref import main; main(sys.argv[1])`, [job]);
}

test("every query of the exact, HNSW (with -1s), adaptive and funnel shortlists: standard AP@k and nDCG@k equal numpy's", () => {
  const ref = reference(Object.fromEntries(cases.map((c) => [c.name, c.file])));
  let minusOnes = 0, ranked = 0;
  for (const c of cases) {
    const neighbors = readShortlist(c.file);
    const ks = KS.filter((k) => k <= neighbors.cols);
    assert.deepEqual(Object.keys(ref.ranking[c.name]).map(Number), ks, `${c.name}: numpy evaluated the same ks`);
    minusOnes += neighbors.data.subarray(0, neighbors.rows * neighbors.cols).filter((id, i) => id === -1 && i % neighbors.cols < 100).length;
    const ours = rankingMetricsPerQuery(neighbors, labels.queryLabels, labels.databaseLabels, ks);
    const differences: string[] = [];
    for (const o of ours) {
      const r = ref.ranking[c.name][String(o.k)];
      assert.equal(r.ap.length, labels.queryLabels.length, `${c.name}: numpy saw every query`);
      for (let i = 0; i < labels.queryLabels.length; i++) {
        if (!(Math.abs(o.apStandard[i] - r.ap[i]) <= 1e-12)) differences.push(`query ${i}: AP@${o.k} ${o.apStandard[i]}, numpy ${r.ap[i]}`);
        if (!(Math.abs(o.ndcg[i] - r.ndcg[i]) <= 1e-12)) differences.push(`query ${i}: nDCG@${o.k} ${o.ndcg[i]}, numpy ${r.ndcg[i]}`);
        ranked++;
      }
    }
    assert.deepEqual(differences.slice(0, 10), [], `${c.name}: ${differences.length} differences`);
    // the saved table's new columns are the means over all queries
    const rows = tables.get(c.table)!.filter(c.pick);
    assert.equal(rows.length, 1, `${c.name}: one table row`);
    for (const k of ks.filter((k) => config.metricKs.includes(k))) {
      const mean = (v: number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
      close(rows[0][RANKING_COLUMNS.apStandard(k)] as number, mean(ref.ranking[c.name][k].ap), `${c.name} table mAP@${k} (standard)`, 1e-9);
      close(rows[0][RANKING_COLUMNS.ndcg(k)] as number, mean(ref.ranking[c.name][k].ndcg), `${c.name} table nDCG@${k}`, 1e-9);
    }
  }
  // the -1 path is exercised: hnsw8 over 4000 rows at k = 256 leaves ids missing in the first 100
  assert.ok(minusOnes > 0, "some shortlist has a -1 in its first 100");
  assert.ok(ranked > 0);
});

test("here R (about 400 per class) > k, so the standard AP@k equals the original's AP@k: a cross-check of the two", () => {
  // the two differ only in the divisor, min(k, R) vs k; with R > 100 they must agree query by query
  const neighbors = readShortlist(cases[0].file);
  for (let i = 0; i < neighbors.rows; i++) {
    const one = intMatrix(1, neighbors.cols, neighbors.data.subarray(i * neighbors.cols, (i + 1) * neighbors.cols));
    const q = labels.queryLabels.subarray(i, i + 1);
    const original = computeMetrics(one, q, labels.databaseLabels, [10, 100]).atK;
    const standard = rankingMetricsPerQuery(one, q, labels.databaseLabels, [10, 100]);
    for (const j of [0, 1]) close(standard[j].apStandard[0], original[j].mAP, `query ${i} at k=${original[j].k}`, 1e-15);
  }
});

test("the table keeps the original's columns first and in order, then the new ones", () => {
  const row = tables.get("exactl2")![0];
  const keys = Object.keys(row);
  const original = ["model", "index", "method", "config", "retrievalDim", "rerankDim", "shortlist", "MFLOPs", "top1",
    ...config.metricKs.flatMap((k) => [`mAP@${k}`, `precision@${k}`, `recall@${k}`, `top-${k}`])];
  assert.deepEqual(keys.slice(0, original.length), original);
  assert.deepEqual(keys.slice(original.length), [...config.metricKs.map(RANKING_COLUMNS.apStandard), ...config.metricKs.map(RANKING_COLUMNS.ndcg)]);
  // HNSW rows: recall@10 vs exact stays right after the original's columns, before the new ones
  assert.equal(Object.keys(tables.get("hnsw8")![0])[original.length], "recall@10 vs exact");
});

test("ann-benchmarks recall of hnsw8 (8d, 16d) and adaptive 16->2048 shortlists against exact distances equals numpy's brute force", (t) => {
  const x = arrayFiles(config.root, config.dataset, "mrl");
  const queries = readMatrixNpy(x.queriesX), database = readMatrixNpy(x.databaseX);
  const exactSpec = experimentSpec(config, "mrl", "exactl2"), hnswSpec = experimentSpec(config, "mrl", "hnsw8");
  const annCases = [
    { name: "hnsw8 8d @10", dim: 8, k: 10, shortlist: neighborsPath(hnswSpec, 8, config.k) },
    { name: "hnsw8 8d @100", dim: 8, k: 100, shortlist: neighborsPath(hnswSpec, 8, config.k) },
    { name: "hnsw8 16d @100", dim: 16, k: 100, shortlist: neighborsPath(hnswSpec, 16, config.k) },
    // the measure: a shortlist reranked at 2048d against the exact 2048-d neighbours
    { name: "adaptive 16->2048 vs exact 2048d @10", dim: 2048, k: 10, shortlist: rerankedPath(hnswSpec, config.adaptive[0]) },
  ];
  const ref = reference({}, Object.fromEntries(annCases.map((c) => [c.name, c])));
  for (const c of annCases) {
    const exactIds = readShortlist(neighborsPath(exactSpec, c.dim, config.k));
    const approximate = readShortlist(c.shortlist);
    // the project's exact k-NN distances: those of the exactl2 shortlist's ids, ascending
    const exact = candidateDistances(queries, database, exactIds, c.dim, c.k);
    const candidate = candidateDistances(queries, database, approximate, c.dim, c.k);
    const perQuery = Array.from({ length: queries.rows }, (_, q) => distanceThresholdRecall(candidate.subarray(q * c.k, (q + 1) * c.k), c.k,
      exact.subarray(q * c.k, (q + 1) * c.k), c.k, c.k) * c.k);
    assert.deepEqual(perQuery.map(Math.round), ref.ann[c.name].per_query, `${c.name}: hits per query`);
    const recall = distanceThresholdRecall(candidate, c.k, exact, c.k, c.k);
    close(recall, ref.ann[c.name].mean, c.name, 1e-12);
    // every exact id found is within the k-th true distance, so distance recall >= id recall
    const byIds = sharedIdRecall(exactIds, approximate, c.k, c.name);
    assert.ok(recall >= byIds, `${c.name}: distance recall ${recall} >= id recall ${byIds}`);
    t.diagnostic(`${c.name}: ann-benchmarks recall ${recall.toFixed(4)}, id recall ${byIds.toFixed(4)}`);
  }
});
