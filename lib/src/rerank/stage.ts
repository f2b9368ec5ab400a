/**
 * Stage 3 runner (reranking): adaptive and funnel retrieval from the shortlist files faiss_nn wrote, with
 * the manifest's freshness rule; the reranked shortlists are written under the original names.
 */
import type { IntMatrix } from "../core/matrix";
import { MrlError } from "../core/errors";
import { gigabytes } from "../core/memory";
import { createProgress, progressNote } from "../core/progress";
import { rerankLabel } from "../experiment/labels";
import type { FunnelSpec, RerankAccess, RerankPrecision, RerankSpec } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact } from "../io/manifest";
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

/**
 * Adaptive and funnel retrieval from the D_r shortlist files written by faiss_nn; writes the reranked
 * shortlists, skipping those whose manifest entry matches (see manifest.ts) unless `force`.
 */
export function runRerankStage(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions): RerankStageResult[] {
  const cache = new Map<number, IntMatrix>();
  const precision = rerankPrecision(options.precision);
  // Recorded with every artifact, so switching precision recomputes what it changes.
  const recorded = { precision };
  const shortlistAt = (dim: number): { file: string; load: () => IntMatrix } => {
    const file = neighborsPath(spec, dim, options.k);
    return {
      file,
      load: () => {
        // the first candidates only: as many as the longest rerank from this dim uses
        if (!cache.has(dim)) cache.set(dim, loadShortlist(file, arrays, `run the faiss_nn stage for dim ${dim} with k=${options.k} first`, { columns: neededAt(dim) }));
        return cache.get(dim)!;
      },
    };
  };
  const neededAt = (dim: number): number => Math.max(...jobs.filter((j) => j.retrievalDim === dim).map((j) => j.needed));
  const jobs = [
    ...options.adaptive.map((a) => ({ kind: "adaptive" as const, retrievalDim: a.retrievalDim, out: rerankedPath(spec, a),
      config: { k: options.k, ...a, ...recorded }, needed: a.shortlist, dims: [a.rerankDim], shortlists: [a.shortlist],
      run: (c: IntMatrix, access: RerankAccess) => rerank(arrays.database, arrays.queries, c, a.rerankDim, a.shortlist, { precision, access }),
      label: `rerank ${rerankLabel(a)}` })),
    ...options.funnels.map((f) => ({ kind: "funnel" as const, retrievalDim: f.retrievalDim, out: funnelPath(spec, f),
      config: { k: options.k, ...f, ...recorded }, needed: f.shortlists[0], dims: f.dims, shortlists: f.shortlists,
      run: (c: IntMatrix, access: RerankAccess) => funnelRerank(arrays.database, arrays.queries, c, f, { precision, access }),
      label: `funnel ${rerankLabel(f)}` })),
  ];
  const inputsOf = (job: (typeof jobs)[number]): string[] => [shortlistAt(job.retrievalDim).file, arrays.files.databaseX, arrays.files.queriesX];
  const todo = new Set(jobs.filter((job) => options.force || !isFresh(job.out, job.kind, job.config, inputsOf(job))));
  const candidatesOf = (job: (typeof jobs)[number]): IntMatrix => {
    const input = shortlistAt(job.retrievalDim);
    return checkCandidates(input.load(), job.needed, input.file, job.label);
  };
  const access = accessFor(arrays, [...todo].map((job) => ({ candidates: candidatesOf(job), dims: job.dims, shortlists: job.shortlists })), options);
  const progress = createProgress("rerank/funnel", jobs.length, { quiet: options.quiet, intervalSeconds: 0 });
  const results: RerankStageResult[] = [];
  for (const job of jobs) {
    const inputs = inputsOf(job);
    if (!todo.has(job)) {
      results.push({ file: job.out, kind: job.kind, seconds: 0, skipped: true });
    } else {
      const candidates = candidatesOf(job);
      const t0 = performance.now();
      const reranked = job.run(candidates, access);
      const seconds = (performance.now() - t0) / 1000;
      writeShortlist(job.out, reranked);
      recordArtifact(job.out, job.kind, job.config, inputs);
      results.push({ file: job.out, kind: job.kind, seconds, skipped: false });
    }
    progress.tick();
  }
  progress.done();
  return results;
}

/**
 * One access path for every rerank the stage runs (loading once serves them all), chosen by what the rows path
 * would read over all of them against the database's bytes, and how much of the file is cached; prints the choice and why. A forced "load" over the budget is refused here,
 * before anything is written.
 */
function accessFor(arrays: RetrievalArrays, reranks: { candidates: IntMatrix; dims: number[]; shortlists: number[] }[],
  options: RerankStageOptions): RerankAccess {
  const { database } = arrays;
  if (reranks.length === 0) return "auto";
  if (options.access === "load" && !database.inMemory && !database.loaded) {
    throw new MrlError(`--rerank-access load: the database (${gigabytes(database.bytes)}) does not fit the memory budget ` +
      `${gigabytes(arrays.budgetBytes)}; use --rerank-access rows or auto, or raise --memory-gb`, database.file);
  }
  const reads = { rows: 0, reads: 0, bytes: 0 };
  if (!database.loaded) {
    for (const r of reranks) {
      const one = candidateReads(r.candidates, r.dims, r.shortlists, database.cols);
      reads.rows += one.rows;
      reads.reads += one.reads;
      reads.bytes += one.bytes;
    }
  }
  const choice = chooseRerankAccess(database, reads, database.loaded ? 1 : database.cachedShare(), options.access);
  progressNote(`rerank: ${choice.reason}`, { quiet: options.quiet });
  return choice.path === "memory" ? "load" : "rows";
}
