/**
 * Stage 2 (faiss_nn): for each nesting dim d, take the first d dims of database and queries, L2-normalize
 * the rows, build (or reuse) a FAISS index and write the k-NN shortlist CSV under the original names.
 */
import { checkNonZeroPrefixes } from "../core/checks";
import { MrlError } from "../core/errors";
import { intMatrix, l2NormalizeRows, nestedNormalized, type IntMatrix, type Matrix } from "../core/matrix";
import { createProgress } from "../core/progress";
import type { IndexType } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact } from "../io/manifest";
import { indexPath, neighborsPath, type ArtifactSpec } from "../io/naming";
import { npyRowBlocks } from "../io/npyStream";
import { writeShortlist } from "../io/shortlists";
import { FaissIndex, type KnnResult } from "./faiss";

/** Builds an index of `indexType` over the normalized database prefix. */
export function buildIndex(indexType: IndexType, database: Matrix, label = "add", quiet = false): FaissIndex {
  const index = FaissIndex.create(indexType, database.cols);
  const progress = createProgress(label, database.rows, { quiet });
  index.add(database, (n) => progress.tick(n), 16384);
  progress.done();
  return index;
}

/** Searches k neighbours for every query with progress. */
export function searchIndex(index: FaissIndex, queries: Matrix, k: number, label = "search", quiet = false): KnnResult {
  const progress = createProgress(label, queries.rows, { quiet });
  // FAISS blocks exact search 4096 queries at a time: smaller batches mean more, smaller BLAS calls (slower);
  // larger ones only grow the native int64 label buffer (8 bytes x batch x k, <= 64 MiB here).
  const result = index.search(queries, k, (n) => progress.tick(n), Math.max(1, Math.min(4096, Math.floor(8_388_608 / k))));
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
}

export interface DimResult {
  dim: number;
  indexFile: string;
  neighborsFile: string;
  /** What happened: built a new index, reused a cached one, or skipped (shortlist already up to date). */
  action: "built" | "reused-index" | "skipped";
  buildSeconds: number;
  searchSeconds: number;
}

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
  }
  checkNonZeroPrefixes(database, options.nesting, files.databaseX);
  checkNonZeroPrefixes(queries, options.nesting, files.queriesX);
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
    const t0 = performance.now();
    let index: FaissIndex;
    let action: DimResult["action"];
    if (indexFresh) {
      index = FaissIndex.read(indexFile);
      if (index.dim !== dim || index.ntotal !== database.rows) {
        throw new MrlError(`cached index has ${index.ntotal} x ${index.dim}-d vectors, expected ${database.rows} x ${dim}; delete it or use force`, indexFile);
      }
      action = "reused-index";
    } else {
      index = buildIndex(spec.indexType, nestedNormalized(database, dim, files.databaseX), `${spec.indexType} ${dim}d add`, options.quiet);
      index.write(indexFile);
      recordArtifact(indexFile, "faiss_nn", indexConfig(dim), [files.databaseX]);
      action = "built";
    }
    const t1 = performance.now();
    if (options.efSearch !== undefined) index.setEfSearch(options.efSearch);
    const knn = searchIndex(index, nestedNormalized(queries, dim, files.queriesX), options.k, `${spec.indexType} ${dim}d search`, options.quiet);
    writeShortlist(neighborsFile, knnLabels(knn));
    recordArtifact(neighborsFile, "faiss_nn", searchConfig(dim), [indexFile, ...inputs]);
    results.push({ dim, indexFile, neighborsFile, action, buildSeconds: (t1 - t0) / 1000, searchSeconds: (performance.now() - t1) / 1000 });
  }
  return results;
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
