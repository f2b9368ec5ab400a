/**
 * Runs a sweep over arrays in memory: every configuration of a grid (grid.ts) evaluated on the same queries,
 * with quality (mAP@10, top-1, precision@10, recall@10 against exact search at the largest dim), cost (MFLOPs
 * per query, the paper's model) and measured time (a batch of all queries; single queries: p50 / p95).
 *
 * Shortlists are reused: one nested exact pass finds every first-stage dim's k-NN for all queries (an HNSW first
 * stage: one FAISS index per dim, built once with one add, searched once per shortlist length), and every adaptive
 * and funnel configuration reranks from them. Measured time adds the first stage timed alone at that dim and k to
 * the configuration's own rerank time; index building is not counted (it is done once, offline).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { check } from "../core/errors";
import { firstColumns, intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { shortlistMetrics } from "../metrics/evaluate";
import { mflops } from "../metrics/metrics";
import { percentile, queriesPerSecond } from "../metrics/ranking";
import { candidateDistances, distanceThresholdRecall } from "../metrics/recall";
import { funnelRerank, rerank } from "../rerank/rerank";
import { buildFirstStage, firstStageMflops, parseFirstStage, type FirstStageIndex, type PreparedQueries } from "../search/firstStages";
import { nestedKnn, rowNorms, type KnnAtDim, type RowNorms } from "../search/nested";
import { configLabel } from "../experiment/labels";
import { expandGrid, sweepLimits, type FirstStage, type SweepConfig, type SweepGrid } from "./grid";

export interface SweepRow {
  label: string;
  kind: SweepConfig["kind"];
  config: SweepConfig;
  mAP10: number;
  top1: number;
  precision10: number;
  /** nDCG@10 with same-class relevance (metrics/ranking.ts). */
  nDCG10: number;
  /** Share of exact search's 10 nearest (at the largest dim) found, ann-benchmarks style (distance within 1e-3). */
  recall10: number;
  mflops: number;
  /** Batch: all queries at once. */
  batchSeconds: number;
  msPerQuery: number;
  qps: number;
  /** One query at a time, over the latency sample. */
  p50Ms: number;
  p95Ms: number;
}

export interface SweepOptions {
  /** Queries timed one at a time for p50 / p95 (default 100, the first ones). */
  latencyQueries?: number;
  threads?: number;
  /**
   * Where to write each first-stage index built (FAISS's format; none when absent), e.g. the CLI's
   * index_files/<model>/sweep/<DATASET>_<d>dim_<stage>.index.
   */
  indexFile?: (stage: string, dim: number) => string;
  /** Called after each configuration (done, total; resumed: taken from `resumed`, not computed). */
  onConfig?: (done: number, total: number, label: string, resumed: boolean) => void;
  /**
   * Rows of configurations finished by an earlier run, by label (sweep/checkpoint.ts): taken as they are, times
   * included, instead of recomputed.
   */
  resumed?: ReadonlyMap<string, SweepRow>;
  /** Called with each newly computed row as soon as it is complete (to record it durably). */
  onRow?: (row: SweepRow) => void;
}

export interface SweepResult {
  rows: SweepRow[];
  /** Database rows and queries the sweep ran on. */
  databaseRows: number;
  queries: number;
  /** Wall seconds of the whole sweep (this run's only, when rows were resumed). */
  seconds: number;
  /** Rows taken from `options.resumed` rather than computed (0 for a fresh sweep). */
  resumed: number;
}

/** A first stage at one (dim, k): its candidates (none for exact: the nested pass's), batch seconds, single-query ms, MFLOPs per query. */
interface FirstStageRun { candidates?: IntMatrix; batch: number; single: number[]; mflops: number }

const seconds = (t0: number): number => (performance.now() - t0) / 1000;

/** Recall@10 of `ids` against the exact 10-NN at the reference dim, ann-benchmarks style (ties within 1e-3 count). */
function recallAt10(database: Matrix, queries: Matrix, ids: IntMatrix, referenceDistances: Float64Array, dim: number, norms: Float64Array): number {
  return distanceThresholdRecall(candidateDistances(queries, database, ids, dim, 10, norms), 10, referenceDistances, 10, 10);
}

/** The first stage alone, per (stage, dim, k): its candidates, its time as a batch and one query at a time. */
interface FirstStageTimer {
  time(stage: FirstStage, dim: number, k: number): FirstStageRun;
  /** Frees the FAISS indexes built. */
  free(): void;
}

