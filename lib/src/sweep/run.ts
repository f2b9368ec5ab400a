/**
 * Runs a sweep over arrays in memory: every configuration of a grid (grid.ts) evaluated on the same queries,
 * with quality (mAP@10, top-1, precision@10, recall@10 against exact search at the largest dim), cost (MFLOPs
 * per query, the paper's model) and measured time (a batch of all queries; single queries: p50 / p95).
 *
 * Shortlists are reused: one nested exact pass finds every first-stage dim's k-NN for all queries, and every
 * adaptive and funnel configuration reranks from them. Measured time adds the first stage timed alone at that
 * dim and k to the configuration's own rerank time.
 */
import { check } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { computeMetrics, mflops } from "../metrics/metrics";
import { funnelRerank, rerank } from "../rerank/rerank";
import { nestedKnn, type KnnAtDim } from "../search/nested";
import { configLabel, expandGrid, type SweepConfig, type SweepGrid } from "./grid";

export interface SweepRow {
  label: string;
  kind: SweepConfig["kind"];
  config: SweepConfig;
  mAP10: number;
  top1: number;
  precision10: number;
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
  /** Called after each configuration (done, total). */
  onConfig?: (done: number, total: number, label: string) => void;
}

export interface SweepResult {
  rows: SweepRow[];
  /** Database rows and queries the sweep ran on. */
  databaseRows: number;
  queries: number;
  /** Wall seconds of the whole sweep. */
  seconds: number;
}

/** ann-benchmarks' tolerance: a neighbour within this L2 distance of the true 10th counts as found. */
export const RECALL_EPSILON = 1e-3;

const seconds = (t0: number): number => (performance.now() - t0) / 1000;

/** The first `cols` columns of each row. */
function firstColumns(m: IntMatrix, cols: number): IntMatrix {
  if (cols === m.cols) return m;
  const out = new Int32Array(m.rows * cols);
  for (let r = 0; r < m.rows; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + cols), r * cols);
  return intMatrix(m.rows, cols, out);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Recall@10 against the exact 10-NN at the largest dim, as ann-benchmarks counts it: a returned id is a hit when
 * its L2 distance (unit-normalized prefixes) is at most the true 10th distance + RECALL_EPSILON, so ties count.
 */
function recallAt10(database: Matrix, queries: Matrix, ids: IntMatrix, exact: KnnAtDim, invNorms: Float64Array): number {
  const d = exact.dim, cols = database.cols;
  let hits = 0;
  for (let q = 0; q < queries.rows; q++) {
    const threshold = Math.sqrt(Math.max(0, exact.distances.data[q * exact.distances.cols + 9])) + RECALL_EPSILON;
    let qq = 0;
    for (let c = 0; c < d; c++) qq += queries.data[q * cols + c] ** 2;
    const qInv = 1 / Math.sqrt(qq);
    for (let j = 0; j < 10; j++) {
      const id = ids.data[q * ids.cols + j];
      if (id < 0) continue;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += queries.data[q * cols + c] * database.data[id * cols + c];
      const dist = Math.sqrt(Math.max(0, 2 - 2 * dot * qInv * invNorms[id]));
      if (dist <= threshold) hits++;
    }
  }
  return hits / (10 * queries.rows);
}

