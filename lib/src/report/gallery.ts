/**
 * Retrieval gallery: for chosen queries, the query image and its top neighbours under several retrieval
 * settings (exact search at a few dims, adaptive retrieval), each neighbour marked correct (same class) or
 * not. The data part is pure; HTML embeds the images as data URIs so it renders inline in a notebook, in an
 * exported notebook and as a standalone page, and render.ts turns it into a PNG.
 */
import { experimentSpec, type Experiment } from "../experiment/experiment";
import { dimLabel, rerankLabel } from "../experiment/labels";
import type { ImageSource } from "../inference/sources";
import { MrlError } from "../core/errors";
import type { IntMatrix } from "../core/matrix";
import type { IndexType, ModelKind, RerankSpec } from "../experiment/types";
import { loadRetrievalLabels } from "../io/arrays";
import { isPerSizeModel, neighborsPath, rerankedPath } from "../io/naming";
import { readCheckedShortlist } from "../io/shortlists";
import { escapeHtml } from "./tables";

/** One retrieval setting's ranked neighbours for every query (only the first `top` columns are used). */
export interface GallerySetting {
  name: string;
  neighbors: IntMatrix;
}

export interface GalleryNeighbor { id: number; label: number; correct: boolean }
export interface GalleryRow { setting: string; neighbors: GalleryNeighbor[]; correct: number }
export interface GalleryQuery { query: number; label: number; rows: GalleryRow[] }

/** The gallery's content: per query and setting, the top `top` neighbours with their labels and correctness. */
export function galleryData(queries: number[], settings: GallerySetting[], queryLabels: Int32Array, databaseLabels: Int32Array,
  top = 10): GalleryQuery[] {
  for (const s of settings) {
    if (s.neighbors.cols < top) throw new MrlError(`setting "${s.name}" has ${s.neighbors.cols} neighbours per query, the gallery shows ${top}`);
  }
  return queries.map((q) => {
    if (!Number.isInteger(q) || q < 0 || q >= queryLabels.length) throw new MrlError(`query ${q} is outside 0..${queryLabels.length - 1}`);
    const label = queryLabels[q];
    const rows = settings.map((s) => {
      const neighbors = Array.from(s.neighbors.data.subarray(q * s.neighbors.cols, q * s.neighbors.cols + top), (id) => ({
        id, label: databaseLabels[id], correct: databaseLabels[id] === label,
      }));
      return { setting: s.name, neighbors, correct: neighbors.filter((n) => n.correct).length };
    });
    return { query: q, label, rows };
  });
}

/**
 * Queries worth looking at, deterministically: those where the first setting (the smallest dim) is most
 * wrong relative to the reference setting (default the last), one per class, then one where every setting
 * is fully right (an easy case).
 */
export function pickGalleryQueries(settings: GallerySetting[], queryLabels: Int32Array, databaseLabels: Int32Array, count = 4, top = 10,
  reference = settings.length - 1): number[] {
  if (settings.length === 0 || count <= 0) return [];
  const hits = (s: GallerySetting, q: number): number => {
    let c = 0;
    for (let j = 0; j < top; j++) if (databaseLabels[s.neighbors.data[q * s.neighbors.cols + j]] === queryLabels[q]) c++;
    return c;
  };
  const first = settings[0];
  const ref = settings[reference];
  const scored = Array.from(queryLabels, (_, q) => ({ q, gain: hits(ref, q) - hits(first, q), easy: settings.every((s) => hits(s, q) === top) }));
  const easy = scored.find((s) => s.easy)?.q;
  const picked: number[] = [];
  const usedClasses = new Set<number>();
  // Largest gain first, one query per class so the gallery is not all shirts.
  for (const s of [...scored].sort((a, b) => b.gain - a.gain || a.q - b.q)) {
    if (picked.length >= count - (easy === undefined ? 0 : 1)) break;
    if (usedClasses.has(queryLabels[s.q])) continue;
    usedClasses.add(queryLabels[s.q]);
    picked.push(s.q);
  }
  if (easy !== undefined && !picked.includes(easy)) picked.push(easy);
  return picked.slice(0, count);
}

/**
 * Shortlists of a finished experiment for the gallery: exact search at `dims` (those in the nesting), then
 * the adaptive settings (default: those reranking at the largest nesting dim, at most two). A model of one
 * array per size (ff) shows each size's own search, and has no adaptive settings.
 */
