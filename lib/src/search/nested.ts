/**
 * Exact k-NN at several nesting dims in one pass (lib/native/src/nested_knn.cc): the neighbours FAISS
 * IndexFlatL2 finds on each dim's L2-normalized prefixes, computed from the raw rows. Dot products at a larger
 * prefix extend the smaller one's (sgemm on the new columns only), so all dims cost one product at the
 * largest dim plus one candidate scan per dim, instead of one full search per dim.
 *
 * The database arrives in blocks of rows in id order (in memory or streamed from a file), so the engine
 * composes with the out-of-core search; the running top-k of every (dim, query) is held here, in a compact
 * state that a checkpoint can save.
 */
import { check } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { allocateFloat32, allocateInt32, nativeKernels } from "../kernels/native";
import { defaultThreads } from "../kernels/threads";

/** The k nearest rows of every query at one nesting dim: squared L2 distances (ascending, ties by id) and ids. */
export interface KnnAtDim {
  dim: number;
  distances: Matrix;
  labels: IntMatrix;
}

/**
 * Queries per tile of the native engine. sgemm rounds differently for different shapes, so the engine's
 * tiles have a fixed size and start at multiples of it: query chunks that are multiples of it give the same
 * floats (and ids) as one whole search.
 */
export const NESTED_TILE_QUERIES = 256;
/** Largest running state of one query chunk of nestedKnn (the stage plans its own within the budget). */
export const NESTED_CHUNK_STATE_BYTES = 256 * 2 ** 20;

/** Database rows per tile of the native engine: blocks of whole tiles give the same floats as one whole search. */
export const NESTED_TILE_ROWS = 1024;

/** (key, id) entries of running state per (dim, query): 2k, and room for one group of 16 candidates. */
const stateEntries = (k: number): number => 2 * k + 16;

/** Bytes of running state per query: dims x stateEntries, plus a count and threshold each. */
export const nestedStateBytes = (dims: number, k: number): number => dims * (stateEntries(k) * 8 + 8);

/**
 * 1 / |prefix| of every row at every dim of `dims` ([s * rows + r]), for rows searched again and again (each
 * query chunk is a pass over the database): computed once instead of in every pass. `first`: the row the next
 * block starts at (add() reads from there).
 */
export interface RowNorms { dims: number[]; rows: number; inverse: Float32Array; first: number }

export function rowNorms(rows: Matrix, dims: number[]): RowNorms {
  const sorted = [...new Set(dims)].sort((a, b) => a - b);
  const inverse = new Float32Array(sorted.length * rows.rows);
  nativeKernels().prefixInvNorms(rows.data, rows.rows, rows.cols, Int32Array.from(sorted), inverse, defaultThreads());
  return { dims: sorted, rows: rows.rows, inverse, first: 0 };
}

/** The running top-k of `queries` at every dim of `dims` while database blocks are added in id order. */
export class NestedTopK {
  /** The nesting dims, ascending (restart() may change them, keeping their count). */
  dims: number[];
  private dimsI32: Int32Array;
  private readonly entries: Float32Array;
  private readonly counts: Int32Array;
  private readonly thresholds: Float32Array;
  private readonly threads: number;
  private readonly capacity: number;
  private out?: { distances: Float32Array; labels: Int32Array };
  /** Whether the state is compacted and sorted (result() ran since the last add or load). */
  private finished = false;
  /** The next block's first id: database rows added so far, after the first row (a shard's range starts later). */
  rowsSeen = 0;

  /** `queries` also sets the capacity: restart() takes at most as many queries. */
  constructor(public queries: Matrix, dims: number[], readonly k: number, threads = defaultThreads()) {
    this.dims = [...new Set(dims)].sort((a, b) => a - b);
    check(this.dims.length > 0 && this.dims[0] >= 1 && this.dims[this.dims.length - 1] <= queries.cols,
      `nesting dims [${dims}] must lie in 1..${queries.cols}`);
    check(Number.isInteger(k) && k > 0, `k must be a positive integer, got ${k}`);
    check(queries.rows > 0, "there are no queries to search");
    this.dimsI32 = Int32Array.from(this.dims);
    const slots = this.dims.length * queries.rows;
    this.entries = allocateFloat32(slots * stateEntries(k) * 2);
    this.counts = new Int32Array(slots);
    this.thresholds = new Float32Array(slots).fill(-Infinity);
    this.threads = threads;
    this.capacity = queries.rows;
  }

