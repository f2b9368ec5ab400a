/**
 * Plotly figure specs built from metric tables (the paper's figures on the user's data), and HTML that
 * renders them inline in tslab / Jupyter and in exported HTML without network: plotly.js is embedded from
 * the plotly.js-dist-min package, never a CDN.
 */
import * as fs from "node:fs";
import { configLabel } from "../experiment/labels";
import type { MetricsRow } from "../metrics/evaluate";
import type { EfSearchSweep } from "../search/efSearchSweep";
import { paretoFront } from "../sweep/pareto";
import type { SweepResult, SweepRow } from "../sweep/run";

export interface Figure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

const COLORS: Record<string, string> = { mrl: "#1f77b4", mrl_e: "#2ca02c", ff: "#d62728" };
const OTHER_COLORS = ["#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];
/** A model's colour: the originals' three fixed, config-string models by a stable hash of the name. */
const colorOf = (model: string): string =>
  COLORS[model] ?? OTHER_COLORS[[...model].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % OTHER_COLORS.length];
/** Legend names: the originals' models as the paper writes them, config-string models as they are. */
export const modelLabel = (model: string): string => ({ mrl: "MRL", mrl_e: "MRL-E", ff: "FF" } as Record<string, string>)[model] ?? model;
/** Nested (MRL) models draw solid lines; fixed-feature ones (ff, mrl0_e0_*) dashed. */
const dashOf = (model: string): string => (model === "ff" || model.startsWith("mrl0_e0") ? "dash" : "solid");
const SYMBOLS: Record<MetricsRow["method"], string> = { exact: "circle", adaptive: "diamond", funnel: "star" };

/** mAP@10 (or another column) vs MFLOPs per query, log x: exact search per dim, adaptive and funnel points. */
export function metricVsMflopsFigure(rows: MetricsRow[], metric = "mAP@10"): Figure {
  const groups = new Map<string, MetricsRow[]>();
  for (const r of rows) {
    if (typeof r[metric] !== "number") continue;
    const key = `${modelLabel(r.model)} ${r.method}${r.index === "exactl2" ? "" : ` (${r.index})`}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const data = [...groups.entries()].map(([name, rs]) => ({
    type: "scatter", name, mode: rs[0].method === "exact" ? "lines+markers" : "markers",
    x: rs.map((r) => r.MFLOPs), y: rs.map((r) => r[metric]), text: rs.map((r) => r.config),
    marker: { symbol: SYMBOLS[rs[0].method], size: rs[0].method === "exact" ? 7 : 11, color: colorOf(rs[0].model) },
    line: { color: colorOf(rs[0].model), dash: dashOf(rs[0].model) },
    hovertemplate: "%{text}<br>%{x:.3g} MFLOPs<br>" + metric + " %{y:.4f}<extra>%{fullData.name}</extra>",
  }));
  return {
    data,
    layout: {
      title: { text: `${metric} vs MFLOPs per query` }, xaxis: { title: { text: "MFLOPs per query (log)" }, type: "log" },
      yaxis: { title: { text: metric } }, legend: { orientation: "h", y: -0.25 }, width: 760, height: 480, template: "plotly_white",
    },
  };
}

/** A metric (e.g. "mAP@10", "precision@25", "top-10") vs representation size for exact search, per model. */
export function metricVsDimFigure(rows: MetricsRow[], metric = "mAP@10"): Figure {
  const models = [...new Set(rows.filter((r) => r.method === "exact").map((r) => `${r.model}|${r.index}`))];
  const data = models.map((key) => {
    const [model, index] = key.split("|");
    const rs = rows.filter((r) => r.method === "exact" && r.model === model && r.index === index).sort((a, b) => a.retrievalDim - b.retrievalDim);
    return {
      type: "scatter", mode: "lines+markers", name: `${modelLabel(model)}${index === "exactl2" ? "" : ` (${index})`}`,
      x: rs.map((r) => r.retrievalDim), y: rs.map((r) => r[metric]),
      marker: { color: colorOf(model) }, line: { color: colorOf(model), dash: dashOf(model) },
    };
  });
  const dims = [...new Set(rows.filter((r) => r.method === "exact").map((r) => r.retrievalDim))].sort((a, b) => a - b);
  return {
    data,
    layout: {
      title: { text: `${metric} vs representation size` }, template: "plotly_white", width: 760, height: 440,
      xaxis: { title: { text: "representation size (dims)" }, type: "log", tickvals: dims, ticktext: dims.map(String) },
      yaxis: { title: { text: metric } },
    },
  };
}

const INDEX_COLORS: Record<string, string> = { hnsw8: "#ff7f0e", hnsw32: "#9467bd", exactl2: "#1f77b4" };

/**
 * An efSearch sweep (search/efSearchSweep.ts): recall@at vs exact against queries per second (log), one line per
 * HNSW index type through its efSearch values, and exact search as one point (recall 1).
 */
export function efSearchFigure(sweep: EfSearchSweep): Figure {
  const types = [...new Set(sweep.points.map((p) => p.index))];
  const data: Array<Record<string, unknown>> = types.map((index) => {
    const ps = sweep.points.filter((p) => p.index === index);
    return {
      type: "scatter", mode: "lines+markers+text", name: index, x: ps.map((p) => p.queriesPerSecond), y: ps.map((p) => p.recall),
      text: ps.map((p) => String(p.efSearch)), textposition: "top center", textfont: { size: 9 },
      marker: { color: INDEX_COLORS[index] }, line: { color: INDEX_COLORS[index] },
      hovertemplate: "efSearch %{text}<br>%{x:.3s} queries/s<br>recall@" + sweep.at + " %{y:.4f}<extra>%{fullData.name}</extra>",
    };
  });
  data.push({
    type: "scatter", mode: "markers", name: "exactl2", x: [sweep.exact.queriesPerSecond], y: [1],
    marker: { color: INDEX_COLORS.exactl2, symbol: "square", size: 9 }, hovertemplate: "exact search<br>%{x:.3s} queries/s<extra></extra>",
  });
  return {
    data,
    layout: {
      title: { text: `HNSW efSearch sweep at ${sweep.dim}d: recall@${sweep.at} vs exact against speed (${sweep.queries} queries)` },
      xaxis: { title: { text: "queries per second (log)" }, type: "log" }, yaxis: { title: { text: `recall@${sweep.at} vs exact` } },
      template: "plotly_white", width: 760, height: 460, legend: { orientation: "h", y: -0.2 },
    },
  };
}

const KIND_COLORS: Record<SweepRow["kind"], string> = { exact: "#7f7f7f", adaptive: "#1f77b4", funnel: "#2ca02c" };
/** The paper's hand-picked configurations, drawn over a sweep: exact 2048-d, adaptive 16->2048 @200, its funnel. */
const PAPER_LABELS = [
  configLabel({ kind: "exact", dim: 2048 }),
  configLabel({ kind: "adaptive", firstStage: "exact", retrievalDim: 16, rerankDim: 2048, shortlist: 200 }),
  configLabel({ kind: "funnel", firstStage: "exact", retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlists: [200, 100, 50, 25, 10] }),
];

/** Sweep rows as one scatter trace per kind, x and y from the row. */
const STAGE_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const KIND_SYMBOLS = { exact: "square", adaptive: "circle", funnel: "diamond" } as const;

/** One trace per first stage (colour; exact baselines apart), the kind of configuration as the marker's shape. */
function sweepTraces(rows: readonly SweepRow[], x: (r: SweepRow) => number, y: (r: SweepRow) => number, hover: string): Array<Record<string, unknown>> {
  const group = (r: SweepRow): string => (r.config.kind === "exact" ? "exact search alone" : `${r.config.firstStage} first stage`);
  const groups = [...new Set(rows.map(group))];
  return groups.map((name, i) => {
    const rs = rows.filter((r) => group(r) === name);
    return {
      type: "scatter", mode: "markers", name, x: rs.map(x), y: rs.map(y), text: rs.map((r) => r.label),
      marker: { color: name === "exact search alone" ? KIND_COLORS.exact : STAGE_COLORS[i % STAGE_COLORS.length], size: 6, opacity: 0.6,
        symbol: rs.map((r) => KIND_SYMBOLS[r.kind]) },
      hovertemplate: `%{text}<br>${hover}<extra></extra>`,
    };
  });
}

/**
 * A sweep's mAP@10 against MFLOPs per query (log x): every configuration coloured by first stage (squares exact
 * search alone, circles adaptive, diamonds funnels), the Pareto front as a line, and
 * the paper's hand-picked exact / adaptive / funnel points ringed.
 */
export function sweepMflopsFigure(result: SweepResult): Figure {
  const rows = result.rows;
  const front = paretoFront(rows.map((r) => r.mflops), rows.map((r) => r.mAP10)).map((i) => rows[i]);
  const paper = rows.filter((r) => PAPER_LABELS.includes(r.label));
  return {
    data: [
      ...sweepTraces(rows, (r) => r.mflops, (r) => r.mAP10, "%{x:.3g} MFLOPs<br>mAP@10 %{y:.4f}"),
      { type: "scatter", mode: "lines+markers", name: "Pareto front", x: front.map((r) => r.mflops), y: front.map((r) => r.mAP10), text: front.map((r) => r.label),
        line: { color: "#d62728", width: 2, shape: "hv" }, marker: { color: "#d62728", size: 7 }, hovertemplate: "%{text}<br>%{x:.3g} MFLOPs<br>mAP@10 %{y:.4f}<extra>front</extra>" },
      { type: "scatter", mode: "markers+text", name: "the paper's configurations", x: paper.map((r) => r.mflops), y: paper.map((r) => r.mAP10),
        text: paper.map((r) => r.label), textposition: paper.map((r) => (r.kind === "exact" ? "bottom left" : "bottom right")), textfont: { size: 9 },
        marker: { color: "rgba(0,0,0,0)", size: 14, line: { color: "#000", width: 1.5 } }, hoverinfo: "skip" },
    ],
    layout: {
      title: { text: `Sweep: mAP@10 vs MFLOPs per query (${rows.length} configurations${Number.isFinite(result.queries) ? `, ${result.queries} queries` : ""})` },
      xaxis: { title: { text: "MFLOPs per query (log)" }, type: "log" }, yaxis: { title: { text: "mAP@10" } },
      template: "plotly_white", width: 820, height: 500, legend: { orientation: "h", y: -0.2 },
    },
  };
}

/** A sweep's recall@10 against exact search vs queries per second (log y), the ann-benchmarks convention. */
export function sweepRecallQpsFigure(result: SweepResult): Figure {
  const rows = result.rows;
  // ann-benchmarks' front: the fastest configuration at each recall or better
  const front = paretoFront(rows.map((r) => -r.qps), rows.map((r) => r.recall10)).map((i) => rows[i]);
  return {
    data: [
      ...sweepTraces(rows, (r) => r.recall10, (r) => r.qps, "recall@10 %{x:.4f}<br>%{y:.3s} queries/s"),
      { type: "scatter", mode: "lines+markers", name: "Pareto front", x: front.map((r) => r.recall10), y: front.map((r) => r.qps), text: front.map((r) => r.label),
        line: { color: "#d62728", width: 2 }, marker: { color: "#d62728", size: 7 }, hovertemplate: "%{text}<br>recall@10 %{x:.4f}<br>%{y:.3s} queries/s<extra>front</extra>" },
    ],
    layout: {
      title: { text: `Sweep: recall@10 vs exact ${Math.max(...rows.filter((r) => r.config.kind === "exact").map((r) => (r.config.kind === "exact" ? r.config.dim : 0)))}-d against queries per second (batch)` },
      xaxis: { title: { text: "recall@10 (ann-benchmarks: within 1e-3 of the 10th true distance)" } }, yaxis: { title: { text: "queries per second (log)" }, type: "log" },
      template: "plotly_white", width: 820, height: 500, legend: { orientation: "h", y: -0.2 },
    },
  };
}

let plotlySource: string | undefined;

/** The plotly.js bundle as an inline <script> (read once from the package; safe inside HTML). */
export function plotlyScriptTag(): string {
  plotlySource ??= fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8").replace(/<\/script/gi, "<\\/script");
  return `<script type="text/javascript">if (!window.Plotly) {${plotlySource}\n}</script>`;
}

let figureCounter = 0;

/**
 * Self-contained HTML for one figure: a div, plotly.js (embedded unless `includePlotly` is false) and the
 * call that draws it. Works in classic Jupyter, in exported HTML and in a plain page.
 */
export function figureHtml(figure: Figure, options: { includePlotly?: boolean; id?: string } = {}): string {
  const id = options.id ?? `mrl-figure-${process.pid}-${++figureCounter}`;
  const spec = JSON.stringify(figure).replace(/<\//g, "<\\/");
  return `${options.includePlotly === false ? "" : plotlyScriptTag()}<div id="${id}" class="mrl-figure"></div>` +
    `<script type="text/javascript">(function(){var f=${spec};Plotly.newPlot("${id}",f.data,f.layout,{responsive:true,displaylogo:false});})();</script>`;
}
