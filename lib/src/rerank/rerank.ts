/**
 * Stage 3 (reranking): adaptive retrieval (shortlist at D_r, rerank the first L candidates at D_s) and
 * funnel retrieval (repeated rerank + shrink): checks, then the native kernel (lib/native/src/rerank.cc),
 * which reads the caller's typed arrays in place, on several threads for large inputs (stage.ts runs them
 * over an experiment's files).
 *
 * The distance, compared with the original notebook: it L2-normalizes queries and database at 2048 once,
 * then at each step re-normalizes the candidates' D_s-prefix but not the query's (|q'| = r <= 1), and takes
 * np.linalg.norm of the differences. With unit candidates, |c - q'|^2 = 1 + r^2 - 2r cos ranks them by cos,
 * so here both prefixes are unit-normalized (true unit-sphere distances, which resolve near-duplicates at every
 * dim where 1 + r^2 - 2r cos in float32 cannot when r < 1), summed from differences (2 - 2cos in float32 ties
 * candidates ~1e-4 apart). A zero row, which the original leaves at zero (distance r), gets 2 - 1/r: the
 * same place. Candidate id -1 (FAISS HNSW: fewer than k found) is skipped and the output row ends in -1s,
 * which the metrics count as misses (the original would read db[-1], the last row).
 * Ties keep the earlier candidate first (stable sort); numpy's argsort is not stable, so exact ties may differ.
 * The arithmetic is fixed by the precision (RerankPrecision): the same ids whatever the threads or query order.
 */
import { check, checkOneOf, MrlError } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { DEFAULT_RERANK_PRECISION, RERANK_PRECISIONS, type FunnelSpec, type RerankAccess, type RerankPrecision } from "../experiment/types";
import { batchRowIds, candidateReads, chooseRerankAccess, gatherBatchQueries } from "./access";
import { localityOrder } from "../kernels/locality";
import { allocateFloat32, nativeKernels } from "../kernels/native";
import { defaultThreads } from "../kernels/threads";
import { DatabaseVectors } from "../io/database";

export interface RerankOptions {
  /**
   * Threads; 1 keeps everything on the calling thread. Default: MRL_THREADS, else the machine's cores, for
   * inputs large enough to pay for starting them (PARALLEL_MIN_WORK multiply-adds).
   */
  threads?: number;
  /**
   * Arithmetic of the dot products and norms (see RerankPrecision): default DEFAULT_RERANK_PRECISION (an
   * experiment's `rerankPrecision`). Each precision gives the same ids with any number of threads.
   */
  precision?: RerankPrecision;
  /**
   * Process the queries in a cache-friendly order (localityOrder; default true): neighbouring queries share
   * candidates, so their rows are often still in cache. The results are the same either way.
   */
  localityOrder?: boolean;
  /**
   * |query| over each query's whole row, when `queries` holds only a prefix of it (the original normalizes
   * queries over all their dims before slicing; only where a zero candidate ranks depends on it). Default: the
   * norms of the rows of `queries`.
   */
  queryNorms?: Float64Array;
  /**
   * For a database given as DatabaseVectors not yet in memory: load it, read only the candidates' rows, or
   * choose by the bytes each way ("auto", the default; chooseRerankAccess). The ids are the same.
   */
  access?: RerankAccess;
}

/** Below this many multiply-adds a call stays on the calling thread (starting a thread costs ~0.1 ms). */
export const PARALLEL_MIN_WORK = 2_000_000;

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
 * Large inputs run on several threads with identical results.
 */
export function rerank(database: Matrix | DatabaseVectors, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number,
  options: RerankOptions = {}): IntMatrix {
  if (database instanceof DatabaseVectors) return viaRows(database, queries, candidates, [dim], [shortlist], options);
  check(Number.isInteger(dim) && dim > 0 && dim <= database.cols, `rerank dim ${dim} is outside the database's 1..${database.cols} dims`);
  checkRerankInputs(database, queries, candidates, shortlist);
  return runKernel(database, queries, candidates, [dim], [shortlist], options);
}

/** Shape checks shared by rerank and funnelRerank. */
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
  return runKernel(database, queries, candidates, funnel.dims, funnel.shortlists, options);
}

/**
 * The native kernel over every query, on the arrays as they are (no copies): one step is a rerank, several
 * a funnel. Every query runs all its steps before the next, so the rows its first step read are still in
 * cache for the later ones.
 */
