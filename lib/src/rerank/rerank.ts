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
import { check, checkOneOf, MrlError } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { allocateWasmFloat32, WASM_SLOTS, wasmHomeOf } from "../core/sharedMemory";
import { DEFAULT_RERANK_PRECISION, RERANK_PRECISIONS, type FunnelSpec, type RerankPrecision } from "../experiment/types";
import { localityOrder } from "../kernels/locality";
import { defaultThreads, PARALLEL_MIN_WORK, runParallel } from "../kernels/parallel";
import { funnelRange, rerankRange, type RerankArrays } from "../kernels/rerankKernel";
import { wasmSimdSupported } from "../kernels/wasm";
import { DatabaseVectors } from "../io/database";

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
export function rerank(database: Matrix | DatabaseVectors, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number,
  options: RerankOptions = {}): IntMatrix {
  if (database instanceof DatabaseVectors) return viaRows(database, queries, candidates, [dim], [shortlist], options);
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
export function funnelRerank(database: Matrix | DatabaseVectors, queries: Matrix, candidates: IntMatrix, funnel: Pick<FunnelSpec, "dims" | "shortlists">,
  options: RerankOptions = {}): IntMatrix {
  check(funnel.dims.length === funnel.shortlists.length && funnel.dims.length > 0,
    `funnel dims [${funnel.dims}] and shortlists [${funnel.shortlists}] must be non-empty lists of the same length`);
  if (database instanceof DatabaseVectors) return viaRows(database, queries, candidates, funnel.dims, funnel.shortlists, options);
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


/** Bytes of candidate rows gathered per query batch when the database is not one in-memory wasm matrix. */
export const GATHER_BYTES = 256 * 2 ** 20;

/** wasm32 addresses 4 GiB: a database held in memory up to this size is reranked in place. */
const IN_PLACE_BYTES = 4 * 2 ** 30 - WASM_SLOTS * 64 * 1024;

/**
 * Rerank or funnel against a database given as DatabaseVectors. One held in memory that wasm can address is
 * reranked in place. Otherwise (larger than 4 GiB, or read from its file) each batch of queries gathers its
 * candidates' rows (sorted, so file reads go forward and nearby rows share one read) into one small matrix,
 * and the same kernels run on it with local ids: every distance is computed from the same values by the same
 * code, so the results are identical to the in-memory path.
 */
function viaRows(database: DatabaseVectors, queries: Matrix, candidates: IntMatrix, dims: number[], shortlists: number[], options: RerankOptions): IntMatrix {
  const run = (db: Matrix, q: Matrix, c: IntMatrix): IntMatrix => (dims.length === 1 && shortlists.length === 1
    ? rerank(db, q, c, dims[0], shortlists[0], options) : funnelRerank(db, q, c, { dims, shortlists }, options));
  if (database.inMemory && database.bytes <= IN_PLACE_BYTES) return run(database.matrix(), queries, candidates);
  check(queries.cols === database.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  checkRerankInputs(matrix(0, database.cols), queries, candidates, shortlists[0]);
  const width = Math.max(...dims), needed = shortlists[0], last = shortlists[shortlists.length - 1];
  check(width > 0 && width <= database.cols, `rerank dims [${dims}] are outside the database's 1..${database.cols} dims`);
  const batch = Math.max(1, Math.floor(GATHER_BYTES / (needed * width * 4)));
  const rowsBuffer = allocateWasmFloat32(Math.min(queries.rows, batch) * needed * width, width)
    ?? new Float32Array(new SharedArrayBuffer(Math.min(queries.rows, batch) * needed * width * 4));
  const out = new Int32Array(queries.rows * last);
  const ids = new Int32Array(Math.min(queries.rows, batch) * needed);
  for (let first = 0; first < queries.rows; first += batch) {
    const n = Math.min(batch, queries.rows - first);
    // the batch's distinct candidate ids, ascending
    let count = 0;
    for (let q = 0; q < n; q++) {
      for (let j = 0; j < needed; j++) ids[count++] = candidates.data[(first + q) * candidates.cols + j];
    }
    const sorted = ids.subarray(0, count).sort();
    let distinct = 0;
    for (let i = 0; i < count; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[distinct++] = sorted[i];
    const rowIds = sorted.subarray(0, distinct);
    if (rowIds[0] < 0 || rowIds[distinct - 1] >= database.rows) {
      throw new MrlError(`candidate id ${rowIds[0] < 0 ? rowIds[0] : rowIds[distinct - 1]} is outside the database's 0..${database.rows - 1}`, database.file);
    }
    database.gatherRows(rowIds, width, rowsBuffer);
    const local = new Int32Array(n * needed);
    for (let q = 0; q < n; q++) {
      for (let j = 0; j < needed; j++) local[q * needed + j] = lowerBound(rowIds, candidates.data[(first + q) * candidates.cols + j]);
    }
    const batchQueries = new Float32Array(new SharedArrayBuffer(n * width * 4));
    for (let q = 0; q < n; q++) batchQueries.set(queries.data.subarray((first + q) * queries.cols, (first + q) * queries.cols + width), q * width);
    const result = run(matrix(distinct, width, rowsBuffer.subarray(0, distinct * width)), matrix(n, width, batchQueries), intMatrix(n, needed, local));
    for (let i = 0; i < n * last; i++) out[first * last + i] = rowIds[result.data[i]];
  }
  return intMatrix(queries.rows, last, out);
}

/** Index of `value` in the ascending `sorted` (which holds it). */
function lowerBound(sorted: Int32Array, value: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
