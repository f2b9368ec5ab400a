/**
 * Stage 2 (faiss_nn): for each nesting dim d, take the first d dims of database and queries, L2-normalize
 * the rows, index them with FAISS and write the k-NN shortlist under the original names.
 *
 * Exact search runs over database blocks (faiss contrib's `knn` over a database iterator does the same): each
 * block is normalized, written to the exact index file, searched with FAISS, and merged into the running
 * top-k (search/topk.ts), so memory stays within the budget whatever the database's size and the result does
 * not depend on the block size. A run killed in the middle of a dim resumes from its last checkpoint.
 * HNSW indexes are built from the same blocks (the index itself must fit the budget).
 */
import * as fs from "node:fs";
import { writeAtomically } from "../core/atomic";
import { checkNonZeroPrefixes } from "../core/checks";
import { MrlError } from "../core/errors";
import { intMatrix, l2NormalizeRows, nestedNormalized, type IntMatrix, type Matrix } from "../core/matrix";
import { gigabytes } from "../core/memory";
import { createProgress } from "../core/progress";
import type { IndexType } from "../experiment/types";
import { MIN_BLOCK_ROWS, type RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact } from "../io/manifest";
import { indexPath, neighborsPath, type ArtifactSpec } from "../io/naming";
import { npyRowBlocks, readFully } from "../io/npyStream";
import { writeShortlist } from "../io/shortlists";
import { FaissIndex, type KnnResult } from "./faiss";
import { FLAT_HEADER_BYTES, flatIndexShape, FlatIndexWriter, readFlatIndexRows } from "./flatIndexFile";
import { RunningTopK } from "./topk";

/** Builds an index of `indexType` over the normalized database prefix. */
export function buildIndex(indexType: IndexType, database: Matrix, label = "add", quiet = false): FaissIndex {
  const index = FaissIndex.create(indexType, database.cols);
  const progress = createProgress(label, database.rows, { quiet });
  index.add(database, (n) => progress.tick(n), 16384);
  progress.done();
  return index;
}

/**
 * FAISS blocks exact search 4096 queries at a time: smaller batches mean more, smaller BLAS calls (slower);
 * larger ones only grow the native int64 label buffer (8 bytes x batch x k, <= 64 MiB here).
 */
const searchBatch = (k: number): number => Math.max(1, Math.min(4096, Math.floor(8_388_608 / k)));

/** Searches k neighbours for every query with progress. */
export function searchIndex(index: FaissIndex, queries: Matrix, k: number, label = "search", quiet = false): KnnResult {
  const progress = createProgress(label, queries.rows, { quiet });
  const result = index.search(queries, k, (n) => progress.tick(n), searchBatch(k));
  progress.done();
  return result;
}

export interface IndexSearchOptions {
  k: number;
  nesting: number[];
  efSearch?: number;
  /** Rebuild indexes and rewrite shortlists even when present. */
  force?: boolean;
  quiet?: boolean;
  /** Seconds between checkpoints of a long exact search (default CHECKPOINT_SECONDS). */
  checkpointSeconds?: number;
  /** Called after each database block of an exact search with the rows searched so far (progress, tests). */
  onBlock?: (dim: number, rowsDone: number) => void;
}

export interface DimResult {
  dim: number;
  indexFile: string;
  neighborsFile: string;
  /** What happened: built a new index, reused a cached one, or skipped (shortlist already up to date). */
  action: "built" | "reused-index" | "skipped";
  buildSeconds: number;
  searchSeconds: number;
  /** Database rows found already searched in a checkpoint of an interrupted run. */
  resumedRows?: number;
}

/** Largest share of the budget one database block takes (block, its FAISS copy, and the rest of the stage). */
const MAX_BLOCK_BYTES = 256 * 2 ** 20;

/**
 * Rows per search block at `dim`: what the budget leaves after the database (if loaded), the queries and the
 * k-NN results, split three ways (the block, FAISS's copy, headroom), at most MAX_BLOCK_BYTES, in multiples
 * of MIN_BLOCK_ROWS (FAISS's own BLAS tiles are 1024 database rows, so blocks cut no tile in two).
 */