/** 1/|row| of every database row's first `dim` values (float64). */
function inverseNorms(database: Matrix, dim: number): Float64Array {
  const out = new Float64Array(database.rows);
  for (let r = 0; r < database.rows; r++) {
    let s = 0;
    for (let c = r * database.cols, end = c + dim; c < end; c++) s += database.data[c] ** 2;
    out[r] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  return out;
}

/** Every configuration of `grid` on `database` / `queries` (in memory), with labels for the metrics. */
export function runSweep(database: Matrix, queries: Matrix, databaseLabels: Int32Array, queryLabels: Int32Array, grid: SweepGrid,
  options: SweepOptions = {}): SweepResult {
  const t0 = performance.now();
  check(database.cols === queries.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  check(databaseLabels.length === database.rows && queryLabels.length === queries.rows, "one label per database row and per query");
  const maxDim = database.cols;
  const k = Math.max(10, ...grid.shortlists, ...(grid.funnels?.firstShortlists ?? []));
  const configs = expandGrid(grid, { k: Math.min(k, database.rows), maxDim });
  const kOf = (c: SweepConfig): number => (c.kind === "exact" ? 10 : c.kind === "adaptive" ? c.shortlist : c.shortlists[0]);
  const firstDims = [...new Set([...configs.map((c) => (c.kind === "exact" ? c.dim : c.retrievalDim)), maxDim])].sort((a, b) => a - b);

  // every first-stage dim's k-NN once (the shortlists all configurations rerank from), and the reference
  const knn = new Map(nestedKnn(database, queries, firstDims, k, { threads: options.threads }).map((r) => [r.dim, r]));
  const reference = knn.get(maxDim)!;
  const invNorms = inverseNorms(database, maxDim);

  // the first stage timed alone, per (dim, k): as a batch, and one query at a time
  const latencyQueries = Math.min(options.latencyQueries ?? 100, queries.rows);
  const single = (i: number): Matrix => matrix(1, queries.cols, queries.data.subarray(i * queries.cols, (i + 1) * queries.cols));
  const firstStage = new Map<string, { batch: number; single: number[] }>();
  const timeFirstStage = (dim: number, kk: number): { batch: number; single: number[] } => {
    const key = `${dim}:${kk}`;
    if (!firstStage.has(key)) {
      const tb = performance.now();
      nestedKnn(database, queries, [dim], kk, { threads: options.threads });
      const batch = seconds(tb);
      const singles = Array.from({ length: latencyQueries }, (_, i) => {
        const ts = performance.now();
        nestedKnn(database, single(i), [dim], kk, { threads: 1 });
        return seconds(ts) * 1000;
      });
      firstStage.set(key, { batch, single: singles });
    }
    return firstStage.get(key)!;
  };

  const rows: SweepRow[] = [];
  configs.forEach((c, n) => {
    const kk = kOf(c), first = timeFirstStage(c.kind === "exact" ? c.dim : c.retrievalDim, kk);
    const candidates = c.kind === "exact" ? undefined : firstColumns(knn.get(c.retrievalDim)!.labels, kk);
    const run = (q: Matrix, cand: IntMatrix, threads?: number): IntMatrix =>
      c.kind === "adaptive" ? rerank(database, q, cand, c.rerankDim, c.shortlist, { threads }) : funnelRerank(database, q, cand, c as Extract<SweepConfig, { kind: "funnel" }>, { threads });
    let ids: IntMatrix, rerankSeconds = 0, singleRerank: number[] = new Array(latencyQueries).fill(0);
    if (c.kind === "exact") ids = firstColumns(knn.get(c.dim)!.labels, 10);
    else {
      const tr = performance.now();
      ids = run(queries, candidates!, options.threads);
      rerankSeconds = seconds(tr);
      singleRerank = Array.from({ length: latencyQueries }, (_, i) => {
        const cand = intMatrix(1, kk, candidates!.data.subarray(i * kk, (i + 1) * kk));
        const ts = performance.now();
        run(single(i), cand, 1);
        return seconds(ts) * 1000;
      });
    }
    const metrics = computeMetrics(firstColumns(ids, Math.min(10, ids.cols)), queryLabels, databaseLabels, [Math.min(10, ids.cols)]);
    const batchSeconds = first.batch + rerankSeconds;
    const latencies = first.single.map((s, i) => s + singleRerank[i]);
    rows.push({
      label: configLabel(c), kind: c.kind, config: c,
      mAP10: metrics.atK[0].mAP, top1: metrics.top1, precision10: metrics.atK[0].precision,
      recall10: recallAt10(database, queries, firstColumns(ids, 10), reference, invNorms),
      mflops: c.kind === "exact" ? mflops.exact(c.dim, database.rows)
        : c.kind === "adaptive" ? mflops.adaptive(c.retrievalDim, c.rerankDim, c.shortlist, database.rows)
          : mflops.funnel(c.retrievalDim, c.dims, c.shortlists, database.rows),
      batchSeconds, msPerQuery: (batchSeconds * 1000) / queries.rows, qps: queries.rows / batchSeconds,
      p50Ms: percentile(latencies, 0.5), p95Ms: percentile(latencies, 0.95),
    });
    options.onConfig?.(n + 1, configs.length, configLabel(c));
  });
  return { rows, databaseRows: database.rows, queries: queries.rows, seconds: seconds(t0) };
}
