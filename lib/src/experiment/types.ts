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
/** The FAISS index types faiss_nn builds and searches in process. */
export const INDEX_TYPES = ["exactl2", "hnsw8", "hnsw32"] as const;
export type FaissIndexType = (typeof INDEX_TYPES)[number];
/**
 * Index types served by Postgres + pgvector (`mrl postgres`, postgres/): `pgvector-exact` (no index, an exact
 * scan), `pgvector-hnsw<m>` (HNSW with m links, e.g. pgvector-hnsw16) or `pgvector-ivf<lists>` (IVFFlat), each an
 * expression index on the normalized prefix. Their shortlists carry the name like FAISS's, so metrics, report and
 * figures treat them alike.
 */
export type PgvectorIndexType = `pgvector-${string}`;
export type IndexType = FaissIndexType | PgvectorIndexType;
export const PGVECTOR_INDEX_GRAMMAR = "pgvector-exact, pgvector-hnsw<m> (e.g. pgvector-hnsw16) or pgvector-ivf<lists> (e.g. pgvector-ivf100)";
/** The regular expression of a pgvector index type (no anchors: naming.ts embeds it in file-name patterns). */
export const PGVECTOR_INDEX_PATTERN = "pgvector-(?:exact|hnsw[1-9]\\d*|ivf[1-9]\\d*)";

/** What a pgvector index type says: the index pgvector builds on the prefix, with its one size parameter. */
export type PgvectorIndex = { kind: "exact" } | { kind: "hnsw"; m: number } | { kind: "ivfflat"; lists: number };

/** The index a pgvector index type names, or undefined when `name` is not one. */
export function parsePgvectorIndexType(name: string): PgvectorIndex | undefined {
  const m = new RegExp(`^${PGVECTOR_INDEX_PATTERN}$`).test(name) ? /^pgvector-(exact|hnsw|ivf)(\d*)$/.exec(name) : null;
  if (!m) return undefined;
  return m[1] === "exact" ? { kind: "exact" } : m[1] === "hnsw" ? { kind: "hnsw", m: Number(m[2]) } : { kind: "ivfflat", lists: Number(m[2]) };
}

export const isPgvectorIndexType = (name: string): name is PgvectorIndexType => parsePgvectorIndexType(name) !== undefined;

/**
 * Who searches exactl2: "nested" (default), the project's engine, every dim in one pass and out of core; or
 * "faiss", FAISS IndexFlatL2 one dim at a time on faiss.normalize_L2'd prefixes as the original (the database
 * prefix must fit the budget). Both find the same neighbours up to ties; among candidates whose distances
 * differ below float32's resolution (near-duplicates) only "faiss" gives the original's exact ids.
 */
export const EXACT_ENGINES = ["nested", "faiss"] as const;
export type ExactEngine = (typeof EXACT_ENGINES)[number];
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
 * Arithmetic of a rerank's squared norms |x|^2 and squared distances sum (x/|x| - q/|q|)^2 (from differences,
 * as the original's np.linalg.norm(c - q), so near-duplicates ~1e-4 apart keep their order):
 * - "float64": float32 values widened to float64, summed in float64 in dimension order;
 * - "float32": x/|x| and q/|q| rounded to float32, every product and difference rounded to float32, summed with
 *   sixteen float32 partial sums per vector (lane = dim mod 16, a 16-wide SIMD register) combined by a fixed
 *   tree (`sumsF32` / `combine16` in lib/native/src/rerank.cc), like the original notebooks' float32 numpy
 *   arrays, which also sum with several partial sums.
 * Each precision gives bit-identical results with any number of threads and query order (test/reference.ts
 * writes both out as scalar loops).
 */
export type RerankPrecision = "float32" | "float64";
export const RERANK_PRECISIONS: readonly RerankPrecision[] = ["float32", "float64"];

/**
 * The precision when an experiment or a rerank call does not say. float32, like the original notebooks' numpy
 * arrays; "float64" stays available for comparisons.
 */
export const DEFAULT_RERANK_PRECISION: RerankPrecision = "float32";

/**
 * How reranking reads a database that is not in memory yet: "auto" (default) by an estimate of the bytes each
 * way (rerank/access.ts), "load" it whole (when it fits the memory budget), or read only the candidates' "rows"
 * from its file. The reranked ids are the same either way.
 */
export type RerankAccess = "auto" | "load" | "rows";
export const RERANK_ACCESSES: readonly RerankAccess[] = ["auto", "load", "rows"];

