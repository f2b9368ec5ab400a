/**
 * One experiment definition for the CLI and every notebook: a JSON file (experiments/fmnist.json, ...) that
 * says where the arrays live, which models, index types, nesting dims, k, adaptive and funnel configurations
 * and metrics to run, and how to embed the images. A file may `extend` another and override its fields;
 * paths are relative to the file that names them. Validation names the file, the field, the value and what
 * is allowed, before any stage runs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { PROJECT_ROOT } from "../core/paths";
import type { ArtifactSpec } from "../io/naming";
import { clusterSettings, type ClusterSettings } from "../cluster/settings";
import { type FunnelRule, type SweepGrid } from "../sweep/grid";
import { FIRST_STAGE_GRAMMAR, isFirstStageName } from "../search/firstStages";
import { rerankLabel } from "./labels";
import { fieldError, listOf, objectOf, oneOf, plainName, positiveInt, positiveNumber, text, type FieldAt, type Reader } from "./fields";
import {
  DEFAULT_RERANK_PRECISION, EXACT_ENGINES, INDEX_TYPES, isPgvectorIndexType, PGVECTOR_INDEX_GRAMMAR, RERANK_ACCESSES, RERANK_PRECISIONS, SHORTLIST_FORMATS,
  type ExactEngine, type FunnelSpec, type IndexType, type ModelKind, type RerankAccess, type RerankPrecision, type RerankSpec, type ShortlistFormat,
} from "./types";

/** How stage 1 embeds images (absent when the arrays come from elsewhere, e.g. the Python originals). */
export interface InferenceSettings {
  /** The ONNX model file of each model (not `ff`: its per-size models are embedded one size at a time elsewhere). */
  models: Partial<Record<ModelKind, string>>;
  /** Database images: "fashion-mnist:train", "fashion-mnist:test" or an image folder (<dir>/<class>/<image>). */
  database: string;
  /** Query images, in the same forms. */
  queries: string;
  /** Embed only the first N database / query images (quick runs and tests). */
  limit?: { database: number; queries: number };
  /** Images per onnxruntime call (default 256). */
  batchSize?: number;
}

/**
 * Serving from Postgres + pgvector (`mrl postgres`, the experiment's `pgvector-*` index types): where the database
 * is, which first-stage dims get an index, and the index and search parameters pgvector takes.
 */
export interface PostgresSettings {
  /** A Postgres server with pgvector (`postgres://user:pass@host:5432/db`); absent: PGlite in process, data under <root>/postgres. */
  databaseUrl?: string;
  /** First-stage dims with an expression index (default: the adaptive and funnel retrieval dims, else the nesting dims). */
  dims?: number[];
  /** HNSW build: ef_construction (pgvector's default 64). */
  efConstruction?: number;
  /** `SET hnsw.ef_search` (pgvector's default 40); scans continue past it (hnsw.iterative_scan = strict_order) up to the LIMIT. */
  efSearch?: number;
  /** `SET ivfflat.probes` (pgvector's default 1). */
  probes?: number;
  /** Store the vectors as halfvec (16-bit floats; indexes up to 4,000 dims instead of 2,000). */
  halfvec?: boolean;
  /** Rows per load transaction (default 1000): a killed load resumes after the last one committed. */
  batchRows?: number;
}

