/**
 * Child process of `npm run bench` (bench/retrieval.ts) for the cold rerank row: the first rerank() call in a
 * fresh Node process, on plain matrices read from .npy (not the bench's shared arrays), then warm calls on the
 * same inputs. Loading the arrays is not timed. Prints one JSON line; writes the first call's ids to job.out.
 *
 *   node build/bench/rerank_cold.js JOB.json
 */
import * as fs from "node:fs";
import {
  intMatrix, memoryReport, readMatrixPrefixNpy, readShortlistNpy, rerank, resetPeakRss, writeShortlistNpy,
  type IntMatrix,
} from "@mrl-retrieval/lib/internal";

export interface ColdRerankJob {
  database: string;
  databaseRows: number;
  queries: string;
  queryRows: number;
  /** Shortlist .npy (at least queryRows rows); its first `shortlist` columns are reranked at `dim`. */
  candidates: string;
  dim: number;
  shortlist: number;
  out: string;
}

export interface ColdRerankResult {
  /** Node start-up and loading the lib, before anything is timed. */
  startSeconds: number;
  cold: { seconds: number; peakMiB: number };
  /** Best of 3 calls after the first. */
  warm: { seconds: number; peakMiB: number };
}

function firstRows(m: IntMatrix, rows: number): IntMatrix {
  return intMatrix(rows, m.cols, m.data.slice(0, rows * m.cols));
}

/** One call's seconds and the process's peak RSS during it. */
function measure<T>(fn: () => T): { result: T; seconds: number; peakMiB: number } {
  resetPeakRss();
  const t0 = performance.now();
  const result = fn();
  const seconds = (performance.now() - t0) / 1000;
  return { result, seconds, peakMiB: memoryReport().peakRssMiB };
}

async function main(): Promise<void> {
  const startSeconds = performance.now() / 1000; // performance.now() counts from the process's start
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as ColdRerankJob;
  const database = readMatrixPrefixNpy(job.database, { end: job.databaseRows });
  const queries = readMatrixPrefixNpy(job.queries, { end: job.queryRows });
  const candidates = firstRows(readShortlistNpy(job.candidates), job.queryRows);
  const call = (): IntMatrix => rerank(database, queries, candidates, job.dim, job.shortlist);
  const cold = measure(call);
  const warmRuns = [0, 1, 2].map(() => measure(call));
  const warm = warmRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  writeShortlistNpy(job.out, cold.result);
  const result: ColdRerankResult = {
    startSeconds,
    cold: { seconds: cold.seconds, peakMiB: cold.peakMiB },
    warm: { seconds: warm.seconds, peakMiB: Math.max(...warmRuns.map((r) => r.peakMiB)) },
  };
  console.log(JSON.stringify(result));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
