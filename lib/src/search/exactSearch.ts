/**
 * The nested exact search of stage 2 over a database in memory or in its file: the one chunk x block loop
 * (search/nested.ts: searchInChunks) within the memory plan (search/plan.ts), writing the exact index files in
 * FAISS's format during the first pass, and checkpointing finished query chunks so that an interrupted run resumes
 * at the first unfinished one. Checkpoints are the project's one format (io/checkpoint.ts): a header with the
 * fingerprint (stage, configuration, input files as they were), then the finished queries' int32 ids.
 */
import * as path from "node:path";
import { intMatrix, type IntMatrix } from "../core/matrix";
import { createProgress, progressNote } from "../core/progress";
import type { RetrievalArrays } from "../io/arrays";
import { checkpointPayloadBytes, matchCheckpoint, readCheckpointPayload, writeCheckpoint, type CheckpointKind } from "../io/checkpoint";
import { fileStamp, type FileStamp, type StageConfig } from "../io/manifest";
import { allocateFloat32, allocateInt32 } from "../kernels/native";
import { faissNormalized } from "./faiss";
import { FlatIndexWriter } from "./flatIndexFile";
import { matrixBlocks, rowNorms, searchInChunks, type BlockSource } from "./nested";
import { planExactSearch } from "./plan";

/** Where one dim's finished queries are saved, and what they must match to be resumed. */
export interface ExactCheckpoint { file: string; config: StageConfig; inputs: string[] }

export interface ExactSearchOptions {
  label: string;
  quiet?: boolean;
  force?: boolean;
  checkpointSeconds: number;
  onProgress?: (queriesDone: number, rowsDone: number) => void;
  /** Exact index files to write (normalized prefixes, FAISS's IndexFlatL2 format) during the first pass. */
  indexFiles: { dim: number; file: string }[];
  onIndexesWritten: () => void;
  maxChunkQueries?: number;
  /** Per dim (same order as dims). */
  checkpoints: ExactCheckpoint[];
  /** The database rows to search (a shard's range, read from the file alone); default all. */
  rows?: { start: number; end: number };
  /** Also return each dim's engine entries (NestedTopK.sortedEntries: what a shard keeps for the merge). */
  keepEntries?: boolean;
  /** Opens the writer of an index file (default: FlatIndexWriter of the whole index; a shard writes its part). */
  openIndexWriter?: (dim: number, file: string) => RowWriter;
}

/** Where the normalized rows of an index file go, block by block (FlatIndexWriter, a shard's part). */
export interface RowWriter { append(block: { data: Float32Array; rows: number; cols: number }): void; finish(): void; close(): void }

/** What an exact search checkpoint's ids depend on: the stage's configuration and its input files. */
interface ExactFingerprint { stage: "faiss_nn"; config: StageConfig; inputs: FileStamp[] }

const EXACT_CHECKPOINT: CheckpointKind<ExactFingerprint> = { format: "mrl-exact-partial/1", what: "exact search" };

function fingerprintOf(c: ExactCheckpoint): ExactFingerprint {
  const folder = path.dirname(path.resolve(c.file));
  return { stage: "faiss_nn", config: c.config, inputs: c.inputs.map((input) => fileStamp(input, folder)).filter((s): s is FileStamp => s !== undefined) };
}

const bytesOf = (ids: Int32Array): Uint8Array => new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);

function writeCheckpoints(checkpoints: ExactCheckpoint[], labels: IntMatrix[], queriesDone: number, k: number): void {
  checkpoints.forEach((c, i) => writeCheckpoint(c.file, EXACT_CHECKPOINT, fingerprintOf(c), [bytesOf(labels[i].data.subarray(0, queriesDone * k))]));
}

/**
 * Queries already done by an interrupted run whose checkpoints all match this run (0 if any does not, with the
 * reason when one was there); their ids go into `labels`.
 */
function readCheckpoints(checkpoints: ExactCheckpoint[], labels: IntMatrix[], k: number): { done: number; afresh?: string } {
  let done = Infinity;
  const matches: { payloadOffset: number }[] = [];
  for (const c of checkpoints) {
    const match = matchCheckpoint(c.file, EXACT_CHECKPOINT, fingerprintOf(c));
    if (!match) return { done: 0 };
    if (match.afresh !== undefined) return { done: 0, afresh: `${c.file}: ${match.afresh}` };
    const rows = checkpointPayloadBytes(c.file, match) / (k * 4);
    if (!Number.isInteger(rows) || rows > labels[0].rows) return { done: 0, afresh: `${c.file}: its payload is not whole rows of ${k} ids` };
    done = Math.min(done, rows);
    matches.push(match);
  }
  if (done === Infinity) return { done: 0 };
  checkpoints.forEach((c, i) => readCheckpointPayload(c.file, matches[i], bytesOf(labels[i].data.subarray(0, done * k))));
  return { done };
}

