/**
 * The sweep (issue 15): the grid's expansion and its errors, the Pareto front and the planner on hand-made
 * points, and a small sweep on real Fashion-MNIST embeddings whose rows must equal the stages run directly.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  bestConfig, computeMetrics, configLabel, DEFAULT_SWEEP_GRID, firstColumns, expandGrid, FaissIndex, faissNormalized, funnelFromRule, funnelRerank, loadExperiment,
  loadRetrievalArrays, matrix, mflops, MrlError, rankingMetrics, intMatrix, unfreedFirstStages, Mulberry32, sweepLimits, nestedKnn, paretoFront, parseConfigLabel, readSweepCsv, rerank, runInference, runSweep, saveSweepCsv, sweepMetaFile, sweepMflopsFigure, planByFirstStage, sweepGridWith, sweepSummary,
  type IntMatrix, type Matrix, type PlanRow, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { tempDir, TEST_EXPERIMENT } from "./helpers";

const limits = { k: 2048, maxDim: 2048 };

test("a grid expands to exact baselines, adaptive D_r x D_s x L with D_s > D_r, and rule-made funnels including the paper's", () => {
  const configs = expandGrid({
    retrievalDims: [8, 16], shortlists: [100, 200], rerankDims: [16, 2048], exactDims: [2048],
    funnels: { firstShortlists: [200], steps: [5] },
  }, limits);
  const labels = configs.map((c) => (c.kind === "exact" ? `exact ${c.dim}` : c.kind === "adaptive" ? `${c.retrievalDim}->${c.rerankDim}@${c.shortlist}` : `${c.retrievalDim}->[${c.dims}]@[${c.shortlists}]`));
  assert.deepEqual(labels, [
    "exact 2048",
    "8->16@100", "8->16@200", "8->2048@100", "8->2048@200",
    "16->2048@100", "16->2048@200", // 16 -> 16 is skipped: reranking at the first stage's own dim adds nothing
    "8->[16,32,64,128,2048]@[200,100,50,25,10]", // the paper's funnel
    "16->[32,64,128,256,2048]@[200,100,50,25,10]",
  ]);
  // a rule that cannot keep dims growing and shortlists shrinking makes no funnel there
  // every adaptive and funnel configuration once per first stage, named by it
  const both = expandGrid({ retrievalDims: [16], shortlists: [200], rerankDims: [2048], exactDims: [], firstStages: ["exact", "hnsw32"] }, limits);
  assert.deepEqual(both.map((c) => (c.kind === "adaptive" ? `${c.firstStage} ${c.retrievalDim}->${c.rerankDim}` : c.kind)), ["exact 16->2048", "hnsw32 16->2048"]);
  // an approximate first stage's shortlist is also reranked in float at D_r itself; stages run at their own dims
  // (firstStageDims) and only where they fit (PQ's m divides D_r)
  const own = expandGrid({ retrievalDims: [12, 16], shortlists: [200], rerankDims: [16, 2048], exactDims: [], firstStages: ["exact", "pq8", "binary"],
    firstStageDims: { binary: [1024] } }, limits);
  assert.deepEqual(own.map((c) => (c.kind === "adaptive" ? `${c.firstStage} ${c.retrievalDim}->${c.rerankDim}` : c.kind)),
    ["exact 12->16", "exact 12->2048", "exact 16->2048", "pq8 16->16", "pq8 16->2048", "binary 1024->2048"]);
  assert.equal(funnelFromRule(1024, 200, 3, { dimGrowth: 2, shortlistShrink: 0.5, finalDim: 2048, finalShortlist: 10 }), undefined);
  assert.equal(funnelFromRule(8, 20, 4, { dimGrowth: 2, shortlistShrink: 0.5, finalDim: 2048, finalShortlist: 10 }), undefined, "20, 10, 5 would not shrink to 10");
});

test("bad sweep specifications stop with one clear line", () => {
  const bad = (grid: Parameters<typeof expandGrid>[0], re: RegExp, k = 1024): void =>
    assert.throws(() => expandGrid(grid, { k, maxDim: 2048 }), (e: unknown) => e instanceof MrlError && re.test(e.message) && !e.message.includes("\n"), re.source);
  bad({ retrievalDims: [16], shortlists: [200, 2048], rerankDims: [2048] },
    /sweep grid field "shortlists" has 2048, longer than the search's k = 1024; expected shortlists up to k/);
  bad({ retrievalDims: [16], shortlists: [], rerankDims: [2048], exactDims: [], funnels: { firstShortlists: [4096], steps: [3] } },
    /"funnels.firstShortlists" has 4096, longer than the search's k = 1024/);
  bad({ retrievalDims: [16], shortlists: [5, 200], rerankDims: [2048] }, /"shortlists" has 5; expected shortlists of at least 10/);
  bad({ retrievalDims: [64, 128], shortlists: [200], rerankDims: [32, 64] },
    /no rerank dim above a retrieval dim \(retrievalDims \[64,128\], rerankDims \[32,64\]\); expected some D_s > D_r/);
  bad({ retrievalDims: [], shortlists: [], rerankDims: [], exactDims: [] }, /sweep grid is empty: .*expected at least one/);
  bad({ retrievalDims: [16], shortlists: [200], rerankDims: [4096] }, /"rerankDims" has dim 4096; expected dims up to the arrays' 2048/);
  bad({ retrievalDims: [16], shortlists: [0], rerankDims: [2048] }, /"shortlists" is \[0\]; expected a list of positive integers/);
  bad({ retrievalDims: [8], shortlists: [], rerankDims: [], exactDims: [], funnels: { firstShortlists: [200], steps: [4], shortlistShrink: 2 } },
    /"funnels.shortlistShrink" is 2; expected a number between 0 and 1/);
  bad({ retrievalDims: [8], shortlists: [], rerankDims: [], exactDims: [], funnels: { firstShortlists: [200], steps: [4], finalShortlist: 5 } },
    /"funnels.finalShortlist" is 5; expected an integer of at least 10/);
  bad({ retrievalDims: [16], shortlists: [200], rerankDims: [2048], firstStages: ["ivf"] },
    /sweep grid field "firstStages": first stage "ivf" is not one of: exact, hnsw<M>.*, binary/);
  bad({ retrievalDims: [16], shortlists: [200], rerankDims: [2048], firstStages: ["pq5"] }, /first stage "pq5" fits none of its dims \[16\]: 5 sub-quantizers do not divide 16 dims/);
  bad({ retrievalDims: [16], shortlists: [200], rerankDims: [2048], firstStages: ["exact"], firstStageDims: { binary: [256] } },
    /"firstStageDims" names "binary", which is not among firstStages \[exact\]/);
});

test("the experiment's \"sweep\" field: checked with the experiment, its fields replace the default grid's", () => {
  const e = loadExperiment({ sweep: { retrievalDims: [16], funnels: { firstShortlists: [200], steps: [3] } } }, TEST_EXPERIMENT);
  const grid = sweepGridWith(e.sweep);
  assert.deepEqual(grid.retrievalDims, [16]);
  assert.deepEqual(grid.shortlists, DEFAULT_SWEEP_GRID.shortlists);
  // stages with their own dims in the default grid keep them; the others run at the D_r given
  const ownDims = DEFAULT_SWEEP_GRID.firstStageDims!;
  assert.ok(expandGrid(grid, limits).every((c) => c.kind === "exact" || c.firstStage in ownDims || c.retrievalDim === 16));
  // naming other first stages drops the default's dims of the stages no longer named (no error about them)
  const named = sweepGridWith({ firstStages: ["exact", "hnsw32", "binary"] });
  assert.deepEqual(named.firstStageDims, { binary: ownDims.binary });
  assert.ok(expandGrid(named, limits).length > 0);
  assert.throws(() => loadExperiment({ sweep: { firstStages: ["ivf"] } }, TEST_EXPERIMENT),
    /field "sweep.firstStages\[0\]" is "ivf"; expected a first stage \(exact, hnsw<M>/);
  assert.deepEqual(loadExperiment({ sweep: { firstStages: ["exact", "binary"], firstStageDims: { binary: [256] } } }, TEST_EXPERIMENT).sweep?.firstStageDims, { binary: [256] });
  assert.throws(() => loadExperiment({ sweep: { shortlist: [16] } as object }, TEST_EXPERIMENT),
    /unknown field "sweep.shortlist"; expected one of: retrievalDims, shortlists/);
});

test("the Pareto front on hand-made points: cheaper-and-better points only, by ascending cost", () => {
  // (cost, quality): b dominates c (cheaper, better); d is as good as b but costs more; e ties a on both (first one stays)
  const points = { a: [1, 0.5], b: [2, 0.8], c: [3, 0.7], d: [4, 0.8], e: [1, 0.5], f: [5, 0.9], g: [0.5, 0.1], h: [6, NaN] };
  const names = Object.keys(points) as (keyof typeof points)[];
  const front = paretoFront(names.map((n) => points[n][0]), names.map((n) => points[n][1])).map((i) => names[i]);
  assert.deepEqual(front, ["g", "a", "b", "f"]);
  assert.deepEqual(paretoFront([], []), []);
  assert.throws(() => paretoFront([1], []), /1 costs for 0 qualities/);
});

test("the planner: the best mAP@10 within a budget, or the cheapest row that reaches a target", () => {
  const rows: PlanRow[] = [
    { label: "exact 2048", mAP10: 0.88, mflops: 122.9, msPerQuery: 1.3 },
    { label: "adaptive", mAP10: 0.8799, mflops: 1.37, msPerQuery: 0.09 },
    { label: "funnel", mAP10: 0.8762, mflops: 0.51, msPerQuery: 0.05 },
    { label: "exact 8", mAP10: 0.855, mflops: 0.48, msPerQuery: 0.04 },
  ];
  assert.equal(bestConfig(rows, { maxMflops: 1 })?.label, "funnel");
  assert.equal(bestConfig(rows, { maxMflops: 2 })?.label, "adaptive");
  assert.equal(bestConfig(rows, { maxMsPerQuery: 0.045 })?.label, "exact 8");
  assert.equal(bestConfig(rows, { minMap: 0.879 })?.label, "adaptive", "the cheapest within 0.001 of exact");
  assert.equal(bestConfig(rows, { minMap: 0.87, minimize: "time" })?.label, "funnel");
  assert.equal(bestConfig(rows, { maxMflops: 0.1 }), undefined, "nothing fits");
  assert.throws(() => bestConfig(rows, {}), /needs a budget or a target/);
});

let arrays: RetrievalArrays;
before(async () => {
  const config = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
});

test("a sweep on real embeddings: each row equals its stages run directly, exact search at the largest dim has recall 1", () => {
  const database = arrays.database.matrix(), queries: Matrix = arrays.queries;
  const grid = { retrievalDims: [8, 16], shortlists: [50, 100], rerankDims: [64, 2048], exactDims: [16, 2048], funnels: { firstShortlists: [100], steps: [3] } };
  const result = runSweep(database, queries, arrays.databaseLabels, arrays.queryLabels, grid, { latencyQueries: 5 });
  assert.equal(result.rows.length, expandGrid(grid, { k: 100, maxDim: 2048 }).length);
  const knn = new Map(nestedKnn(database, queries, [8, 16, 2048], 100).map((r) => [r.dim, r.labels]));
  const map10 = (ids: IntMatrix): number => computeMetrics(firstColumns(ids, 10), arrays.queryLabels, arrays.databaseLabels, [10]).atK[0].mAP;
  for (const row of result.rows) {
    const c = row.config;
    if (c.kind === "exact") {
      assert.equal(row.mAP10, map10(knn.get(c.dim === 16 ? 16 : 2048)!), row.label);
      assert.equal(row.mflops, mflops.exact(c.dim, database.rows));
      if (c.dim === 2048) assert.equal(row.recall10, 1, "exact search at the reference dim finds its own neighbours");
    } else if (c.kind === "adaptive") {
      assert.equal(row.mAP10, map10(rerank(database, queries, firstColumns(knn.get(c.retrievalDim)!, c.shortlist), c.rerankDim, c.shortlist)), row.label);
      assert.equal(row.mflops, mflops.adaptive(c.retrievalDim, c.rerankDim, c.shortlist, database.rows));
    } else {
      assert.equal(row.mAP10, map10(funnelRerank(database, queries, firstColumns(knn.get(c.retrievalDim)!, c.shortlists[0]), c)), row.label);
    }
    assert.ok(row.recall10 > 0.3 && row.recall10 <= 1, `${row.label}: recall@10 ${row.recall10}`);
    assert.ok(row.batchSeconds > 0 && row.qps > 0 && row.p95Ms >= row.p50Ms && row.p50Ms > 0, `${row.label}: times`);
  }
  const exact2048 = result.rows.find((r) => r.label === "exact 2048d")!, adaptive = result.rows.find((r) => r.label === "16->2048 @100")!;
  assert.ok(adaptive.recall10 > 0.9, `16->2048 @100 recovers exact 2048-d's neighbours: ${adaptive.recall10}`);
  assert.ok(adaptive.mflops < exact2048.mflops / 10);
});

test("an HNSW first stage: the same configurations shortlisted by FAISS HNSW32 at D_r, close to the exact first stage", () => {
  const database = arrays.database.matrix();
  const grid = { retrievalDims: [16], shortlists: [100], rerankDims: [2048], exactDims: [2048], firstStages: ["exact", "hnsw32"] };
  const dir = tempDir("mrl-sweep-index-");
  const result = runSweep(database, arrays.queries, arrays.databaseLabels, arrays.queryLabels, grid,
    { latencyQueries: 5, indexFile: (stage, dim) => path.join(dir, `${dim}dim_${stage}.index`) });
  assert.deepEqual(result.rows.map((r) => r.label), ["exact 2048d", "16->2048 @100", "hnsw32 16->2048 @100"]);
  // the HNSW index the sweep built, written as FAISS writes it (the exact first stage has none)
  assert.deepEqual(fs.readdirSync(dir), ["16dim_hnsw32.index"]);
  const written = FaissIndex.read(path.join(dir, "16dim_hnsw32.index"));
  assert.deepEqual([written.ntotal, written.dim], [database.rows, 16]);
  written.reset();
  // the planner per first stage: with every row within reach, each stage's cheapest and fastest of its own rows
  const picks = planByFirstStage(result, 1);
  assert.deepEqual(picks.map((p) => [p.stage, p.byMflops.label]), [["exact", "16->2048 @100"], ["hnsw32", "hnsw32 16->2048 @100"]]);
  // the figure colours configurations by first stage and shapes them by kind
  const traces = sweepMflopsFigure(result).data as { name: string; marker?: { symbol?: string[] } }[];
  assert.deepEqual(traces.map((t) => t.name).slice(0, 4), ["exact search alone", "exact first stage", "hnsw32 first stage", "Pareto front"]);
  assert.deepEqual(traces[0].marker?.symbol, ["square"]);
  assert.deepEqual(traces[2].marker?.symbol, ["circle"]);
  const [, exactFirst, hnswFirst] = result.rows;
  // HNSW32 at 16-d misses few of the exact 100 nearest on 4000 rows: after the rerank the two agree closely
  assert.ok(Math.abs(hnswFirst.mAP10 - exactFirst.mAP10) < 0.01, `mAP@10 ${hnswFirst.mAP10} vs ${exactFirst.mAP10}`);
  assert.ok(hnswFirst.recall10 > exactFirst.recall10 - 0.05, `recall@10 ${hnswFirst.recall10} vs ${exactFirst.recall10}`);
  // HNSW's cost is the distances FAISS counted at D_r (fewer than the exact scan's N) plus the same rerank
  const rerankMflops = (2048 * 100) / 1e6, hnswDistances = ((hnswFirst.mflops - rerankMflops) * 1e6) / 16;
  assert.ok(hnswDistances > 100 && hnswDistances < database.rows / 2, `${hnswDistances} distances per query`);
  assert.ok(hnswFirst.batchSeconds > 0 && hnswFirst.p50Ms > 0);
});

test("a sweep that stops midway (a failing callback) still frees the FAISS indexes of its first stages", () => {
  const database = arrays.database.matrix();
  const grid = { retrievalDims: [16], shortlists: [100], rerankDims: [64, 2048], exactDims: [], firstStages: ["hnsw32", "pq8"] };
  const before = unfreedFirstStages();
  let rowsSeen = 0;
  assert.throws(() => runSweep(database, arrays.queries, arrays.databaseLabels, arrays.queryLabels, grid, {
    latencyQueries: 2, onRow: () => { if (++rowsSeen === 3) throw new Error("stopped by the test"); },
  }), /stopped by the test/);
  assert.equal(rowsSeen, 3, "it stopped after both first stages were built");
  assert.equal(unfreedFirstStages(), before, "every first-stage index it built was freed");
});

test("the default grid fits arrays of any width: 256-d and 64-d arrays sweep without flags, each change said; set fields are not fitted", () => {
  const random = new Mulberry32(11);
  for (const cols of [256, 64]) {
    const rows = 1200, data = new Float32Array(rows * cols).map(() => random.next());
    const notes: string[] = [];
    const grid = sweepGridWith({}, { rows, cols, onNote: (line) => notes.push(line) });
    const configs = expandGrid(grid, sweepLimits(grid, { rows, cols }));
    assert.ok(configs.length > 50, `${configs.length} configurations at ${cols} dims`);
    assert.ok(configs.every((c) => (c.kind === "exact" ? [c.dim] : c.kind === "adaptive" ? [c.retrievalDim, c.rerankDim] : [c.retrievalDim, ...c.dims]).every((d) => d <= cols)));
    assert.ok(configs.some((c) => c.kind === "exact" && c.dim === cols), "exact search at the arrays' full width stays");
    assert.ok(notes.some((n) => n.startsWith(`default rerankDims [64,128,256,512,1024,2048] -> [${[64, 128, 256].filter((d) => d <= cols)}]`)), notes.join("\n"));
    assert.ok(notes.some((n) => n.startsWith("default shortlists") === false), "the shortlists fit 1200 rows");
    if (cols === 64) assert.ok(notes.some((n) => n.startsWith("default first stage binary left out")), notes.join("\n"));
    // and it runs: a few queries through runSweep on arrays of that width
    const labels = Int32Array.from({ length: rows }, (_, i) => i % 7);
    const queries = matrix(20, cols, data.slice(0, 20 * cols));
    const small = { ...grid, firstStages: ["exact"], firstStageDims: {}, shortlists: [50], funnels: { firstShortlists: [100], steps: [3] } };
    const result = runSweep(matrix(rows, cols, data), queries, labels, labels.subarray(0, 20), small, { latencyQueries: 1 });
    assert.ok(result.rows.length > 5);
  }
  // a field the user set is checked as given: the same 64-d arrays refuse a rerank dim of 128
  const set = sweepGridWith({ rerankDims: [128] }, { rows: 1200, cols: 64 });
  assert.throws(() => expandGrid(set, sweepLimits(set, { rows: 1200, cols: 64 })), /sweep grid field "rerankDims" has dim 128; expected dims up to the arrays' 64/);
});

test("metrics of no queries are NaN in both families (a mean over nothing), not 0", () => {
  const none = intMatrix(0, 10, new Int32Array(0));
  const m = computeMetrics(none, new Int32Array(0), Int32Array.from([1, 2, 3]), [10]);
  assert.ok(Number.isNaN(m.top1) && Number.isNaN(m.atK[0].mAP) && Number.isNaN(m.atK[0].recall));
  assert.ok(Number.isNaN(rankingMetrics(none, new Int32Array(0), Int32Array.from([1, 2, 3]), [10])[0].ndcg));
});

test("the HNSW first stage finds the true neighbours when its search is exhaustive (efSearch >= database size)", () => {
  const database = arrays.database.matrix(), dim = 16, k = 50;
  const index = FaissIndex.create("hnsw32", dim);
  index.add(faissNormalized(database, dim));
  index.setEfSearch(database.rows);
  const found = index.search(faissNormalized(arrays.queries, dim), k);
  index.reset();
  const [exact] = nestedKnn(database, arrays.queries, [dim], k);
  // the same distances at every position (ids may differ only among equal distances)
  let worst = 0;
  for (let i = 0; i < found.distances.length; i++) worst = Math.max(worst, Math.abs(found.distances[i] - exact.distances.data[i]));
  assert.ok(worst < 1e-5, `largest distance difference ${worst}`);
  const sameIds = found.labels.filter((id, i) => id === exact.labels.data[i]).length / found.labels.length;
  assert.ok(sameIds > 0.99, `ids identical at ${sameIds}`);
});

test("a sweep CSV reads back to the same result (configurations from their labels, sizes from the JSON beside it); bad files are one-line errors", () => {
  // every label the default grid makes, for every first stage, names its configuration
  const all = expandGrid({ ...DEFAULT_SWEEP_GRID, firstStages: [...DEFAULT_SWEEP_GRID.firstStages!, "hnsw8-ef64", "ivf64-p4", "pq4"] }, { ...limits, rows: 4000 });
  for (const c of all) assert.deepEqual(parseConfigLabel(configLabel(c)), c, configLabel(c));
  assert.equal(parseConfigLabel("ivf 16->2048 @100"), undefined);
  assert.equal(parseConfigLabel("exact 16->2048 @100"), undefined, "exact search is written without a name");
  assert.equal(parseConfigLabel("exact 16"), undefined);

  const database = arrays.database.matrix();
  const grid = { retrievalDims: [16], shortlists: [50], rerankDims: [2048], exactDims: [8, 2048], funnels: { firstShortlists: [100], steps: [3] },
    firstStages: ["exact", "hnsw32"] as ("exact" | "hnsw32")[] };
  const result = runSweep(database, arrays.queries, arrays.databaseLabels, arrays.queryLabels, grid, { latencyQueries: 3 });
  result.rows[1].p95Ms = NaN; // non-finite values survive too
  result.rows[2].qps = Infinity;
  const dir = fs.mkdtempSync(path.join(tempDir(), "csv-"));
  const file = saveSweepCsv(result, path.join(dir, "FMNIST_mrl_sweep.csv"));
  assert.deepEqual(readSweepCsv(file), result);
  assert.ok(result.rows.some((r) => r.label.includes(",")), "funnel labels hold commas (quoted in the CSV)");

  // an older sweep without the JSON: the rows, sizes unknown, and a summary that says only what it knows
  fs.rmSync(sweepMetaFile(file));
  const bare = readSweepCsv(file);
  assert.deepEqual(bare.rows, result.rows);
  assert.ok(Number.isNaN(bare.queries) && Number.isNaN(bare.databaseRows));
  assert.equal(sweepSummary(bare)[0], `sweep: ${result.rows.length} configurations`);

  const text = fs.readFileSync(file, "utf8").split("\n");
  const broken = (lines: string[], re: RegExp): void => {
    fs.writeFileSync(file, lines.join("\n"));
    assert.throws(() => readSweepCsv(file), (e: unknown) => e instanceof MrlError && re.test(e.message) && !e.message.includes("\n"), re.source);
  };
  broken(["label,kind,mAP10", ...text.slice(1)], /FMNIST_mrl_sweep\.csv: header is "label,kind,mAP10"; expected the sweep columns label,kind,mAP10,top1/);
  broken([text[0], text[1].replace("exact 8d", "exact eight"), ...text.slice(2)], /line 2: label "exact eight" names no sweep configuration/);
  broken([text[0], text[1].replace(",exact,", ",funnel,"), ...text.slice(2)], /line 2: kind "funnel" does not match label "exact 8d", which is of kind exact/);
  broken([text[0], text[1].replace(/,exact,[^,]+,/, ",exact,high,"), ...text.slice(2)], /line 2: mAP10 is "high"; expected a number/);
  broken([text[0], text[1] + ",1", ...text.slice(2)], /line 2 has 14 cells; expected 13/);
  assert.throws(() => readSweepCsv(path.join(dir, "none.csv")), /none\.csv: sweep CSV not found/);
});