export function searchBlockRows(arrays: RetrievalArrays, dim: number, k: number): number {
  const { database, queries } = arrays;
  const resident = database.loaded ? database.bytes : 0;
  const results = queries.rows * k * 8 * 3 + queries.rows * dim * 4;
  const spare = arrays.budgetBytes - resident - queries.data.byteLength - results;
  const blockBytes = Math.min(MAX_BLOCK_BYTES, Math.floor(spare / 3));
  const rows = Math.floor(blockBytes / (dim * 4) / MIN_BLOCK_ROWS) * MIN_BLOCK_ROWS;
  if (rows < MIN_BLOCK_ROWS) {
    throw new MrlError(`memory budget ${gigabytes(arrays.budgetBytes)} is smaller than one block at ${dim} dims: the queries, their ` +
      `${k}-NN results and a ${MIN_BLOCK_ROWS}-row block need ${gigabytes(resident + queries.data.byteLength + results + 3 * MIN_BLOCK_ROWS * dim * 4)}; ` +
      "raise --memory-gb (or MRL_MEMORY_GB)", database.file);
  }
  return Math.min(rows, Math.ceil(database.rows / MIN_BLOCK_ROWS) * MIN_BLOCK_ROWS);
}

/** Seconds between checkpoints of a dim's search (an interrupted run resumes from the last one). */
export const CHECKPOINT_SECONDS = 60;

/**
 * Runs faiss_nn for every nesting dim. Index files are cached like the original; an index or shortlist whose
 * manifest entry matches the current configuration and inputs (see manifest.ts) is reused / left as it is.
 * Everything is validated before the first file is written.
 */
export function runIndexSearch(spec: ArtifactSpec, arrays: RetrievalArrays, options: IndexSearchOptions): DimResult[] {
  const { database, queries, files } = arrays;
  if (!Number.isInteger(options.k) || options.k <= 0) {
    throw new MrlError(`k must be a positive integer, got ${options.k}; expected 1..${database.rows} (the database size)`);
  }
  if (options.k > database.rows) {
    throw new MrlError(`k=${options.k} is larger than the database (${database.rows} rows); expected k <= ${database.rows}`, files.databaseX);
  }
  for (const dim of options.nesting) {
    if (!Number.isInteger(dim) || dim <= 0 || dim > database.cols) {
      throw new MrlError(`nesting dim ${dim} is larger than the array's ${database.cols} dims; expected 1..${database.cols}`, files.databaseX);
    }
    searchBlockRows(arrays, dim, options.k); // the budget holds a block at every dim
  }
  checkNonZeroPrefixes(queries, options.nesting, files.queriesX);
  database.check(options.nesting, options.quiet);
  const inputs = [files.databaseX, files.queriesX];
  // What each artifact depends on besides its input files; efSearch only changes HNSW results.
  const indexConfig = (dim: number) => ({ indexType: spec.indexType, dim });
  const searchConfig = (dim: number) => ({ indexType: spec.indexType, dim, k: options.k,
    efSearch: spec.indexType.startsWith("hnsw") ? options.efSearch ?? "default" : undefined });
  const results: DimResult[] = [];
  for (const dim of options.nesting) {
    const indexFile = indexPath(spec, dim);
    const neighborsFile = neighborsPath(spec, dim, options.k);
    const indexFresh = !options.force && isFresh(indexFile, "faiss_nn", indexConfig(dim), [files.databaseX]);
    if (indexFresh && isFresh(neighborsFile, "faiss_nn", searchConfig(dim), [indexFile, ...inputs])) {
      results.push({ dim, indexFile, neighborsFile, action: "skipped", buildSeconds: 0, searchSeconds: 0 });
      continue;
    }
    const label = `${spec.indexType} ${dim}d`;
    const queriesAtDim = nestedNormalized(queries, dim, files.queriesX);
    const t0 = performance.now();
    let labels: IntMatrix, action: DimResult["action"], buildSeconds: number, resumedRows: number | undefined;
    if (spec.indexType === "exactl2") {
      const checkpoint = { file: `${neighborsFile}.partial`, config: searchConfig(dim), inputs: [...inputs] };
      const run = exactSearch(arrays, queriesAtDim, options.k, { indexFile, indexFresh, checkpoint, force: options.force, label, quiet: options.quiet,
        checkpointSeconds: options.checkpointSeconds ?? CHECKPOINT_SECONDS, onBlock: (rows) => options.onBlock?.(dim, rows) });
      if (!indexFresh) recordArtifact(indexFile, "faiss_nn", indexConfig(dim), [files.databaseX]);
      labels = run.labels;
      action = indexFresh ? "reused-index" : "built";
      buildSeconds = 0; // built while searching
      resumedRows = run.resumedRows || undefined;
    } else {
      let index: FaissIndex;
      if (indexFresh) {
        index = FaissIndex.read(indexFile);
        if (index.dim !== dim || index.ntotal !== database.rows) {
          throw new MrlError(`cached index has ${index.ntotal} x ${index.dim}-d vectors, expected ${database.rows} x ${dim}; delete it or use force`, indexFile);
        }
        action = "reused-index";
      } else {
        index = buildFromBlocks(spec.indexType, arrays, dim, `${label} add`, options.quiet);
        index.write(indexFile);
        recordArtifact(indexFile, "faiss_nn", indexConfig(dim), [files.databaseX]);
        action = "built";
      }
      buildSeconds = (performance.now() - t0) / 1000;
      if (options.efSearch !== undefined) index.setEfSearch(options.efSearch);
      labels = knnLabels(searchIndex(index, queriesAtDim, options.k, `${label} search`, options.quiet));
      index.reset();
    }
    writeShortlist(neighborsFile, labels);
    recordArtifact(neighborsFile, "faiss_nn", searchConfig(dim), [indexFile, ...inputs]);
    fs.rmSync(`${neighborsFile}.partial`, { force: true });
    results.push({ dim, indexFile, neighborsFile, action, buildSeconds, searchSeconds: (performance.now() - t0) / 1000 - buildSeconds, resumedRows });
  }
  return results;
}

