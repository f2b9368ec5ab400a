/**
 * mrl-retrieval: Matryoshka Representation Learning retrieval in TypeScript notebooks. This is the public
 * API that notebooks (`import * as mrl from "@mrl-retrieval/lib"`) and the CLI's users call: the experiment
 * and its stages, arrays and artifact names, the retrieval methods, metrics, sweeps, tables and figures
 * (docs/api.md lists it). Plumbing (kernels, per-artifact stage runners, checkpoints, seeds, file-name
 * helpers, grammar constants) lives behind "@mrl-retrieval/lib/internal". test/api.test.ts keeps this list
 * at most 80 names, each one a notebook, the CLI or docs/api.md calls.
 */

// ---- the experiment and the stage loop -------------------------------------------------------------------
export {
  /** Reads an experiment file (MRL_EXPERIMENT, else experiments/fmnist.json), applies overrides, validates. */
  loadExperiment,
  /** A few lines saying what an experiment runs. */
  describeExperiment,
  /** Where one model / index type's artifacts live under an experiment. */
  experimentSpec,
  type Experiment, type ExperimentOverrides, type InferenceSettings,
} from "./experiment/experiment";
export {
  /** Stage 1: embed database and queries with each model's ONNX file. */
  runInference,
  /** Stage 2 (faiss_nn): index and search every nesting dim, for every model and index type. */
  runSearch,
  /** Stage 3: adaptive and funnel retrieval, for every model and index type. */
  runReranking,
  /** Stage 4 (compute_metrics): one metrics table per model and index type. */
  runMetrics,
  /** One model's arrays under an experiment's root, dataset and memory budget (notebook cells that look at them). */
  experimentArrays,
  /** One model's labels under an experiment, V2 and ff included (compute_metrics' cell reads them as the stage does). */
  experimentLabels,
  /** Stages 2-4 for every model and index type, with each stage's time. */
  runRetrieval,
  /** Everything: inference, then stages 2-4. */
  runPipeline,
  /** Serving from Postgres + pgvector: the pgvector-* index types' shortlists as SQL, with QPS and p50/p95 (serving notebook). */
  runPostgres,
  type StageRun, type StageOptions, type RetrievalResult, type MetricsTable, type InferenceRun,
} from "./experiment/run";
/** The SQL statements serving runs, by configuration label (the serving notebook shows them). */
export { postgresSql } from "./postgres/stage";
export type { ModelKind, IndexType, RerankSpec, FunnelSpec, ShortlistFormat, RerankPrecision } from "./experiment/types";

// ---- matrices, errors, paths ---------------------------------------------------------------------------------
export {
  /**
   * Row-major typed-array matrices: wrap data with its shape, view a row, take the first columns of a shortlist
   * (the one normalization is faissNormalized below, FAISS's own float32 arithmetic).
   */
  matrix, intMatrix, row, firstColumns,
  type Matrix, type IntMatrix,
} from "./core/matrix";
export {
  /** The one error users see: `<file>: <problem>; expected <what would work>`. */
  MrlError,
} from "./core/errors";
export {
  /** Where reports and figure files go ($MRL_RESULTS or results/). */
  resultsDir,
} from "./core/paths";

// ---- files, interchangeable with the Python originals -------------------------------------------------------
export {
  /** .npy arrays (numpy both ways): embeddings as float32 matrices, labels as int32. */
  readMatrixNpy, readLabelsNpy, writeMatrixNpy, writeLabelsNpy,
} from "./io/npy";
export {
  /** Shortlists as CSV or binary .npy by extension; loadShortlist also checks them against the arrays. */
  readShortlist, loadShortlist,
} from "./io/shortlists";
export type { RetrievalArrays, RetrievalLabels } from "./io/arrays";
export {
  /** The database of an experiment's arrays: in memory when it fits the memory budget, else read from its file in blocks. */
  DatabaseVectors,
} from "./io/database";
export {
  /** Artifact paths in the original notebooks' spelling (V2's queries search 1K's database; ff has one array per size). */
  arrayPath, arrayFiles, indexPath, neighborsPath, rerankedPath, funnelPath, metricsPath,
  type ArtifactSpec,
} from "./io/naming";

