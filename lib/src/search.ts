/**
 * Stage 2 (faiss_nn): for each nesting dim d, take the first d dims of database and queries, L2-normalize
 * the rows, build (or reuse) a FAISS index and write the k-NN shortlist CSV under the original names.
 */
import * as fs from "node:fs";
import { MrlError } from "./errors";
import { FaissIndex, type KnnResult } from "./faiss";
import { intMatrix, l2NormalizeRows, prefixColumns, type IntMatrix, type Matrix } from "./matrix";
import { arrayPath, indexPath, neighborsPath, type ArtifactSpec, type IndexType } from "./naming";
import { readLabelsNpy } from "./npy";
import { readMatrixPrefixNpy } from "./npystream";
import { createProgress } from "./progress";
import { writeShortlist } from "./shortlist";
import { isFresh, recordArtifact } from "./manifest";
import { checkFinite, checkNonZeroPrefixes } from "./validate";

/** Database and query embeddings with labels, checked against each other. */
export interface RetrievalArrays {
  database: Matrix;
  queries: Matrix;
  databaseLabels: Int32Array;
  queryLabels: Int32Array;
  files: { databaseX: string; queriesX: string; databaseY?: string; queriesY?: string };
}

/**
 * Loads `<DATASET>_{train,val}_<config>-{X,y}.npy` and checks that rows and dims agree and that every value
 * is finite.
 */
export function loadRetrievalArrays(root: string, dataset: string, model: ArtifactSpec["model"]): RetrievalArrays {
  const files = {
    databaseX: arrayPath(root, dataset, "train", model, "X"), databaseY: arrayPath(root, dataset, "train", model, "y"),
    queriesX: arrayPath(root, dataset, "val", model, "X"), queriesY: arrayPath(root, dataset, "val", model, "y"),
  };
  for (const file of Object.values(files)) {
    if (!fs.existsSync(file)) {
      throw new MrlError("file not found; expected the embeddings of the inference stage (notebooks/inference.ipynb or " +
        "`npm run mrl -- infer`) or arrays from the Python originals under this name", file);
    }
  }
  // Shared memory, so reranking's SIMD kernel and worker threads read the same arrays without a copy.
  const database = readMatrixPrefixNpy(files.databaseX, { shared: true });
  const queries = readMatrixPrefixNpy(files.queriesX, { shared: true });
  const databaseLabels = readLabelsNpy(files.databaseY);
  const queryLabels = readLabelsNpy(files.queriesY);
  if (databaseLabels.length !== database.rows) {
    throw new MrlError(`has ${databaseLabels.length} labels but ${files.databaseX} has ${database.rows} rows; expected one label per row`, files.databaseY);
  }
  if (queryLabels.length !== queries.rows) {
    throw new MrlError(`has ${queryLabels.length} labels but ${files.queriesX} has ${queries.rows} rows; expected one label per row`, files.queriesY);
  }
  if (queries.cols !== database.cols) {
    throw new MrlError(`queries are ${queries.cols}-d but the database ${files.databaseX} is ${database.cols}-d; expected the same dims ` +
      "(both embedded by the same model)", files.queriesX);
  }
  checkFinite(database, files.databaseX);
  checkFinite(queries, files.queriesX);
  return { database, queries, databaseLabels, queryLabels, files };
}

/** The first `dim` columns, unit-normalized per row (faiss.normalize_L2 on the nested representation). */
export function nestedNormalized(m: Matrix, dim: number, file?: string): Matrix {
  return l2NormalizeRows(prefixColumns(m, dim, file), file);
}

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

/** The I array of a search as an IntMatrix. */
export function knnLabels(knn: KnnResult): IntMatrix {
  return intMatrix(knn.nq, knn.k, knn.labels);
}
