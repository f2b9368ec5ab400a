/**
 * Stage 2 (faiss_nn): for each nesting dim d, take the first d dims of database and queries, L2-normalize
 * the rows, index them and write the k-NN shortlist under the original names.
 *
 * Exact search runs every dim at once in the nested engine (search/nested.ts: one sgemm pass at the largest
 * dim, one candidate scan per dim), over database blocks, so it streams a database larger than memory; the
 * neighbours are the ones FAISS IndexFlatL2 finds (test/nested.test.ts checks every query against Python
 * FAISS). The exact index files the original writes are still written, in FAISS's format, during the first
 * pass. A run killed in the middle resumes from its last checkpoint (finished query chunks).
 * HNSW indexes are built as the original builds them: the whole normalized prefix in one FAISS add (the
 * index itself must fit the budget). With exactEngine "faiss", exactl2 is searched that way too, by FAISS
 * IndexFlatL2 per dim: the original's ids bit for bit, near-duplicates included. Every vector handed to FAISS (HNSW database and queries, the exact index
 * files) is normalized by FAISS's own fvec_renorm_L2 (faissNormalized), so it equals faiss.normalize_L2's.
 */
import * as fs from "node:fs";
import { writeAtomically } from "../core/atomic";
import { checkNonZeroPrefixes } from "../core/checks";
import { checkOneOf, MrlError } from "../core/errors";
import { intMatrix, matrix, type IntMatrix, type Matrix } from "../core/matrix";
import { gigabytes } from "../core/memory";
import { createProgress, progressNote } from "../core/progress";
import { EXACT_ENGINES, INDEX_TYPES, type ExactEngine, type IndexType } from "../experiment/types";
import { MIN_BLOCK_ROWS, type RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact } from "../io/manifest";
import { indexPath, neighborsPath, type ArtifactSpec } from "../io/naming";
import { readFully } from "../io/npy";
import { npyRowBlocks } from "../io/npyStream";
import { writeShortlist } from "../io/shortlists";
import { FaissIndex, faissNormalized, type KnnResult } from "./faiss";
import { allocateFloat32, allocateInt32 } from "../kernels/native";
import { FlatIndexWriter } from "./flatIndexFile";
import { NESTED_TILE_QUERIES, NestedTopK, nestedStateBytes, rowNorms } from "./nested";

/**
 * Builds an index of `indexType` over `database`, already normalized (faissNormalized): HNSW in one add, as the
 * original (FaissIndex.add), a flat index in blocks with progress.
 */
export function buildIndex(indexType: IndexType, database: Matrix, label = "add", quiet = false): FaissIndex {
  const index = FaissIndex.create(indexType, database.cols);
  if (index.hnsw) {
    // one FAISS call, with no progress from inside it: a line before and one after
    progressNote(`${label}: ${database.rows} x ${database.cols}-d vectors in one add (FAISS builds the graph)...`, { quiet });
    const t0 = performance.now();
    index.add(database);
    progressNote(`${label}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`, { quiet });
    return index;
  }
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
  /** Who searches exactl2 (default "nested"; "faiss": IndexFlatL2 per dim, the original's ids bit for bit). */
  exactEngine?: ExactEngine;
  /** Rebuild indexes and rewrite shortlists even when present. */
  force?: boolean;
  quiet?: boolean;
  /** Seconds between checkpoints of a long exact search (default CHECKPOINT_SECONDS). */
  checkpointSeconds?: number;
  /** Called after each database block of an exact search: queries finished before this pass, rows searched in it. */
  onProgress?: (queriesDone: number, rowsDone: number) => void;
  /** Write each dim's exact index file (FAISS IndexFlatL2, as the original does); default true. */
  indexFiles?: boolean;
  /** At most this many queries per pass of an exact search (the budget decides below that). */
  maxChunkQueries?: number;
}

