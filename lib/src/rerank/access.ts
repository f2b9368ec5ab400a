/**
 * How reranking reads a database that is not in memory yet: load the whole array (a sequential read of its
 * bytes, when it fits the memory budget), or read only each query batch's candidate rows from the file (rerank.ts
 * viaRows). Chosen by the bytes each way and where they are: a few thousand queries touch a small share of a large
 * database, many queries (whose batches each re-read rows shared with other batches) can touch more than the whole
 * file; from the page cache a byte costs a copy, from the disk a scattered row costs a request (about 8 times a
 * sequential read's bytes here). Both give the same ids.
 */
import { gigabytes } from "../core/memory";
import type { IntMatrix } from "../core/matrix";
import type { RerankAccess } from "../experiment/types";
import { COALESCE_GAP_BYTES, type DatabaseVectors } from "../io/database";

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

/** What the rows path reads for some reranks: distinct candidate rows per query batch, as reads and bytes. */
export interface RowReads { rows: number; reads: number; bytes: number }

/**
 * What the rows path reads for one rerank or funnel over `candidates` of a database with `cols`-d rows: per query
 * batch, its distinct candidate rows, in reads of nearby rows as DatabaseVectors.gatherRows makes them (rows at
 * most COALESCE_GAP_BYTES apart share one read, which spans the rows between; a read costs at least a page).
 */
export function candidateReads(candidates: IntMatrix, dims: number[], shortlists: number[], cols: number): RowReads {
  const width = Math.max(...dims), needed = shortlists[0], batch = gatherBatchQueries(needed, width);
  const gapRows = Math.max(1, Math.floor(COALESCE_GAP_BYTES / (cols * 4)));
  const scratch = new Int32Array(Math.min(candidates.rows, batch) * needed);
  let rows = 0, reads = 0, bytes = 0;
  for (let first = 0; first < candidates.rows; first += batch) {
    const ids = batchRowIds(candidates, first, Math.min(batch, candidates.rows - first), needed, scratch);
    rows += ids.length;
    // one read per run of nearby rows: from its first row's start to its last row's prefix (the rows between too)
    for (let i = 0, start = 0; i < ids.length; i++) {
      if (i + 1 < ids.length && ids[i + 1] - ids[i] <= gapRows) continue;
      reads++;
      bytes += Math.max(PAGE_BYTES, (ids[i] - ids[start]) * cols * 4 + width * 4);
      start = i + 1;
    }
  }
  return { rows, reads, bytes };
}

/**
 * Rates of this project's reference machine (2 cores, virtio disk; measured 2026-12-04 with bench/scale.ts's
 * access section at reduced size, a probe of positioned reads, and issue 27's full-size runs): they weigh bytes
 * from the page cache against requests to the disk, where a scattered row costs a request rather than its bytes.
 */
export const ACCESS_RATES = {
  /** Loading the whole array (read from the page cache into one array, the finite check): bytes per second. */
  loadBytesPerSecond: 0.4e9,
  /** Copying candidate rows out of the page cache by positioned reads: bytes per second... */
  gatherBytesPerSecond: 4e9,
  /** ...plus the cost of each read (a system call). */
  secondsPerRead: 5e-6,
  /** Reading the uncached part of the file in order: bytes per second (on top of the load). */
  coldSequentialBytesPerSecond: 0.43e9,
  /** Positioned reads of uncached rows, in ascending order: reads per second. */
  coldReadsPerSecond: 6000,
};

/** The path a rerank takes, and the one line that says why. */
export interface AccessChoice { path: "memory" | "rows"; reason: string }

const seconds = (s: number): string => (s >= 10 ? `${s.toFixed(0)} s` : `${s.toFixed(1)} s`);

/**
 * Memory (load the database, or use it where it is loaded already) or rows (read the candidates' rows), for
 * reranks that would read `reads` by the rows path (candidateReads, summed over them), with `cachedShare` of the
 * file in the page cache (DatabaseVectors.cachedShare): the estimated seconds each way (ACCESS_RATES), within the
 * memory budget. `access` forces a path: "load" of a database over the budget is an error the caller raises.
 */
export function chooseRerankAccess(database: DatabaseVectors, reads: RowReads, cachedShare: number, access: RerankAccess = "auto"): AccessChoice {
  if (database.loaded) return { path: "memory", reason: "the database is in memory already" };
  const r = ACCESS_RATES, cold = 1 - Math.min(1, Math.max(0, cachedShare));
  const rowsSeconds = reads.bytes / r.gatherBytesPerSecond + reads.reads * r.secondsPerRead + cold * reads.reads / r.coldReadsPerSecond;
  const loadSeconds = database.bytes / r.loadBytesPerSecond + cold * database.bytes / r.coldSequentialBytesPerSecond;
  const estimate = `${gigabytes(reads.bytes)} of candidate rows in ${reads.reads} reads, est. ${seconds(rowsSeconds)}, against ` +
    `${gigabytes(database.bytes)} to load the database, est. ${seconds(loadSeconds)}; ${Math.round((1 - cold) * 100)}% of it in the page cache`;
  if (access === "load") return { path: "memory", reason: `loading the database (--rerank-access load; ${estimate})` };
  if (access === "rows") return { path: "rows", reason: `reading the candidate rows (--rerank-access rows; ${estimate})` };
  if (!database.inMemory) return { path: "rows", reason: `reading the candidate rows: the database (${gigabytes(database.bytes)}) is over the memory budget` };
  return rowsSeconds < loadSeconds
    ? { path: "rows", reason: `reading the candidate rows (${estimate})` }
    : { path: "memory", reason: `loading the database (${estimate})` };
}
