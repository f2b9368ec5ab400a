import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { checkHtmlPage, executeNotebook, loadExperiment, runInference, runSearch } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, testExperimentFile } from "./helpers";
import { htmlText, runNotebook, streamText } from "./notebookRun";

test("smoke notebook executes headless with the tslab kernel and imports lib by package name", () => {
  const nb = runNotebook("smoke.ipynb");
  assert.equal(nb.metadata.kernelspec.name, "tslab");
  const text = streamText(nb);
  assert.match(text, /DEMO_train_mrl1_e0_ff2048-X\.npy: 4 x 3, sum 5/);
  assert.match(text, /nearest ids: 0, 3/);
  const html = nb.cells.flatMap((c) => c.outputs ?? []).map((o) => (o.data?.["text/html"] as string[] | string | undefined) ?? "").join("");
  assert.match(String(html), /exactl2_16dim_2048shortlist_FMNIST\.csv/);
});

test("a failing notebook surfaces the cell's readable error instead of writing an output", () => {
  // Inside the project, so the kernel resolves the lib through node_modules like a real notebook.
  const dir = fs.mkdtempSync(path.join(REPO, "build", "nb-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  const bad = path.join(dir, "bad.ipynb");
  const nb = JSON.parse(fs.readFileSync(path.join(REPO, "notebooks", "smoke.ipynb"), "utf8"));
  nb.cells = [{ cell_type: "code", id: "bad-0", metadata: {}, execution_count: null, outputs: [],
    source: ['import { readMatrixNpy } from "@mrl-retrieval/lib/internal";\n', 'readMatrixNpy("/nonexistent/x.npy");\n'] }];
  fs.writeFileSync(bad, JSON.stringify(nb));
  const out = path.join(dir, "out", "bad.ipynb");
  assert.throws(() => executeNotebook(bad, out), (err: Error) => {
    assert.match(err.message, /bad\.ipynb: code cell 1 failed:[\s\S]*MrlError: \/nonexistent\/x\.npy: file not found/);
    assert.doesNotMatch(err.message, /\n\s+at \S/, "no internal stack frames");
    return true;
  });
  assert.equal(fs.existsSync(out), false);
  assert.ok(fs.existsSync(path.join(dir, "out", "bad.failed.ipynb")));
});

test("the four pipeline notebooks run headless in order on real data (test experiment)", async () => {
  const root = tempDir();
  const env = { MRL_EXPERIMENT: testExperimentFile({ root }), MRL_RESULTS: tempDir() };
  const inference = runNotebook("inference.ipynb", env);
  assert.match(streamText(inference), /mrl: database 4000 x 2048, queries 400 x 2048/);
  assert.match(htmlText(inference), /fmnist_mrl_cnn/);
  const faissNn = runNotebook("faiss_nn.ipynb", env);
  for (const dim of [8, 16, 64, 2048]) assert.match(htmlText(faissNn), new RegExp(`exactl2_${dim}dim_256shortlist_FMNIST\\.csv`));
  assert.ok(fs.existsSync(path.join(root, "index_files", "mrl", "FMNIST_2048dim_exactl2.index")));
  // the efSearch sweep: a row per HNSW type and efSearch, and its figure
  assert.match(streamText(faissNn), /400 queries at 16d; exact search \d+ queries\/s; build s: hnsw8 [\d.]+, hnsw32 [\d.]+/);
  assert.match(htmlText(faissNn), /<th>recall@10 vs exact<\/th>/);
  for (const index of ["hnsw8", "hnsw32"]) assert.equal(htmlText(faissNn).match(new RegExp(`<td>${index}</td><td>\\d+</td>`, "g"))?.length, 7, index);
  assert.match(htmlText(faissNn), /HNSW efSearch sweep at 16d/);
  // the method cell's nested search in plain TypeScript agrees with the library's shortlists at every dim
  for (const dim of [8, 16, 64, 2048]) {
    assert.match(streamText(faissNn), new RegExp(`mrl ${dim}d, top 256 of 5 queries: \\d identical, \\d differ only in the order of rows at equal distance \\(within 0\\.00001\\), 0 differ`));
  }
  const reranking = runNotebook("reranking.ipynb", env);
  assert.match(streamText(reranking), /16->2048 @200 on 200 queries: \d+ identical, \d+ differ only in the order of candidates at equal distance \(within 0\.00001, float32 rounding\), 0 differ/);
  assert.match(htmlText(reranking), /16dim-reranked2048_200shortlist_FMNIST_exactl2\.csv/);
  assert.match(htmlText(reranking), /8dim-cascade\[16,64,2048\]_shortlist\[200,50,10\]_FMNIST_exactl2\.csv/);
  const metricsOut = path.join(tempDir(), "compute_metrics.ipynb");
  const metrics = runNotebook("compute_metrics.ipynb", env, metricsOut);
  assert.match(streamText(metrics), /saved .*metrics\/mrl\/FMNIST_exactl2_metrics\.csv/);
  const ap = /mAP@10 at 2048d on the first 400 queries: this cell (\S+), the library (\S+)/.exec(streamText(metrics));
  assert.ok(ap && ap[1] === ap[2], `the notebook's AP cell agrees with computeMetrics: ${ap?.[0]}`);
  assert.match(htmlText(metrics), /<th>mAP@10<\/th>/);
  assert.match(htmlText(metrics), /16-&gt;2048 @200/);
  assert.equal((htmlText(metrics).match(/Plotly\.newPlot\(/g) ?? []).length, 4, "four inline figures");
  assert.match(htmlText(metrics), /MFLOPs per query \(log\)/);
  // the gallery inline, and the figure files written to MRL_RESULTS
  assert.equal((htmlText(metrics).match(/class="t (ok|bad)"/g) ?? []).length, 4 * 4 * 10, "gallery: 4 queries x 4 settings x top-10");
  for (const f of ["mAP@10_vs_MFLOPs.png", "mAP@10_vs_MFLOPs.svg", "top-10_vs_dim.svg", "retrieval_gallery.png"]) {
    assert.ok(fs.existsSync(path.join(env.MRL_RESULTS, "figures", f)), f);
  }
  // the exported HTML draws every inline figure offline (plotly.js embedded, no CDN)
  const page = await checkHtmlPage(metricsOut.replace(/\.ipynb$/, ".html"));
  assert.deepEqual(page.consoleErrors, []);
  assert.equal(page.figures, 4);
  assert.equal(page.renderedFigures, 4);
  // re-running a notebook from the top finds everything up to date
  assert.match(htmlText(runNotebook("reranking.ipynb", env)), /up to date/);
});

test("reranking notebook: two funnels on one shortlist in the original's in-place order, against each run clean", async () => {
  // the second cascade is reranked from the first's reordering, as the original's numpy views do
  const funnels = [{ retrievalDim: 8, dims: [16, 64, 2048], shortlists: [200, 50, 10] }, { retrievalDim: 8, dims: [16, 64, 2048], shortlists: [100, 25, 10] }];
  const file = testExperimentFile({ root: tempDir(), funnels });
  const experiment = loadExperiment({}, file);
  await runInference(experiment, { quiet: true });
  runSearch(experiment, { quiet: true });
  const html = htmlText(runNotebook("reranking.ipynb", { MRL_EXPERIMENT: file, MRL_RESULTS: tempDir() }));
  assert.match(html, /<th>top-10 ids changed<\/th>/);
  assert.match(html, /<td>\[200,50,10\]<\/td><td>0<\/td>/, "the first cascade starts from the untouched shortlist either way");
  const changed = /<td>\[100,25,10\]<\/td><td>([\d.]+)<\/td>/.exec(html);
  assert.ok(changed && Number(changed[1]) > 0, `the second cascade's top-10 ids change in place: ${changed?.[0]}`);
});

test("the sweep notebook runs the default grid on real data: summary, Pareto figures inline, planner table, CSV and figure files", async () => {
  const root = tempDir(), results = tempDir();
  const env = { MRL_EXPERIMENT: testExperimentFile({ root }), MRL_RESULTS: results };
  await runInference(loadExperiment({ root }, path.join(REPO, "experiments", "fmnist-test.json")), { quiet: true });
  const nb = runNotebook("sweep.ipynb", env);
  const text = streamText(nb), html = htmlText(nb);
  assert.match(text, /sweep: \d+ configurations, 4000 database rows, 400 queries/);
  // the grid cell counts the configurations with the limits runSweep checks against
  const planned = /(\d+) configurations on mrl:/.exec(text), ran = /sweep: (\d+) configurations,/.exec(text);
  assert.ok(planned && ran && planned[1] === ran[1], `the grid cell counts what runs: ${planned?.[0]} / ${ran?.[0]}`);
  assert.match(text, /Pareto front, mAP@10 vs MFLOPs:/);
  assert.match(text, /within 0\.001 mAP@10 of it, fewest MFLOPs: .*\n\s+[\d.]+x fewer MFLOPs/);
  assert.equal((html.match(/Plotly\.newPlot\(/g) ?? []).length, 2, "two inline figures");
  assert.match(html, /Sweep: mAP@10 vs MFLOPs per query/);
  assert.match(html, /best mAP@10 at 1 MFLOP per query or less/);
  for (const f of ["FMNIST_mrl_sweep.csv", "FMNIST_mrl_sweep_mAP@10_vs_MFLOPs.png", "FMNIST_mrl_sweep_recall@10_vs_QPS.svg"]) {
    assert.ok(fs.existsSync(path.join(results, "sweep", f)), f);
  }
});

test("the serving notebook serves the test experiment from PGlite and shows it beside the in-process pipeline", async () => {
  const root = tempDir(), results = tempDir();
  // HNSW m=16 at 16 dims in Postgres beside FAISS's exact search, on the 4,000 / 400 test images
  const file = testExperimentFile({ root, indexTypes: ["exactl2", "pgvector-hnsw16"], nesting: [8, 16, 64, 2048], postgres: { efSearch: 40 } });
  await runInference(loadExperiment({}, file), { quiet: true });
  const nb = runNotebook("serving.ipynb", { MRL_EXPERIMENT: file, MRL_RESULTS: results });
  const text = streamText(nb), html = htmlText(nb);
  assert.match(text, /CREATE INDEX[\s\S]*l2_normalize\(subvector\(e, 1, 16\)\)/, "the SQL cell shows the expression index");
  assert.match(text, /mrl\/pgvector-hnsw16: load \w+/);
  // the comparison table holds both index types' rows; the served ones carry QPS and latencies
  assert.match(html, /<td>exactl2<\/td>/);
  const served = /<td>pgvector-hnsw16<\/td><td>adaptive<\/td><td>16-&gt;2048 @200<\/td><td>([\d.]+)<\/td>/.exec(html);
  assert.ok(served, "the served adaptive configuration is in the table");
  assert.equal((html.match(/Plotly\.newPlot\(/g) ?? []).length, 1, "one inline figure");
  assert.ok(fs.existsSync(path.join(root, "metrics", "mrl", "FMNIST_pgvector-hnsw16_metrics.csv")));
});