/** A validated experiment: every field present (defaults filled in) and every path absolute. */
export interface Experiment {
  /** Short name, e.g. "fmnist" (default: the file name). */
  name: string;
  description?: string;
  /** Folder with the embedding arrays; index_files/, neighbors/ and metrics/ go below it. */
  root: string;
  /** Dataset tag in file names, e.g. "FMNIST", "1K", "4K" or "V2" (V2's queries search 1K's database). */
  dataset: string;
  /** Models to evaluate: "mrl", "mrl_e", "ff" (per-size baselines) or a config string (see MODEL_KINDS). */
  models: ModelKind[];
  /** FAISS index types to build. */
  indexTypes: IndexType[];
  /** Shortlist length k of the k-NN search (the original: 2048). */
  k: number;
  /** Nesting dims to index and search. */
  nesting: number[];
  /** HNSW efSearch (FAISS default 16; searches with k > efSearch use k). */
  efSearch?: number;
  /** Who searches exactl2 (see ExactEngine): "nested" (default) or "faiss" (the original's ids bit for bit). */
  exactEngine?: ExactEngine;
  /**
   * Write each dim's exact index file (FAISS IndexFlatL2 .index, as the original does; default true). Exact
   * search does not need them; at ImageNet-1K size each is up to 10.5 GB.
   */
  indexFiles?: boolean;
  /** Adaptive retrieval: shortlist at D_r, rerank the first L candidates at D_s. */
  adaptive: RerankSpec[];
  /** Funnel retrieval: shortlist at D_r, then rerank at dims[i] keeping shortlists[i]. */
  funnels: FunnelSpec[];
  /** k values of mAP@k, precision@k, recall@k, top-k. */
  metricKs: number[];
  /** Recall denominator: the query class's database count, or a fixed number (the original: 1300). */
  recallDenominator: "class-count" | number;
  /** Shortlist files: "csv" (the original's headerless CSV) or "npy" (binary int32, much faster). */
  shortlistFormat: ShortlistFormat;
  /** Arithmetic of reranking's dot products (see RerankPrecision). */
  rerankPrecision: RerankPrecision;
  /** How reranking reads a database not yet in memory (see RerankAccess; default "auto"). Not recorded: the ids do not depend on it. */
  rerankAccess?: RerankAccess;
  /** The sweep's grid (`mrl sweep`, notebooks/sweep.ipynb): fields given here replace DEFAULT_SWEEP_GRID's. */
  sweep?: Partial<SweepGrid>;
  /**
   * Memory budget in GB (10^9 bytes) for the stages (default: $MRL_MEMORY_GB, else a safe share of this
   * machine's memory). A database larger than it is read from its file in blocks instead of loaded.
   */
  memoryGb?: number;
  inference?: InferenceSettings;
  /**
   * Slurm settings (cluster/settings.ts): shards per stage and per-task resources for `mrl slurm`; when set, a
   * notebook's runSearch runs its search as shard tasks on the cluster and merges them.
   */
  cluster?: ClusterSettings;
  /** Serving from Postgres + pgvector (the `pgvector-*` index types). */
  postgres?: PostgresSettings;
}

type DeepPartial<T> = {
  [K in keyof T]?: NonNullable<T[K]> extends Array<infer U> ? U[] : NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K];
};
/** Fields to change on top of an experiment file (objects merge, lists and values replace). */
export type ExperimentOverrides = DeepPartial<Experiment>;

/** Images from Debian's Fashion-MNIST package rather than a folder. */
export const FASHION_MNIST_SOURCES = ["fashion-mnist:train", "fashion-mnist:test"] as const;

const DEFAULTS = {
  adaptive: [], funnels: [], metricKs: [10, 25, 50, 100], recallDenominator: "class-count", shortlistFormat: "csv", rerankPrecision: DEFAULT_RERANK_PRECISION,
};

/** The experiment file used when none is named: $MRL_EXPERIMENT, else experiments/fmnist.json. */
export function defaultExperimentFile(): string {
  return path.resolve(process.env.MRL_EXPERIMENT || path.join(PROJECT_ROOT, "experiments", "fmnist.json"));
}

/**
 * Reads an experiment file (default: defaultExperimentFile()), applies `overrides` and validates the result.
 * Notebooks call it in their configuration cell; the CLI calls it with its flags as overrides.
 */
export function loadExperiment(overrides: ExperimentOverrides = {}, file = defaultExperimentFile()): Experiment {
  const absolute = path.resolve(file);
  const merged = merge(readExperimentFile(absolute, []), withAbsolutePaths(structuredClone(overrides) as Record<string, unknown>, process.cwd()));
  merged.name ??= path.basename(absolute).replace(/\.json$/i, "");
  return validateExperiment(merged, absolute);
}