  /**
   * Starts over with other queries (at most the first ones' count), reusing the state's memory; ids from
   * `firstRow`; with `dims`, at other nesting dims (as many as before).
   */
  restart(queries: Matrix, firstRow = 0, dims?: number[]): void {
    check(queries.rows > 0 && queries.rows <= this.capacity && queries.cols === this.queries.cols,
      `restart takes 1..${this.capacity} queries of ${this.queries.cols} dims, got ${queries.rows} x ${queries.cols}`);
    if (dims) {
      const sorted = [...new Set(dims)].sort((a, b) => a - b);
      check(sorted.length === this.dims.length && sorted[0] >= 1 && sorted[sorted.length - 1] <= queries.cols,
        `restart takes ${this.dims.length} nesting dims in 1..${queries.cols}, got [${dims}]`);
      this.dims = sorted;
      this.dimsI32 = Int32Array.from(sorted);
    }
    this.queries = queries;
    this.counts.fill(0);
    this.thresholds.fill(-Infinity);
    this.rowsSeen = firstRow;
    this.finished = false;
  }

  /**
   * Adds database rows rowsSeen .. rowsSeen + block.rows - 1 (raw, not normalized; at least the largest dim
   * wide). Blocks of whole NESTED_TILE_ROWS tiles (but the last) give the same floats however the rows are cut.
   */
  add(block: Matrix, norms?: RowNorms): void {
    check(block.cols >= this.dims[this.dims.length - 1], `database blocks are ${block.cols}-d, the largest nesting dim is ${this.dims[this.dims.length - 1]}`);
    const q = this.queries;
    if (norms) check(norms.dims.join() === this.dims.join() && norms.first + block.rows <= norms.rows, "the row norms do not cover this block at these dims");
    nativeKernels().nestedKnnBlock(q.data, q.rows, q.cols, block.data, block.rows, block.cols, this.rowsSeen, this.dimsI32, this.k,
      this.entries, this.counts, this.thresholds, this.threads, norms?.inverse.subarray(norms.first), norms?.rows);
    this.rowsSeen += block.rows;
    this.finished = false;
  }

  /**
   * The k nearest at every dim (in `dims` order, ascending). The state is compacted, and stays usable. The
   * matrices are views of buffers this object reuses: valid until the next restart() (copy them to keep them).
   */
  result(): KnnAtDim[] {
    const { queries: q, k, dims } = this;
    const per = q.rows * k;
    this.out ??= { distances: allocateFloat32(dims.length * this.capacity * k), labels: allocateInt32(dims.length * this.capacity * k) };
    const { distances, labels } = this.out;
    nativeKernels().nestedKnnFinish(q.data, q.rows, q.cols, this.dimsI32, k, this.entries, this.counts, this.thresholds, distances, labels, this.threads);
    this.finished = true;
    return dims.map((dim, s) => ({ dim, distances: matrix(q.rows, k, distances.subarray(s * per, (s + 1) * per)),
      labels: intMatrix(q.rows, k, labels.subarray(s * per, (s + 1) * per)) }));
  }
  /**
   * The engine's own top k of every (dim, query), in the order it selects by: one 64-bit entry per neighbour as
   * two uint32 (low: the id, high: the key's order bits; ascending = nearer first, ties by the smaller id),
   * [(s * nq + q) * k + i] for dim s, query q, rank i; NO_ENTRY pairs where fewer than k rows were seen. Call after
   * result() (the state is compacted and sorted in place by it). What a shard keeps, so that a merge of shards
   * selects exactly what one whole search selects (shard/merge.ts).
   */
  sortedEntries(): Uint32Array {
    check(this.finished, "sortedEntries() needs result() first");
    const { k } = this, slots = this.dims.length * this.queries.rows, cap = stateEntries(k);
    const state = new Uint32Array(this.entries.buffer, this.entries.byteOffset, this.entries.length);
    const out = new Uint32Array(slots * k * 2).fill(NO_ENTRY);
    for (let slot = 0; slot < slots; slot++) {
      const n = Math.min(k, this.counts[slot]);
      out.set(state.subarray(slot * cap * 2, (slot * cap + n) * 2), slot * k * 2);
    }
    return out;
  }

