/**
 * The stage loop, once for the CLI and every notebook: each stage runs for every model and index type of an
 * experiment, with every option taken from the experiment (so no caller can drop one), each model's arrays
 * loaded once for all its index types. Every stage skips outputs that are already up to date (see
 * io/manifest.ts), so re-running after an interruption continues where it stopped.
 */
import { isPerSizeModel, type ArtifactSpec } from "../io/naming";
import { loadRetrievalArrays, loadRetrievalLabels, type RetrievalArrays, type RetrievalLabels } from "../io/arrays";
import { firstItems, imageSource, type ImageSource } from "../inference/sources";
import { runRetrievalInference, type RetrievalInferenceResult } from "../inference/stage";
import type { LabelsOf, MetricsRow } from "../metrics/evaluate";
import { runMetricsStage } from "../metrics/stage";
import { runRerankStage, type RerankStageResult } from "../rerank/stage";
import { runIndexSearch, type DimResult, type IndexSearchOptions } from "../search/stage";
import type { RetrievalInferenceConfig } from "../inference/stage";
import type { RerankStageOptions } from "../rerank/stage";
import { mergeInferenceShards, runInferenceShard } from "../shard/infer";
import type { ShardPlan } from "../shard/plan";
import { mergeRerankShards, runRerankShard } from "../shard/rerank";
import { mergeSearchShards, runSearchShard, type ShardRun } from "../shard/search";
import { MrlError } from "../core/errors";
import { servePostgres, type PostgresRun, type PostgresStep } from "../postgres/stage";
import { withFolderLock } from "../core/lock";
import { experimentSpec, type Experiment } from "./experiment";
import { isShardTask, runOnCluster } from "../cluster/run";
import { INHERITED_LOCKS_ENV } from "../core/lock";
import { isPgvectorIndexType, type IndexType, type ModelKind } from "./types";

export interface StageOptions {
  /** Recompute outputs even when they are up to date. */
  force?: boolean;
  quiet?: boolean;
  /**
   * Run here even when the experiment has a "cluster" field (the CLI's stage commands: `mrl slurm` is the CLI's
   * way to the cluster). Without it, runSearch on such an experiment searches as shard tasks on Slurm.
   */
  local?: boolean;
}

/**
 * Runs a stage holding the lock of the experiment's root (core/lock.ts): a second writer on the same root (a
 * notebook beside the CLI, a re-submitted job) waits for this one instead of writing the same files at once.
 */
function locked<T>(experiment: Experiment, options: StageOptions, work: () => T): T {
  return withFolderLock(experiment.root, work, { onNote: options.quiet ? undefined : (line) => console.error(`note: ${line}`) });
}

/** What one stage made for one model and index type of an experiment. */
export interface StageRun<T> {
  model: ModelKind;
  indexType: IndexType;
  spec: ArtifactSpec;
  result: T;
  seconds: number;
}

/** One model's arrays under an experiment (its root, dataset and memory budget); `dim` picks an ff size. */
export function experimentArrays(experiment: Experiment, model: ModelKind, dim?: number): RetrievalArrays {
  return loadRetrievalArrays(experiment.root, experiment.dataset, model, { memoryGb: experiment.memoryGb, dim });
}

/**
 * One model's label arrays under an experiment, without the embeddings: `{ databaseLabels: Int32Array (one per
 * database row), queryLabels: Int32Array (one per query), files }`. The database's labels are its database
 * dataset's (V2's queries search 1K's database); `dim` picks the ff baseline of that size (one array per size)
 * and is ignored by nested models (one array for all dims). What compute_metrics reads.
 */
export function experimentLabels(experiment: Experiment, model: ModelKind, dim?: number): RetrievalLabels {
  return loadRetrievalLabels(experiment.root, experiment.dataset, model, isPerSizeModel(model) ? dim : undefined);
}

/** A model's arrays, loaded on first use; `dim` picks the ff baseline of that size (one array per size). */
type ArraysOf = (dim?: number) => RetrievalArrays;

/**
 * The model x index-type loop: each model's arrays load once (when a stage first asks) and serve all its
 * index types; per-size ff arrays are held one size at a time.
 */
