/**
 * The memory planner of the nested exact search: how many queries to search together and how many database rows
 * per block so the search stays inside the memory budget, and which dims can share one pass.
 */
import { MrlError } from "../core/errors";
import { gigabytes } from "../core/memory";
import { MIN_BLOCK_ROWS, type RetrievalArrays } from "../io/arrays";
import { NESTED_TILE_QUERIES, nestedStateBytes } from "./nested";

/** Largest memory for the database blocks read from a file (two buffers, and a normalized prefix). */
const MAX_BLOCK_BYTES = 512 * 2 ** 20;
/**
 * Largest running state of a query chunk (the nested engine's top-k lists at every dim) when the database is held
 * in memory: smaller chunks cost only passes over memory. Read from its file, a pass costs a read of the whole
 * file, so the chunk takes what the budget leaves: the fewest passes.
 */
const MAX_HELD_STATE_BYTES = 256 * 2 ** 20;

/** Least room an out-of-core plan leaves for memory it does not count (measured: ~70 MB at a 0.5 GB budget). */
const UNPLANNED_BYTES = 128 * 2 ** 20;

/**
 * Bytes per row of database block when it is read from the file: two buffers of its maxDim-prefix (io/database.ts
 * BlockReader reads the next block while the engine computes on one) and the normalized prefix of the index files.
 */
export const blockBytesPerRow = (maxDim: number): number => 3 * maxDim * 4;

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
  // the query chunk first (fewer passes over the file), beside a smallest block; then the block takes what is left
  const perRow = blockBytesPerRow(maxDim);
  const leastBlock = hold ? 0 : Math.min(database.rows, MIN_BLOCK_ROWS) * perRow;
  const perQuery = nestedStateBytes(dims.length, k) + dims.length * k * 8; // state + its result
  // beyond the held database's cap, a chunk (and then the blocks) leave room for what the plan does not count (the
  // runtime's heap, shortlists loaded and written): a tenth of the budget, at least UNPLANNED_BYTES
  const unplanned = Math.max(UNPLANNED_BYTES, arrays.budgetBytes / 10);
  const stateBytes = Math.min(MAX_HELD_STATE_BYTES, spare - leastBlock);
  const limit = Math.min(maxChunkQueries, Math.floor((hold ? stateBytes : Math.max(stateBytes, spare - leastBlock - unplanned)) / perQuery));
  // whole engine tiles, so the shortlists do not depend on the budget
  const most = limit >= queries.rows ? queries.rows : Math.floor(limit / NESTED_TILE_QUERIES) * NESTED_TILE_QUERIES;
  // as many passes as that takes, with chunks as even as whole tiles allow: what they leave goes to the blocks
  if (most < 1) return undefined;
  const passes = Math.ceil(queries.rows / most);
  const chunkQueries = hold || passes === 1 ? most : Math.ceil(queries.rows / passes / NESTED_TILE_QUERIES) * NESTED_TILE_QUERIES;
  const left = hold ? 0 : Math.max(leastBlock, spare - chunkQueries * perQuery - unplanned);
  const blockRows = hold ? Math.min(database.rows, 16384)
    : Math.min(database.rows, Math.floor(Math.min(MAX_BLOCK_BYTES, left) / perRow / MIN_BLOCK_ROWS) * MIN_BLOCK_ROWS);
  if (blockRows < 1 || chunkQueries < 1) return undefined;
  return { chunkQueries, blockRows, holdDatabase: hold || database.loaded };
}

/** The plan for `dims` (the database held in memory when it fits beside the search), or a clear error. */
export function planExactSearch(arrays: RetrievalArrays, dims: number[], k: number, maxChunkQueries = Infinity, fromFile = false): ExactPlan {
  // a shard (fromFile) reads its own rows from the file, never the whole database
  const plan = (arrays.database.inMemory && !fromFile ? tryPlan(arrays, dims, k, true, maxChunkQueries) : undefined) ?? tryPlan(arrays, dims, k, false, maxChunkQueries);
  if (plan) return plan;
  const { database, queries } = arrays;
  const least = queries.data.byteLength + dims.length * queries.rows * k * 4 + MIN_BLOCK_ROWS * blockBytesPerRow(Math.max(...dims)) +
    (nestedStateBytes(dims.length, k) + dims.length * k * 8) * Math.min(queries.rows, NESTED_TILE_QUERIES);
  throw new MrlError(`memory budget ${gigabytes(arrays.budgetBytes, "down")} is too small for an exact search at ${dims.length === 1 ? `${dims[0]} dims` : `dims [${dims}]`}: ` +
    `the queries, their ${k}-NN shortlists, a ${MIN_BLOCK_ROWS}-row block and the search state need ${gigabytes(least, "up")}` +
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