  /**
   * Sets the state to `entries` (sortedEntries' layout, for the current queries and dims): the k nearest found
   * elsewhere, e.g. merged from shards; result() then gives the distances and ids a whole search gives.
   */
  load(entries: Uint32Array): void {
    const { k } = this, slots = this.dims.length * this.queries.rows, cap = stateEntries(k);
    check(entries.length === slots * k * 2, `load takes ${slots} x ${k} entries, got ${entries.length / 2}`);
    const state = new Uint32Array(this.entries.buffer, this.entries.byteOffset, this.entries.length);
    const key = new Float32Array(1), keyBits = new Uint32Array(key.buffer);
    for (let slot = 0; slot < slots; slot++) {
      let n = 0;
      while (n < k && !(entries[(slot * k + n) * 2] === NO_ENTRY && entries[(slot * k + n) * 2 + 1] === NO_ENTRY)) n++;
      state.set(entries.subarray(slot * k * 2, (slot * k + n) * 2), slot * cap * 2);
      this.counts[slot] = n;
      if (n === k) { // the k-th key, as the engine's threshold (nested_knn.cc keyOf)
        const ordered = ~entries[(slot * k + k - 1) * 2 + 1] >>> 0;
        keyBits[0] = ordered & 0x80000000 ? ordered & 0x7fffffff : ~ordered >>> 0;
        this.thresholds[slot] = key[0];
      } else this.thresholds[slot] = -Infinity;
    }
    this.finished = false;
  }
}

/** The padding of sortedEntries (both halves): sorts after every real entry. */
export const NO_ENTRY = 0xffffffff;

/** Where the database's blocks come from: views of a matrix in memory, or reads from its file. */
export interface BlockSource {
  rows: number;
  /** Rows per block (the last may be shorter). */
  blockRows: number;
  /** Rows start..end-1, raw, at least the largest nesting dim wide (may reuse one buffer: read before the next call). */
  read(start: number, end: number): Matrix;
  /** The rows' prefix norms, computed once for every pass (rowNorms), when the rows are searched again and again. */
  norms?: RowNorms;
}

/** A BlockSource over a matrix in memory: blocks are views. */
export function matrixBlocks(database: Matrix, blockRows: number, norms?: RowNorms): BlockSource {
  return { rows: database.rows, blockRows, norms, read: (start, end) => rowsOf(database, start, end) };
}

const rowsOf = (m: Matrix, first: number, last: number): Matrix => matrix(last - first, m.cols, m.data.subarray(first * m.cols, last * m.cols));

export interface ChunkLoopOptions {
  /** Queries searched together (whole NESTED_TILE_QUERIES tiles, but the last chunk, for the same floats). */
  chunkQueries: number;
  /** The first query to search (those before it are done: a resumed search). */
  firstQuery?: number;
  threads?: number;
  /** After each block is added: the chunk's queries q0..q1-1, the block (valid until the next read) and its rows. */
  onBlock?: (q0: number, q1: number, block: Matrix, start: number, end: number) => void;
  /** The database rows to search (default all): a shard's range, ids stay global. */
  rows?: { start: number; end: number };
  /** After each chunk: its queries' k nearest at every dim (views, valid until the next chunk starts), and the merge object. */
  onChunk: (q0: number, q1: number, found: KnnAtDim[], topk: NestedTopK) => void;
}