export interface DimResult {
  dim: number;
  indexFile: string;
  neighborsFile: string;
  /**
   * What happened: built a new index (exact: wrote its file), reused a cached one, searched without an index
   * file (exact search with indexFiles: false), or skipped (shortlist already up to date).
   */
  action: "built" | "reused-index" | "searched" | "skipped";
  buildSeconds: number;
  searchSeconds: number;
  /** Queries found already searched in a checkpoint of an interrupted run. */
  resumedQueries?: number;
}

/** Largest database block read from a file at once. */
const MAX_BLOCK_BYTES = 256 * 2 ** 20;
/** Largest running state of a query chunk (the nested engine's top-k lists at every dim). */
const MAX_STATE_BYTES = 256 * 2 ** 20; // smaller chunks cost only passes over the database; fresh memory is slow to touch

/** How the nested exact search splits its work to stay inside the memory budget. */
export interface ExactPlan {
  /** Queries searched together (their running top-k at every dim is held at once). */
  chunkQueries: number;
  /** Database rows per block. */
  blockRows: number;
  /** Search the database loaded in memory (blocks are views), else read blocks from its file. */
  holdDatabase: boolean;
}

/**
 * Chunks and blocks for an exact search of `dims` within the budget, or undefined when it does not fit: after
 * the database (when held), the queries and every dim's finished shortlist, the rest holds the running state
 * of a query chunk and, when the database is read from its file, a block and its normalized prefix.
 */
function tryPlan(arrays: RetrievalArrays, dims: number[], k: number, hold: boolean, maxChunkQueries: number): ExactPlan | undefined {
  const { database, queries } = arrays;
  const maxDim = Math.max(...dims);
  const resident = hold || database.loaded ? database.bytes : 0;
  const spare = arrays.budgetBytes - resident - queries.data.byteLength - dims.length * queries.rows * k * 4;
  const blockRows = hold ? Math.min(database.rows, 16384)
    : Math.min(database.rows, Math.floor(Math.min(MAX_BLOCK_BYTES, spare / 4) / (maxDim * 8) / MIN_BLOCK_ROWS) * MIN_BLOCK_ROWS);
  const blockBytes = hold ? 0 : blockRows * maxDim * 8;
  const perQuery = nestedStateBytes(dims.length, k) + dims.length * k * 8; // state + its result
  const limit = Math.min(maxChunkQueries, Math.floor(Math.min(MAX_STATE_BYTES, spare - blockBytes) / perQuery));
  // whole engine tiles, so the shortlists do not depend on the budget
  const chunkQueries = limit >= queries.rows ? queries.rows : Math.floor(limit / NESTED_TILE_QUERIES) * NESTED_TILE_QUERIES;
  if (blockRows < 1 || chunkQueries < 1) return undefined;
  return { chunkQueries, blockRows, holdDatabase: hold || database.loaded };
}

/** The plan for `dims` (the database held in memory when it fits beside the search), or a clear error. */
export function planExactSearch(arrays: RetrievalArrays, dims: number[], k: number, maxChunkQueries = Infinity): ExactPlan {
  const plan = (arrays.database.inMemory ? tryPlan(arrays, dims, k, true, maxChunkQueries) : undefined) ?? tryPlan(arrays, dims, k, false, maxChunkQueries);
  if (plan) return plan;
  const { database, queries } = arrays;
  const least = queries.data.byteLength + dims.length * queries.rows * k * 4 + MIN_BLOCK_ROWS * Math.max(...dims) * 8 +
    (nestedStateBytes(dims.length, k) + dims.length * k * 8) * Math.min(queries.rows, NESTED_TILE_QUERIES);
  throw new MrlError(`memory budget ${gigabytes(arrays.budgetBytes)} is too small for an exact search at ${dims.length === 1 ? `${dims[0]} dims` : `dims [${dims}]`}: ` +
    `the queries, their ${k}-NN shortlists, a ${MIN_BLOCK_ROWS}-row block and the search state need ${gigabytes(least)}` +
    `${database.loaded ? " besides the database held in memory" : ""}; raise --memory-gb (or MRL_MEMORY_GB)`, database.file);
}