/**
 * The database's blocks: views when it is held in memory (with its prefix norms, for every pass), else reads from
 * its file, `passes` times over, the next block read ahead on a thread (BlockReader; readBlock for a float64 file).
 */
function databaseBlocks(arrays: RetrievalArrays, dims: number[], blockRows: number, hold: boolean, passes: number): BlockSource & { close(): void } {
  const { database } = arrays;
  if (hold) {
    const held = database.matrix();
    return { ...matrixBlocks(held, blockRows, rowNorms(held, dims)), close: () => undefined }; // every chunk passes over the same rows
  }
  const maxDim = Math.max(...dims);
  const reader = database.blockReader(blockRows, maxDim, passes);
  if (reader) return { rows: database.rows, blockRows, read: (start, end) => reader.read(start, end), close: () => reader.close() };
  const buffer = allocateFloat32(blockRows * maxDim);
  return { rows: database.rows, blockRows, read: (start, end) => database.readBlock(start, end, maxDim, buffer), close: () => undefined };
}

/**
 * Exact k-NN at every dim of `dims` with the nested engine: query chunk by query chunk, each a pass over the
 * database in blocks. Finished chunks are checkpointed (every checkpointSeconds), so an interrupted run resumes at
 * the first unfinished chunk; the index files are written during the first pass. Returns one (nq, k) id matrix per
 * dim (in `dims` order) and the queries taken from checkpoints.
 */
export function nestedExactSearch(arrays: RetrievalArrays, dims: number[], k: number, o: ExactSearchOptions):
  { labels: IntMatrix[]; resumedQueries: number; entries?: Uint32Array[] } {
  const { database, queries } = arrays;
  const { chunkQueries, blockRows, holdDatabase } = planExactSearch(arrays, dims, k, o.maxChunkQueries, o.rows !== undefined);
  const maxDim = Math.max(...dims), nq = queries.rows;
  const rows = o.rows ?? { start: 0, end: database.rows };
  const labels = dims.map(() => intMatrix(nq, k, allocateInt32(nq * k)));
  const entries = o.keepEntries ? dims.map(() => new Uint32Array(nq * k * 2)) : undefined;
  const openWriter = o.openIndexWriter ?? ((dim: number, file: string) => new FlatIndexWriter(file, dim, database.rows));
  const found = o.force ? { done: 0 } : readCheckpoints(o.checkpoints, labels, k);
  if (found.afresh) progressNote(`${o.label}: starting afresh, not resuming ${found.afresh}`, { quiet: o.quiet });
  const resumed = found.done;
  const source = databaseBlocks(arrays, dims, blockRows, holdDatabase, Math.ceil((nq - resumed) / chunkQueries));
  const normalized = o.indexFiles.length > 0 ? allocateFloat32(blockRows * maxDim) : undefined;
  const progress = createProgress(o.label, (nq - resumed) * (rows.end - rows.start), { quiet: o.quiet });
  let writers: { dim: number; writer: RowWriter }[] = [];
  let lastCheckpoint = performance.now();
  try {
    searchInChunks(queries, dims, k, source, {
      chunkQueries, firstQuery: resumed, rows,
      onBlock: (q0, q1, block, start, end) => {
        // the index files are written during the first pass only
        if (q0 === resumed && start === rows.start) writers = o.indexFiles.map((f) => ({ dim: f.dim, writer: openWriter(f.dim, f.file) }));
        for (const { dim, writer } of writers) writer.append(faissNormalized(block, dim, database.file, normalized));
        progress.tick((q1 - q0) * (end - start));
        o.onProgress?.(q0 - resumed, end - rows.start);
      },
      onChunk: (q0, q1, chunk, topk) => {
        for (const { writer } of writers) writer.finish();
        if (writers.length > 0) o.onIndexesWritten();
        writers = [];
        chunk.forEach((r, i) => labels[i].data.set(r.labels.data, q0 * k));
        if (entries) {
          const found = topk.sortedEntries(), per = (q1 - q0) * k * 2;
          entries.forEach((e, i) => e.set(found.subarray(i * per, (i + 1) * per), q0 * k * 2));
        }
        if (q1 < nq && performance.now() - lastCheckpoint >= o.checkpointSeconds * 1000) {
          writeCheckpoints(o.checkpoints, labels, q1, k);
          lastCheckpoint = performance.now();
        }
      },
    });
  } catch (err) {
    for (const { writer } of writers) writer.close();
    throw err;
  } finally {
    source.close();
  }
  progress.done();
  return { labels, resumedQueries: resumed, entries };
}
