/**
 * Every artifact path, in the spelling of the original MRL retrieval notebooks, so files move freely between
 * this project and the Python originals:
 *
 *   <root>/<DATASET>_<split>_<config>-X.npy / -y.npy            embeddings / labels (pytorch_inference.py)
 *   <root>/index_files/<model>/<DATASET>_<d>dim_<index>.index    FAISS index (faiss_nn)
 *   <root>/neighbors/<model>/<index>_<d>dim_<k>shortlist_<DATASET>.csv
 *   <root>/neighbors/reranked/<model>/<Dr>dim-reranked<Ds>_<L>shortlist_<DATASET>_<index>.csv
 *   <root>/neighbors/funnel_retrieval/<model>/<Dr>dim-cascade[..]_shortlist[..]_<DATASET>_<index>.csv
 *   <root>/neighbors/<model>/<index>_timings_<DATASET>.json     QPS, p50/p95 of served shortlists (pgvector-*)
 *   <root>/postgres/                                             PGlite's data folder (mrl postgres)
 *
 * Shortlists are .csv (the original's format) or, with `shortlistFormat: "npy"`, binary int32 .npy files of
 * the same name.
 *
 * Names are written without spaces inside the brackets; the originals' Python spelling ("[16, 32]") is
 * accepted when reading.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MrlError } from "../core/errors";
import { INDEX_TYPES, PGVECTOR_INDEX_PATTERN, type FunnelSpec, type IndexType, type ModelKind, type RerankSpec, type ShortlistFormat } from "../experiment/types";

export const SPLITS = ["train", "val"] as const;
/** "train" is the database, "val" the queries (the original's naming, whatever the source split). */
export type Split = (typeof SPLITS)[number];

/** A dataset tag or model name: it becomes part of file names, so it must never reach outside the root. */
export function checkNameToken(value: string, what: string): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(value) || value.includes("..")) {
    throw new MrlError(`${what} ${JSON.stringify(value)} is not a plain name; expected letters, digits, "_", "-", "+" or "." ` +
      "(no path separators or \"..\": names become file names under the root)");
  }
  return value;
}

/** The fixed-feature baselines: one model per size, each evaluated at its own d. */
export const isPerSizeModel = (model: ModelKind): boolean => model === "ff";

/**
 * The config string in array names: mrl -> mrl1_e0_ff2048, mrl_e -> mrl0_e1_ff2048, ff -> mrl0_e0_ff{d}
 * (the size-d baseline, so `dim` is required), any other model -> its own name.
 */
export function modelConfig(model: ModelKind, dim?: number): string {
  checkNameToken(model, "model");
  if (model === "mrl") return "mrl1_e0_ff2048";
  if (model === "mrl_e") return "mrl0_e1_ff2048";
  if (model === "ff") {
    if (dim === undefined || !Number.isInteger(dim) || dim <= 0) throw new MrlError(`model ff has one array per size; name the size (got ${dim})`);
    return `mrl0_e0_ff${dim}`;
  }
  return model;
}

/** The dataset whose train split is the database: ImageNet-V2 is a test set only, searched against 1K's. */
export function databaseDataset(dataset: string): string {
  return checkNameToken(dataset, "dataset") === "V2" ? "1K" : dataset;
}

/** Where one retrieval experiment's artifacts live and which ones it means. */
export interface ArtifactSpec {
  root: string;
  model: ModelKind;
  dataset: string;
  indexType: IndexType;
  /** Shortlist files: headerless CSV (default, as the original) or binary .npy. */
  shortlistFormat?: ShortlistFormat;
}

/** A shortlist file name with the spec's format's extension. */
function inFormat(spec: ArtifactSpec, fileName: string): string {
  return spec.shortlistFormat === "npy" ? fileName.replace(/\.csv$/, ".npy") : fileName;
}

