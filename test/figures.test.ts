import assert from "node:assert/strict";
import { test } from "node:test";
import { figureHtml, metricVsDimFigure, metricVsMflopsFigure, type MetricsRow } from "@mrl-retrieval/lib/internal";

const row = (model: string, method: MetricsRow["method"], dim: number, mflops: number, map10: number, config = `${dim}d`): MetricsRow =>
  ({ model, index: "exactl2", method, config, retrievalDim: dim, rerankDim: dim, shortlist: "2048", MFLOPs: mflops, top1: 0.9, "mAP@10": map10 });

const rows: MetricsRow[] = [
  row("mrl", "exact", 64, 3.84, 0.87), row("mrl", "exact", 8, 0.48, 0.85), row("mrl", "exact", 2048, 122.88, 0.88),
  row("ff", "exact", 8, 0.48, 0.70), row("ff", "exact", 2048, 122.88, 0.881),
  row("mrl", "adaptive", 16, 1.3696, 0.8799, "16->2048 @200"), row("mrl", "funnel", 8, 0.51, 0.876, "8->[16,...] @[...]"),
];

test("mAP@10 vs MFLOPs: one trace per model and method, log x, values from the table", () => {
  const fig = metricVsMflopsFigure(rows);
  assert.deepEqual(fig.data.map((t) => t.name), ["MRL exact", "FF exact", "MRL adaptive", "MRL funnel"]);
  assert.deepEqual(fig.data[0].x, [3.84, 0.48, 122.88]);
  assert.deepEqual(fig.data[2].y, [0.8799]);
  assert.deepEqual(fig.data[2].text, ["16->2048 @200"]);
  assert.equal((fig.layout.xaxis as { type: string }).type, "log");
});

test("metric vs dim: exact rows only, sorted by dim, one trace per model", () => {
  const fig = metricVsDimFigure(rows, "mAP@10");
  assert.deepEqual(fig.data.map((t) => t.name), ["MRL", "FF"]);
  assert.deepEqual(fig.data[0].x, [8, 64, 2048]);
  assert.deepEqual(fig.data[0].y, [0.85, 0.87, 0.88]);
  assert.deepEqual((fig.layout.xaxis as { tickvals: number[] }).tickvals, [8, 64, 2048]);
});

test("figure HTML embeds plotly.js from the package (no CDN) and the spec safely", () => {
  const html = figureHtml(metricVsDimFigure(rows), { id: "f1" });
  assert.ok(html.includes("window.Plotly = Plotly"), "plotly.js bundle embedded");
  assert.ok(!/<script[^>]*\ssrc=/i.test(html), "no external script (plotly.js comes from the package)");
  assert.ok(html.includes('Plotly.newPlot("f1"'), "draw call");
  const bare = figureHtml(metricVsDimFigure(rows), { id: "f2", includePlotly: false });
  assert.ok(bare.length < 5000);
  assert.equal((bare.match(/<\/script>/g) ?? []).length, 1, "no premature </script> inside the inline spec");
});
