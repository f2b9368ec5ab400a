/**
 * mrl-retrieval: Matryoshka Representation Learning retrieval in TypeScript notebooks. This is the public
 * API that notebooks (`import * as mrl from "@mrl-retrieval/lib"`) and the CLI use: the experiment, the
 * stages, file IO, the retrieval functions and figures. The kernels and the per-artifact stage runners live
 * behind "@mrl-retrieval/lib/internal".
 */

// ---- the experiment and the stage loop -------------------------------------------------------------------
export {
  /** Reads an experiment file (MRL_EXPERIMENT, else experiments/fmnist.json), applies overrides, validates. */
  loadExperiment,
  /** The experiment file used when none is named. */
  defaultExperimentFile,
  /** Checks an experiment given as plain data; messages name the field, the value and what is allowed. */
  validateExperiment,
  /** Writes an experiment as one self-contained JSON file (absolute paths). */
  saveExperiment,
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
  /** The database and query images an experiment embeds. */
  experimentSources,
  type StageRun, type StageOptions, type RetrievalResult, type MetricsTable, type InferenceRun,
} from "./experiment/run";
export {
  /** The model kinds and index types an experiment may name. */
  MODEL_KINDS, INDEX_TYPES,
  type ModelKind, type IndexType, type RerankSpec, type FunnelSpec, type ShortlistFormat, type RerankPrecision,
} from "./experiment/types";

// ---- matrices, errors, paths ---------------------------------------------------------------------------------
export {
  /**
   * Row-major typed-array matrices: wrap data with its shape, view a row, take a nested (prefix) representation
   * (normalized in float64; faissNormalized below is FAISS's own float32 normalization).
   */
  matrix, intMatrix, row, firstColumns, prefixColumns, l2NormalizeRows, nestedNormalized,
  type Matrix, type IntMatrix,
} from "./core/matrix";
export {
  /** The one error users see: `<file>: <problem>; expected <what would work>`. */
  MrlError,
} from "./core/errors";
export {
  /** The project folder, and where reports and figure files go ($MRL_RESULTS or results/). */
  PROJECT_ROOT, resultsDir,
} from "./core/paths";
export {
  /** Resident set size now and at its peak, MiB. */
  memoryReport,
} from "./core/memory";

// ---- files, interchangeable with the Python originals -------------------------------------------------------
export {
  /** .npy arrays (numpy both ways): embeddings as float32 matrices, labels as int32. */
  readMatrixNpy, readLabelsNpy, writeMatrixNpy, writeLabelsNpy,
} from "./io/npy";
export {
  /** .npy files larger than memory: shape from the header, row blocks with a dim prefix, streamed writes. */
  npyShape, npyRowBlocks, readMatrixPrefixNpy, writeMatrixNpyStreaming,
} from "./io/npyStream";
export {
  /** Headerless shortlist CSVs exactly as pandas writes them. */
  readShortlistCsv, writeShortlistCsv,
} from "./io/csv";
export {
  /** Shortlists as CSV or binary .npy by extension; loadShortlist also checks them against the arrays. */
  readShortlist, writeShortlist, loadShortlist,
} from "./io/shortlists";
export {
  /**
   * An experiment's embeddings and labels, checked against each other: queries in memory, the database
   * held in memory when it fits the memory budget, else read from its file in blocks (DatabaseVectors).
   */
  loadRetrievalArrays, loadRetrievalLabels,
  type RetrievalArrays, type RetrievalLabels,
} from "./io/arrays";
export { DatabaseVectors } from "./io/database";
export {
  /** Artifact paths in the original notebooks' spelling, and what a file name means. */
  arrayPath, arrayFiles, modelConfig, indexPath, neighborsPath, rerankedPath, funnelPath, metricsPath, parseArtifactName,
  type ArtifactSpec,
} from "./io/naming";