/**
 * The one query-chunk x database-block loop of the exact search (in the spirit of faiss contrib's
 * exhaustive_search.knn): for each chunk of queries, feed every database block in id order to one merge object
 * (NestedTopK), then hand its k nearest at every dim to `onChunk`. In memory (nestedKnn) and out of core with
 * checkpoints (search/exactSearch.ts) alike.
 */
export function searchInChunks(queries: Matrix, dims: number[], k: number, database: BlockSource, o: ChunkLoopOptions): void {
  const first = o.firstQuery ?? 0, nq = queries.rows, rows = o.rows ?? { start: 0, end: database.rows };
  check(rows.start % NESTED_TILE_ROWS === 0 && rows.start <= rows.end && rows.end <= database.rows, `rows ${rows.start}..${rows.end} must start on a ${NESTED_TILE_ROWS}-row tile`);
  const topk = new NestedTopK(rowsOf(queries, 0, Math.min(o.chunkQueries, nq)), dims, k, o.threads);
  for (let q0 = first; q0 < nq; q0 += o.chunkQueries) {
    const q1 = Math.min(nq, q0 + o.chunkQueries);
    topk.restart(rowsOf(queries, q0, q1), rows.start);
    for (let start = rows.start; start < rows.end; start += database.blockRows) {
      const end = Math.min(rows.end, start + database.blockRows);
      const block = database.read(start, end);
      topk.add(block, database.norms && { ...database.norms, first: start });
      o.onBlock?.(q0, q1, block, start, end);
    }
    o.onChunk(q0, q1, topk.result(), topk);
  }
}

/**
 * Exact k-NN of `queries` in `database` at every nesting dim (both raw; prefixes normalized on the fly), the
 * database in blocks of `blockRows` rounded to whole engine tiles. A few queries (up to 4) take the engine's
 * matrix-vector path; `norms` (rowNorms(database, dims), made once) spares one pass over the rows per call when
 * the same database is searched again and again, one query at a time.
 */
export function nestedKnn(database: Matrix, queries: Matrix, dims: number[], k: number,
  options: { blockRows?: number; threads?: number; onRows?: (rows: number) => void; norms?: RowNorms } = {}): KnnAtDim[] {
  check(database.cols === queries.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  check(k <= database.rows, `k=${k} is larger than the database (${database.rows} rows)`);
  const sorted = [...new Set(dims)].sort((a, b) => a - b);
  // queries in chunks of whole tiles whose running state stays small (fresh memory is slow to touch), the
  // rows' prefix norms computed once for all chunks
  const chunk = Math.max(NESTED_TILE_QUERIES, Math.floor(NESTED_CHUNK_STATE_BYTES / nestedStateBytes(sorted.length, k) / NESTED_TILE_QUERIES) * NESTED_TILE_QUERIES);
  check(!options.norms || (options.norms.rows === database.rows && options.norms.dims.join() === sorted.join()),
    `the row norms given are for ${options.norms?.rows} rows at dims [${options.norms?.dims}], not ${database.rows} rows at [${sorted}]`);
  const norms = options.norms ?? (queries.rows > chunk ? rowNorms(database, sorted) : undefined);
  const per = queries.rows * k;
  const distances = allocateFloat32(sorted.length * per), labels = allocateInt32(sorted.length * per);
  const step = Math.max(1, Math.round((options.blockRows ?? 16384) / NESTED_TILE_ROWS)) * NESTED_TILE_ROWS;
  searchInChunks(queries, sorted, k, matrixBlocks(database, step, norms), {
    chunkQueries: chunk, threads: options.threads,
    onBlock: (_q0, _q1, _block, start, end) => options.onRows?.(end - start),
    onChunk: (q0, _q1, found) => found.forEach((r, s) => {
      distances.set(r.distances.data, s * per + q0 * k);
      labels.set(r.labels.data, s * per + q0 * k);
    }),
  });
  return sorted.map((dim, s) => ({ dim, distances: matrix(queries.rows, k, distances.subarray(s * per, (s + 1) * per)),
    labels: intMatrix(queries.rows, k, labels.subarray(s * per, (s + 1) * per)) }));
}