function runKernel(database: Matrix, queries: Matrix, candidates: IntMatrix, dims: number[], shortlists: number[], options: RerankOptions): IntMatrix {
  const precision = rerankPrecision(options.precision);
  // without queryNorms the kernel sums each query's whole row itself
  const queryNorms = options.queryNorms ?? new Float64Array(0);
  check(options.queryNorms === undefined || queryNorms.length === queries.rows, `queryNorms holds ${queryNorms.length} norms for ${queries.rows} queries`);
  const threads = threadsFor(options, queries.rows * dims.reduce((sum, d, i) => sum + d * shortlists[i], 0));
  const order = options.localityOrder === false ? new Int32Array(0) : localityOrder(queries.data, queries.cols, queries.rows);
  const last = shortlists[shortlists.length - 1];
  const out = new Int32Array(queries.rows * last);
  const bad = nativeKernels().rerank(database.data, database.rows, database.cols, queries.data, queries.cols, queries.rows, candidates.data,
    candidates.cols, Int32Array.from(dims), Int32Array.from(shortlists), precision === "float32", order, out, threads,
    queryNorms);
  if (bad >= 0) {
    const query = Math.floor(bad / candidates.cols), position = bad % candidates.cols;
    throw new MrlError(`neighbour id ${candidates.data[bad]} (query ${query}, position ${position}) is outside the database's 0..${database.rows - 1} (or -1 for a missing one)`);
  }
  return intMatrix(queries.rows, last, out);
}

/**
 * |row| of every row of m, summed in float64 in column order: the queries' whole-row norms (see the top), as
 * the kernel sums them itself when the rows it gets are whole.
 */
export function wholeRowNorms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let c = r * m.cols, end = c + m.cols; c < end; c++) s += m.data[c] * m.data[c];
    out[r] = Math.sqrt(s);
  }
  return out;
}

/**
 * Rerank or funnel against a database given as DatabaseVectors, by the path chooseRerankAccess picks (options.access;
 * "auto" weighs the bytes each way, and how much of the file is in the page cache). In memory: reranked in place. From the file: each batch of queries gathers its
 * candidates' rows (sorted, so file reads go forward and nearby rows share one read) into one small matrix, and
 * the same kernel runs on it with local ids: every distance is computed from the same values by the same code,
 * so the results are identical to the in-memory path.
 */
function viaRows(database: DatabaseVectors, queries: Matrix, candidates: IntMatrix, dims: number[], shortlists: number[], options: RerankOptions): IntMatrix {
  const run = (db: Matrix, q: Matrix, c: IntMatrix, o: RerankOptions): IntMatrix => (dims.length === 1 && shortlists.length === 1
    ? rerank(db, q, c, dims[0], shortlists[0], o) : funnelRerank(db, q, c, { dims, shortlists }, o));
  const path = database.loaded || options.access === "load" ? "memory" : options.access === "rows" ? "rows"
    : chooseRerankAccess(database, candidateReads([{ candidates, dims, shortlists }], database.rows, database.cols), database.cachedShare()).path;
  if (path === "memory") return run(database.matrix(), queries, candidates, options);
  check(queries.cols === database.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  checkRerankInputs(matrix(0, database.cols), queries, candidates, shortlists[0]);
  const width = Math.max(...dims), needed = shortlists[0], last = shortlists[shortlists.length - 1];
  check(width > 0 && width <= database.cols, `rerank dims [${dims}] are outside the database's 1..${database.cols} dims`);
  const batch = gatherBatchQueries(needed, width);
  const rowsBuffer = allocateFloat32(Math.min(queries.rows, batch) * needed * width);
  const out = new Int32Array(queries.rows * last);
  const ids = new Int32Array(Math.min(queries.rows, batch) * needed);
  // a batch's queries are cut to `width` dims: their whole rows' norms come from here
  const fullNorms = options.queryNorms ?? wholeRowNorms(queries);
  for (let first = 0; first < queries.rows; first += batch) {
    const n = Math.min(batch, queries.rows - first);
    // the batch's distinct candidate ids, ascending (-1, a missing candidate, has no row)
    const rowIds = batchRowIds(candidates, first, n, needed, ids), distinct = rowIds.length;
    if (distinct > 0 && (rowIds[0] < 0 || rowIds[distinct - 1] >= database.rows)) {
      throw new MrlError(`candidate id ${rowIds[0] < 0 ? rowIds[0] : rowIds[distinct - 1]} is outside the database's 0..${database.rows - 1} (or -1 for a missing one)`, database.file);
    }
    database.gatherRows(rowIds, width, rowsBuffer);
    const local = new Int32Array(n * needed);
    for (let q = 0; q < n; q++) {
      for (let j = 0; j < needed; j++) {
        const id = candidates.data[(first + q) * candidates.cols + j];
        local[q * needed + j] = id === -1 ? -1 : lowerBound(rowIds, id);
      }
    }
    const batchQueries = new Float32Array(n * width);
    for (let q = 0; q < n; q++) batchQueries.set(queries.data.subarray((first + q) * queries.cols, (first + q) * queries.cols + width), q * width);
    const result = run(matrix(distinct, width, rowsBuffer.subarray(0, distinct * width)), matrix(n, width, batchQueries), intMatrix(n, needed, local),
      { ...options, queryNorms: fullNorms.subarray(first, first + n) });
    for (let i = 0; i < n * last; i++) out[first * last + i] = result.data[i] < 0 ? -1 : rowIds[result.data[i]];
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