/** The dims in groups that each fit the budget (one exact search per group; a single dim that does not fit is an error). */
export function exactDimGroups(arrays: RetrievalArrays, dims: number[], k: number, maxChunkQueries = Infinity): number[][] {
  const groups: number[][] = [];
  for (const dim of dims) {
    const last = groups[groups.length - 1];
    if (last && tryPlan(arrays, [...last, dim], k, false, maxChunkQueries)) last.push(dim);
    else {
      planExactSearch(arrays, [dim], k, maxChunkQueries); // throws when even one dim does not fit
      groups.push([dim]);
    }
  }
  return groups;
}

/** Seconds between checkpoints of an exact search (an interrupted run resumes from the last one). */
export const CHECKPOINT_SECONDS = 60;

/**
 * Runs faiss_nn for every nesting dim. Index files are cached like the original; an index or shortlist whose
 * manifest entry matches the current configuration and inputs (see manifest.ts) is reused / left as it is.
 * Exact shortlists of all dims that need one are computed together, in one pass of the nested engine.
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
  }
  const engine = checkOneOf(options.exactEngine ?? "nested", EXACT_ENGINES, "exact engine");
  // the nested engine searches exactl2; FAISS everything else (and exactl2 with engine "faiss")
  const nested = spec.indexType === "exactl2" && engine === "nested";
  if (nested) exactDimGroups(arrays, options.nesting, options.k, options.maxChunkQueries); // the budget holds the search
  checkNonZeroPrefixes(queries, options.nesting, files.queriesX);
  database.check(options.nesting, options.quiet);
  const inputs = [files.databaseX, files.queriesX];
  const writeIndex = options.indexFiles !== false;
  const keepsIndexFile = writeIndex || spec.indexType !== "exactl2"; // indexFiles: false concerns exact index files only
  // What each artifact depends on besides its input files; efSearch only changes HNSW results.
  const indexConfig = (dim: number) => ({ indexType: spec.indexType, dim });
  const searchConfig = (dim: number) => ({ indexType: spec.indexType, dim, k: options.k,
    efSearch: spec.indexType.startsWith("hnsw") ? options.efSearch ?? "default" : undefined,
    engine: spec.indexType === "exactl2" && !nested ? engine : undefined });
  const results: DimResult[] = [];
  const exactTodo: { dim: number; indexFile: string; neighborsFile: string; indexFresh: boolean }[] = [];
  for (const dim of options.nesting) {
    const indexFile = indexPath(spec, dim);
    const neighborsFile = neighborsPath(spec, dim, options.k);
    const indexFresh = !options.force && isFresh(indexFile, "faiss_nn", indexConfig(dim), [files.databaseX]);
    const shortlistInputs = nested || !keepsIndexFile ? inputs : [indexFile, ...inputs];
    if ((indexFresh || (spec.indexType === "exactl2" && !writeIndex)) && !options.force &&
      isFresh(neighborsFile, "faiss_nn", searchConfig(dim), shortlistInputs)) {
      results.push({ dim, indexFile, neighborsFile, action: "skipped", buildSeconds: 0, searchSeconds: 0 });
      continue;
    }
    if (nested) {
      exactTodo.push({ dim, indexFile, neighborsFile, indexFresh });
      continue;
    }
    const label = `${spec.indexType} ${dim}d`;
    const queriesAtDim = faissNormalized(queries, dim, files.queriesX);
    const t0 = performance.now();
    let index: FaissIndex, action: DimResult["action"];
    if (indexFresh && keepsIndexFile) {
      index = FaissIndex.read(indexFile);
      if (index.dim !== dim || index.ntotal !== database.rows) {
        throw new MrlError(`cached index has ${index.ntotal} x ${index.dim}-d vectors, expected ${database.rows} x ${dim}; delete it or use force`, indexFile);
      }
      action = "reused-index";
    } else {
      index = buildFaissIndex(spec.indexType, arrays, dim, `${label} add`, options.quiet);
      if (keepsIndexFile) {
        index.write(indexFile);
        recordArtifact(indexFile, "faiss_nn", indexConfig(dim), [files.databaseX]);
      }
      action = keepsIndexFile ? "built" : "searched";
    }
    const buildSeconds = (performance.now() - t0) / 1000;
    if (options.efSearch !== undefined) index.setEfSearch(options.efSearch);
    const labels = knnLabels(searchIndex(index, queriesAtDim, options.k, `${label} search`, options.quiet));
    index.reset();
    writeShortlist(neighborsFile, labels);
    recordArtifact(neighborsFile, "faiss_nn", searchConfig(dim), shortlistInputs);
    results.push({ dim, indexFile, neighborsFile, action, buildSeconds, searchSeconds: (performance.now() - t0) / 1000 - buildSeconds });
  }
  for (const group of exactDimGroups(arrays, exactTodo.map((t) => t.dim), options.k, options.maxChunkQueries)) {
    const todo = exactTodo.filter((t) => group.includes(t.dim));
    const t0 = performance.now();
    const dims = todo.map((t) => t.dim);
    const newIndexes = writeIndex ? todo.filter((t) => !t.indexFresh) : [];
    const run = nestedExactSearch(arrays, dims, options.k, {
      label: `${spec.indexType} ${dims.length === 1 ? `${dims[0]}d` : `${dims.length} dims ${dims[0]}..${dims[dims.length - 1]}`}`,
      quiet: options.quiet, force: options.force, checkpointSeconds: options.checkpointSeconds ?? CHECKPOINT_SECONDS, onProgress: options.onProgress,
      maxChunkQueries: options.maxChunkQueries,
      indexFiles: newIndexes.map((t) => ({ dim: t.dim, file: t.indexFile })),
      checkpoints: todo.map((t) => ({ file: `${t.neighborsFile}.partial`, config: searchConfig(t.dim), inputs })),
      onIndexesWritten: () => { for (const t of newIndexes) recordArtifact(t.indexFile, "faiss_nn", indexConfig(t.dim), [files.databaseX]); },
    });
    const seconds = (performance.now() - t0) / 1000;
    todo.forEach((t, i) => {
      writeShortlist(t.neighborsFile, run.labels[i]);
      recordArtifact(t.neighborsFile, "faiss_nn", searchConfig(t.dim), inputs);
      fs.rmSync(`${t.neighborsFile}.partial`, { force: true });
      results.push({ dim: t.dim, indexFile: t.indexFile, neighborsFile: t.neighborsFile, action: !writeIndex ? "searched" : t.indexFresh ? "reused-index" : "built",
        buildSeconds: 0, searchSeconds: seconds / todo.length, resumedQueries: run.resumedQueries || undefined });
    });
  }
  return options.nesting.map((dim) => results.find((r) => r.dim === dim)!);
}

/**
 * A FAISS index over the normalized `dim`-prefix, in one add as the original (FAISS orders HNSW insertion by
 * level within one add; blocks would make another graph): HNSW, or IndexFlatL2 for exactl2 with the "faiss"
 * engine. The whole normalized prefix is held for it, and FAISS keeps its own copy (with the graph): both
 * must fit the budget beside whatever else is in memory.
 */
