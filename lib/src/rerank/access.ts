/**
 * How reranking reads a database that is not in memory yet: load the whole array (a sequential read of its
 * bytes, when it fits the memory budget), or read only each query batch's candidate rows from the file (rerank.ts
 * viaRows). Chosen by the bytes each way: a few thousand queries touch a small share of a large database, many
 * queries (whose batches each re-read rows shared with other batches) can touch more than the whole file.
 * Both give the same ids.
 */
import { gigabytes } from "../core/memory";
import type { IntMatrix } from "../core/matrix";
import type { RerankAccess } from "../experiment/types";
import type { DatabaseVectors } from "../io/database";

/** Bytes of candidate rows gathered per query batch when the database is read from its file. */
export const GATHER_BYTES = 256 * 2 ** 20;

/** A row read from the file costs at least one page, however few of its dims are wanted. */
const PAGE_BYTES = 4096;

/** Queries per batch of the rows path: their `needed` candidates' `width`-d rows fill GATHER_BYTES. */
export function gatherBatchQueries(needed: number, width: number): number {
  return Math.max(1, Math.floor(GATHER_BYTES / (needed * width * 4)));
}

/**
 * The distinct candidate ids (ascending, without -1) of queries first..first+n-1's first `needed` candidates,
 * written to the front of `scratch` (n x needed values); returns that view.
 */
export function batchRowIds(candidates: IntMatrix, first: number, n: number, needed: number, scratch: Int32Array): Int32Array {
  let count = 0;
  for (let q = 0; q < n; q++) {
    for (let j = 0; j < needed; j++) scratch[count++] = candidates.data[(first + q) * candidates.cols + j];
  }
  const sorted = scratch.subarray(0, count).sort();
  let distinct = 0;
  for (let i = 0; i < count; i++) if (sorted[i] !== -1 && (distinct === 0 || sorted[i] !== sorted[distinct - 1])) sorted[distinct++] = sorted[i];
  return sorted.subarray(0, distinct);
}

/**
 * Bytes the rows path reads for one rerank or funnel over `candidates` (nq x cols): per query batch, its distinct
 * candidate rows x the bytes of a `max(dims)`-d row prefix (at least a page).
 */
export function candidateRowBytes(candidates: IntMatrix, dims: number[], shortlists: number[]): number {
  const width = Math.max(...dims), needed = shortlists[0], batch = gatherBatchQueries(needed, width);
  const scratch = new Int32Array(Math.min(candidates.rows, batch) * needed);
  let rows = 0;
  for (let first = 0; first < candidates.rows; first += batch) rows += batchRowIds(candidates, first, Math.min(batch, candidates.rows - first), needed, scratch).length;
  return rows * Math.max(PAGE_BYTES, width * 4);
}

/** The path a rerank takes, and the one line that says why. */
export interface AccessChoice { path: "memory" | "rows"; reason: string }

/**
 * Memory (load the database, or use it where it is loaded already) or rows (read the candidates' rows), for
 * reranks that would read `rowBytes` by the rows path (candidateRowBytes, summed over them). `access` forces a path:
 * "load" of a database over the memory budget is an error the caller raises (DatabaseVectors.matrix names it).
 */
export function chooseRerankAccess(database: DatabaseVectors, rowBytes: number, access: RerankAccess = "auto"): AccessChoice {
  const share = `${gigabytes(rowBytes)} of candidate rows against ${gigabytes(database.bytes)} to load the database`;
  if (database.loaded) return { path: "memory", reason: "the database is in memory already" };
  if (access === "load") return { path: "memory", reason: `loading the database (--rerank-access load; ${share})` };
  if (access === "rows") return { path: "rows", reason: `reading the candidate rows (--rerank-access rows; ${share})` };
  if (!database.inMemory) return { path: "rows", reason: `reading the candidate rows: the database (${gigabytes(database.bytes)}) is over the memory budget` };
  return rowBytes < database.bytes
    ? { path: "rows", reason: `reading the candidate rows (${share})` }
    : { path: "memory", reason: `loading the database (${share})` };
}
