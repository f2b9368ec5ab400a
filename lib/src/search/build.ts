/**
 * FAISS indexes of stage 2: built over normalized prefixes (HNSW in one add, as the original; flat indexes in
 * blocks), searched with progress, and fed from a .npy file block by block. Every vector handed to FAISS is
 * normalized by FAISS's own fvec_renorm_L2 (faissNormalized), so it equals faiss.normalize_L2's.
 */
import { checkOneOf, MrlError } from "../core/errors";
import { intMatrix, type IntMatrix, type Matrix } from "../core/matrix";
import { gigabytes } from "../core/memory";
import { createProgress, progressNote } from "../core/progress";
import { INDEX_TYPES, type IndexType } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { npyRowBlocks } from "../io/npy";
import { allocateFloat32 } from "../kernels/native";
import { FaissIndex, faissNormalized, type KnnResult } from "./faiss";

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