export function buildFaissIndex(indexType: IndexType, arrays: RetrievalArrays, dim: number, label = `${indexType} ${dim}d add`, quiet?: boolean): FaissIndex {
  checkOneOf(indexType, INDEX_TYPES, "index type");
  const { database } = arrays;
  const m = indexType === "exactl2" ? 0 : Number(indexType.replace("hnsw", ""));
  const prefixBytes = database.rows * dim * 4;
  const indexBytes = database.rows * (dim * 4 + (m ? m * 2 * 4 * 1.1 + 16 : 0));
  const resident = database.loaded ? database.bytes : 0;
  if (resident + prefixBytes + indexBytes + arrays.queries.data.byteLength > arrays.budgetBytes) {
    throw new MrlError(`an ${indexType} index of ${database.rows} x ${dim}-d vectors needs about ${gigabytes(indexBytes)}, and its build ` +
      `the normalized vectors (${gigabytes(prefixBytes)}) in one add, which with ${resident ? "the database held in memory and " : ""}the queries ` +
      `is over the memory budget ${gigabytes(arrays.budgetBytes)}; raise --memory-gb or use ${m ? "exactl2" : "the nested exact engine"} (searched block by block)`, database.file);
  }
  const prefix = database.readBlock(0, database.rows, dim, allocateFloat32(database.rows * dim));
  return buildIndex(indexType, faissNormalized(prefix, dim, database.file, prefix.data), label, quiet);
}

