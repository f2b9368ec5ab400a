/**
 * The experiment's vocabulary: model kinds, index types, adaptive and funnel configurations, shortlist
 * formats and rerank precisions. Every other module takes these names from here.
 */

/**
 * The originals' model folders: `mrl` (mrl1_e0_ff2048) and `mrl_e` (mrl0_e1_ff2048) are nested, one array
 * evaluated at every prefix; `ff` is the fixed-feature baselines, one model and one array per size
 * (mrl0_e0_ff{d}), each evaluated at its own d. Any other model is named by its config string (e.g.
 * "mrl1_e0_ff768" or "mrl0_e0_ff2048"), nested like mrl, with its artifacts in a folder of that name.
 */
export const MODEL_KINDS = ["mrl", "mrl_e", "ff"] as const;
/** One of MODEL_KINDS or a config string. */
export type ModelKind = string;
export const INDEX_TYPES = ["exactl2", "hnsw8", "hnsw32"] as const;
export type IndexType = (typeof INDEX_TYPES)[number];
export const SHORTLIST_FORMATS = ["csv", "npy"] as const;
export type ShortlistFormat = (typeof SHORTLIST_FORMATS)[number];

/** Adaptive retrieval: shortlist at D_r, rerank the first `shortlist` candidates at D_s. */
export interface RerankSpec {
  retrievalDim: number;
  rerankDim: number;
  shortlist: number;
}

/** Funnel retrieval: shortlist at D_r, then rerank with dims[i] keeping shortlists[i] candidates. */
export interface FunnelSpec {
  retrievalDim: number;
  dims: number[];
  shortlists: number[];
}

/**
 * Arithmetic of the dot products and squared norms:
 * - "float64": float32 values multiplied and summed in float64 in dimension order (the original loop);
 * - "float32": products rounded to float32 and summed in float32 with four partial sums per vector, as a
 *   4-wide SIMD dot product does: partial sum l takes the dims c = l mod 4 in order, and the result is
 *   (s0 + s1) + (s2 + s3) (`dotsF32` in lib/native/src/rerank.cc). numpy's float32 arrays, which the original
 *   notebooks rerank with, also sum in float32 with several partial sums.
 * Either way the distance 2 - 2 dot / (|q| |c|) is then formed in float64 from those sums, and each precision
 * gives bit-identical results with any number of threads and query order.
 */
export type RerankPrecision = "float32" | "float64";
export const RERANK_PRECISIONS: readonly RerankPrecision[] = ["float32", "float64"];

/**
 * The precision when an experiment or a rerank call does not say. float32, like the original notebooks' numpy
 * arrays: mAP@10 equals float64's to 6 decimals on Fashion-MNIST while reranking runs 1.3x and funnels 1.2x
 * faster (`npm run bench`); "float64" stays available for comparisons with earlier outputs.
 */
export const DEFAULT_RERANK_PRECISION: RerankPrecision = "float32";

