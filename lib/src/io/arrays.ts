/**
 * The arrays a retrieval experiment reads: database and query embeddings with their labels, located by the
 * original names, loaded into shared memory and checked against each other before any stage writes.
 */
import * as fs from "node:fs";
import { checkFinite } from "../core/checks";
import { MrlError } from "../core/errors";
import type { Matrix } from "../core/matrix";
import type { ModelKind } from "../experiment/types";
import { arrayFiles } from "./naming";
import { readLabelsNpy } from "./npy";
import { readMatrixPrefixNpy } from "./npyStream";

/** Database and query embeddings with labels, checked against each other. */
export interface RetrievalArrays {
  database: Matrix;
  queries: Matrix;
  databaseLabels: Int32Array;
  queryLabels: Int32Array;
  files: { databaseX: string; queriesX: string; databaseY?: string; queriesY?: string };
}

// Arrays already loaded in this process, by file identity: a notebook re-running its cells, or the stage loop
// after a notebook cell, gets the same arrays instead of a second copy. Weak, so unused arrays can be freed.
const loaded = new Map<string, WeakRef<RetrievalArrays>>();

const identity = (files: Record<string, string>): string => JSON.stringify(Object.values(files).map((f) => {
  const st = fs.statSync(f);
  return [f, st.ino, st.size, st.mtimeMs];
}));

/**
 * Loads `<DATASET>_{train,val}_<config>-{X,y}.npy` and checks that rows and dims agree and that every value
 * is finite. Files unchanged since an earlier call in this process give the arrays already loaded (treat them
 * as read-only).
 */
export function loadRetrievalArrays(root: string, dataset: string, model: ModelKind): RetrievalArrays {
  const files = arrayFiles(root, dataset, model);
  for (const file of Object.values(files)) {
    if (!fs.existsSync(file)) {
      throw new MrlError("file not found; expected the embeddings of the inference stage (notebooks/inference.ipynb or " +
        "`npm run mrl -- infer`) or arrays from the Python originals under this name", file);
    }
  }
  const key = identity(files);
  const cached = loaded.get(key)?.deref();
  if (cached) return cached;
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
  const arrays = { database, queries, databaseLabels, queryLabels, files };
  loaded.set(key, new WeakRef(arrays));
  return arrays;
}