/**
 * HNSW over the normalized `dim`-prefix, added block by block; the index (vectors and graph) must fit the
 * budget beside whatever else is in memory.
 */
function buildFromBlocks(indexType: IndexType, arrays: RetrievalArrays, dim: number, label: string, quiet?: boolean): FaissIndex {
  const { database } = arrays;
  const m = Number(indexType.replace("hnsw", ""));
  const indexBytes = database.rows * (dim * 4 + m * 2 * 4 * 1.1 + 16);
  const resident = database.loaded ? database.bytes : 0;
  if (resident + indexBytes + arrays.queries.data.byteLength > arrays.budgetBytes) {
    throw new MrlError(`an ${indexType} index of ${database.rows} x ${dim}-d vectors needs about ${gigabytes(indexBytes)}, which with ` +
      `${resident ? "the database held in memory and " : ""}the queries is over the memory budget ${gigabytes(arrays.budgetBytes)}; ` +
      "raise --memory-gb or use exactl2 (searched block by block)", database.file);
  }
  const index = FaissIndex.create(indexType, dim);
  const progress = createProgress(label, database.rows, { quiet });
  const blockRows = Math.max(MIN_BLOCK_ROWS, Math.floor(64 * 2 ** 20 / (dim * 4)));
  const buffer = new Float32Array(Math.min(blockRows, database.rows) * dim);
  for (let start = 0; start < database.rows; start += blockRows) {
    const block = l2NormalizeRows(database.readBlock(start, Math.min(database.rows, start + blockRows), dim, buffer), database.file);
    index.add(block, (n) => progress.tick(n), 16384);
  }
  progress.done();
  return index;
}

interface ExactSearchOptions {
  indexFile: string;
  /** Search the cached index file's vectors instead of normalizing the database again. */
  indexFresh: boolean;
  /** Where the running top-k is saved every CHECKPOINT_SECONDS, with the manifest configuration it must match to resume. */
  checkpoint: { file: string; config: Record<string, unknown>; inputs: string[] };
  force?: boolean;
  label: string;
  quiet?: boolean;
  checkpointSeconds: number;
  onBlock: (rowsDone: number) => void;
}

/**
 * Exact k-NN of the normalized queries over the normalized `queries.cols`-prefix of the database, block by
 * block; writes the exact index file as it goes (unless it is cached, then its vectors are the blocks).
 */
