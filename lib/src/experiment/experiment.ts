/**
 * Typed experiment configuration with named presets. Notebooks pick a preset in their configuration cell
 * (or through MRL_PRESET / MRL_ROOT, which the tests and the pipeline use) and may override fields.
 */
import * as path from "node:path";
import { check, checkOneOf, MrlError } from "../core/errors";
import type { ArtifactSpec } from "../io/naming";
import { INDEX_TYPES, MODEL_KINDS, RERANK_PRECISIONS, SHORTLIST_FORMATS, type FunnelSpec, type IndexType, type ModelKind, type RerankPrecision, type RerankSpec, type ShortlistFormat } from "./types";

export interface RetrievalConfig {
  /** Folder with the embedding arrays; index_files/ and neighbors/ go below it. */
  root: string;
  /** Dataset tag in file names. */
  dataset: string;
  /** Models to evaluate ("mrl" and/or "ff"). */
  models: ModelKind[];
  /** FAISS index types to build. */
  indexTypes: IndexType[];
  /** Shortlist length k of the k-NN search (the original: 2048). */
  k: number;
  /** Nesting dims to index and search. */
  nesting: number[];
  /** Adaptive retrieval configurations (shortlist at D_r, rerank at D_s). */
  adaptive: RerankSpec[];
  /** Funnel retrieval: one cascade of dims, several shortlist sets. */
  funnel: { retrievalDim: number; dims: number[]; shortlistSets: number[][] };
  /** k values for mAP@k, precision@k, recall@k, top-k. */
  metricKs: number[];
  /** Recall denominator: the query class's database count (default) or a fixed number (the original: 1300). */
  recallDenominator: "class-count" | number;
  /** HNSW efSearch (FAISS default 16; searches with k > efSearch use k). */
  efSearch?: number;
  /** Shortlist files: "csv" (default; the original's headerless CSV) or "npy" (binary int32, much faster). */
  shortlistFormat?: ShortlistFormat;
  /**
   * Arithmetic of reranking's dot products (see RerankPrecision in rerankKernel.ts): "float32" or "float64";
   * default: MRL_RERANK_PRECISION, else DEFAULT_RERANK_PRECISION (rerank.ts).
   */
  rerankPrecision?: RerankPrecision;
  /** Embed only the first N database / query images (quick runs and tests); all when absent. */
  inferenceLimit?: { database: number; queries: number };
}

const NESTING = [8, 16, 32, 64, 128, 256, 512, 1024, 2048];

export const PRESETS: Record<"paper" | "quick" | "test", RetrievalConfig> = {
  /** The original notebooks' settings on the default data. */
  paper: {
    root: "data/retrieval", dataset: "FMNIST", models: ["mrl", "ff"], indexTypes: ["exactl2"], k: 2048, nesting: NESTING,
    adaptive: [
      { retrievalDim: 8, rerankDim: 2048, shortlist: 200 },
      { retrievalDim: 16, rerankDim: 2048, shortlist: 200 },
      { retrievalDim: 32, rerankDim: 2048, shortlist: 200 },
      { retrievalDim: 16, rerankDim: 128, shortlist: 200 },
    ],
    funnel: { retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlistSets: [[800, 400, 200, 50, 10], [400, 200, 50, 25, 10], [200, 100, 50, 25, 10]] },
    metricKs: [10, 25, 50, 100], recallDenominator: "class-count",
  },
  /** A few dims and a shorter k: minutes instead of tens of minutes. */
  quick: {
    root: "data/retrieval", dataset: "FMNIST", models: ["mrl", "ff"], indexTypes: ["exactl2"], k: 1024, nesting: [8, 16, 64, 256, 2048],
    adaptive: [{ retrievalDim: 16, rerankDim: 2048, shortlist: 200 }],
    funnel: { retrievalDim: 8, dims: [16, 32, 64, 128, 2048], shortlistSets: [[200, 100, 50, 25, 10]] },
    metricKs: [10, 25, 50, 100], recallDenominator: "class-count",
  },
  /** Seconds: used by the tests on small arrays. */
  test: {
    root: "data/retrieval", dataset: "FMNIST", models: ["mrl"], indexTypes: ["exactl2"], k: 256, nesting: [8, 16, 64, 2048],
    adaptive: [{ retrievalDim: 16, rerankDim: 2048, shortlist: 200 }],
    funnel: { retrievalDim: 8, dims: [16, 64, 2048], shortlistSets: [[200, 50, 10]] },
    metricKs: [10, 25, 50, 100], recallDenominator: "class-count", inferenceLimit: { database: 4000, queries: 400 },
  },
};