/** `<DATASET>_<split>_<config>-X.npy` (part X: vectors) or `-y.npy` (labels); `dim` names the ff baseline's size. */
export function arrayFileName(dataset: string, split: Split, model: ModelKind, part: "X" | "y", dim?: number): string {
  return `${checkNameToken(dataset, "dataset")}_${split}_${modelConfig(model, dim)}-${part}.npy`;
}

export function arrayPath(root: string, dataset: string, split: Split, model: ModelKind, part: "X" | "y", dim?: number): string {
  return path.join(root, arrayFileName(dataset, split, model, part, dim));
}

/**
 * The four arrays of one model: database (train) and query (val) embeddings and labels. V2's queries are
 * searched against 1K's database, as in the originals; `dim` picks the ff baseline of that size.
 */
export function arrayFiles(root: string, dataset: string, model: ModelKind, dim?: number): { databaseX: string; databaseY: string; queriesX: string; queriesY: string } {
  const db = databaseDataset(dataset);
  return {
    databaseX: arrayPath(root, db, "train", model, "X", dim), databaseY: arrayPath(root, db, "train", model, "y", dim),
    queriesX: arrayPath(root, dataset, "val", model, "X", dim), queriesY: arrayPath(root, dataset, "val", model, "y", dim),
  };
}

/** The folder of a model's artifacts (index_files/<model>/, neighbors/<model>/, ...): its name, checked. */
export const modelFolder = (model: ModelKind): string => checkNameToken(model, "model");

export function indexFileName(dataset: string, dim: number, indexType: IndexType): string {
  return `${dataset}_${dim}dim_${indexType}.index`;
}

/** The index is the database's, so V2 uses (and names) 1K's index files. */
export function indexPath(spec: ArtifactSpec, dim: number): string {
  return path.join(spec.root, "index_files", modelFolder(spec.model), indexFileName(databaseDataset(spec.dataset), dim, spec.indexType));
}

export function neighborsFileName(dataset: string, dim: number, k: number, indexType: IndexType): string {
  return `${indexType}_${dim}dim_${k}shortlist_${dataset}.csv`;
}

export function neighborsPath(spec: ArtifactSpec, dim: number, k: number): string {
  return path.join(spec.root, "neighbors", modelFolder(spec.model), inFormat(spec, neighborsFileName(spec.dataset, dim, k, spec.indexType)));
}

export function rerankedFileName(dataset: string, r: RerankSpec, indexType: IndexType): string {
  return `${r.retrievalDim}dim-reranked${r.rerankDim}_${r.shortlist}shortlist_${dataset}_${indexType}.csv`;
}

export function rerankedPath(spec: ArtifactSpec, r: RerankSpec): string {
  return path.join(spec.root, "neighbors", "reranked", modelFolder(spec.model), inFormat(spec, rerankedFileName(spec.dataset, r, spec.indexType)));
}

export function funnelFileName(dataset: string, f: FunnelSpec, indexType: IndexType, pythonSpelling = false): string {
  const list = (xs: number[]): string => `[${xs.join(pythonSpelling ? ", " : ",")}]`;
  return `${f.retrievalDim}dim-cascade${list(f.dims)}_shortlist${list(f.shortlists)}_${dataset}_${indexType}.csv`;
}

export function funnelPath(spec: ArtifactSpec, f: FunnelSpec, pythonSpelling = false): string {
  return path.join(spec.root, "neighbors", "funnel_retrieval", modelFolder(spec.model),
    inFormat(spec, funnelFileName(spec.dataset, f, spec.indexType, pythonSpelling)));
}

/** The funnel file that exists, in our spelling or the original's ("[16, 32, ...]"); undefined if neither. */
export function findFunnelFile(spec: ArtifactSpec, f: FunnelSpec): string | undefined {
  return [funnelPath(spec, f), funnelPath(spec, f, true)].find((p) => fs.existsSync(p));
}

