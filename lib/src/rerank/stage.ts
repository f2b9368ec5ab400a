/**
 * Stage 3 runner (reranking): adaptive and funnel retrieval from the shortlist files faiss_nn wrote, with
 * the manifest's freshness rule; the reranked shortlists are written under the original names.
 */
import { MrlError } from "../core/errors";
import type { IntMatrix, Matrix } from "../core/matrix";
import { gigabytes } from "../core/memory";
import { createProgress, progressNote } from "../core/progress";
import { rerankLabel } from "../experiment/labels";
import type { FunnelSpec, RerankAccess, RerankPrecision, RerankSpec } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact, type StageConfig } from "../io/manifest";
import { funnelPath, neighborsPath, rerankedPath, type ArtifactSpec } from "../io/naming";
import { checkCandidates, loadShortlist, writeShortlist } from "../io/shortlists";
import { candidateReads, chooseRerankAccess } from "./access";
import { funnelRerank, rerank, rerankPrecision } from "./rerank";

export interface RerankStageOptions {
  /** k of the k-NN shortlist files to start from. */
  k: number;
  adaptive: RerankSpec[];
  funnels: FunnelSpec[];
  /** Default: DEFAULT_RERANK_PRECISION. Recorded with every reranked artifact, so switching it recomputes them. */
  precision?: RerankPrecision;
  /** How a database not yet in memory is read (default "auto": chooseRerankAccess over every job to run). Not recorded. */
  access?: RerankAccess;
  force?: boolean;
  quiet?: boolean;
}

export interface RerankStageResult {
  file: string;
  kind: "adaptive" | "funnel";
  seconds: number;
  skipped: boolean;
}

/** One reranked output of the stage: what it is made from and how. */
export interface RerankJob {
  kind: "adaptive" | "funnel";
  out: string;
  config: StageConfig;
  /** The shortlist it reranks, then the arrays. */
  inputs: string[];
  label: string;
  /** Its candidates: the first ones of its shortlist (loaded once per dim for all jobs), checked. */
  candidates: () => IntMatrix;
  /** The rerank dims and shortlists (one of each for adaptive retrieval): what the rows it reads are. */
  dims: number[];
  shortlists: number[];
  /** Reranks `candidates` of `queries` (all queries, or a shard's rows of both); access: default "auto" per call. */
  run: (queries: Matrix, candidates: IntMatrix, access?: RerankAccess) => IntMatrix;
}

/** The stage's jobs (adaptive, then funnel configurations), for the whole query set or a shard of it (shard/rerank.ts). */
export function rerankJobs(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions): RerankJob[] {
  const cache = new Map<number, IntMatrix>();
  const precision = rerankPrecision(options.precision);
  // Recorded with every artifact, so switching precision recomputes what it changes.
  const recorded = { precision };
  const specs = [
    ...options.adaptive.map((a) => ({ kind: "adaptive" as const, retrievalDim: a.retrievalDim, out: rerankedPath(spec, a),
      config: { k: options.k, ...a, ...recorded }, needed: a.shortlist, dims: [a.rerankDim], shortlists: [a.shortlist],
      run: (q: Matrix, c: IntMatrix, access?: RerankAccess) => rerank(arrays.database, q, c, a.rerankDim, a.shortlist, { precision, access }),
      label: `rerank ${rerankLabel(a)}` })),
    ...options.funnels.map((f) => ({ kind: "funnel" as const, retrievalDim: f.retrievalDim, out: funnelPath(spec, f),
      config: { k: options.k, ...f, ...recorded }, needed: f.shortlists[0], dims: f.dims, shortlists: f.shortlists,
      run: (q: Matrix, c: IntMatrix, access?: RerankAccess) => funnelRerank(arrays.database, q, c, f, { precision, access }),
      label: `funnel ${rerankLabel(f)}` })),
  ];
  // the first candidates only: as many as the longest rerank from this dim uses
  const neededAt = (dim: number): number => Math.max(...specs.filter((j) => j.retrievalDim === dim).map((j) => j.needed));
  return specs.map((j) => {
    const file = neighborsPath(spec, j.retrievalDim, options.k);
    const load = (): IntMatrix => {
      if (!cache.has(j.retrievalDim)) {
        cache.set(j.retrievalDim, loadShortlist(file, arrays, `run the faiss_nn stage for dim ${j.retrievalDim} with k=${options.k} first`, { columns: neededAt(j.retrievalDim) }));
      }
      return cache.get(j.retrievalDim)!;
    };
    return { kind: j.kind, out: j.out, config: j.config, label: j.label, run: j.run, dims: j.dims, shortlists: j.shortlists,
      inputs: [file, arrays.files.databaseX, arrays.files.queriesX],
      candidates: () => checkCandidates(load(), j.needed, file, j.label) };
  });
}

/**
 * Adaptive and funnel retrieval from the D_r shortlist files written by faiss_nn; writes the reranked
 * shortlists, skipping those whose manifest entry matches (see manifest.ts) unless `force`.
 */
export function runRerankStage(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions): RerankStageResult[] {
  const jobs = rerankJobs(spec, arrays, options);
  const todo = new Set(jobs.filter((job) => options.force || !isFresh(job.out, job.kind, job.config, job.inputs)));
  const access = accessFor(arrays, [...todo], options);
  const progress = createProgress("rerank/funnel", jobs.length, { quiet: options.quiet, intervalSeconds: 0 });
  const results: RerankStageResult[] = [];
  for (const job of jobs) {
    if (!todo.has(job)) {
      results.push({ file: job.out, kind: job.kind, seconds: 0, skipped: true });
    } else {
      const candidates = job.candidates();
      const t0 = performance.now();
      const reranked = job.run(arrays.queries, candidates, access);
      const seconds = (performance.now() - t0) / 1000;
      writeShortlist(job.out, reranked);
      recordArtifact(job.out, job.kind, job.config, job.inputs);
      results.push({ file: job.out, kind: job.kind, seconds, skipped: false });
    }
    progress.tick();
  }
  progress.done();
  return results;
}

/**
 * One access path for every rerank the stage runs (loading once serves them all), chosen by what the rows path
 * would read over all of them against the database's bytes, and how much of the file is cached; prints the choice
 * and why. A forced "load" over the budget is refused here, before anything is written.
 */
function accessFor(arrays: RetrievalArrays, jobs: RerankJob[], options: RerankStageOptions): RerankAccess {
  const { database } = arrays;
  if (jobs.length === 0) return "auto";
  if (options.access === "load" && !database.inMemory && !database.loaded) {
    throw new MrlError(`--rerank-access load: the database (${gigabytes(database.bytes)}) does not fit the memory budget ` +
      `${gigabytes(arrays.budgetBytes)}; use --rerank-access rows or auto, or raise --memory-gb`, database.file);
  }
  const reads = database.loaded ? { rows: 0, reads: 0, bytes: 0, firstReads: 0, firstBytes: 0 }
    : candidateReads(jobs.map((job) => ({ candidates: job.candidates(), dims: job.dims, shortlists: job.shortlists })), database.rows, database.cols);
  const choice = chooseRerankAccess(database, reads, database.loaded ? 1 : database.cachedShare(), options.access);
  progressNote(`rerank: ${choice.reason}`, { quiet: options.quiet });
  return choice.path === "memory" ? "load" : "rows";
}