export function experimentGallerySettings(experiment: Experiment, model: ModelKind, indexType: IndexType = "exactl2",
  dims: number[] = [8, 64, 2048], adaptive?: RerankSpec[]): {
  settings: GallerySetting[]; queryLabels: Int32Array; databaseLabels: Int32Array;
  /** Index of the largest exact dim's setting (the reference for pickGalleryQueries). */
  largestExact: number;
} {
  const spec = experimentSpec(experiment, model, indexType);
  const shownDims = dims.filter((d) => experiment.nesting.includes(d));
  if (shownDims.length === 0) throw new MrlError(`none of the gallery dims [${dims}] is in the experiment's nesting [${experiment.nesting}]`);
  const perSize = isPerSizeModel(model);
  // one size's labels stand for all: every size embeds the same images
  const { databaseLabels, queryLabels } = loadRetrievalLabels(experiment.root, experiment.dataset, model, perSize ? Math.max(...shownDims) : undefined);
  // a gallery shows the first few neighbours: parse at most 100 of each line
  const load = (file: string, hint: string): IntMatrix => readCheckedShortlist(file, queryLabels.length, databaseLabels.length, hint, { columns: 100 });
  const settings: GallerySetting[] = shownDims.map((d) => ({
    name: `${dimLabel(d)} exact`, neighbors: load(neighborsPath(spec, d, experiment.k), `run faiss_nn for dim ${d} first`),
  }));
  const largest = Math.max(...experiment.nesting);
  for (const a of perSize ? [] : adaptive ?? experiment.adaptive.filter((x) => x.rerankDim === largest).slice(0, 2)) {
    settings.push({ name: `adaptive ${rerankLabel(a)}`, neighbors: load(rerankedPath(spec, a), "run reranking first") });
  }
  return { settings, queryLabels, databaseLabels, largestExact: shownDims.indexOf(Math.max(...shownDims)) };
}

const GALLERY_CSS = `
.mrl-gallery{font-family:"Liberation Sans",Arial,sans-serif;font-size:12px;color:#222;background:#fff;padding:8px;display:inline-block}
.mrl-gallery .q{display:flex;align-items:flex-start;gap:12px;margin:0 0 14px 0;padding-bottom:10px;border-bottom:1px solid #ddd}
.mrl-gallery .qimg{text-align:center;width:110px}
.mrl-gallery .qimg img{border:3px solid #1f77b4}
.mrl-gallery .row{display:flex;align-items:center;gap:4px;margin:2px 0}
.mrl-gallery .name{width:170px;text-align:right;padding-right:6px;white-space:nowrap}
.mrl-gallery .t{position:relative;line-height:0}
.mrl-gallery .t img{border:3px solid}
.mrl-gallery .ok img{border-color:#2ca02c}.mrl-gallery .bad img{border-color:#d62728}
.mrl-gallery .mark{position:absolute;right:2px;top:2px;font:bold 11px/13px sans-serif;color:#fff;padding:0 3px;border-radius:3px}
.mrl-gallery .ok .mark{background:#2ca02c}.mrl-gallery .bad .mark{background:#d62728}
.mrl-gallery .legend{margin:0 0 10px 0}`;

/**
 * The gallery as self-contained HTML (images inlined as PNG data URIs). `images` supplies the query and
 * database pictures (numbered tiles without them); `classes` names the labels.
 */
export async function galleryHtml(data: GalleryQuery[], images: { queries: ImageSource; database: ImageSource } | undefined, options: {
  classes?: string[]; tileSize?: number; title?: string;
} = {}): Promise<string> {
  const tile = options.tileSize ?? 56;
  const className = (label: number): string => options.classes?.[label] ?? String(label);
  const cache = new Map<string, Promise<string>>();
  const img = (which: "queries" | "database", id: number, size: number): Promise<string> => {
    const key = `${which}#${id}@${size}`;
    const source = images?.[which];
    if (!cache.has(key)) {
      cache.set(key, source?.previewPng
        ? source.previewPng(id, size).then((png) => `data:image/png;base64,${png.toString("base64")}`)
        : Promise.resolve(`data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#eee"/><text x="50%" y="55%" font-size="10" text-anchor="middle">${id}</text></svg>`)}`));
    }
    return cache.get(key)!;
  };
  const blocks: string[] = [];
  for (const q of data) {
    const rows: string[] = [];
    for (const r of q.rows) {
      const tiles = await Promise.all(r.neighbors.map(async (n) =>
        `<div class="t ${n.correct ? "ok" : "bad"}" title="database #${n.id}: ${escapeHtml(className(n.label))}">` +
        `<img src="${await img("database", n.id, tile)}" width="${tile}" height="${tile}" alt="${escapeHtml(className(n.label))}">` +
        `<span class="mark">${n.correct ? "✓" : "✗"}</span></div>`));
      rows.push(`<div class="row"><div class="name">${escapeHtml(r.setting)}<br><b>${r.correct}/${r.neighbors.length}</b> correct</div>${tiles.join("")}</div>`);
    }
    blocks.push(`<div class="q"><div class="qimg"><img src="${await img("queries", q.query, tile + 24)}" width="${tile + 24}" height="${tile + 24}" alt="query">` +
      `<div>query #${q.query}<br><b>${escapeHtml(className(q.label))}</b></div></div><div>${rows.join("")}</div></div>`);
  }
  const title = options.title ? `<h3 style="margin:4px 0 6px 0">${escapeHtml(options.title)}</h3>` : "";
  return `<div class="mrl-gallery"><style>${GALLERY_CSS}</style>${title}` +
    `<div class="legend">Top-${data[0]?.rows[0]?.neighbors.length ?? 0} neighbours per setting; ` +
    `<span style="color:#2ca02c">✓ green</span> = same class as the query, <span style="color:#d62728">✗ red</span> = different class.</div>` +
    `${blocks.join("")}</div>`;
}

/** A standalone page around gallery HTML (for PNG rendering and reports). */
export function galleryPage(galleryBody: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>retrieval gallery</title></head><body style="margin:0">${galleryBody}</body></html>`;
}
