/**
 * The metrics against the original compute_metrics notebook (compute_mAP_recall_at_k and its top-1 line), as
 * re-implemented independently in numpy by test/original_metrics_ref.py, on real shortlists: the test
 * experiment's pipeline (shipped MRL model, first 4000 / 400 Fashion-MNIST images) makes the exact, adaptive
 * and funnel shortlists; hnsw8 shortlists, made the original's way by Python FAISS and by the project's own search,
 * supply real -1 ids (FAISS found fewer than k), which the project counts as misses.
 *
 * Every query is compared (computeMetrics on that query's row alone) at every k the metrics table reports and
 * at k = 1, with recall over the query class's database count (the project's default) and over 1300 (the
 * original's constant); the saved tables are compared with the reference's means.
 *
 * Tolerances. hits/k, hits/denominator, top-k and top-1 are one IEEE division of the same integers on both
 * sides: equal exactly. AP@k is a float64 sum of at most k terms <= 1 that numpy adds pairwise and the project
 * in order: within k * 2^-53 of each other, so 1e-12. A mean over queries adds another nq * 2^-53 (about
 * 5e-14 here): 1e-9. Not 1e-6: one hit more or less in one query can change mAP@100 by only 1/(100 * 100 * 400)
 * = 2.5e-7, which 1e-6 would let through (a swap of two neighbours changes it less still: the per-query
 * comparison at 1e-12 is the one that sees every difference).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  arrayFiles, computeMetrics, experimentSpec, findFunnelFile, funnelPath, intMatrix, loadExperiment, loadRetrievalLabels, neighborsPath,
  readShortlist, rerankedPath, writeShortlist, runInference, runMetrics, runRetrieval, type Experiment, type IntMatrix, type MetricsRow, type RetrievalLabels,
} from "@mrl-retrieval/lib/internal";
import { python, REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

type Recall = "class-count" | number;
type Missing = "miss" | "last-row";
interface RefAtK { ap: number[]; precision: number[]; recall: number[]; topk: number[] }
interface RefResult { top1: number[]; k: Record<string, RefAtK>; mean: Record<string, number> }

const AP_TOLERANCE = 1e-12;
const MEAN_TOLERANCE = 1e-9;

let config: Experiment;
let labels: RetrievalLabels;
/** The shortlists the pipeline wrote, with the metrics-table row each one makes. */
let shortlists: Array<{ name: string; file: string; row: (table: MetricsRow[]) => MetricsRow }>;
let tableClassCount: MetricsRow[];
let table1300: MetricsRow[];

/** The one row of a table that a predicate picks. */
function onlyRow(table: MetricsRow[], what: string, pick: (r: MetricsRow) => boolean): MetricsRow {
  const rows = table.filter(pick);
  assert.equal(rows.length, 1, `one metrics row for ${what}`);
  return rows[0];
}

before(async () => {
  config = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  tableClassCount = runRetrieval(config, { quiet: true })[0].result.metrics.rows;
  // the same shortlists evaluated with the original's recall denominator
  table1300 = runMetrics(loadExperiment({ root: config.root, recallDenominator: 1300 }, TEST_EXPERIMENT), { quiet: true })[0].result.rows;
  labels = loadRetrievalLabels(config.root, config.dataset, "mrl");
  const spec = experimentSpec(config, "mrl", "exactl2");
  shortlists = [
    ...config.nesting.map((dim) => ({ name: `exact ${dim}d`, file: neighborsPath(spec, dim, config.k),
      row: (t: MetricsRow[]) => onlyRow(t, `${dim}d`, (r) => r.method === "exact" && r.retrievalDim === dim) })),
    ...config.adaptive.map((a) => ({ name: `adaptive ${a.retrievalDim}->${a.rerankDim} @${a.shortlist}`, file: rerankedPath(spec, a),
      row: (t: MetricsRow[]) => onlyRow(t, "adaptive", (r) => r.method === "adaptive" && r.retrievalDim === a.retrievalDim &&
        r.rerankDim === a.rerankDim && r.shortlist === String(a.shortlist)) })),
    ...config.funnels.map((f) => ({ name: `funnel [${f.shortlists}]`, file: findFunnelFile(spec, f) ?? funnelPath(spec, f),
      row: (t: MetricsRow[]) => onlyRow(t, "funnel", (r) => r.method === "funnel" && r.shortlist === `[${f.shortlists}]`) })),
  ];
  assert.equal(shortlists.length, config.nesting.length + config.adaptive.length + config.funnels.length);
});