/** Validates a configuration; messages name the field, the bad value and what is allowed. */
export function validateConfig(config: RetrievalConfig): RetrievalConfig {
  config.models.forEach((m) => checkOneOf(m, MODEL_KINDS, "model"));
  config.indexTypes.forEach((t) => checkOneOf(t, INDEX_TYPES, "index type"));
  if (config.shortlistFormat !== undefined) checkOneOf(config.shortlistFormat, SHORTLIST_FORMATS, "shortlist format");
  if (config.rerankPrecision !== undefined) checkOneOf(config.rerankPrecision, RERANK_PRECISIONS, "rerank precision");
  const positive = (v: number, what: string): void => check(Number.isInteger(v) && v > 0, `${what} must be a positive integer, got ${v}`);
  positive(config.k, "k");
  config.nesting.forEach((d) => positive(d, "nesting dim"));
  config.metricKs.forEach((k) => positive(k, "metric k"));
  for (const a of config.adaptive) {
    positive(a.retrievalDim, "adaptive retrievalDim");
    positive(a.rerankDim, "adaptive rerankDim");
    positive(a.shortlist, "adaptive shortlist");
    check(a.shortlist <= config.k, `adaptive shortlist ${a.shortlist} is longer than the k-NN shortlist k=${config.k}`);
  }
  for (const set of config.funnel.shortlistSets) validateFunnel({ retrievalDim: config.funnel.retrievalDim, dims: config.funnel.dims, shortlists: set }, config.k);
  if (config.recallDenominator !== "class-count") positive(config.recallDenominator, "recallDenominator");
  return config;
}

/** Cascade checks: same lengths, positive dims, shortlists strictly decreasing and within k. */
export function validateFunnel(f: FunnelSpec, k: number): void {
  if (f.dims.length === 0 || f.dims.length !== f.shortlists.length) {
    throw new MrlError(`funnel dims [${f.dims}] and shortlists [${f.shortlists}] must be non-empty lists of the same length`);
  }
  f.shortlists.forEach((s, i) => {
    check(Number.isInteger(s) && s > 0, `funnel shortlist ${s} must be a positive integer`);
    check(i === 0 || s < f.shortlists[i - 1], `funnel shortlists [${f.shortlists}] must be strictly decreasing`);
  });
  f.dims.forEach((d) => check(Number.isInteger(d) && d > 0, `funnel dim ${d} must be a positive integer`));
  check(f.shortlists[0] <= k, `funnel shortlist ${f.shortlists[0]} is longer than the k-NN shortlist k=${k}`);
}

/**
 * A preset by name (default from MRL_PRESET, else "paper") with overrides; root defaults to MRL_ROOT, else
 * the preset's root resolved against the project folder.
 */
export function loadConfig(preset?: keyof typeof PRESETS, overrides: Partial<RetrievalConfig> = {}): RetrievalConfig {
  const name = preset ?? ((process.env.MRL_PRESET as keyof typeof PRESETS | undefined) ?? "paper");
  const base = PRESETS[checkOneOf(name, Object.keys(PRESETS) as Array<keyof typeof PRESETS>, "preset")];
  const root = overrides.root ?? process.env.MRL_ROOT ?? path.resolve(PROJECT_ROOT, base.root);
  // MRL_SHORTLIST_FORMAT carries the CLI's --shortlist-format into the notebooks it executes.
  const envFormat = process.env.MRL_SHORTLIST_FORMAT as ShortlistFormat | undefined;
  return validateConfig({ ...structuredClone(base), ...(envFormat ? { shortlistFormat: envFormat } : {}), ...overrides, root });
}

/** The project folder (lib/dist/.. /..). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..", "..");

/** Where reports, figure files and executed notebooks go: $MRL_RESULTS or <project>/results. */
export function resultsDir(): string {
  return path.resolve(process.env.MRL_RESULTS ?? path.join(PROJECT_ROOT, "results"));
}

/** Where one model / index type's artifacts live under a configuration (root, names, shortlist format). */
export function experimentSpec(config: RetrievalConfig, model: ModelKind, indexType: IndexType): ArtifactSpec {
  return { root: config.root, model, dataset: config.dataset, indexType, shortlistFormat: config.shortlistFormat };
}