function firstStageTimer(database: Matrix, queries: Matrix, latencyQueries: number, options: SweepOptions): FirstStageTimer {
  const runs = new Map<string, FirstStageRun>();
  const indexes = new Map<string, { index: FirstStageIndex; queries: PreparedQueries }>();
  const single = (i: number): Matrix => matrix(1, queries.cols, queries.data.subarray(i * queries.cols, (i + 1) * queries.cols));
  // the rows' prefix norms, made once per dim and not timed (as an index is built offline), for the single queries
  const norms = new Map<number, RowNorms>();
  const exact = (spec: ReturnType<typeof parseFirstStage>, dim: number, kk: number): FirstStageRun => {
    const tb = performance.now();
    nestedKnn(database, queries, [dim], kk, { threads: options.threads });
    const batch = seconds(tb);
    if (!norms.has(dim)) norms.set(dim, rowNorms(database, [dim]));
    return { batch, mflops: firstStageMflops(spec, dim, database.rows), single: Array.from({ length: latencyQueries }, (_, i) => {
      const ts = performance.now();
      // the engine's matrix-vector path, its threads splitting the rows
      nestedKnn(database, single(i), [dim], kk, { threads: options.threads, norms: norms.get(dim) });
      return seconds(ts) * 1000;
    }) };
  };
  // a FAISS index over the prefix, built once per (stage, dim) and not timed (it is built offline)
  const indexOf = (stage: FirstStage, spec: ReturnType<typeof parseFirstStage>, dim: number) => {
    if (!indexes.has(`${stage}:${dim}`)) {
      const index = buildFirstStage(spec, database, dim);
      if (options.indexFile) {
        const file = options.indexFile(stage, dim);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        index.write(file);
      }
      indexes.set(`${stage}:${dim}`, { index, queries: index.prepare(queries) });
    }
    return indexes.get(`${stage}:${dim}`)!;
  };
  const approximate = (stage: FirstStage, spec: ReturnType<typeof parseFirstStage>, dim: number, kk: number): FirstStageRun => {
    const { index, queries: prepared } = indexOf(stage, spec, dim);
    const tb = performance.now();
    const found = index.search(prepared, kk);
    const batch = seconds(tb);
    return {
      candidates: intMatrix(queries.rows, kk, found.labels), batch,
      mflops: firstStageMflops(spec, dim, database.rows, found.distances / queries.rows),
      single: Array.from({ length: latencyQueries }, (_, i) => {
        const ts = performance.now();
        index.search(prepared, kk, i, i + 1);
        return seconds(ts) * 1000;
      }),
    };
  };
  return {
    time: (stage, dim, kk) => {
      const key = `${stage}:${dim}:${kk}`;
      if (!runs.has(key)) {
        const spec = parseFirstStage(stage);
        runs.set(key, spec.kind === "exact" ? exact(spec, dim, kk) : approximate(stage, spec, dim, kk));
      }
      return runs.get(key)!;
    },
    free: () => { for (const { index } of indexes.values()) index.free(); },
  };
}

/** What every configuration of one sweep is scored with. */
interface SweepContext {
  database: Matrix;
  queries: Matrix;
  databaseLabels: Int32Array;
  queryLabels: Int32Array;
  /** Exact k-NN at every first-stage dim and the largest (the shortlists all configurations rerank from). */
  knn: Map<number, KnnAtDim>;
  /** The exact 10 nearest at the largest dim, in the units recall compares (candidateDistances). */
  referenceDistances: Float64Array;
  /** Database row norms, filled as rows are scored, kept across configurations. */
  databaseNorms: Float64Array;
  latencyQueries: number;
  firstStages: FirstStageTimer;
  threads?: number;
}

const kOf = (c: SweepConfig): number => (c.kind === "exact" ? 10 : c.kind === "adaptive" ? c.shortlist : c.shortlists[0]);

/** The first stage's cost (firstStageMflops) plus the rerank's, as the paper's adaptive and funnel formulas. */
function configMflops(c: SweepConfig, first: FirstStageRun, rows: number): number {
  return c.kind === "exact" ? mflops.exact(c.dim, rows)
    : c.kind === "adaptive" ? (c.firstStage === "exact" ? mflops.adaptive(c.retrievalDim, c.rerankDim, c.shortlist, rows)
      : first.mflops + mflops.adaptive(0, c.rerankDim, c.shortlist, rows))
      : c.firstStage === "exact" ? mflops.funnel(c.retrievalDim, c.dims, c.shortlists, rows)
        : first.mflops + mflops.funnel(0, c.dims, c.shortlists, rows);
}