/** The ks a table row reports (its mAP@k columns). */
function reportedKs(row: MetricsRow): number[] {
  return Object.keys(row).map((c) => /^mAP@(\d+)$/.exec(c)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
}

/** The reference's per-query values and means for each shortlist file (CSV as pandas reads it, or .npy). */
function reference(files: Record<string, string>, ks: Record<string, number[]>, recall: Recall, missing: Missing): Record<string, RefResult> {
  const job = path.join(tempDir("mrl-metrics-ref-"), "job.json");
  const y = arrayFiles(config.root, config.dataset, "mrl");
  fs.writeFileSync(job, JSON.stringify({ db_labels: y.databaseY, query_labels: y.queriesY, shortlists: files, ks, recall, missing }));
  return python<Record<string, RefResult>>(
    `import sys; sys.path.insert(0, ${JSON.stringify(path.join(REPO, "test"))}); from original_metrics_ref import main; main(sys.argv[1])`, [job]);
}

/** Differences between computeMetrics on each query's row alone and the reference's value for that query. */
function perQueryDifferences(neighbors: IntMatrix, ref: RefResult, ks: number[], recall: Recall): string[] {
  const out: string[] = [];
  for (let i = 0; i < neighbors.rows; i++) {
    const one = intMatrix(1, neighbors.cols, neighbors.data.subarray(i * neighbors.cols, (i + 1) * neighbors.cols));
    const m = computeMetrics(one, labels.queryLabels.subarray(i, i + 1), labels.databaseLabels, ks, recall);
    if (m.top1 !== ref.top1[i]) out.push(`query ${i}: top-1 ${m.top1}, original ${ref.top1[i]}`);
    for (const a of m.atK) {
      const r = ref.k[String(a.k)];
      if (Math.abs(a.mAP - r.ap[i]) > AP_TOLERANCE) out.push(`query ${i}: AP@${a.k} ${a.mAP}, original ${r.ap[i]}`);
      if (a.precision !== r.precision[i]) out.push(`query ${i}: precision@${a.k} ${a.precision}, original ${r.precision[i]}`);
      if (a.recall !== r.recall[i]) out.push(`query ${i}: recall@${a.k} ${a.recall}, original ${r.recall[i]}`);
      if (a.topK !== r.topk[i]) out.push(`query ${i}: top-${a.k} ${a.topK}, original ${r.topk[i]}`);
    }
  }
  return out;
}

/** Differences between a table row (or computeMetrics' result flattened the same way) and the reference's means. */
function meanDifferences(values: Record<string, number | string>, ref: RefResult, ks: number[]): string[] {
  const columns = ["top1", ...ks.flatMap((k) => [`mAP@${k}`, `precision@${k}`, `recall@${k}`, `top-${k}`])];
  return columns.filter((c) => !(Math.abs(Number(values[c]) - ref.mean[c]) <= MEAN_TOLERANCE))
    .map((c) => `${c}: ${values[c]}, original ${ref.mean[c]}`);
}

/** computeMetrics' result as table columns. */
function columnsOf(neighbors: IntMatrix, ks: number[], recall: Recall): Record<string, number> {
  const m = computeMetrics(neighbors, labels.queryLabels, labels.databaseLabels, ks, recall);
  return Object.fromEntries([["top1", m.top1], ...m.atK.flatMap((a) => [[`mAP@${a.k}`, a.mAP], [`precision@${a.k}`, a.precision],
    [`recall@${a.k}`, a.recall], [`top-${a.k}`, a.topK]])]);
}

test("the table reports the experiment's ks that fit each shortlist (funnel: its final length only)", () => {
  for (const s of shortlists) {
    const cols = readShortlist(s.file).cols;
    for (const table of [tableClassCount, table1300]) {
      assert.deepEqual(reportedKs(s.row(table)), config.metricKs.filter((k) => k <= cols), s.name);
    }
  }
  assert.deepEqual(reportedKs(shortlists.at(-1)!.row(tableClassCount)), [10], "the funnel ends at 10");
});

for (const recall of ["class-count", 1300] as const) {
  test(`every query of the exact, adaptive and funnel shortlists: the original's metrics at every reported k, k = 1 and top-1 (recall over ${recall})`, () => {
    const ks = Object.fromEntries(shortlists.map((s) => [s.name, [1, ...reportedKs(s.row(tableClassCount))]]));
    const ref = reference(Object.fromEntries(shortlists.map((s) => [s.name, s.file])), ks, recall, "miss");
    for (const s of shortlists) {
      const neighbors = readShortlist(s.file);
      assert.equal(ref[s.name].top1.length, labels.queryLabels.length, `${s.name}: the reference saw every query`);
      const differences = perQueryDifferences(neighbors, ref[s.name], ks[s.name], recall);
      assert.deepEqual(differences.slice(0, 10), [], `${s.name}: ${differences.length} differences`);
    }
  });

  test(`the saved metrics table equals the original's means over all queries (recall over ${recall})`, () => {
    const table = recall === "class-count" ? tableClassCount : table1300;
    const ks = Object.fromEntries(shortlists.map((s) => [s.name, reportedKs(s.row(table))]));
    const ref = reference(Object.fromEntries(shortlists.map((s) => [s.name, s.file])), ks, recall, "miss");
    for (const s of shortlists) assert.deepEqual(meanDifferences(s.row(table), ref[s.name], ks[s.name]), [], s.name);
  });
}

test("recall: the project's default divides by the query class's database count, the original by 1300", () => {
  const classCount = new Map<number, number>();
  for (const l of labels.databaseLabels) classCount.set(l, (classCount.get(l) ?? 0) + 1);
  // the test database (first 4000 Fashion-MNIST images) has about 400 per class, so the two really differ
  assert.ok([...classCount.values()].every((c) => c > 300 && c < 500), `class counts ${[...classCount.values()]}`);
  const s = shortlists[0];
  const neighbors = readShortlist(s.file);
  for (let i = 0; i < neighbors.rows; i++) {
    const one = intMatrix(1, neighbors.cols, neighbors.data.subarray(i * neighbors.cols, (i + 1) * neighbors.cols));
    const q = labels.queryLabels.subarray(i, i + 1);
    const byClass = computeMetrics(one, q, labels.databaseLabels, [100], "class-count").atK[0];
    const by1300 = computeMetrics(one, q, labels.databaseLabels, [100], 1300).atK[0];
    const hits = Math.round(byClass.precision * 100);
    assert.equal(byClass.recall, hits / classCount.get(q[0])!, `query ${i}`);
    assert.equal(by1300.recall, hits / 1300, `query ${i}`);
  }
  assert.notEqual(s.row(tableClassCount)["recall@100"], s.row(table1300)["recall@100"]);
});

// ---- missing neighbours (-1) ---------------------------------------------------------------------------------

/**
 * hnsw8 shortlists made the original faiss_nn notebook's way with Python FAISS (IndexHNSWFlat(d, 8) on
 * normalize_L2'd prefixes, one add, default efSearch), k = the experiment's: FAISS returns -1 where it found
 * fewer than k. Made here rather than by the project's search, whose HNSW settings may avoid the -1s.
 */
function originalHnswShortlists(dims: number[]): Record<string, string> {
  const dir = tempDir("mrl-metrics-hnsw-");
  const x = arrayFiles(config.root, config.dataset, "mrl");
  python(`
import faiss, json, numpy as np, sys
db, q, k, out = np.load(sys.argv[1]), np.load(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for d in [int(v) for v in sys.argv[5].split(",")]:
    xb = np.array(db[:, :d], dtype=np.float32); faiss.normalize_L2(xb)
    xq = np.array(q[:, :d], dtype=np.float32); faiss.normalize_L2(xq)
    index = faiss.IndexHNSWFlat(d, 8); index.add(xb)
    np.save(out + f"/hnsw8_{d}d.npy", index.search(xq, k)[1])
print(json.dumps(0))`, [x.databaseX, x.queriesX, String(config.k), dir, dims.join(",")]);
  return Object.fromEntries(dims.map((d) => [`hnsw8 ${d}d`, path.join(dir, `hnsw8_${d}d.npy`)]));
}

/** The first exact shortlist (8d) with query i's ids from position i % 13 on replaced by -1 (none left when 0), as .npy. */
function cutShortlist(): string {
  const neighbors = readShortlist(shortlists[0].file);
  const cut = intMatrix(neighbors.rows, neighbors.cols, neighbors.data.slice());
  for (let i = 0; i < cut.rows; i++) cut.data.fill(-1, i * cut.cols + (i % 13), (i + 1) * cut.cols);
  const file = path.join(tempDir("mrl-metrics-cut-"), "cut.npy");
  writeShortlist(file, cut);
  return file;
}

/** Queries whose first `k` ids contain a -1. */
function queriesWithMissing(neighbors: IntMatrix, k: number): number {
  let n = 0;
  for (let i = 0; i < neighbors.rows; i++) if (neighbors.data.subarray(i * neighbors.cols, i * neighbors.cols + k).includes(-1)) n++;
  return n;
}

let missingCases: Record<string, string>;
const CUT = "exact shortlist cut short";
const MISSING_KS = [1, 10, 25, 50, 100];

test("-1 ids count as misses: every query of real hnsw8 shortlists and of shortlists cut short at each of the first 13 positions", () => {
  missingCases = { ...originalHnswShortlists([8, 16]), [CUT]: cutShortlist() };
  for (const [name, file] of Object.entries(missingCases)) {
    // the cases have -1 where the metrics look: in the first 100 (hnsw8), in the first 10 and at position 0 (cut short)
    const with100 = queriesWithMissing(readShortlist(file), 100);
    assert.ok(with100 > labels.queryLabels.length / 4, `${name}: ${with100} queries have a -1 in their first 100`);
  }
  assert.equal(queriesWithMissing(readShortlist(missingCases[CUT]), 1), Math.ceil(labels.queryLabels.length / 13));
  const ks = Object.fromEntries(Object.keys(missingCases).map((name) => [name, MISSING_KS]));
  for (const recall of ["class-count", 1300] as const) {
    const ref = reference(missingCases, ks, recall, "miss");
    for (const [name, file] of Object.entries(missingCases)) {
      const neighbors = readShortlist(file);
      const differences = perQueryDifferences(neighbors, ref[name], MISSING_KS, recall);
      assert.deepEqual(differences.slice(0, 10), [], `${name}, recall over ${recall}: ${differences.length} differences`);
      assert.deepEqual(meanDifferences(columnsOf(neighbors, MISSING_KS, recall), ref[name], MISSING_KS), [], `${name}, means`);
    }
  }
});

test("the metrics table of the project's own hnsw8 shortlists equals the original's means with -1 as a miss", (t) => {
  // the table path end to end (stages 2 and 4 over the shortlist files), whatever -1s the project's HNSW search leaves
  const hnsw = loadExperiment({ root: config.root, indexTypes: ["hnsw8"], adaptive: [], funnels: [] }, TEST_EXPERIMENT);
  const table = runRetrieval(hnsw, { quiet: true })[0].result.metrics.rows;
  const spec = experimentSpec(hnsw, "mrl", "hnsw8");
  const files = Object.fromEntries(hnsw.nesting.map((dim) => [`hnsw8 ${dim}d`, neighborsPath(spec, dim, hnsw.k)]));
  const ks = Object.fromEntries(Object.keys(files).map((name) => [name, hnsw.metricKs]));
  const ref = reference(files, ks, hnsw.recallDenominator, "miss");
  for (const dim of hnsw.nesting) {
    const name = `hnsw8 ${dim}d`;
    const row = onlyRow(table, name, (r) => r.method === "exact" && r.retrievalDim === dim);
    assert.deepEqual(reportedKs(row), hnsw.metricKs, name);
    assert.deepEqual(meanDifferences(row, ref[name], hnsw.metricKs), [], name);
    t.diagnostic(`${name}: ${queriesWithMissing(readShortlist(files[name]), 100)} queries have a -1 in their first 100`);
  }
});

test("the original's reading of a -1 as the last database item's label, measured against misses", (t) => {
  assert.ok(missingCases, "runs after the -1 test, which makes the cases");
  const ks = Object.fromEntries(Object.keys(missingCases).map((name) => [name, MISSING_KS]));
  const miss = reference(missingCases, ks, "class-count", "miss");
  const lastRow = reference(missingCases, ks, "class-count", "last-row");
  const lastLabel = labels.databaseLabels[labels.databaseLabels.length - 1];
  for (const name of Object.keys(missingCases)) {
    // only queries of the last item's class can gain hits from a -1; the others must be unchanged
    for (let i = 0; i < labels.queryLabels.length; i++) {
      if (labels.queryLabels[i] === lastLabel) continue;
      for (const k of MISSING_KS) assert.equal(lastRow[name].k[k].ap[i], miss[name].k[k].ap[i], `${name}: query ${i} (another class), AP@${k}`);
    }
    const change = Object.keys(miss[name].mean).map((c) => `${c} ${(lastRow[name].mean[c] - miss[name].mean[c]).toExponential(2)}`);
    t.diagnostic(`${name}: original (labels[-1]) minus misses: ${change.join(", ")}`);
    assert.ok(lastRow[name].mean["mAP@100"] > miss[name].mean["mAP@100"], `${name}: labels[-1] adds hits at k = 100`);
  }
});