interface ExactSearchOptions {
  label: string;
  quiet?: boolean;
  force?: boolean;
  checkpointSeconds: number;
  onProgress?: (queriesDone: number, rowsDone: number) => void;
  /** Exact index files to write (normalized prefixes, FAISS's IndexFlatL2 format) during the first pass. */
  indexFiles: { dim: number; file: string }[];
  onIndexesWritten: () => void;
  maxChunkQueries?: number;
  /** Per dim (same order as dims): where its finished queries' shortlist is saved, and what it must match to resume. */
  checkpoints: { file: string; config: Record<string, unknown>; inputs: string[] }[];
}

/**
 * Exact k-NN at every dim of `dims` with the nested engine (search/nested.ts): query chunk by query chunk, each
 * a pass over the database in blocks. Finished chunks are checkpointed (every checkpointSeconds), so an
 * interrupted run resumes at the first unfinished chunk; the index files are written during the first pass.
 */
function nestedExactSearch(arrays: RetrievalArrays, dims: number[], k: number, o: ExactSearchOptions): { labels: IntMatrix[]; resumedQueries: number } {
  const { database, queries } = arrays;
  const { chunkQueries, blockRows, holdDatabase } = planExactSearch(arrays, dims, k, o.maxChunkQueries);
  const maxDim = Math.max(...dims), nq = queries.rows;
  const labels = dims.map(() => intMatrix(nq, k, allocateInt32(nq * k)));
  const resumed = o.force ? 0 : readCheckpoints(o.checkpoints, labels, k);
  const held = holdDatabase ? database.matrix() : undefined;
  const norms = held ? rowNorms(held, dims) : undefined; // every chunk passes over the same rows
  const buffer = held ? undefined : allocateFloat32(blockRows * maxDim);
  const normalized = o.indexFiles.length > 0 ? allocateFloat32(blockRows * maxDim) : undefined;
  const topk = new NestedTopK(matrix(Math.min(chunkQueries, nq), queries.cols, queries.data.subarray(0, Math.min(chunkQueries, nq) * queries.cols)), dims, k);
  const progress = createProgress(o.label, (nq - resumed) * database.rows, { quiet: o.quiet });
  let lastCheckpoint = performance.now();
  for (let q0 = resumed; q0 < nq; q0 += chunkQueries) {
    const q1 = Math.min(nq, q0 + chunkQueries);
    topk.restart(matrix(q1 - q0, queries.cols, queries.data.subarray(q0 * queries.cols, q1 * queries.cols)));
    const writers = q0 === resumed ? o.indexFiles.map((f) => ({ dim: f.dim, writer: new FlatIndexWriter(f.file, f.dim, database.rows) })) : [];
    try {
      for (let start = 0; start < database.rows; start += blockRows) {
        const end = Math.min(database.rows, start + blockRows);
        const block = held ? matrix(end - start, held.cols, held.data.subarray(start * held.cols, end * held.cols))
          : database.readBlock(start, end, maxDim, buffer);
        topk.add(block, norms && { ...norms, first: start });
        for (const { dim, writer } of writers) writer.append(faissNormalized(block, dim, database.file, normalized));
        progress.tick((q1 - q0) * (end - start));
        o.onProgress?.(q0 - resumed, end);
      }
      for (const { writer } of writers) writer.finish();
    } catch (err) {
      for (const { writer } of writers) writer.close();
      throw err;
    }
    if (writers.length > 0) o.onIndexesWritten();
    const found = topk.result();
    found.forEach((r, i) => labels[i].data.set(r.labels.data, q0 * k));
    if (q1 < nq && performance.now() - lastCheckpoint >= o.checkpointSeconds * 1000) {
      writeCheckpoints(o.checkpoints, labels, q1, k);
      lastCheckpoint = performance.now();
    }
  }
  progress.done();
  return { labels, resumedQueries: resumed };
}

