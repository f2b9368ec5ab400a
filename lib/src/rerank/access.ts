/**
 * How reranking reads a database that is not in memory yet: load the whole array (map its file, read in order
 * where the page cache lacks it, when it fits the memory budget), or read only each query batch's candidate rows
 * from the file (rerank.ts viaRows). Chosen by the bytes each way and where they are: a few thousand queries
 * touch a small share of a large database, many queries (whose batches each re-read rows shared with other
 * batches) can touch more than the whole file; from the page cache a row costs a copy, from the disk its first
 * read costs a request (and the page cache keeps it for the batches after). Both give the same ids.
 */
import { gigabytes } from "../core/memory";
import type { IntMatrix } from "../core/matrix";
import type { RerankAccess } from "../experiment/types";
import { COALESCE_GAP_BYTES, type DatabaseVectors } from "../io/database";
import { STREAM_BUFFER_BYTES } from "../io/npy";

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

/** One rerank or funnel the rows path would serve: its candidates, and the dims and shortlists it reranks at. */
export interface RerankRows { candidates: IntMatrix; dims: number[]; shortlists: number[] }

/**
 * What the rows path reads for some reranks: per query batch, its distinct candidate rows, as `reads` and
 * `bytes`; and the distinct rows of all of them together in one pass (`firstReads`, `firstBytes`), what a
 * cold file costs once: after a row's first read it is in the page cache.
 */
export interface RowReads { rows: number; reads: number; bytes: number; firstReads: number; firstBytes: number }

/**
 * Reads of ascending distinct ids as gatherRows makes them: nearby rows share one read, which spans the rows
 * between (up to a buffer's rows); a read costs at least a page.
 */
function readRuns(ids: ArrayLike<number>, count: number, cols: number, width: number): { reads: number; bytes: number } {
  const gapRows = Math.max(1, Math.floor(COALESCE_GAP_BYTES / (cols * 4))), maxRun = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / (cols * 4)));
  let reads = 0, bytes = 0;
  for (let i = 0, start = 0; i < count; i++) {
    if (i + 1 < count && ids[i + 1] - ids[i] <= gapRows && ids[i + 1] - ids[start] < maxRun) continue;
    reads++;
    bytes += Math.max(PAGE_BYTES, (ids[i] - ids[start]) * cols * 4 + width * 4);
    start = i + 1;
  }
  return { reads, bytes };
}

/**
 * What the rows path reads for `reranks` (each as rerank.ts's viaRows batches its queries) of a `rows` x `cols`
 * database: see RowReads.
 */
export function candidateReads(reranks: RerankRows[], rows: number, cols: number): RowReads {
  const touched = new Uint8Array(rows);
  const total: RowReads = { rows: 0, reads: 0, bytes: 0, firstReads: 0, firstBytes: 0 };
  let widest = 1;
  for (const { candidates, dims, shortlists } of reranks) {
    const width = Math.max(...dims), needed = shortlists[0], batch = gatherBatchQueries(needed, width);
    widest = Math.max(widest, width);
    const scratch = new Int32Array(Math.min(candidates.rows, batch) * needed);
    for (let first = 0; first < candidates.rows; first += batch) {
      const ids = batchRowIds(candidates, first, Math.min(batch, candidates.rows - first), needed, scratch);
      const { reads, bytes } = readRuns(ids, ids.length, cols, width);
      total.rows += ids.length;
      total.reads += reads;
      total.bytes += bytes;
      for (const id of ids) if (id < rows) touched[id] = 1;
    }
  }
  const distinct: number[] = [];
  for (let r = 0; r < rows; r++) if (touched[r]) distinct.push(r);
  const first = readRuns(distinct, distinct.length, cols, widest);
  total.firstReads = first.reads;
  total.firstBytes = first.bytes;
  return total;
}

/**
 * Rates of this project's reference machine (2 cores, 24 GiB, virtio disk; measured 2026-12-05 with
 * bench/scale.ts --access-only at ImageNet-1K shape, 2,000 and 10,000 queries, and a probe of positioned
 * reads): they weigh bytes from the page cache against requests to the disk.
 */
export const ACCESS_RATES = {
  /** Loading the whole array while the file is in the page cache: mapping its pages (no copy) and the finite
   * check's pass over them, bytes per second. */
  loadBytesPerSecond: 3e9,
  /** Loading it from the disk: one read in order into the page cache, then the same pass. */
  coldLoadBytesPerSecond: 2e9,
  /** Copying candidate rows out of the page cache by positioned reads: bytes per second... */
  gatherBytesPerSecond: 4e9,
  /** ...plus the cost of each read (a system call). */
  secondsPerRead: 5e-6,
  /** A row's first read from the disk: a request for each run of nearby uncached rows (ascending)... */
  coldReadsPerSecond: 6000,
  /** ...and its bytes, read in order. */
  coldBytesPerSecond: 0.55e9,
};

/** The path a rerank takes, and the one line that says why. */
export interface AccessChoice { path: "memory" | "rows"; reason: string }

const seconds = (s: number): string => (s >= 10 ? `${s.toFixed(0)} s` : `${s.toFixed(1)} s`);

/**
 * Memory (load the database, or use it where it is loaded already) or rows (read the candidates' rows), for
 * reranks that would read `reads` by the rows path (candidateReads over all of them), with `cachedShare` of the
 * file in the page cache (DatabaseVectors.cachedShare): the estimated seconds each way (ACCESS_RATES), within the
 * memory budget. `access` forces a path: "load" of a database over the budget is an error the caller raises.
 */
export function chooseRerankAccess(database: DatabaseVectors, reads: RowReads, cachedShare: number, access: RerankAccess = "auto"): AccessChoice {
  if (database.loaded) return { path: "memory", reason: "the database is in memory already" };
  const r = ACCESS_RATES, cold = 1 - Math.min(1, Math.max(0, cachedShare));
  const rowsSeconds = reads.bytes / r.gatherBytesPerSecond + reads.reads * r.secondsPerRead +
    cold * (reads.firstReads / r.coldReadsPerSecond + reads.firstBytes / r.coldBytesPerSecond);
  const loadSeconds = database.bytes * ((1 - cold) / r.loadBytesPerSecond + cold / r.coldLoadBytesPerSecond);
  const estimate = `${gigabytes(reads.bytes)} of candidate rows in ${reads.reads} reads (${gigabytes(reads.firstBytes)} in ${reads.firstReads} ` +
    `reads the first time), est. ${seconds(rowsSeconds)}, against ${gigabytes(database.bytes)} to load the database, est. ${seconds(loadSeconds)}; ` +
    `${Math.round((1 - cold) * 100)}% of it in the page cache`;
  if (access === "load") return { path: "memory", reason: `loading the database (--rerank-access load; ${estimate})` };
  if (access === "rows") return { path: "rows", reason: `reading the candidate rows (--rerank-access rows; ${estimate})` };
  if (!database.inMemory) return { path: "rows", reason: `reading the candidate rows: the database (${gigabytes(database.bytes)}) is over the memory budget` };
  return rowsSeconds < loadSeconds
    ? { path: "rows", reason: `reading the candidate rows (${estimate})` }
    : { path: "memory", reason: `loading the database (${estimate})` };
}