function forEachRun<T>(experiment: Experiment, work: (spec: ArtifactSpec, arraysOf: ArraysOf, labelsOf: LabelsOf) => T): StageRun<T>[] {
  const runs: StageRun<T>[] = [];
  for (const model of experiment.models) {
    let held: { dim?: number; arrays: RetrievalArrays } | undefined;
    const arraysOf: ArraysOf = (dim) => {
      if (!held || held.dim !== dim) {
        held = undefined; // let the previous size go before loading the next
        held = { dim, arrays: experimentArrays(experiment, model, dim) };
      }
      return held.arrays;
    };
    const labels = new Map<number | undefined, ReturnType<LabelsOf>>();
    // arrays already loaded for this size carry the labels; only a metrics-only run reads them on their own
    const labelsOf: LabelsOf = (dim) => {
      if (held && held.dim === dim) return held.arrays;
      if (!labels.has(dim)) labels.set(dim, experimentLabels(experiment, model, dim));
      return labels.get(dim)!;
    };
    // exactl2 first: the metrics of HNSW shortlists compare them with its shortlists (recall@10 vs exact)
    const first = experiment.indexTypes.filter((t) => t === "exactl2");
    const ordered: StageRun<T>[] = [];
    for (const indexType of [...first, ...experiment.indexTypes.filter((t) => t !== "exactl2")]) {
      const spec = experimentSpec(experiment, model, indexType);
      const t0 = performance.now();
      const result = work(spec, arraysOf, labelsOf);
      ordered.push({ model, indexType, spec, result, seconds: (performance.now() - t0) / 1000 });
    }
    // results in the experiment's order
    runs.push(...experiment.indexTypes.map((t) => ordered.find((r) => r.indexType === t)!));
  }
  return runs;
}

// One function per stage maps the experiment to that stage's options; every caller goes through these.
const searchOptions = (e: Experiment, o: StageOptions): IndexSearchOptions =>
  ({ k: e.k, efSearch: e.efSearch, exactEngine: e.exactEngine, indexFiles: e.indexFiles, force: o.force, quiet: o.quiet, nesting: e.nesting });
const rerankOptions = (e: Experiment, o: StageOptions): RerankStageOptions =>
  ({ k: e.k, adaptive: e.adaptive, funnels: e.funnels, precision: e.rerankPrecision, access: e.rerankAccess, force: o.force, quiet: o.quiet });
// A pgvector-* index type is searched and reranked by Postgres (`mrl postgres`, postgres/stage.ts); metrics treat it alike.
const search = (e: Experiment, spec: ArtifactSpec, arraysOf: ArraysOf, o: StageOptions): DimResult[] => {
  if (isPgvectorIndexType(spec.indexType)) return [];
  const options = searchOptions(e, o);
  // ff: each size is its own model, searched at its full width
  return isPerSizeModel(spec.model)
    ? e.nesting.flatMap((dim) => runIndexSearch(spec, arraysOf(dim), { ...options, nesting: [dim] }))
    : runIndexSearch(spec, arraysOf(), { ...options, nesting: e.nesting });
};
// The ff baselines share no dims between sizes, so they have no adaptive or funnel retrieval (as in the originals).
const rerankAll = (e: Experiment, spec: ArtifactSpec, arraysOf: ArraysOf, o: StageOptions): RerankStageResult[] =>
  isPerSizeModel(spec.model) || isPgvectorIndexType(spec.indexType) ? []
    : runRerankStage(spec, arraysOf(), rerankOptions(e, o));
const metrics = (e: Experiment, spec: ArtifactSpec, labelsOf: LabelsOf, o: StageOptions): MetricsTable =>
  runMetricsStage(spec, e, labelsOf, { force: o.force });

/** A metrics table and where it is saved; `skipped` when it was up to date and read back. */
export interface MetricsTable { rows: MetricsRow[]; file: string; skipped: boolean }

/**
 * Whether runSearch goes to the cluster: the experiment has "cluster", the caller did not ask to run here, and
 * this process is neither a shard task nor run by a command that holds the root (the pipeline's notebooks, whose
 * outputs that command has just made here).
 */
function searchesOnCluster(experiment: Experiment, options: StageOptions): boolean {
  return experiment.cluster !== undefined && !options.local && !isShardTask() && !process.env[INHERITED_LOCKS_ENV];
}

/** The experiment's search as Slurm shard tasks and their merge (cluster/run.ts), waited for; one line if any failed. */
function searchOnCluster(experiment: Experiment, options: StageOptions): void {
  const { submission, result } = runOnCluster(experiment, "search", { onLine: options.quiet ? () => {} : undefined, force: options.force });
  if (result && !result.ok) {
    throw new MrlError(`search on the cluster: ${result.failed.length} task(s) failed or did not run (logs in ${submission.dir}); resubmit what failed: ${result.resubmit}`);
  }
}

/**
 * Stage 2, faiss_nn: every nesting dim, for every model and index type. With the experiment's "cluster" field
 * (and not `local`), the search runs as shard tasks on Slurm, merged into the same files, and the result is
 * read back as an unsharded call returns it (every dim then up to date).
 */