/** One configuration run and scored: its top 10, quality, cost and times (the first stage's plus its rerank's). */
function evaluateConfig(c: SweepConfig, s: SweepContext): SweepRow {
  const { database, queries, latencyQueries } = s;
  const kk = kOf(c), first = s.firstStages.time(c.kind === "exact" ? "exact" : c.firstStage, c.kind === "exact" ? c.dim : c.retrievalDim, kk);
  const candidates = c.kind === "exact" ? undefined : first.candidates ?? firstColumns(s.knn.get(c.retrievalDim)!.labels, kk);
  const run = (q: Matrix, cand: IntMatrix, threads?: number): IntMatrix =>
    c.kind === "adaptive" ? rerank(database, q, cand, c.rerankDim, c.shortlist, { threads }) : funnelRerank(database, q, cand, c as Extract<SweepConfig, { kind: "funnel" }>, { threads });
  let ids: IntMatrix, rerankSeconds = 0, singleRerank: number[] = new Array(latencyQueries).fill(0);
  if (c.kind === "exact") ids = firstColumns(s.knn.get(c.dim)!.labels, 10);
  else {
    const tr = performance.now();
    ids = run(queries, candidates!, s.threads);
    rerankSeconds = seconds(tr);
    singleRerank = Array.from({ length: latencyQueries }, (_, i) => {
      const cand = intMatrix(1, kk, candidates!.data.subarray(i * kk, (i + 1) * kk));
      const one = matrix(1, queries.cols, queries.data.subarray(i * queries.cols, (i + 1) * queries.cols));
      const ts = performance.now();
      run(one, cand, 1);
      return seconds(ts) * 1000;
    });
  }
  const top10 = firstColumns(ids, 10); // every configuration returns at least 10 (the grid's checks)
  const { metrics, ranking } = shortlistMetrics(top10, s.queryLabels, s.databaseLabels, [10]); // one hit-counting pass for both
  const batchSeconds = first.batch + rerankSeconds;
  const latencies = first.single.map((x, i) => x + singleRerank[i]);
  return {
    label: configLabel(c), kind: c.kind, config: c,
    mAP10: metrics.atK[0].mAP, top1: metrics.top1, precision10: metrics.atK[0].precision,
    recall10: recallAt10(database, queries, top10, s.referenceDistances, database.cols, s.databaseNorms),
    nDCG10: ranking[0].ndcg,
    mflops: configMflops(c, first, database.rows),
    batchSeconds, msPerQuery: (batchSeconds * 1000) / queries.rows, qps: queriesPerSecond(queries.rows, batchSeconds),
    p50Ms: percentile(latencies, 0.5), p95Ms: percentile(latencies, 0.95),
  };
}

/** Every configuration of `grid` on `database` / `queries` (in memory), with labels for the metrics. */
export function runSweep(database: Matrix, queries: Matrix, databaseLabels: Int32Array, queryLabels: Int32Array, grid: SweepGrid,
  options: SweepOptions = {}): SweepResult {
  const t0 = performance.now();
  check(database.cols === queries.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  check(databaseLabels.length === database.rows && queryLabels.length === queries.rows, "one label per database row and per query");
  const maxDim = database.cols;
  const limits = sweepLimits(grid, database), k = limits.k;
  const configs = expandGrid(grid, limits);
  // the dims exact search shortlists at (other first stages search their own indexes), and the reference dim
  const exactDims = configs.flatMap((c) => (c.kind === "exact" ? [c.dim] : c.firstStage === "exact" ? [c.retrievalDim] : []));
  const firstDims = [...new Set([...exactDims, maxDim])].sort((a, b) => a - b);

  // every first-stage dim's k-NN once (the shortlists all configurations rerank from), and the reference
  const knn = new Map(nestedKnn(database, queries, firstDims, k, { threads: options.threads }).map((r) => [r.dim, r]));
  // the exact 10 nearest at the largest dim, their distances in the units recall compares (candidateDistances)
  const databaseNorms = new Float64Array(database.rows).fill(NaN); // filled as rows are scored, kept across configurations
  const referenceDistances = candidateDistances(queries, database, firstColumns(knn.get(maxDim)!.labels, 10), maxDim, 10, databaseNorms);
  const latencyQueries = Math.min(options.latencyQueries ?? 100, queries.rows);
  const context: SweepContext = {
    database, queries, databaseLabels, queryLabels, knn, referenceDistances, databaseNorms, latencyQueries,
    firstStages: firstStageTimer(database, queries, latencyQueries, options), threads: options.threads,
  };

  const rows: SweepRow[] = [];
  let resumed = 0;
  try {
    configs.forEach((c, n) => {
      const earlier = options.resumed?.get(configLabel(c));
      if (earlier) {
        // finished by an earlier run of the same sweep (same fingerprint): nothing to compute
        rows.push({ ...earlier, config: c });
        resumed++;
        options.onConfig?.(n + 1, configs.length, configLabel(c), true);
        return;
      }
      const row = evaluateConfig(c, context);
      rows.push(row);
      options.onRow?.(row);
      options.onConfig?.(n + 1, configs.length, configLabel(c), false);
    });
  } finally {
    context.firstStages.free(); // the FAISS indexes live outside the JS heap: freed whether or not the sweep finished
  }
  return { rows, databaseRows: database.rows, queries: queries.rows, seconds: seconds(t0), resumed };
}
