/**
 * HNSW's speed/recall trade-off at one nesting dim: each HNSW index is built once (as faiss_nn builds it:
 * FAISS-normalized prefix, one add) and searched with a range of efSearch values (the breadth of the search
 * FAISS keeps; its default is 16); each search's ids are compared with exact search at the same dim
 * (sharedIdRecall, metrics/recall.ts: exact top-at ids found, not ann-benchmarks' distance threshold) and timed
 * (queries per second): a recall/QPS curve in the manner of ann-benchmarks'.
 */
import { check, MrlError } from "../core/errors";
import { matrix } from "../core/matrix";
import { createProgress } from "../core/progress";
import { INDEX_TYPES, type IndexType } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { sharedIdRecall } from "../metrics/recall";
import { faissNormalized } from "./faiss";
import { nestedKnn } from "./nested";
import { buildFaissIndex } from "./build";

/** One search of the sweep. */
export interface EfSearchPoint {
  index: IndexType;
  efSearch: number;
  /** Shared-id recall@at against exact search at the same dim (fraction of the exact top-at ids found). */
  recall: number;
  /** Seconds per search of all queries (the mean over repeats). */
  seconds: number;
  queriesPerSecond: number;
}

export interface EfSearchSweep {
  dim: number;
  /** Queries searched (the first `queries` of the experiment's). */
  queries: number;
  /** Depth of recall: the top `at` ids of exact search are looked for in the top `at` of HNSW. */
  at: number;
  points: EfSearchPoint[];
  /** Build seconds per HNSW index type (once per type). */
  buildSeconds: Partial<Record<IndexType, number>>;
  /** Exact search of the same queries at the same dim (the nested engine): its time and queries per second. */
  exact: { seconds: number; queriesPerSecond: number };
}

export interface EfSearchSweepOptions {
  /** The nesting dim to search at. */
  dim: number;
  /** HNSW index types (default hnsw8 and hnsw32). */
  indexTypes?: IndexType[];
  /** efSearch values (default 16 ... 2048). */
  efSearch?: number[];
  /** Depth of recall (default 10). */
  at?: number;
  /** Search only the first N queries (default all). */
  queries?: number;
  /** Repeat each search until this many seconds have passed, for stable timings of fast searches (default 0.1). */
  minSeconds?: number;
  quiet?: boolean;
}

export const DEFAULT_EF_SEARCH = [16, 32, 64, 128, 256, 512, 2048];

/**
 * Mean seconds per call of `work` and its last result. A first call that takes `minSeconds` or more is the
 * timing; a faster one only warms caches, and `work` is then repeated until `minSeconds` have passed.
 */
function timed<T>(work: () => T, minSeconds: number): { seconds: number; result: T } {
  const t0 = performance.now();
  let result = work();
  const first = (performance.now() - t0) / 1000;
  if (first >= minSeconds) return { seconds: first, result };
  const t1 = performance.now();
  let calls = 0;
  do {
    result = work();
    calls++;
  } while (performance.now() - t1 < minSeconds * 1000);
  return { seconds: (performance.now() - t1) / 1000 / calls, result };
}

/**
 * The efSearch sweep of `arrays` at `options.dim` (see the module comment). The database must fit in memory
 * (HNSW holds it anyway).
 */
export function efSearchSweep(arrays: RetrievalArrays, options: EfSearchSweepOptions): EfSearchSweep {
  const { dim } = options;
  const indexTypes = options.indexTypes ?? ["hnsw8", "hnsw32"];
  const efs = options.efSearch ?? DEFAULT_EF_SEARCH;
  const at = options.at ?? 10, minSeconds = options.minSeconds ?? 0.1;
  const hnswTypes = INDEX_TYPES.filter((t) => t !== "exactl2");
  for (const t of indexTypes) check((hnswTypes as readonly string[]).includes(t), `efSearch sweep: "${t}" is not an HNSW index type; expected ${hnswTypes.join(" or ")}`);
  for (const ef of efs) check(Number.isInteger(ef) && ef > 0, `efSearch values must be positive integers, got ${ef}`);
  if (!Number.isInteger(dim) || dim <= 0 || dim > arrays.queries.cols) {
    throw new MrlError(`efSearch sweep: dim ${dim} is outside the arrays' 1..${arrays.queries.cols} dims`, arrays.files.queriesX);
  }
  check(Number.isInteger(at) && at > 0 && at <= arrays.database.rows, `efSearch sweep: recall depth ${at} must be in 1..${arrays.database.rows} (the database)`);
  const nq = Math.min(arrays.queries.rows, options.queries ?? Infinity);
  check(nq > 0, "efSearch sweep: no queries to search");
  const queries = matrix(nq, arrays.queries.cols, arrays.queries.data.subarray(0, nq * arrays.queries.cols));

  const database = arrays.database.matrix(); // loaded here, not in the timing
  const exactRun = timed(() => nestedKnn(database, queries, [dim], at)[0].labels, minSeconds);
  const queriesAtDim = faissNormalized(queries, dim, arrays.files.queriesX);
  const points: EfSearchPoint[] = [];
  const buildSeconds: EfSearchSweep["buildSeconds"] = {};
  const progress = createProgress(`efSearch sweep ${dim}d`, indexTypes.length * efs.length, { quiet: options.quiet });
  for (const indexType of indexTypes) {
    const t0 = performance.now();
    const index = buildFaissIndex(indexType, arrays, dim, undefined, options.quiet);
    buildSeconds[indexType] = (performance.now() - t0) / 1000;
    try {
      for (const efSearch of efs) {
        index.setEfSearch(efSearch);
        const run = timed(() => index.search(queriesAtDim, at).labels, minSeconds);
        const recall = sharedIdRecall(exactRun.result, { data: run.result, rows: nq, cols: at }, at, `${indexType} efSearch ${efSearch}`);
        points.push({ index: indexType, efSearch, recall, seconds: run.seconds, queriesPerSecond: nq / run.seconds });
        progress.tick();
      }
    } finally {
      index.reset();
    }
  }
  progress.done();
  return { dim, queries: nq, at, points, buildSeconds, exact: { seconds: exactRun.seconds, queriesPerSecond: nq / exactRun.seconds } };
}