export function runSearch(experiment: Experiment, options: StageOptions = {}): StageRun<DimResult[]>[] {
  if (searchesOnCluster(experiment, options)) {
    searchOnCluster(experiment, options);
    options = { ...options, force: false }; // the cluster did the work (forced or not): here it is only read back
  }
  const o = options;
  return locked(experiment, o, () => forEachRun(experiment, (spec, arraysOf) => search(experiment, spec, arraysOf, o)));
}

/** Stage 3, reranking: every adaptive and funnel configuration, for every model and index type. */
export function runReranking(experiment: Experiment, options: StageOptions = {}): StageRun<RerankStageResult[]>[] {
  return locked(experiment, options, () => forEachRun(experiment, (spec, arraysOf) => rerankAll(experiment, spec, arraysOf, options)));
}

/** Stage 4, compute_metrics: one table per model and index type. */
export function runMetrics(experiment: Experiment, options: StageOptions = {}): StageRun<MetricsTable>[] {
  return locked(experiment, options, () => forEachRun(experiment, (spec, _arraysOf, labelsOf) => metrics(experiment, spec, labelsOf, options)));
}

/** Stages 2-4 for one model and index type, with each stage's time. */
export interface RetrievalResult {
  search: DimResult[];
  rerank: RerankStageResult[];
  metrics: MetricsTable;
  seconds: { search: number; rerank: number; metrics: number };
}

/** Stages 2-4 (faiss_nn, reranking, compute_metrics) for every model and index type. */
export function runRetrieval(experiment: Experiment, options: StageOptions = {}): StageRun<RetrievalResult>[] {
  return locked(experiment, options, () => forEachRun(experiment, (spec, arraysOf, labelsOf) => {
    const t0 = performance.now();
    const s = search(experiment, spec, arraysOf, options);
    const t1 = performance.now();
    const r = rerankAll(experiment, spec, arraysOf, options);
    const t2 = performance.now();
    const m = metrics(experiment, spec, labelsOf, options);
    const t3 = performance.now();
    return { search: s, rerank: r, metrics: m, seconds: { search: (t1 - t0) / 1000, rerank: (t2 - t1) / 1000, metrics: (t3 - t2) / 1000 } };
  }));
}

/** The database and query images an experiment embeds (its inference settings, cut to their limit). */
export function experimentSources(experiment: Experiment): { database: ImageSource; queries: ImageSource } {
  const settings = experiment.inference;
  if (!settings) throw new MrlError(`experiment ${experiment.name} has no "inference" settings; expected the image sources and ONNX models to embed`);
  const database = imageSource(settings.database), queries = imageSource(settings.queries);
  return settings.limit
    ? { database: firstItems(database, settings.limit.database), queries: firstItems(queries, settings.limit.queries) }
    : { database, queries };
}

/** What stage 1 did for one model. */
export interface InferenceRun { model: ModelKind; modelFile: string; result: RetrievalInferenceResult }

/** Stage 1, inference: embeds database and queries with each model's ONNX file (the experiment's "inference"). */
export async function runInference(experiment: Experiment, options: StageOptions = {}): Promise<InferenceRun[]> {
  return locked(experiment, options, () => inferEveryModel(experiment, options));
}

async function inferEveryModel(experiment: Experiment, options: StageOptions): Promise<InferenceRun[]> {
  const sources = experimentSources(experiment);
  const runs: InferenceRun[] = [];
  for (const model of experiment.models) {
    const modelFile = experiment.inference!.models[model];
    if (!modelFile) {
      throw new MrlError(`field "inference.models" has no ONNX file for model ${model}; expected one for every model in "models"` +
        (model === "ff" ? " (ff is one model per size: embed each size separately, or name one model by its config string, e.g. mrl0_e0_ff2048)" : ""));
    }
    const result = await runRetrievalInference(inferenceConfig(experiment, model, modelFile, sources, options));
    runs.push({ model, modelFile, result });
  }
  return runs;
}

const inferenceConfig = (e: Experiment, model: ModelKind, modelFile: string, sources: { database: ImageSource; queries: ImageSource }, o: StageOptions): RetrievalInferenceConfig =>
  ({ modelFile, modelKind: model, dataset: e.dataset, root: e.root, database: sources.database, queries: sources.queries,
    batchSize: e.inference!.batchSize, force: o.force, quiet: o.quiet });

/** The stages that run in shards (`--shard I/N`) and merge (`mrl merge <stage>`). */
export type ShardedStage = "infer" | "search" | "rerank";