function exactSearch(arrays: RetrievalArrays, queries: Matrix, k: number, o: ExactSearchOptions): { labels: IntMatrix; resumedRows: number } {
  const { database } = arrays;
  const dim = queries.cols, rows = database.rows;
  if (o.indexFresh) {
    const shape = flatIndexShape(o.indexFile);
    if (!shape || shape.dim !== dim || shape.ntotal !== rows) {
      throw new MrlError(`cached index is not an exact L2 index of ${rows} x ${dim}-d vectors; delete it or use force`, o.indexFile);
    }
  }
  const resumed = o.force ? undefined : readCheckpoint(o.checkpoint, queries.rows, k, o.indexFresh ? undefined : `${o.indexFile}.partial`, dim);
  const done = resumed?.rows ?? 0;
  const topk = new RunningTopK(queries.rows, k, resumed);
  const writer = o.indexFresh ? undefined : new FlatIndexWriter(o.indexFile, dim, done);
  const blockRows = searchBlockRows(arrays, dim, k);
  const buffer = new Float32Array(Math.min(blockRows, rows) * dim);
  const index = FaissIndex.create("exactl2", dim);
  const progress = createProgress(o.label, rows, { quiet: o.quiet });
  if (done > 0) progress.tick(done);
  let lastCheckpoint = performance.now();
  try {
    for (let start = done; start < rows; start += blockRows) {
      const end = Math.min(rows, start + blockRows);
      const block = o.indexFresh ? readFlatIndexRows(o.indexFile, dim, start, end, buffer)
        : l2NormalizeRows(database.readBlock(start, end, dim, buffer), database.file);
      writer?.append(block);
      index.add(block);
      const kb = Math.min(k, block.rows);
      const found = index.search(queries, kb, undefined, searchBatch(kb));
      index.reset();
      topk.merge(found.distances, found.labels, kb, start);
      progress.tick(block.rows);
      if (end < rows && performance.now() - lastCheckpoint >= o.checkpointSeconds * 1000) {
        writeCheckpoint(o.checkpoint, topk, writer ? writer.sync() : end);
        lastCheckpoint = performance.now();
      }
      o.onBlock(end);
    }
    writer?.finish();
  } catch (err) {
    writer?.close();
    throw err;
  }
  progress.done();
  return { labels: intMatrix(queries.rows, k, topk.labels), resumedRows: done };
}

// A checkpoint: "MRLK" | rows searched (float64) | nq x k distances (float32) | nq x k labels (int32).
const CHECKPOINT_HEADER = 12;

function writeCheckpoint(c: ExactSearchOptions["checkpoint"], topk: RunningTopK, rows: number): void {
  writeAtomically(c.file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      const head = new Uint8Array(CHECKPOINT_HEADER);
      head.set([0x4d, 0x52, 0x4c, 0x4b]);
      new DataView(head.buffer).setFloat64(4, rows, true);
      for (const part of [head, new Uint8Array(topk.distances.buffer), new Uint8Array(topk.labels.buffer)]) {
        let done = 0;
        while (done < part.length) done += fs.writeSync(fd, part, done, part.length - done);
      }
    } finally {
      fs.closeSync(fd);
    }
  });
  recordArtifact(c.file, "faiss_nn-checkpoint", c.config, c.inputs);
}

/** The state saved by an interrupted run, when it matches this run (same configuration, inputs, index file rows). */
function readCheckpoint(c: ExactSearchOptions["checkpoint"], nq: number, k: number, partialIndex: string | undefined, dim: number):
  { rows: number; distances: Float32Array; labels: Int32Array } | undefined {
  if (!isFresh(c.file, "faiss_nn-checkpoint", c.config, c.inputs)) return undefined;
  if (fs.statSync(c.file).size !== CHECKPOINT_HEADER + nq * k * 8) return undefined;
  const fd = fs.openSync(c.file, "r");
  try {
    const head = new Uint8Array(CHECKPOINT_HEADER);
    readFully(fd, head, 0, c.file);
    const rows = new DataView(head.buffer).getFloat64(4, true);
    if (partialIndex && !(fs.existsSync(partialIndex) && fs.statSync(partialIndex).size >= FLAT_HEADER_BYTES + rows * dim * 4)) return undefined;
    const distances = new Float32Array(nq * k), labels = new Int32Array(nq * k);
    readFully(fd, new Uint8Array(distances.buffer), CHECKPOINT_HEADER, c.file);
    readFully(fd, new Uint8Array(labels.buffer), CHECKPOINT_HEADER + nq * k * 4, c.file);
    return { rows, distances, labels };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Adds the L2-normalized `dims`-prefix of every row of a .npy file to `index`, one block at a time: the
 * index holds the vectors, this side only one block. Returns the number of rows added.
 */
export function addNpyToIndex(index: FaissIndex, file: string, dims: number, options: { blockRows?: number; normalize?: boolean; onRows?: (rows: number) => void } = {}): number {
  let added = 0;
  for (const block of npyRowBlocks(file, { dims, blockRows: options.blockRows })) {
    if (options.normalize !== false) l2NormalizeRows(block.data, file);
    index.add(block.data);
    added += block.data.rows;
    options.onRows?.(block.data.rows);
  }
  return added;
}

/** The I array of a search as an IntMatrix. */
export function knnLabels(knn: KnnResult): IntMatrix {
  return intMatrix(knn.nq, knn.k, knn.labels);
}