// ---- the retrieval methods -----------------------------------------------------------------------------------
export {
  /** ONNX embedding models and batched embedding. */
  loadEmbeddingModel, embed,
  type EmbeddingModel,
} from "./inference/model";
export {
  /** Image sources by name: Fashion-MNIST from Debian's package, or an ImageNet-style folder. */
  imageSource,
  type ImageSource,
} from "./inference/sources";
export {
  /**
   * FAISS indexes over typed arrays (exactl2, hnsw8, hnsw32, or any factory string); files readable by Python's
   * faiss.read_index. faissNormalized: FAISS's own L2 normalization (faiss.normalize_L2) of a nested prefix, what
   * faiss_nn hands to FAISS.
   */
  FaissIndex, faissNormalized,
  type KnnResult,
} from "./search/faiss";
export {
  /**
   * First stages before the float rerank: exact, HNSW, IVF clustered at a smaller prefix (AdANNS), PQ, OPQ,
   * SQ8, median-centred sign bits; named by specs such as "ivf256-p8-c8" or "opq16".
   */
  parseFirstStage, buildFirstStage,
  type FirstStageSpec, type FirstStageIndex,
} from "./search/firstStages";
export {
  /** HNSW's efSearch against recall@10 vs exact search and queries per second, at one dim (each index built once). */
  efSearchSweep, DEFAULT_EF_SEARCH,
  type EfSearchSweep, type EfSearchPoint, type EfSearchSweepOptions,
} from "./search/efSearchSweep";
export {
  /** Adaptive retrieval (rerank a shortlist at a larger dim) and funnel retrieval (a cascade of reranks). */
  rerank, funnelRerank,
  type RerankOptions,
} from "./rerank/rerank";
export {
  /** mAP@k, precision@k, recall@k, top-k over shortlists; the metric registry. */
  computeMetrics, METRICS,
  type RetrievalMetrics,
} from "./metrics/metrics";
export {
  /** Metrics beyond the original's, beside them: standard AP@k (divided by min(k, R)) and nDCG@k with same-class relevance. */
  rankingMetrics,
  type RankingAtK,
} from "./metrics/ranking";
export {
  /** A saved metrics table, and its row type. */
  readMetricsTable,
} from "./metrics/tableFiles";
export type { MetricsRow } from "./metrics/evaluate";
export {
  /**
   * Recall of an approximate shortlist against exact search by shared ids (the metrics table's "recall@10 vs
   * exact" column; the sweep's distance-threshold recall is distanceThresholdRecall in internal).
   */
  sharedIdRecall, RECALL_VS_EXACT_COLUMN,
} from "./metrics/recall";
export {
  /** Tie-aware comparison of two rankings (faiss contrib's check_ref_knn_with_draws). */
  compareRankings,
  type RankingAgreement,
} from "./metrics/agreement";

// ---- sweeps: every configuration of a grid, the Pareto front, the planner ---------------------------------------
export {
  /** The grid of configurations (D_r x L x D_s, funnels by rule): the default with an experiment's fields, expanded and checked. */
  expandGrid, sweepGridWith,
  /** The limits a grid is checked against on a database (what runSweep and `mrl sweep` use). */
  sweepLimits,
  type SweepGrid, type SweepConfig, type FunnelRule,
} from "./sweep/grid";
export {
  /** Evaluates every configuration on arrays in memory: quality, MFLOPs, batch and single-query time. */
  runSweep,
  type SweepRow, type SweepResult, type SweepOptions,
} from "./sweep/run";
export {
  /** Non-dominated configurations, and the best one for a budget or a target. */
  paretoFront, bestConfig,
  type PlanRequest, type PlanRow,
} from "./sweep/pareto";
export {
  /** A sweep's Pareto fronts, the planner's picks against exact search, the CLI's summary lines. */
  sweepFronts, planAgainstExact, sweepSummary,
} from "./sweep/summary";
export {
  /** A sweep as CSV (with a JSON of its sizes beside it), and read back. */
  saveSweepCsv, readSweepCsv,
} from "./sweep/csv";

// ---- tables, figures, report -----------------------------------------------------------------------------------
export {
  /** Metric rows as a danfojs DataFrame, and as an HTML table for tslab. */
  metricsDataFrame, htmlTable,
} from "./report/tables";
export {
  /** Plotly figures of metric tables, and self-contained HTML that draws them offline. */
  metricVsMflopsFigure, metricVsDimFigure, efSearchFigure, sweepMflopsFigure, sweepRecallQpsFigure, figureHtml,
  type Figure,
} from "./report/figures";
export {
  /** PNG/SVG files of figures, and PNG of HTML, through headless Chromium. */
  renderFigureFiles, renderHtmlToPng,
} from "./report/render";
export {
  /** The retrieval gallery as inline HTML, and as a standalone page. */
  galleryPage,
} from "./report/gallery";
export {
  /** The report's figures, the gallery of a finished experiment, and report.html with its figure files. */
  reportFigures, experimentGallery, writeReport,
} from "./report/report";
export {
  /** Where `mrl sweep` writes a sweep's CSV and figure files (the sweep notebook writes the same). */
  sweepCsvFile, sweepFigureFiles,
} from "./report/sweeps";