/** Each model's inference configuration (the experiment's "inference"), checked as runInference checks it. */
function eachInference(e: Experiment, o: StageOptions): { model: ModelKind; config: RetrievalInferenceConfig }[] {
  const sources = experimentSources(e);
  return e.models.map((model) => {
    const modelFile = e.inference!.models[model];
    if (!modelFile) throw new MrlError(`field "inference.models" has no ONNX file for model ${model}; expected one for every model in "models"`);
    return { model, config: inferenceConfig(e, model, modelFile, sources, o) };
  });
}

function nestedOnly(spec: ArtifactSpec): void {
  if (isPerSizeModel(spec.model)) throw new MrlError(`--shard: model ${spec.model} is one model per size and is not sharded; expected nested models (mrl, mrl_e)`);
}

/**
 * Shard `shard` of a stage for every model (and index type): its range of images (infer), database rows (search)
 * or queries (rerank), written to its own shard files (shard/*.ts), holding the root's lock shared with the
 * other shards. A shard whose files are up to date is not redone.
 */
export async function runStageShard(experiment: Experiment, stage: ShardedStage, shard: ShardPlan, options: StageOptions = {}): Promise<{ name: string; run: ShardRun }[]> {
  const lock = { shared: true, onNote: options.quiet ? undefined : (line: string) => console.error(`note: ${line}`) };
  if (stage === "infer") {
    return withFolderLock(experiment.root, async () => {
      const out: { name: string; run: ShardRun }[] = [];
      for (const { model, config } of eachInference(experiment, options)) out.push({ name: model, run: await runInferenceShard(config, shard) });
      return out;
    }, lock);
  }
  return withFolderLock(experiment.root, () => forEachRun(experiment, (spec, arraysOf) => {
    nestedOnly(spec);
    return stage === "search" ? runSearchShard(spec, arraysOf(), searchOptions(experiment, options), shard)
      : runRerankShard(spec, arraysOf(), rerankOptions(experiment, options), shard);
  }).map((r) => ({ name: `${r.model}/${r.indexType}`, run: r.result })), lock);
}

/**
 * `mrl merge <stage>`: the shards of every model (and index type) merged into the original files, recorded as an
 * unsharded run records them (holding the root's lock exclusively). `count`: N (default: the N of the shard files
 * found); `rerun`: the arguments the refusal's resubmit commands carry besides --shard.
 */
export function mergeStageShards(experiment: Experiment, stage: ShardedStage, count: number | undefined, rerun: string[], options: StageOptions = {}): { name: string; files: string[] }[] {
  if (stage === "infer") {
    return locked(experiment, options, () => eachInference(experiment, options).map(({ model, config }) => ({ name: model, files: mergeInferenceShards(config, count, rerun) })));
  }
  return locked(experiment, options, () => forEachRun(experiment, (spec, arraysOf) => {
    nestedOnly(spec);
    return stage === "search" ? mergeSearchShards(spec, arraysOf(), searchOptions(experiment, options), count, rerun)
      : mergeRerankShards(spec, arraysOf(), rerankOptions(experiment, options), count, rerun);
  }).map((r) => ({ name: `${r.model}/${r.indexType}`, files: r.result })));
}

/** Everything: inference for each model, then stages 2-4 for each model and index type. */
export async function runPipeline(experiment: Experiment, options: StageOptions = {}): Promise<StageRun<RetrievalResult>[]> {
  return locked(experiment, options, () => inferThenRetrieve(experiment, options));
}

async function inferThenRetrieve(experiment: Experiment, options: StageOptions): Promise<StageRun<RetrievalResult>[]> {
  const log = options.quiet ? () => {} : (s: string) => console.error(s);
  for (const run of await runInference(experiment, options)) {
    const r = run.result;
    const rate = (x: number): string => (Number.isNaN(x) ? "up to date" : `${x.toFixed(0)} images/s`);
    log(r.skipped ? `inference: ${run.model} arrays up to date` :
      `inference: ${run.model} ${rate(r.imagesPerSecond!.database)} (database), ${rate(r.imagesPerSecond!.queries)} (queries)`);
  }
  return runRetrieval(experiment, options);
}

/**
 * Serving from Postgres + pgvector (`mrl postgres`): for every nested model and `pgvector-*` index type, load the
 * database (PGlite under <root>/postgres, or the server at postgres.databaseUrl), build the first-stage indexes and
 * write the first-stage, adaptive and funnel shortlists with their QPS and p50/p95; `steps` picks load / search /
 * rerank (default all). runMetrics then evaluates them like FAISS's.
 */
export async function runPostgres(experiment: Experiment, options: StageOptions & { steps?: PostgresStep[] } = {}): Promise<PostgresRun[]> {
  return locked(experiment, options, () => servePostgres(experiment, { ...options, arraysOf: (model) => experimentArrays(experiment, model) }));
}