// ---- the retrieval methods -----------------------------------------------------------------------------------
export {
  /** ONNX embedding models and batched embedding. */
  loadEmbeddingModel, embed,
  type EmbeddingModel,
} from "./inference/model";
export {
  /** Image sources: Fashion-MNIST from Debian's package, ImageNet-style folders, or either by name. */
  fashionMnist, imageFolder, imageSource,
  type ImageSource,
} from "./inference/sources";
export {
  /**
   * FAISS indexes over typed arrays (exactl2, hnsw8, hnsw32, or any factory string; binary codes by Hamming
   * distance); files readable by Python's faiss.read_index / read_index_binary.
   */
  FaissIndex, FaissBinaryIndex,
  type KnnResult,
} from "./search/faiss";
export {
  /**
   * First stages before the float rerank: exact, HNSW, IVF clustered at a smaller prefix (AdANNS), PQ, OPQ,
   * SQ8, median-centred sign bits; named by specs such as "ivf256-p8-c8" or "opq16", with their cost model.
   */
  parseFirstStage, firstStageName, buildFirstStage, firstStageMflops, FIRST_STAGE_GRAMMAR,
  type FirstStageSpec, type FirstStageIndex,
} from "./search/firstStages";
export {
  /** FAISS's own L2 normalization (faiss.normalize_L2) of a nested prefix: what faiss_nn hands to FAISS. */
  faissNormalized,
} from "./search/faiss";
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
  /** mAP@k, precision@k, recall@k, top-k over shortlists; MFLOPs per query; the metric registry. */
  computeMetrics, mflops, METRICS,
  type RetrievalMetrics,
} from "./metrics/metrics";
export {
  /**
   * Metrics beyond the original's, beside them: standard AP@k (divided by min(k, R)) and nDCG@k with same-class
   * relevance, ann-benchmarks' k-NN recall against exact distances, queries per second.
   */
  rankingMetrics, rankingMetricsPerQuery, RANKING_COLUMNS, candidateDistances, annRecall, ANN_RECALL_EPSILON, queriesPerSecond,
  type RankingAtK, type RankingPerQuery,
} from "./metrics/ranking";
export {
  /** A saved metrics table, and its row type. */
  readMetricsTable,
  type MetricsRow,
} from "./metrics/table";
export {
  /** Recall of an approximate shortlist against exact search (the metrics table's "recall@10 vs exact" column). */
  recallAgainstExact, RECALL_VS_EXACT_COLUMN,
} from "./metrics/exactRecall";
export {
  /** Tie-aware comparison of two rankings (faiss contrib's check_ref_knn_with_draws). */
  compareRankings,
  type RankingAgreement,
} from "./metrics/agreement";

// ---- sweeps: every configuration of a grid, the Pareto front, the planner ---------------------------------------
export {
  /** The grid of configurations (D_r x L x D_s, funnels by rule), expanded and checked. */
  expandGrid, funnelFromRule, configLabel, DEFAULT_SWEEP_GRID, sweepGridWith,
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
  /** A sweep's Pareto fronts, the planner's picks against exact search (overall and per first stage), the CLI's summary lines. */
  sweepFronts, planAgainstExact, planByFirstStage, sweepSummary,
} from "./sweep/summary";
export {
  /** A sweep as CSV (with a JSON of its sizes beside it), and read back. */
  sweepCsv, saveSweepCsv, readSweepCsv, parseConfigLabel,
} from "./sweep/csv";
export {
  /** runSweep that a killed run resumes: finished rows recorded in `<csv>.partial.jsonl`, the CSV written at the end. */
  runCheckpointedSweep, checkpointFile,
} from "./sweep/checkpoint";
export {
  /** A seeded sample of the queries (mrl sweep --sweep-queries N). */
  sampleQueries, sampleIds, SWEEP_SAMPLE_SEED,
} from "./sweep/sample";

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
  /** PNG/SVG files of figures and PNG of HTML through headless Chromium; offline page checks. */
  renderFigureFiles, renderHtmlToPng, checkHtmlPage,
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
  /** The sweeps mrl sweep left in a results folder, their figure files and their report section. */
  findSweeps, sweepFigureFiles, sweepCsvFile,
} from "./report/sweeps";
export {
  /** Executes a notebook headless with the tslab kernel. */
  executeNotebook,
} from "./report/notebooks";