// A checkpoint per dim: "MRLQ" | queries done (float64) | their k neighbour ids (int32, queries done x k).
const CHECKPOINT_HEADER = 12;

function writeCheckpoints(checkpoints: ExactSearchOptions["checkpoints"], labels: IntMatrix[], queriesDone: number, k: number): void {
  checkpoints.forEach((c, i) => {
    writeAtomically(c.file, (temp) => {
      const fd = fs.openSync(temp, "w");
      try {
        const head = new Uint8Array(CHECKPOINT_HEADER);
        head.set([0x4d, 0x52, 0x4c, 0x51]);
        new DataView(head.buffer).setFloat64(4, queriesDone, true);
        const ids = labels[i].data.subarray(0, queriesDone * k);
        for (const part of [head, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)]) {
          let done = 0;
          while (done < part.length) done += fs.writeSync(fd, part, done, part.length - done);
        }
      } finally {
        fs.closeSync(fd);
      }
    });
    recordArtifact(c.file, "faiss_nn-checkpoint", c.config, c.inputs);
  });
}

/** Queries already done by an interrupted run whose checkpoints all match this run (0 if any does not); their ids go into `labels`. */
function readCheckpoints(checkpoints: ExactSearchOptions["checkpoints"], labels: IntMatrix[], k: number): number {
  let done = Infinity;
  for (const c of checkpoints) {
    if (!isFresh(c.file, "faiss_nn-checkpoint", c.config, c.inputs)) return 0;
    const fd = fs.openSync(c.file, "r");
    try {
      const head = new Uint8Array(CHECKPOINT_HEADER);
      readFully(fd, head, 0, c.file);
      const rows = new DataView(head.buffer).getFloat64(4, true);
      if (String.fromCharCode(...head.subarray(0, 4)) !== "MRLQ" || fs.fstatSync(fd).size !== CHECKPOINT_HEADER + rows * k * 4) return 0;
      done = Math.min(done, rows);
    } finally {
      fs.closeSync(fd);
    }
  }
  checkpoints.forEach((c, i) => {
    const fd = fs.openSync(c.file, "r");
    try {
      const ids = labels[i].data.subarray(0, done * k);
      readFully(fd, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength), CHECKPOINT_HEADER, c.file);
    } finally {
      fs.closeSync(fd);
    }
  });
  return done === Infinity ? 0 : done;
}

/**
 * Adds the L2-normalized (faissNormalized) `dims`-prefix of every row of a .npy file to `index`, one block at a
 * time: the index holds the vectors, this side only one block. Returns the number of rows added. For flat
 * indexes: an HNSW index would get one add per block (another graph than the original's one add).
 */
export function addNpyToIndex(index: FaissIndex, file: string, dims: number, options: { blockRows?: number; normalize?: boolean; onRows?: (rows: number) => void } = {}): number {
  let added = 0;
  for (const block of npyRowBlocks(file, { dims, blockRows: options.blockRows })) {
    if (options.normalize !== false) faissNormalized(block.data, dims, file, block.data.data);
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
