/**
 * faiss_nn in shards: shard I searches its range of database rows (whole NESTED_TILE_ROWS tiles, read from the
 * file alone) at every nesting dim in one pass of the nested engine, and keeps each query's top k as the engine's
 * own entries (key, then the smaller id) with global ids; `mrl merge search` merges them per query and dim
 * (shard/merge.ts), finishes them as the engine does (the same distances and ids as one whole search), writes
 * the shortlists and, unless indexFiles is false, the exact index files concatenated from the shards' normalized
 * rows, and records them as an unsharded run does.
 */
import { MrlError } from "../core/errors";
import { intMatrix } from "../core/matrix";
import type { RetrievalArrays } from "../io/arrays";
import { recordArtifact } from "../io/manifest";
import { indexPath, neighborsPath, type ArtifactSpec } from "../io/naming";
import { writeShortlist } from "../io/shortlists";
import { allocateInt32 } from "../kernels/native";
import { nestedExactSearch } from "../search/exactSearch";
import { FlatIndexWriter } from "../search/flatIndexFile";
import { NESTED_CHUNK_STATE_BYTES, NESTED_TILE_QUERIES, NESTED_TILE_ROWS, NestedTopK, nestedStateBytes } from "../search/nested";
import { exactDimGroups } from "../search/plan";
import { checkSearchOptions, stagePlan, type IndexSearchOptions, type StagePlan } from "../search/stage";
import { mergeRefusal, readShardPayload, shardCountFound, shardFile, shardFingerprint, shardState, ShardRowsWriter, writeShardFile,
  type ShardFingerprint, type ShardProblem } from "./files";
import { mergeSortedEntries } from "./merge";
import { shardLabel, shardRange, type RowRange, type ShardPlan } from "./plan";

/** One dim's shard files: the entries, and the index part (normalized rows) when index files are kept. */
interface DimShard { dim: number; entries: string; entriesPrint: ShardFingerprint; index?: string; indexPrint?: ShardFingerprint }

/** What a shard run did: its files, and whether they were all up to date already. */
export interface ShardRun { files: string[]; upToDate: boolean }

/** The plan of a sharded search, or a one-line error when the index type or engine cannot be split by rows. */
function shardedPlan(spec: ArtifactSpec, arrays: RetrievalArrays, options: IndexSearchOptions): StagePlan {
  checkSearchOptions(arrays, options);
  const plan = stagePlan(spec, arrays, options);
  if (!plan.nested) {
    throw new MrlError(`--shard: search shards need exact search with the nested engine (--index exactl2, --exact-engine nested), not ` +
      `${spec.indexType === "exactl2" ? "--exact-engine faiss" : spec.indexType}: a FAISS index (an HNSW graph, IndexFlatL2 per dim) is built and ` +
      "searched whole, so shards of it would not merge into the unsharded run's ids");
  }
  return plan;
}

function dimShards(plan: StagePlan, s: ShardPlan, range: RowRange): DimShard[] {
  const { spec, arrays, options } = plan;
  const inputs = { database: arrays.files.databaseX, queries: arrays.files.queriesX };
  return options.nesting.map((dim) => {
    const original = neighborsPath(spec, dim, options.k), entries = shardFile(spec.root, "search", original, s);
    const config = { ...plan.searchConfig(dim), tileRows: NESTED_TILE_ROWS };
    const out: DimShard = { dim, entries, entriesPrint: shardFingerprint(entries, "search", original, config, inputs, s, range) };
    if (plan.writeIndex) {
      const indexOriginal = indexPath(spec, dim);
      out.index = shardFile(spec.root, "search", indexOriginal, s);
      out.indexPrint = shardFingerprint(out.index, "search", indexOriginal, plan.indexConfig(dim), { database: arrays.files.databaseX }, s, range);
    }
    return out;
  });
}

/** Shard `s`'s range of database rows: whole engine tiles, or a one-line error when there are fewer tiles than shards. */
function rowRange(arrays: RetrievalArrays, s: ShardPlan): RowRange {
  const range = shardRange(arrays.database.rows, s, NESTED_TILE_ROWS);
  if (range.end <= range.start) {
    const tiles = Math.ceil(arrays.database.rows / NESTED_TILE_ROWS);
    throw new MrlError(`--shard ${shardLabel(s)}: the database's ${arrays.database.rows} rows are ${tiles} tiles of ${NESTED_TILE_ROWS} rows, ` +
      `fewer than ${s.count} shards; expected N <= ${tiles}`, arrays.files.databaseX);
  }
  return range;
}

