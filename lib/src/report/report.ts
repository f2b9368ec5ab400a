/**
 * The results folder a run ends with: static figure files (PNG + SVG through headless Chromium), the
 * retrieval gallery (inline HTML and PNG), and report.html — a self-contained summary page with the
 * interactive figures, tables, gallery and links to the executed notebooks.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic";
import { experimentSpec, type Experiment } from "../experiment/experiment";
import type { ImageSource } from "../inference/sources";
import type { MetricsRow } from "../metrics/evaluate";
import { readMetricsTable } from "../metrics/tableFiles";
import { metricVsDimFigure, metricVsMflopsFigure, figureHtml, plotlyScriptTag, modelLabel } from "./figures";
import { experimentGallerySettings, galleryData, galleryHtml, galleryPage, pickGalleryQueries, type GalleryQuery } from "./gallery";
import type { IndexType, ModelKind, RerankSpec } from "../experiment/types";
import { experimentSources } from "../experiment/run";
import { renderFigureFiles, renderHtmlToPng, type FigureFile } from "./render";
import { findSweeps, sweepFigureFiles, sweepSectionHtml } from "./sweeps";
import { escapeHtml, htmlTable } from "./tables";

/** The paper's figures for a metrics table, with file-friendly names. */
export function reportFigures(rows: MetricsRow[]): FigureFile[] {
  const figures: FigureFile[] = [{ name: "mAP@10_vs_MFLOPs", figure: metricVsMflopsFigure(rows, "mAP@10") }];
  for (const metric of ["mAP@10", "precision@10", "recall@10", "top-10", "mAP@100"]) {
    if (rows.some((r) => typeof r[metric] === "number")) figures.push({ name: `${metric}_vs_dim`, figure: metricVsDimFigure(rows, metric) });
  }
  return figures;
}

/** Every metrics table the configuration has produced (models x index types that exist on disk). */
export function readAllMetrics(experiment: Experiment): MetricsRow[] {
  return experiment.models.flatMap((model) => experiment.indexTypes.flatMap((indexType) =>
    readMetricsTable(experimentSpec(experiment, model, indexType))));
}

export interface GalleryOptions {
  model?: ModelKind;
  indexType?: IndexType;
  /** Exact-search dims to show (those in the experiment's nesting); adaptive settings are added. */
  dims?: number[];
  /** Adaptive settings to show (default: those reranking at the largest nesting dim, at most two). */
  adaptive?: RerankSpec[];
  /** Query ids to show; picked automatically (see pickGalleryQueries) when absent. */
  queries?: number[];
  count?: number;
  sources?: { database: ImageSource; queries: ImageSource };
  classes?: string[];
}

/** The retrieval gallery of a finished experiment as inline HTML plus its data. */
export async function experimentGallery(experiment: Experiment, options: GalleryOptions = {}): Promise<{ html: string; data: GalleryQuery[] }> {
  const model = options.model ?? experiment.models[0];
  const indexType = options.indexType ?? experiment.indexTypes[0];
  const { settings, queryLabels, databaseLabels, largestExact } = experimentGallerySettings(experiment, model, indexType, options.dims, options.adaptive);
  // Pick queries where the smallest dim fails and the largest exact dim succeeds: what MRL's nesting buys.
  const queries = options.queries ?? pickGalleryQueries(settings, queryLabels, databaseLabels, options.count ?? 4, 10, largestExact);
  const data = galleryData(queries, settings, queryLabels, databaseLabels);
  // Without inference settings (arrays from elsewhere) the gallery shows numbered tiles instead of images.
  const sources = options.sources ?? (experiment.inference ? experimentSources(experiment) : undefined);
  const classes = options.classes ?? sources?.database.classes;
  const html = await galleryHtml(data, sources, { classes, title: `Retrieval gallery: ${modelLabel(model)} (${indexType}) on ${experiment.dataset}` });
  return { html, data };
}

export interface ReportResult {
  reportFile: string;
  figureFiles: string[];
  galleryFile?: string;
  /** The sweep CSVs shown (results/sweep/<dataset>_<model>_sweep.csv of the experiment's models). */
  sweeps: string[];
}

const REPORT_CSS = `body{font-family:"Liberation Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}
.figs{display:flex;flex-wrap:wrap;gap:12px}.fig{border:1px solid #eee;padding:4px}.fig .links{font-size:12px;text-align:right}
table.mrl-table td,table.mrl-table th{border:1px solid #ddd;padding:2px 6px}table.mrl-table th{background:#f4f4f4}
.note{color:#555;font-size:13px}`;

/** Plain-language highlights: full-size quality, and adaptive/funnel quality at their cost. */
export function reportHighlights(rows: MetricsRow[]): string[] {
  const lines: string[] = [];
  for (const key of [...new Set(rows.map((r) => `${r.model}|${r.index}`))]) {
    const [model, index] = key.split("|");
    const rs = rows.filter((r) => r.model === model && r.index === index);
    const exact = rs.filter((r) => r.method === "exact").sort((a, b) => a.retrievalDim - b.retrievalDim);
    if (exact.length === 0) continue;
    const full = exact[exact.length - 1];
    const small = exact[0];
    lines.push(`${modelLabel(model)} ${index}: mAP@10 ${Number(small["mAP@10"]).toFixed(4)} at ${small.retrievalDim}d ` +
      `→ ${Number(full["mAP@10"]).toFixed(4)} at ${full.retrievalDim}d (${full.MFLOPs.toFixed(2)} MFLOPs per query).`);
    for (const r of rs.filter((x) => x.method !== "exact")) {
      lines.push(`${modelLabel(model)} ${index} ${r.method} ${r.config}: mAP@10 ${Number(r["mAP@10"]).toFixed(4)} ` +
        `at ${r.MFLOPs.toFixed(2)} MFLOPs (${(full.MFLOPs / r.MFLOPs).toFixed(0)}x fewer than ${full.retrievalDim}d exact).`);
    }
  }
  return lines;
}

