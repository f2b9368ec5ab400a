/**
 * Everything the library has, the public API (index.ts, listed in docs/api.md) included: the per-artifact stage
 * runners, kernels, validators, and the plumbing features need (file names, seeds, checkpoints, grammar
 * constants). For tests, benchmarks, the CLI's own modules and code that extends the library; notebooks use the
 * curated API of index.ts. Names here may change without notice.
 */
export * from "./core/atomic";
export * from "./core/checks";
export * from "./core/errors";
export * from "./core/matrix";
export * from "./core/memory";
export * from "./core/paths";
export * from "./core/progress";
export * from "./core/random";
export * from "./experiment/experiment";
export * from "./experiment/flags";
export * from "./experiment/fields";
export * from "./experiment/labels";
export * from "./experiment/run";
export * from "./experiment/types";
export * from "./inference/model";
export * from "./inference/sources";
export * from "./inference/stage";
export * from "./io/arrays";
export * from "./io/csv";
export * from "./io/database";
export * from "./io/checkpoint";
export * from "./io/manifest";
export * from "./io/naming";
export * from "./io/npy";
export * from "./io/shortlists";
export * from "./io/tableCsv";
export * from "./kernels/locality";
export * from "./kernels/threads";
export * from "./metrics/agreement";
export * from "./metrics/metrics";
export * from "./metrics/ranking";
export * from "./metrics/recall";
export * from "./metrics/evaluate";
export * from "./metrics/hits";
export * from "./metrics/stage";
export * from "./metrics/tableFiles";
export * from "./report/figures";
export * from "./report/gallery";
export * from "./report/notebooks";
export * from "./report/render";
export * from "./report/report";
export * from "./report/sweeps";
export * from "./report/tables";
export * from "./rerank/rerank";
export * from "./rerank/stage";
export * from "./search/efSearchSweep";
export * from "./search/faiss";
export * from "./search/firstStages";
export * from "./search/stage";
export * from "./search/build";
export * from "./search/plan";
export * from "./search/flatIndexFile";
export * from "./search/nested";
export * from "./kernels/native";
export * from "./sweep/grid";
export * from "./sweep/run";
export * from "./sweep/pareto";
export * from "./sweep/summary";
export * from "./sweep/csv";
export * from "./sweep/checkpoint";
export * from "./sweep/sample";
