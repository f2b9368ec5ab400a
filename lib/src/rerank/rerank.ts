/**
 * Stage 3 (reranking): adaptive retrieval (shortlist at D_r, rerank the first L candidates at D_s) and
 * funnel retrieval (repeated rerank + shrink): checks, then the kernels of ../kernels/ (stage.ts runs them
 * over an experiment's files).
 *
 * Normalization, compared with the original notebook: it L2-normalizes queries and database at 2048 once,
 * then at each step re-normalizes the candidates' D_s-prefix but not the query's. With unit candidates,
 * ||c - a*q||^2 = 1 + a^2|q|^2 - 2a c.q ranks candidates by c.q for any query scale a > 0, so normalizing the
 * query prefix too (as done here, making the distances true unit-sphere L2 distances) gives the same order.
 * Ties keep the earlier candidate first (stable sort); numpy's argsort is not stable, so exact ties may differ.
 */
import { check, checkOneOf } from "../core/errors";
import { intMatrix, type IntMatrix, type Matrix } from "../core/matrix";
import { DEFAULT_RERANK_PRECISION, RERANK_PRECISIONS, type FunnelSpec, type RerankPrecision } from "../experiment/types";
import { localityOrder } from "../kernels/locality";
import { defaultThreads, PARALLEL_MIN_WORK, runParallel } from "../kernels/parallel";
import { funnelRange, rerankRange, type RerankArrays } from "../kernels/rerankKernel";
import { wasmHomeOf } from "../core/sharedMemory";
import { wasmSimdSupported } from "../kernels/wasm";

export interface RerankOptions {
  /**
   * Worker threads; 1 keeps everything on this thread. Default: MRL_THREADS, else the machine's cores, for
   * inputs large enough to pay for waking the workers (PARALLEL_MIN_WORK multiply-adds).
   */
  threads?: number;
  /** Use the WebAssembly SIMD kernel where the engine has it (default true; same results either way). */
  simd?: boolean;
  /**
   * Arithmetic of the dot products and norms (see RerankPrecision): default DEFAULT_RERANK_PRECISION (an
   * experiment's `rerankPrecision`). Each precision gives the same ids on every path (SIMD or not, any threads).
   */
  precision?: RerankPrecision;
  /**
   * Process the queries in a cache-friendly order (localityOrder; default true): neighbouring queries share
   * candidates, so their rows are often still in cache. The results are the same either way.
   */
  localityOrder?: boolean;
}

/** The precision of a rerank: the option (checked), else DEFAULT_RERANK_PRECISION. */
export function rerankPrecision(option?: RerankPrecision): RerankPrecision {
  return checkOneOf(option ?? DEFAULT_RERANK_PRECISION, RERANK_PRECISIONS, "rerank precision");
}

function threadsFor(options: RerankOptions, work: number): number {
  if (options.threads === undefined) return work >= PARALLEL_MIN_WORK ? defaultThreads() : 1;
  check(Number.isInteger(options.threads) && options.threads > 0, `threads must be a positive integer, got ${options.threads}`);
  return options.threads;
}

/**
 * Reorders each query's first `shortlist` candidates by L2 distance between the unit-normalized `dim`-prefixes
 * of query and candidate. Returns nq x shortlist ids. Candidate ids must be valid database rows.
 * Large inputs run on worker threads with identical results.
 */
export function rerank(database: Matrix, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number,
  options: RerankOptions = {}): IntMatrix {
  check(Number.isInteger(dim) && dim > 0 && dim <= database.cols, `rerank dim ${dim} is outside the database's 1..${database.cols} dims`);
  checkRerankInputs(database, queries, candidates, shortlist);
  const arrays = rerankArrays(database, queries, candidates, options);
  const threads = threadsFor(options, queries.rows * shortlist * dim);
  if (threads > 1) return intMatrix(queries.rows, shortlist, runParallel("rerank", arrays, queries.rows, [dim], [shortlist], threads));
  const out = new Int32Array(queries.rows * shortlist);
  rerankRange(arrays, dim, shortlist, 0, queries.rows, out, 0);
  return intMatrix(queries.rows, shortlist, out);
}

/** Shape checks shared by rerank and funnelRerank (and their threaded versions). */
export function checkRerankInputs(database: Matrix, queries: Matrix, candidates: IntMatrix, shortlist: number): void {
  check(queries.cols === database.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  check(candidates.rows === queries.rows, `the shortlist has ${candidates.rows} rows for ${queries.rows} queries`);
  check(Number.isInteger(shortlist) && shortlist > 0, `shortlist must be a positive integer, got ${shortlist}`);
  check(shortlist <= candidates.cols, `cannot rerank ${shortlist} candidates: the shortlist has only ${candidates.cols} per query`);
}

/** Funnel retrieval: rerank at dims[0] keeping shortlists[0], then dims[1] keeping shortlists[1], ... */
export function funnelRerank(database: Matrix, queries: Matrix, candidates: IntMatrix, funnel: Pick<FunnelSpec, "dims" | "shortlists">,
  options: RerankOptions = {}): IntMatrix {
  check(funnel.dims.length === funnel.shortlists.length && funnel.dims.length > 0,
    `funnel dims [${funnel.dims}] and shortlists [${funnel.shortlists}] must be non-empty lists of the same length`);
  funnel.dims.forEach((dim, i) => {
    check(i === 0 || funnel.shortlists[i] < funnel.shortlists[i - 1], `funnel shortlists [${funnel.shortlists}] must be strictly decreasing`);
    check(Number.isInteger(dim) && dim > 0 && dim <= database.cols, `funnel dim ${dim} is outside the database's 1..${database.cols} dims`);
  });
  checkRerankInputs(database, queries, candidates, funnel.shortlists[0]);
  const last = funnel.shortlists[funnel.shortlists.length - 1];
  const arrays = rerankArrays(database, queries, candidates, options);
  const work = queries.rows * funnel.dims.reduce((sum, d, i) => sum + d * funnel.shortlists[i], 0);
  const threads = threadsFor(options, work);
  if (threads > 1) return intMatrix(queries.rows, last, runParallel("funnel", arrays, queries.rows, funnel.dims, funnel.shortlists, threads));
  const out = new Int32Array(queries.rows * last);
  funnelRange(arrays, funnel.dims, funnel.shortlists, 0, queries.rows, out, 0);
  return intMatrix(queries.rows, last, out);
}

/** The kernel's view of the inputs; the database moves into wasm memory (once, cached) for the SIMD kernel. */
function rerankArrays(database: Matrix, queries: Matrix, candidates: IntMatrix, options: RerankOptions): RerankArrays {
  const arrays: RerankArrays = { database: database.data, stride: database.cols, queries: queries.data, candidates: candidates.data,
    candidateCols: candidates.cols, precision: rerankPrecision(options.precision),
    order: options.localityOrder === false ? undefined : localityOrder(queries.data, queries.cols, queries.rows) };
  const wasm = (options.simd ?? process.env.MRL_SIMD !== "0") && wasmSimdSupported() ? wasmHomeOf(database.data, database.cols) : undefined;
  return wasm ? { ...arrays, database: wasm.data, wasm: { home: wasm.home, slot: 0 } } : arrays;
}