const bytesOf = (a: Uint32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Problems of the shard's files against what this run expects (none: the shard is done). */
function shardProblems(plan: StagePlan, s: ShardPlan, shards: DimShard[]): ShardProblem[] {
  const { arrays, options } = plan, nq = arrays.queries.rows, range = shards[0].entriesPrint.range;
  const problems: ShardProblem[] = [];
  for (const d of shards) {
    const st = shardState(d.entries, d.entriesPrint, nq * options.k * 8);
    if (st.reason) problems.push({ shard: s, reason: st.reason });
    if (d.index) {
      const ist = shardState(d.index, d.indexPrint!, (range.end - range.start) * d.dim * 4);
      if (ist.reason) problems.push({ shard: s, reason: `index part ${ist.reason}` });
    }
  }
  return problems;
}

/**
 * Searches shard `s` of the database at every nesting dim (one pass) and writes its shard files; a shard whose
 * files are all up to date is left as it is (force: redone).
 */
export function runSearchShard(spec: ArtifactSpec, arrays: RetrievalArrays, options: IndexSearchOptions, s: ShardPlan): ShardRun {
  const plan = shardedPlan(spec, arrays, options);
  const range = rowRange(arrays, s);
  const shards = dimShards(plan, s, range);
  const files = shards.flatMap((d) => (d.index ? [d.entries, d.index] : [d.entries]));
  if (!options.force && shardProblems(plan, s, shards).length === 0) return { files, upToDate: true };
  arrays.database.check(options.nesting, options.quiet, range);
  for (const group of exactDimGroups(arrays, options.nesting, options.k, options.maxChunkQueries)) {
    const todo = shards.filter((d) => group.includes(d.dim));
    const run = nestedExactSearch(arrays, group, options.k, {
      label: `${spec.indexType} shard ${shardLabel(s)} (rows ${range.start}..${range.end - 1})`, quiet: options.quiet, force: true,
      checkpointSeconds: Infinity, checkpoints: [], maxChunkQueries: options.maxChunkQueries, rows: range, keepEntries: true,
      indexFiles: todo.filter((d) => d.index).map((d) => ({ dim: d.dim, file: d.index! })),
      openIndexWriter: (dim) => new ShardRowsWriter(todo.find((d) => d.dim === dim)!.index!, todo.find((d) => d.dim === dim)!.indexPrint!),
      onIndexesWritten: () => {},
    });
    todo.forEach((d, i) => writeShardFile(d.entries, d.entriesPrint, [bytesOf(run.entries![i])]));
  }
  return { files, upToDate: false };
}

/** Rows of an index part read per step of the merge's copy. */
const COPY_BYTES = 64 * 2 ** 20;

/**
 * Merges the N shards of every nesting dim (N: `count`, else the shard files found) into the original
 * shortlists and (unless indexFiles is false) exact index files, recorded as an unsharded run records them.
 * Refuses in one line, naming every missing or stale shard and the commands that run only those again
 * (`rerun`: the shard runs' arguments besides --shard). Returns the files written.
 */
export function mergeSearchShards(spec: ArtifactSpec, arrays: RetrievalArrays, options: IndexSearchOptions, count: number | undefined, rerun: string[]): string[] {
  const plan = shardedPlan(spec, arrays, options);
  const { k, nesting } = options, nq = arrays.queries.rows;
  const n = shardCountFound(spec.root, "search", neighborsPath(spec, nesting[0], k), count);
  const plans = Array.from({ length: n }, (_, index) => ({ index, count: n }));
  const all = plans.map((s) => dimShards(plan, s, rowRange(arrays, s)));
  const problems = plans.flatMap((s, i) => shardProblems(plan, s, all[i]));
  if (problems.length > 0) throw mergeRefusal("search", problems, rerun);
  const written: string[] = [];
  if (plan.writeIndex) {
    for (const [d, dim] of nesting.entries()) {
      const file = indexPath(spec, dim), writer = new FlatIndexWriter(file, dim, arrays.database.rows);
      try {
        for (const shards of all) copyIndexPart(shards[d], writer);
        writer.finish();
      } catch (err) {
        writer.close();
        throw err;
      }
      recordArtifact(file, "faiss_nn", plan.indexConfig(dim), [arrays.files.databaseX]);
      written.push(file);
    }
  }
  for (const [d, dim] of nesting.entries()) {
    const runs = all.map((shards) => {
      const run = new Uint32Array(nq * k * 2);
      readShardPayload(shards[d].entries, shardState(shards[d].entries, shards[d].entriesPrint) as { payloadOffset: number }, bytesOf(run));
      return run;
    });
    const file = neighborsPath(spec, dim, k);
    writeShortlist(file, finishedLabels(arrays, dim, k, mergeSortedEntries(runs, nq, k)));
    recordArtifact(file, "faiss_nn", plan.searchConfig(dim), plan.inputs);
    written.push(file);
  }
  return written;
}

/** Appends a shard's index part (its normalized rows at one dim) to the whole index file, in steps. */
function copyIndexPart(d: DimShard, writer: FlatIndexWriter): void {
  const st = shardState(d.index!, d.indexPrint!) as { payloadOffset: number };
  const { start, end } = d.indexPrint!.range, step = Math.max(1, Math.floor(COPY_BYTES / (d.dim * 4)));
  const buffer = new Float32Array(Math.min(end - start, step) * d.dim);
  for (let r = 0; r < end - start; r += step) {
    const rows = Math.min(step, end - start - r), data = buffer.subarray(0, rows * d.dim);
    readShardPayload(d.index!, st, bytesOf(data), r * d.dim * 4);
    writer.append({ data, rows, cols: d.dim });
  }
}

/** The ids of merged entries as the engine finishes them (distances, then ids within equal distances), by query chunks. */
function finishedLabels(arrays: RetrievalArrays, dim: number, k: number, merged: Uint32Array) {
  const { queries } = arrays, nq = queries.rows;
  const chunk = Math.min(nq, Math.max(NESTED_TILE_QUERIES, Math.floor(NESTED_CHUNK_STATE_BYTES / nestedStateBytes(1, k) / NESTED_TILE_QUERIES) * NESTED_TILE_QUERIES));
  const rows = (q0: number, q1: number) => ({ rows: q1 - q0, cols: queries.cols, data: queries.data.subarray(q0 * queries.cols, q1 * queries.cols) });
  const topk = new NestedTopK(rows(0, chunk), [dim], k);
  const labels = intMatrix(nq, k, allocateInt32(nq * k));
  for (let q0 = 0; q0 < nq; q0 += chunk) {
    const q1 = Math.min(nq, q0 + chunk);
    topk.restart(rows(q0, q1));
    topk.load(merged.subarray(q0 * k * 2, q1 * k * 2));
    labels.data.set(topk.result()[0].labels.data, q0 * k);
  }
  return labels;
}
