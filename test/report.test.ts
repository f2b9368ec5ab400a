import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  checkHtmlPage, escapeHtml, experimentGallery, figureHtml, fashionMnist, loadExperiment, loadRetrievalArrays, metricVsDimFigure, readAllMetrics, readLabelsNpy, arrayPath,
  planAgainstExact, runPipeline, runSweep, saveSweepCsv, sweepCsvFile, writeFileAtomic, writeReport,
} from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

// One small real run (the test experiment: 4000 database / 400 query Fashion-MNIST images) shared by the tests below.
const root = tempDir("mrl-report-root-");
const results = tempDir("mrl-report-out-");
const config = loadExperiment({ root, models: ["mrl", "mrl0_e0_ff2048"] }, TEST_EXPERIMENT);
const ready = runPipeline(config, { quiet: true });

/** PNG width/height from the IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(1, 4).toString("latin1"), "PNG", `${file} is a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

test("report: PNG and SVG figure files drawn by headless Chromium, gallery PNG, report.html", async () => {
  await ready;
  const report = await writeReport(config, { outDir: results, quiet: true });
  const names = report.figureFiles.map((f) => path.basename(f)).sort();
  for (const fig of ["mAP@10_vs_MFLOPs", "mAP@10_vs_dim", "precision@10_vs_dim", "top-10_vs_dim"]) {
    assert.ok(names.includes(`${fig}.png`) && names.includes(`${fig}.svg`), `${fig} as PNG and SVG`);
  }
  // PNGs at 2x the layout size (760 wide); SVGs are plotly's own with drawn traces and the titles.
  assert.deepEqual(pngSize(path.join(results, "figures", "mAP@10_vs_MFLOPs.png")), { width: 1520, height: 960 });
  const svg = fs.readFileSync(path.join(results, "figures", "mAP@10_vs_dim.svg"), "utf8");
  assert.match(svg, /^<svg[^>]+class="main-svg"/);
  assert.match(svg, /mAP@10 vs representation size/);
  assert.equal((svg.match(/class="trace scatter/g) ?? []).length, 2, "one line per model (MRL, FF)");
  // The gallery PNG holds 4 queries x 4 settings of 10 tiles: far taller than wide.
  const gallery = pngSize(report.galleryFile!);
  assert.ok(gallery.width > 1000 && gallery.height > gallery.width, `gallery ${gallery.width}x${gallery.height}`);
  assert.ok(fs.existsSync(report.reportFile));
  assert.deepEqual(fs.readdirSync(path.join(results, "figures")).filter((f) => f.endsWith(".tmp")), [], "no temp files left");

  // Open the report like a reader would, offline: every plot drew its SVG, images loaded, no console errors.
  const screenshot = path.join(REPO, "build", "test-artifacts", "report.png");
  const page = await checkHtmlPage(report.reportFile, { screenshot });
  assert.deepEqual(page.consoleErrors, []);
  assert.equal(page.figures, report.figureFiles.length / 2);
  assert.equal(page.renderedFigures, page.figures);
  assert.equal(page.brokenImages, 0);
  assert.ok(pngSize(screenshot).height > 2000, "full-page screenshot saved");
});

test("report figures follow the data: MRL mAP@10 rises with dim and beats the fixed-feature model (mrl0_e0_ff2048) at 8 dims", async () => {
  await ready;
  const rows = readAllMetrics(config);
  const fig = metricVsDimFigure(rows, "mAP@10");
  const line = (name: string) => fig.data.find((d) => d.name === name) as { x: number[]; y: number[] };
  const mrl = line("MRL");
  const ff = line("mrl0_e0_ff2048");
  assert.deepEqual(mrl.x, [8, 16, 64, 2048]);
  assert.ok(mrl.y[3] > mrl.y[0], `MRL mAP@10 ${mrl.y[0]} at 8d < ${mrl.y[3]} at 2048d`);
  assert.ok(mrl.y[0] > ff.y[0], `MRL ${mrl.y[0]} > FF ${ff.y[0]} at 8d`);
  const byConfig = new Map(rows.filter((r) => r.model === "mrl").map((r) => [r.config, r]));
  assert.equal(mrl.y[3], byConfig.get("2048d")!["mAP@10"]);
});

test("gallery marks each neighbour by comparing its label with the query's", async () => {
  await ready;
  const { data, html } = await experimentGallery(config, { model: "mrl", queries: [0, 7] });
  const databaseLabels = readLabelsNpy(arrayPath(root, "FMNIST", "train", "mrl", "y"));
  const images = fashionMnist("train");
  assert.deepEqual(data.map((q) => q.query), [0, 7]);
  assert.deepEqual(data[0].rows.map((r) => r.setting), ["8d exact", "64d exact", "2048d exact", "adaptive 16->2048 @200"]);
  for (const q of data) {
    for (const r of q.rows) {
      assert.equal(r.neighbors.length, 10);
      for (const n of r.neighbors) {
        assert.equal(n.label, databaseLabels[n.id]);
        assert.equal(n.label, images.labels[n.id], "labels of the embedded arrays match the images shown");
        assert.equal(n.correct, n.label === q.label);
      }
      assert.equal(r.correct, r.neighbors.filter((n) => n.correct).length);
    }
  }
  const tiles = (html.match(/class="t (ok|bad)"/g) ?? []).length;
  assert.equal(tiles, 2 * 4 * 10);
  assert.equal((html.match(/class="t ok"/g) ?? []).length, data.flatMap((q) => q.rows).reduce((s, r) => s + r.correct, 0));
  assert.match(html, /data:image\/png;base64,/);
});

test("the browser check catches a figure that cannot draw (plotly missing)", async () => {
  const file = path.join(tempDir(), "broken.html");
  const fig = metricVsDimFigure([], "mAP@10");
  writeFileAtomic(file, `<!doctype html><html><body>${figureHtml(fig, { includePlotly: false })}</body></html>`);
  const page = await checkHtmlPage(file);
  assert.equal(page.figures, 1);
  assert.equal(page.renderedFigures, 0);
  assert.match(page.consoleErrors.join("\n"), /Plotly is not defined/);
});

test("gallery and report read .npy shortlists too (shortlistFormat npy gives the same neighbours as CSV)", async () => {
  await ready;
  const npyConfig = loadExperiment({ root: tempDir("mrl-report-npy-"), shortlistFormat: "npy" }, TEST_EXPERIMENT);
  await runPipeline(npyConfig, { quiet: true });
  assert.ok(fs.existsSync(path.join(npyConfig.root, "neighbors", "mrl", "exactl2_64dim_256shortlist_FMNIST.npy")));
  assert.equal(fs.existsSync(path.join(npyConfig.root, "neighbors", "mrl", "exactl2_64dim_256shortlist_FMNIST.csv")), false);
  const fromNpy = await experimentGallery(npyConfig, { model: "mrl", queries: [3, 99] });
  const fromCsv = await experimentGallery(config, { model: "mrl", queries: [3, 99] });
  assert.deepEqual(fromNpy.data, fromCsv.data);
  const rows = readAllMetrics(npyConfig);
  assert.deepEqual(rows.map((r) => r["mAP@10"]), readAllMetrics({ ...config, models: ["mrl"] }).map((r) => r["mAP@10"]));
});

test("report: a sweep in the results folder (mrl sweep's CSV) adds its two figures as PNG and SVG and a section with the planner's picks and fronts", async () => {
  await ready;
  const out = tempDir("mrl-report-sweep-");
  const plain = await writeReport(config, { outDir: out, gallery: false, quiet: true });
  assert.deepEqual(plain.sweeps, [], "no sweep, no sweep section");
  assert.doesNotMatch(fs.readFileSync(plain.reportFile, "utf8"), /<h2>Sweep/);

  const arrays = loadRetrievalArrays(root, "FMNIST", "mrl");
  const result = runSweep(arrays.database.matrix(), arrays.queries, arrays.databaseLabels, arrays.queryLabels,
    { retrievalDims: [8, 16], shortlists: [50, 200], rerankDims: [2048], exactDims: [16, 2048], funnels: { firstShortlists: [200], steps: [5] }, firstStages: ["exact"] },
    { latencyQueries: 3 });
  const csv = saveSweepCsv(result, sweepCsvFile(out, "FMNIST", "mrl"));
  const report = await writeReport(config, { outDir: out, gallery: false, quiet: true });
  assert.deepEqual(report.sweeps, [csv], "the MRL model's sweep; the other model has none");
  for (const name of ["FMNIST_mrl_sweep_mAP@10_vs_MFLOPs", "FMNIST_mrl_sweep_recall@10_vs_QPS"]) {
    for (const ext of ["png", "svg"]) assert.ok(report.figureFiles.includes(path.join(out, "figures", `${name}.${ext}`)), `${name}.${ext}`);
  }
  assert.deepEqual(pngSize(path.join(out, "figures", "FMNIST_mrl_sweep_mAP@10_vs_MFLOPs.png")), { width: 1640, height: 1000 });
  const svg = fs.readFileSync(path.join(out, "figures", "FMNIST_mrl_sweep_mAP@10_vs_MFLOPs.svg"), "utf8");
  assert.match(svg, new RegExp(`Sweep: mAP@10 vs MFLOPs per query \\(${result.rows.length} configurations, 400 queries\\)`));
  const html = fs.readFileSync(report.reportFile, "utf8");
  assert.match(html, /<h2>Sweep: MRL on FMNIST<\/h2>/);
  const plan = planAgainstExact(result)!;
  assert.ok(plan.byMflops, "a pick within 0.001 of exact 2048-d exists on this grid");
  assert.ok(html.includes(escapeHtml(`within 0.001 mAP@10 of it, fewest MFLOPs: ${plan.byMflops.label}`)), "the planner's pick, read back from the CSV");
  assert.match(html, /Pareto front: mAP@10 vs MFLOPs per query<\/h3><table/);

  const page = await checkHtmlPage(report.reportFile);
  assert.deepEqual(page.consoleErrors, []);
  assert.equal(page.figures, report.figureFiles.length / 2);
  assert.equal(page.renderedFigures, page.figures);
});
