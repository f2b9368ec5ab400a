/**
 * Shortlist files (k-NN neighbour ids, one row per query) in either format, chosen by extension: `.csv`
 * (headerless, as pandas' to_csv writes it) or `.npy` (binary int32, np.load-able; int64 files from Python
 * are read too), and the checks every stage runs on a shortlist before using it.
 */
import * as fs from "node:fs";
import { MrlError } from "../core/errors";
import type { IntMatrix } from "../core/matrix";
import type { RetrievalArrays } from "./arrays";
import { readShortlistCsv, writeShortlistCsv } from "./csv";
import { readShortlistNpy, writeShortlistNpy } from "./npy";

const isNpy = (file: string): boolean => file.toLowerCase().endsWith(".npy");

/** Writes neighbour ids atomically as .npy (int32) or CSV, by the file's extension. */
export function writeShortlist(file: string, m: IntMatrix): void {
  if (isNpy(file)) writeShortlistNpy(file, m);
  else writeShortlistCsv(file, m);
}

/**
 * Reads a .npy or CSV shortlist, by the file's extension. `columns`: the first neighbours only are needed (a CSV
 * then parses only those; a .npy is read whole, which costs little).
 */
export function readShortlist(file: string, options: { columns?: number } = {}): IntMatrix {
  return isNpy(file) ? readShortlistNpy(file) : readShortlistCsv(file, options);
}

/**
 * Checks a loaded shortlist: one row per query and ids inside the database. -1 is accepted: FAISS writes it
 * when it found fewer than k neighbours, and metrics count it as a miss; reranking refuses it (see
 * checkCandidates). Any other negative id is an error.
 */
export function checkShortlist(neighbors: IntMatrix, queries: number, databaseRows: number, file: string): IntMatrix {
  if (neighbors.rows !== queries) throw new MrlError(`has ${neighbors.rows} rows, expected one per query (${queries})`, file);
  const ids = neighbors.data;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < -1 || ids[i] >= databaseRows) {
      throw new MrlError(`neighbour id ${ids[i]} at line ${Math.floor(i / neighbors.cols) + 1} is outside the database's 0..${databaseRows - 1} ` +
        "(or -1 for a missing neighbour)", file);
    }
  }
  return neighbors;
}

/**
 * Checks that a shortlist can feed a rerank of its first `needed` candidates: long enough. A missing neighbour
 * (-1: FAISS HNSW finds fewer than k) is allowed: the rerank skips it and the metrics count it as a miss.
 */
export function checkCandidates(neighbors: IntMatrix, needed: number, file: string, what: string): IntMatrix {
  if (neighbors.cols < needed) {
    throw new MrlError(`has ${neighbors.cols} neighbours per query; expected at least ${needed} for ${what}`, file);
  }
  return neighbors;
}

/**
 * Reads a shortlist (CSV or .npy) and checks it against the arrays; `missingHint` says which stage makes the
 * file; `columns` as in readShortlist.
 */
export function loadShortlist(file: string, arrays: RetrievalArrays, missingHint: string, options: { columns?: number } = {}): IntMatrix {
  return readCheckedShortlist(file, arrays.queries.rows, arrays.database.rows, missingHint, options);
}

/** loadShortlist for callers that know only the counts (e.g. from the label arrays). */
export function readCheckedShortlist(file: string, queries: number, databaseRows: number, missingHint: string,
  options: { columns?: number } = {}): IntMatrix {
  if (!fs.existsSync(file)) throw new MrlError(`shortlist not found; ${missingHint}`, file);
  return checkShortlist(readShortlist(file, options), queries, databaseRows, file);
}