/** What a file name means, recovered from the name alone. */
export type ParsedArtifact =
  | { kind: "array"; dataset: string; split: Split; config: string; part: "X" | "y" }
  | { kind: "index"; dataset: string; dim: number; indexType: IndexType }
  | { kind: "neighbors"; dataset: string; dim: number; k: number; indexType: IndexType }
  | { kind: "reranked"; dataset: string; indexType: IndexType; rerank: RerankSpec }
  | { kind: "funnel"; dataset: string; indexType: IndexType; funnel: FunnelSpec };

const INDEX_ALT = [...INDEX_TYPES, PGVECTOR_INDEX_PATTERN].join("|");
const PATTERNS: Array<[RegExp, (m: RegExpExecArray) => ParsedArtifact]> = [
  [/^(.+)_(train|val)_(mrl[01]_e[01]_ff\d+)-(X|y)\.npy$/,
    (m) => ({ kind: "array", dataset: m[1], split: m[2] as Split, config: m[3], part: m[4] as "X" | "y" })],
  [new RegExp(`^(.+)_(\\d+)dim_(${INDEX_ALT})\\.index$`),
    (m) => ({ kind: "index", dataset: m[1], dim: +m[2], indexType: m[3] as IndexType })],
  [new RegExp(`^(${INDEX_ALT})_(\\d+)dim_(\\d+)shortlist_(.+)\\.(?:csv|npy)$`),
    (m) => ({ kind: "neighbors", indexType: m[1] as IndexType, dim: +m[2], k: +m[3], dataset: m[4] })],
  [new RegExp(`^(\\d+)dim-reranked(\\d+)_(\\d+)shortlist_(.+)_(${INDEX_ALT})\\.(?:csv|npy)$`),
    (m) => ({ kind: "reranked", rerank: { retrievalDim: +m[1], rerankDim: +m[2], shortlist: +m[3] }, dataset: m[4], indexType: m[5] as IndexType })],
  [new RegExp(`^(\\d+)dim-cascade\\[([\\d, ]+)\\]_shortlist\\[([\\d, ]+)\\]_(.+)_(${INDEX_ALT})\\.(?:csv|npy)$`),
    (m) => ({ kind: "funnel", funnel: { retrievalDim: +m[1], dims: numberList(m[2]), shortlists: numberList(m[3]) }, dataset: m[4], indexType: m[5] as IndexType })],
];

function numberList(text: string): number[] {
  return text.split(",").map((s) => Number(s.trim()));
}

/** Parses an artifact file name (a bare name or a path). Throws MrlError for names it does not know. */
export function parseArtifactName(fileName: string): ParsedArtifact {
  const base = path.basename(fileName);
  for (const [re, build] of PATTERNS) {
    const m = re.exec(base);
    if (m) return build(m);
  }
  throw new MrlError("not an mrl-retrieval artifact name (expected an embeddings .npy, .index, or shortlist .csv name)", fileName);
}

/** `<root>/metrics/<model>/<DATASET>_<index>_metrics.csv` (and .json): the metrics table of one experiment. */
export function metricsPath(spec: ArtifactSpec, ext: "csv" | "json" = "csv"): string {
  return path.join(spec.root, "metrics", modelFolder(spec.model), `${spec.dataset}_${spec.indexType}_metrics.${ext}`);
}

/**
 * `<root>/neighbors/<model>/<index>_timings_<DATASET>.json`: the measured speed (QPS, p50/p95 ms) of each shortlist
 * file an index type served from Postgres wrote, by file name; the metrics table adds it to those rows.
 */
export function timingsPath(spec: ArtifactSpec): string {
  return path.join(spec.root, "neighbors", modelFolder(spec.model), `${spec.indexType}_timings_${spec.dataset}.json`);
}

/** `<root>/postgres`: PGlite's data folder, the in-process Postgres of `mrl postgres` (no --database-url). */
export const pgliteDataDir = (root: string): string => path.join(root, "postgres");
