/**
 * The arrays a retrieval experiment reads: database and query embeddings with their labels, located by the
 * original names, checked against each other before any stage writes. Queries and labels are loaded; the
 * database is loaded (on first use) only when it fits the memory budget, else read from its file in blocks.
 */
import * as fs from "node:fs";
import { checkFinite } from "../core/checks";
import { MrlError } from "../core/errors";
import type { Matrix } from "../core/matrix";
import { gigabytes, memoryBudgetBytes } from "../core/memory";
import type { ModelKind } from "../experiment/types";
import { DatabaseVectors } from "./database";
import { arrayFiles } from "./naming";
import { readLabelsNpy } from "./npy";
import { npyShape, readMatrixPrefixNpy } from "./npy";

/** Database and query embeddings with labels, checked against each other. */
export interface RetrievalArrays {
  database: DatabaseVectors;
  queries: Matrix;
  databaseLabels: Int32Array;
  queryLabels: Int32Array;
  files: { databaseX: string; queriesX: string; databaseY: string; queriesY: string };
  /** The memory budget (bytes) the stages keep to. */
  budgetBytes: number;
}

/** Rows of the smallest database block a stage works on; a budget must hold one (see workingBytes). */
export const MIN_BLOCK_ROWS = 1024;

/**
 * What a stage needs besides the database: the queries, and one minimal database block three times over
 * (read, normalized, FAISS's copy).
 */
export function workingBytes(queryBytes: number, cols: number): number {
  return queryBytes + 3 * MIN_BLOCK_ROWS * cols * 4 + 64 * 2 ** 20;
}

export interface LoadOptions {
  /** Memory budget in GB (default: memoryBudgetBytes()). */
  memoryGb?: number;
  /** The size of the `ff` baseline to load (its arrays are one per size). */
  dim?: number;
}

// Arrays already loaded in this process, by file identity and budget: a notebook re-running its cells, or the
// stage loop after a notebook cell, gets the same arrays instead of a second copy. Weak, so unused arrays can be freed.
const loaded = new Map<string, WeakRef<RetrievalArrays>>();

const identity = (files: Record<string, string>, budget: number): string => JSON.stringify([budget, ...Object.values(files).map((f) => {
  const st = fs.statSync(f);
  return [f, st.ino, st.size, st.mtimeMs];
})]);

/**
 * Finds `<DATASET>_{train,val}_<config>-{X,y}.npy` (V2's queries search 1K's database), checks that rows and
 * dims agree, that every query value is finite and that the budget holds the queries and one database block,
 * and decides whether the database is held in memory. Files unchanged since an earlier call in this process
 * give the arrays already loaded (treat them as read-only).
 */
export function loadRetrievalArrays(root: string, dataset: string, model: ModelKind, options: LoadOptions = {}): RetrievalArrays {
  const files = arrayFiles(root, dataset, model, options.dim);
  for (const file of Object.values(files)) {
    if (!fs.existsSync(file)) {
      throw new MrlError("file not found; expected the embeddings of the inference stage (notebooks/inference.ipynb or " +
        "`npm run mrl -- infer`) or arrays from the Python originals under this name", file);
    }
    if (fs.statSync(file).isDirectory()) throw new MrlError("is a directory; expected a .npy array", file);
  }
  const budgetBytes = memoryBudgetBytes(options.memoryGb);
  const key = identity(files, budgetBytes);
  const cached = loaded.get(key)?.deref();
  if (cached) return cached;
  const db = npyShape(files.databaseX), q = npyShape(files.queriesX);
  const databaseLabels = readLabelsNpy(files.databaseY);
  const queryLabels = readLabelsNpy(files.queriesY);
  if (databaseLabels.length !== db.rows) {
    throw new MrlError(`has ${databaseLabels.length} labels but ${files.databaseX} has ${db.rows} rows; expected one label per row`, files.databaseY);
  }
  if (queryLabels.length !== q.rows) {
    throw new MrlError(`has ${queryLabels.length} labels but ${files.queriesX} has ${q.rows} rows; expected one label per row`, files.queriesY);
  }
  if (q.rows === 0) throw new MrlError("has no rows; expected at least one query to search for", files.queriesX);
  if (db.rows === 0) throw new MrlError("has no rows; expected a database to search", files.databaseX);
  if (q.cols !== db.cols) {
    throw new MrlError(`queries are ${q.cols}-d but the database ${files.databaseX} is ${db.cols}-d; expected the same dims ` +
      "(both embedded by the same model)", files.queriesX);
  }
  const queryBytes = q.rows * q.cols * 4, needed = workingBytes(queryBytes, db.cols);
  if (needed > budgetBytes) {
    throw new MrlError(`memory budget ${gigabytes(budgetBytes, "down")} is smaller than one block: the queries (${gigabytes(queryBytes)}) and a ` +
      `${MIN_BLOCK_ROWS}-row database block need ${gigabytes(needed, "up")}; raise --memory-gb (or MRL_MEMORY_GB)`, files.databaseX);
  }
  const queries = checkFinite(readMatrixPrefixNpy(files.queriesX), files.queriesX);
  const inMemory = db.rows * db.cols * 4 + needed <= budgetBytes;
  if (!["f4", "f8"].includes(db.dtype)) throw new MrlError(`expected float32 vectors, got dtype ${db.dtype}`, files.databaseX);
  if (!inMemory && db.dtype !== "f4") {
    throw new MrlError(`is float64 and over the memory budget; reading rows from the file needs float32 (np.save(file, x.astype(np.float32)))`, files.databaseX);
  }
  const database = new DatabaseVectors(files.databaseX, db.rows, db.cols, inMemory);
  const arrays = { database, queries, databaseLabels, queryLabels, files, budgetBytes };
  loaded.set(key, new WeakRef(arrays));
  return arrays;
}

/** The label arrays of a model, and where they are. */
export interface RetrievalLabels {
  databaseLabels: Int32Array;
  queryLabels: Int32Array;
  files: { databaseY: string; queriesY: string };
}

/** The labels alone (compute_metrics needs nothing else): no embeddings are read. */
export function loadRetrievalLabels(root: string, dataset: string, model: ModelKind, dim?: number): RetrievalLabels {
  const { databaseY, queriesY } = arrayFiles(root, dataset, model, dim);
  const queryLabels = readLabelsNpy(queriesY);
  if (queryLabels.length === 0) throw new MrlError("has no labels; expected one per query (an empty query set has nothing to evaluate)", queriesY);
  return { databaseLabels: readLabelsNpy(databaseY), queryLabels, files: { databaseY, queriesY } };
}