/** Reads one file and the files it extends; its paths become absolute against its own folder. */
function readExperimentFile(file: string, chain: string[]): Record<string, unknown> {
  if (chain.includes(file)) throw new MrlError(`"extends" loops back to this file (${[...chain, file].join(" -> ")})`, file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new MrlError("experiment file not found; expected a JSON file like experiments/fmnist.json", file);
    if (code === "EISDIR") throw new MrlError("is a directory; expected an experiment JSON file", file);
    throw new MrlError(`not valid JSON (${(err as Error).message})`, file);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fieldError({ file, field: "(top level)" }, raw, "a JSON object of experiment fields");
  const own = withAbsolutePaths(raw as Record<string, unknown>, path.dirname(file));
  const parent = own.extends;
  delete own.extends;
  if (parent === undefined) return own;
  if (typeof parent !== "string") fieldError({ file, field: "extends" }, parent, "the path of another experiment file");
  const base = readExperimentFile(path.resolve(path.dirname(file), parent), [...chain, file]);
  // a derived experiment is not its base: its name (default: its own file name) and description are its own
  delete base.name;
  delete base.description;
  return merge(base, own);
}

/** Resolves the path-valued fields (root, model files, image folders) against `dir`, in place. */
function withAbsolutePaths(raw: Record<string, unknown>, dir: string): Record<string, unknown> {
  const resolve = (v: unknown): unknown => (typeof v === "string" && v.length > 0 ? path.resolve(dir, v) : v);
  if (raw.root !== undefined) raw.root = resolve(raw.root);
  const inference = raw.inference as Record<string, unknown> | undefined;
  if (inference && typeof inference === "object") {
    for (const split of ["database", "queries"]) {
      const v = inference[split];
      if (typeof v === "string" && !(FASHION_MNIST_SOURCES as readonly string[]).includes(v)) inference[split] = resolve(v);
    }
    const models = inference.models as Record<string, unknown> | undefined;
    if (models && typeof models === "object") for (const kind of Object.keys(models)) models[kind] = resolve(models[kind]);
  }
  return raw;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** `over` on top of `base`: objects merge field by field, lists and values replace, null removes a field. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    if (value === null) delete out[key];
    else out[key] = isPlainObject(value) && isPlainObject(base[key]) ? merge(base[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

const rerankSpec = objectOf<RerankSpec>({ retrievalDim: positiveInt, rerankDim: positiveInt, shortlist: positiveInt });
const funnelSpec = objectOf<FunnelSpec>({ retrievalDim: positiveInt, dims: listOf(positiveInt, { nonEmpty: true }), shortlists: listOf(positiveInt, { nonEmpty: true }) });
const recallDenominator: Reader<"class-count" | number> = (v, at) =>
  v === "class-count" || (Number.isInteger(v) && (v as number) > 0) ? (v as "class-count" | number) : fieldError(at, v, '"class-count" or a positive integer');
const modelFiles: Reader<Partial<Record<ModelKind, string>>> = (v, at) => {
  if (!isPlainObject(v)) return fieldError(at, v, "an object mapping model names (e.g. mrl) to ONNX files");
  return Object.fromEntries(Object.entries(v).map(([kind, file]) => {
    plainName(kind, { ...at, field: `${at.field} key` });
    if (kind === "ff") fieldError({ ...at, field: `${at.field} key` }, kind, "a nested model's name: ff means one model per size (embed each size " +
      "separately, or name a single fixed-feature model by its config string, e.g. mrl0_e0_ff2048)");
    return [kind, text(file, { ...at, field: `${at.field}.${kind}` })];
  }));
};
const funnelRule = objectOf<FunnelRule>({
  firstShortlists: listOf(positiveInt, { nonEmpty: true }), steps: listOf(positiveInt, { nonEmpty: true }), dimGrowth: positiveNumber,
  shortlistShrink: positiveNumber, finalDim: positiveInt, finalShortlist: positiveInt,
}, ["dimGrowth", "shortlistShrink", "finalDim", "finalShortlist"]);
const firstStage: Reader<string> = (v, at) =>
  typeof v === "string" && isFirstStageName(v) ? v : fieldError(at, v, `a first stage (${FIRST_STAGE_GRAMMAR})`);
const firstStageDims: Reader<Record<string, number[]>> = (v, at) => {
  if (!isPlainObject(v)) return fieldError(at, v, "an object mapping first stages to lists of dims");
  return Object.fromEntries(Object.entries(v).map(([stage, dims]) => [firstStage(stage, { ...at, field: `${at.field} key` }),
    listOf(positiveInt, { nonEmpty: true })(dims, { ...at, field: `${at.field}.${stage}` })]));
};
const sweepGrid = objectOf<Partial<SweepGrid>>({
  retrievalDims: listOf(positiveInt), shortlists: listOf(positiveInt), rerankDims: listOf(positiveInt), exactDims: listOf(positiveInt),
  funnels: funnelRule, firstStages: listOf(firstStage, { nonEmpty: true }), firstStageDims,
}, ["retrievalDims", "shortlists", "rerankDims", "exactDims", "funnels", "firstStages", "firstStageDims"]);

const inferenceSettings = objectOf<InferenceSettings>({
  models: modelFiles, database: text, queries: text,
  limit: objectOf<{ database: number; queries: number }>({ database: positiveInt, queries: positiveInt }), batchSize: positiveInt,
}, ["limit", "batchSize"]);

const indexType: Reader<IndexType> = (v, at) =>
  (typeof v === "string" && ((INDEX_TYPES as readonly string[]).includes(v) || isPgvectorIndexType(v)) ? (v as IndexType)
    : fieldError(at, v, `one of: ${INDEX_TYPES.join(", ")}, or ${PGVECTOR_INDEX_GRAMMAR}`));
const boolean: Reader<boolean> = (v, at) => (typeof v === "boolean" ? v : fieldError(at, v, "true or false"));
const postgresSettings = objectOf<PostgresSettings>({
  databaseUrl: (v, at) => (typeof v === "string" && /^postgres(ql)?:\/\//.test(v) ? v : fieldError(at, v, "a URL postgres://user:password@host:port/database")),
  dims: listOf(positiveInt, { nonEmpty: true }), efConstruction: positiveInt, efSearch: positiveInt, probes: positiveInt, halfvec: boolean, batchRows: positiveInt,
}, ["databaseUrl", "dims", "efConstruction", "efSearch", "probes", "halfvec", "batchRows"]);

const experimentFields = objectOf<Experiment>({
  name: text, description: (v, at) => (typeof v === "string" ? v : fieldError(at, v, "a string")), root: text, dataset: plainName,
  models: listOf(plainName, { nonEmpty: true }), indexTypes: listOf(indexType, { nonEmpty: true }),
  k: positiveInt, nesting: listOf(positiveInt, { nonEmpty: true }), efSearch: positiveInt, exactEngine: oneOf(EXACT_ENGINES),
  indexFiles: boolean,
  adaptive: listOf(rerankSpec), funnels: listOf(funnelSpec), metricKs: listOf(positiveInt, { nonEmpty: true }),
  recallDenominator, shortlistFormat: oneOf(SHORTLIST_FORMATS), rerankPrecision: oneOf(RERANK_PRECISIONS), rerankAccess: oneOf(RERANK_ACCESSES),
  memoryGb: positiveNumber, inference: inferenceSettings, sweep: sweepGrid, postgres: postgresSettings, cluster: clusterSettings,
}, ["description", "efSearch", "exactEngine", "indexFiles", "rerankAccess", "memoryGb", "inference", "sweep", "postgres", "cluster"]);

/**
 * Checks an experiment given as plain data (defaults filled in) and returns it typed: field types first,
 * then what fields say about each other (shortlists within k, rerank inputs among the nesting dims, funnel
 * cascades). `file` only names the source in messages.
 */
export function validateExperiment(raw: unknown, file?: string): Experiment {
  const e = experimentFields(isPlainObject(raw) ? merge(DEFAULTS, raw) : raw, { file, field: "" });
  const at = (field: string): FieldAt => ({ file, field });
  const fromNesting = (dim: number, field: string): void => {
    if (!e.nesting.includes(dim)) fieldError(at(field), dim, `one of the nesting dims [${e.nesting}] (faiss_nn makes the shortlist it starts from)`);
  };
  e.adaptive.forEach((a, i) => {
    fromNesting(a.retrievalDim, `adaptive[${i}].retrievalDim`);
    if (a.shortlist > e.k) fieldError(at(`adaptive[${i}].shortlist`), a.shortlist, `at most k = ${e.k} (the k-NN shortlist it reranks)`);
  });
  e.funnels.forEach((f, i) => {
    fromNesting(f.retrievalDim, `funnels[${i}].retrievalDim`);
    checkFunnel(f, e.k, at(`funnels[${i}]`));
  });
  if (e.postgres?.dims && e.indexTypes.some(isPgvectorIndexType)) {
    const retrieval = [...e.adaptive, ...e.funnels].find((c) => !e.postgres!.dims!.includes(c.retrievalDim));
    if (retrieval) fieldError(at("postgres.dims"), e.postgres.dims, `the first-stage dims the adaptive and funnel configurations start from (${retrieval.retrievalDim} is missing)`);
  }
  return e;
}

/**
 * The first-stage dims an index type's shortlists exist at: the nesting dims (FAISS), or for a `pgvector-*` type
 * the postgres dims (default: the adaptive and funnel retrieval dims, else the nesting dims).
 */
export function searchedDims(experiment: Experiment, indexType: IndexType): number[] {
  if (!isPgvectorIndexType(indexType)) return experiment.nesting;
  if (experiment.postgres?.dims) return experiment.postgres.dims;
  const retrieval = [...new Set([...experiment.adaptive, ...experiment.funnels].map((c) => c.retrievalDim))].sort((a, b) => a - b);
  return retrieval.length > 0 ? retrieval : experiment.nesting;
}

/** Funnel cascade checks: as many dims as shortlists, shortlists strictly decreasing and within k. */
export function checkFunnel(f: FunnelSpec, k: number, at: FieldAt = { field: "funnel" }): void {
  if (f.dims.length !== f.shortlists.length) {
    fieldError(at, f, `dims and shortlists of the same length (dims [${f.dims}] has ${f.dims.length}, shortlists [${f.shortlists}] has ${f.shortlists.length})`);
  }
  f.shortlists.forEach((s, i) => {
    if (i > 0 && s >= f.shortlists[i - 1]) fieldError({ ...at, field: `${at.field}.shortlists` }, f.shortlists, "strictly decreasing shortlist lengths");
  });
  if (f.shortlists[0] > k) fieldError({ ...at, field: `${at.field}.shortlists[0]` }, f.shortlists[0], `at most k = ${k} (the k-NN shortlist it reranks)`);
}

/** Writes the experiment as a self-contained JSON file (absolute paths, no "extends"), e.g. for executed notebooks. */
export function saveExperiment(experiment: Experiment, file: string): string {
  writeFileAtomic(file, JSON.stringify(experiment, null, 2) + "\n");
  return file;
}

/** A few lines saying what the experiment runs, for notebooks and logs. */
export function describeExperiment(e: Experiment): string {
  const lines = [
    `experiment ${e.name}${e.description ? `: ${e.description}` : ""}`,
    `root ${e.root}, dataset ${e.dataset}, models ${e.models.join(", ")}, index types ${e.indexTypes.join(", ")}`,
    `k=${e.k}, nesting [${e.nesting.join(", ")}]${e.efSearch ? `, efSearch ${e.efSearch}` : ""}${e.exactEngine === "faiss" ? ", exact search by FAISS" : ""}, shortlists as ${e.shortlistFormat}, rerank in ${e.rerankPrecision}`,
    `adaptive: ${e.adaptive.map((a) => rerankLabel(a)).join(", ") || "none"}`,
    `funnels: ${e.funnels.map((f) => rerankLabel(f)).join(", ") || "none"}`,
    `metrics @[${e.metricKs.join(", ")}], recall / ${e.recallDenominator}${e.memoryGb ? `, memory budget ${e.memoryGb} GB` : ""}`,
  ];
  if (e.cluster) lines.push(`cluster: ${e.cluster.shards ?? "?"} shards per stage${e.cluster.partition ? ` on ${e.cluster.partition}` : ""}`);
  if (e.postgres || e.indexTypes.some(isPgvectorIndexType)) {
    const p = e.postgres ?? {};
    lines.push(`postgres: ${p.databaseUrl ? "server (databaseUrl)" : "PGlite in process"}, first-stage dims [${searchedDims(e, "pgvector-exact")}]` +
      `${p.halfvec ? ", halfvec" : ""}${p.efSearch ? `, ef_search ${p.efSearch}` : ""}${p.probes ? `, probes ${p.probes}` : ""}`);
  }
  if (e.inference?.limit) lines.push(`inference: first ${e.inference.limit.database} database / ${e.inference.limit.queries} query images`);
  return lines.join("\n");
}

/** Where one model / index type's artifacts live under an experiment (root, names, shortlist format). */
export function experimentSpec(experiment: Experiment, model: ModelKind, indexType: IndexType): ArtifactSpec {
  return { root: experiment.root, model, dataset: experiment.dataset, indexType, shortlistFormat: experiment.shortlistFormat };
}
