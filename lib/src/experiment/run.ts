/**
 * The whole pipeline on one configuration: inference (stage 1) for each model kind, then faiss_nn,
 * reranking and compute_metrics per model and index type. Every stage skips outputs that are already up to
 * date, so re-running after an interruption continues where it stopped.
 */
import * as path from "node:path";
import { experimentSpec, PROJECT_ROOT, type RetrievalConfig } from "./experiment";
import { fashionMnist, type ImageSource } from "../inference/sources";
import { runMetricsStage, type MetricsRow } from "../metrics/table";
import { runRetrievalInference, type RetrievalInferenceResult } from "../inference/stage";
import type { ArtifactSpec } from "../io/naming";
import type { FunnelSpec, IndexType, ModelKind } from "./types";
import { loadRetrievalArrays, type RetrievalArrays } from "../io/arrays";
import { runRerankStage, type RerankStageResult } from "../rerank/stage";
import { runIndexSearch, type DimResult } from "../search/stage";

/** The shipped Fashion-MNIST models (python/train_fmnist.py). */
export function defaultModelFile(kind: ModelKind): string {
  return path.join(PROJECT_ROOT, "data", "models", `fmnist_${kind}_cnn.onnx`);
}

/** Database / query sources of the default data. */
export function defaultSources(): { database: ImageSource; queries: ImageSource } {
  return { database: fashionMnist("train"), queries: fashionMnist("test") };
}

/** A source cut to its first `n` items (quick configurations). */
export function firstItems(source: ImageSource, n: number): ImageSource {
  if (n >= source.size) return source;
  return { ...source, size: n, labels: source.labels.slice(0, n), loadBatch: source.loadBatch.bind(source) };
}

/** The database / query sources a configuration embeds: the given (or default) ones cut to inferenceLimit. */
export function configSources(config: RetrievalConfig, sources = defaultSources()): { database: ImageSource; queries: ImageSource } {
  const limit = config.inferenceLimit;
  return limit ? { database: firstItems(sources.database, limit.database), queries: firstItems(sources.queries, limit.queries) } : sources;
}

export interface StageOptions {
  force?: boolean;
  quiet?: boolean;
}

/** Stage 1 for one model kind on the default data (or given sources), honouring config.inferenceLimit. */
export async function runInferenceStage(config: RetrievalConfig, kind: ModelKind, options: StageOptions & {
  modelFile?: string; sources?: { database: ImageSource; queries: ImageSource };
} = {}): Promise<RetrievalInferenceResult> {
  const sources = configSources(config, options.sources);
  return runRetrievalInference({
    modelFile: options.modelFile ?? defaultModelFile(kind), modelKind: kind, dataset: config.dataset, root: config.root,
    database: sources.database, queries: sources.queries,
    force: options.force, quiet: options.quiet,
  });
}

export interface ExperimentResult {
  spec: ArtifactSpec;
  search: DimResult[];
  rerank: RerankStageResult[];
  metrics: MetricsRow[];
  metricsFile: string;
  seconds: { load: number; search: number; rerank: number; metrics: number };
}

/** Funnel configurations of a config. */
export function funnelSpecs(config: RetrievalConfig): FunnelSpec[] {
  return config.funnel.shortlistSets.map((shortlists) => ({ retrievalDim: config.funnel.retrievalDim, dims: config.funnel.dims, shortlists }));
}

/** Stages 2-4 for one model kind and index type; pass `arrays` to reuse arrays already loaded for the model. */
export function runRetrievalExperiment(config: RetrievalConfig, model: ModelKind, indexType: IndexType, options: StageOptions = {},
  loaded?: RetrievalArrays): ExperimentResult {
  const spec = experimentSpec(config, model, indexType);
  const t0 = performance.now();
  const arrays = loaded ?? loadRetrievalArrays(config.root, config.dataset, model);
  const t1 = performance.now();
  const search = runIndexSearch(spec, arrays, { k: config.k, nesting: config.nesting, efSearch: config.efSearch, ...options });
  const t2 = performance.now();
  const rerank = runRerankStage(spec, arrays, { k: config.k, adaptive: config.adaptive, funnels: funnelSpecs(config), precision: config.rerankPrecision, ...options });
  const t3 = performance.now();
  const { rows: metrics, file: metricsFile } = runMetricsStage(spec, config, arrays, options);
  const t4 = performance.now();
  return { spec, search, rerank, metrics, metricsFile, seconds: { load: (t1 - t0) / 1000, search: (t2 - t1) / 1000, rerank: (t3 - t2) / 1000, metrics: (t4 - t3) / 1000 } };
}

/** Everything: inference for each model, then stages 2-4 for each model and index type. */
export async function runPipeline(config: RetrievalConfig, options: StageOptions = {}): Promise<ExperimentResult[]> {
  const log = options.quiet ? () => {} : (s: string) => console.error(s);
  for (const kind of config.models) {
    log(`inference: ${kind} (${defaultModelFile(kind)})`);
    const r = await runInferenceStage(config, kind, options);
    const rate = (x: number): string => (Number.isNaN(x) ? "up to date" : `${x.toFixed(0)} images/s`);
    log(r.skipped ? "inference: arrays up to date" :
      `inference: ${rate(r.imagesPerSecond!.database)} (database), ${rate(r.imagesPerSecond!.queries)} (queries)`);
  }
  const results: ExperimentResult[] = [];
  for (const kind of config.models) {
    // One load per model, shared by its index types.
    const arrays = loadRetrievalArrays(config.root, config.dataset, kind);
    for (const indexType of config.indexTypes) results.push(runRetrievalExperiment(config, kind, indexType, options, arrays));
  }
  return results;
}