/**
 * Writes `<outDir>/figures/*.{png,svg}`, the gallery PNG and `<outDir>/report.html`. Executed notebooks'
 * HTML found in `notebooksDir` is linked from the report; sweeps found in `<outDir>/sweep/` (mrl sweep) get their
 * figures and a section.
 */
export async function writeReport(experiment: Experiment, options: { outDir: string; notebooksDir?: string; gallery?: GalleryOptions | false;
  quiet?: boolean; } ): Promise<ReportResult> {
  const log = options.quiet ? () => {} : (s: string) => console.error(s);
  const rows = readAllMetrics(experiment);
  const figures = reportFigures(rows);
  // sweeps `mrl sweep` wrote into this results folder: their figures are drawn with the others
  const sweeps = findSweeps(experiment, options.outDir);
  const sweepFigures = sweeps.flatMap((s) => sweepFigureFiles(experiment.dataset, s.model, s.result));
  const figuresDir = path.join(options.outDir, "figures");
  log(`report: rendering ${figures.length + sweepFigures.length} figures as PNG and SVG with headless Chromium`);
  const figureFiles = await renderFigureFiles([...figures, ...sweepFigures], figuresDir);

  let galleryBlock = "";
  let galleryFile: string | undefined;
  if (options.gallery !== false) {
    const gallery = await experimentGallery(experiment, options.gallery ?? {});
    galleryFile = path.join(figuresDir, "retrieval_gallery.png");
    await renderHtmlToPng(galleryPage(gallery.html), galleryFile, ".mrl-gallery", { scale: 2 });
    log(`report: gallery of ${gallery.data.length} queries -> ${galleryFile}`);
    galleryBlock = `<h2>Retrieval gallery</h2><p class="links"><a href="figures/retrieval_gallery.png">PNG</a></p>${gallery.html}`;
  }

  const rel = (file: string): string => path.relative(options.outDir, file).split(path.sep).join("/");
  const figureBlock = (f: FigureFile): string => `<div class="fig">${figureHtml(f.figure, { includePlotly: false, id: `fig-${f.name.replace(/[^\w-]/g, "_")}` })}` +
    `<div class="links"><a href="${rel(path.join(figuresDir, `${f.name}.png`))}">PNG</a> · <a href="${rel(path.join(figuresDir, `${f.name}.svg`))}">SVG</a></div></div>`;
  const figureBlocks = figures.map(figureBlock);
  const sweepBlocks = sweeps.map((s) => sweepSectionHtml(s, experiment.dataset, figureBlock, rel)).join("\n");
  const notebooks = options.notebooksDir && fs.existsSync(options.notebooksDir)
    ? fs.readdirSync(options.notebooksDir).filter((f) => f.endsWith(".html") && !f.includes(".failed")).sort() : [];
  const notebookLinks = notebooks.length ? `<h2>Executed notebooks</h2><ul>${notebooks.map((f) =>
    `<li><a href="${rel(path.join(options.notebooksDir!, f))}">${escapeHtml(f.replace(/\.html$/, ""))}</a></li>`).join("")}</ul>` : "";
  const tables = [...new Set(rows.map((r) => `${r.model}|${r.index}`))].map((key) => {
    const [model, index] = key.split("|");
    const rs = rows.filter((r) => r.model === model && r.index === index).map((r) => {
      const picked: Record<string, string | number> = {};
      for (const c of ["method", "config", "MFLOPs", "top1", "mAP@10", "precision@10", "recall@10", "top-10", "mAP@100"]) if (r[c] !== undefined) picked[c] = r[c];
      return picked as MetricsRow;
    });
    return `<h3>${modelLabel(model)} · ${index}</h3>${htmlTable(rs)}`;
  }).join("\n");

  const html = `<!doctype html><html><head><meta charset="utf-8"><title>MRL retrieval report: ${escapeHtml(experiment.dataset)}</title>
<style>${REPORT_CSS}</style>${plotlyScriptTag()}</head><body>
<h1>MRL retrieval report: ${escapeHtml(experiment.dataset)}</h1>
<p class="note">models ${experiment.models.join(", ")} · index types ${experiment.indexTypes.join(", ")} · k=${experiment.k} · nesting [${experiment.nesting.join(", ")}] ·
root ${escapeHtml(experiment.root)} · generated ${new Date().toISOString()}</p>
<h2>Highlights</h2><ul>${reportHighlights(rows).map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>
<h2>Figures</h2><div class="figs">${figureBlocks.join("\n")}</div>
${galleryBlock}
<h2>Metrics</h2>${tables}
${sweepBlocks}
${notebookLinks}
</body></html>`;
  const reportFile = path.join(options.outDir, "report.html");
  writeFileAtomic(reportFile, html);
  log(`report: ${reportFile}${sweeps.length ? ` with the sweep of ${sweeps.map((x) => x.model).join(", ")}` : ""}`);
  return { reportFile, figureFiles, galleryFile, sweeps: sweeps.map((x) => x.file) };
}
