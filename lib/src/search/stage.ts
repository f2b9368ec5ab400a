/**
 * Stage 2 (faiss_nn): for each nesting dim d, take the first d dims of database and queries, L2-normalize
 * the rows, index them and write the k-NN shortlist under the original names. This module decides, per dim,
 * what is up to date (manifest.ts), who searches, and writes and records the shortlists; the work is elsewhere:
 *
 * - exact search runs every dim at once in the nested engine (search/exactSearch.ts over search/nested.ts: one
 *   sgemm pass at the largest dim, one candidate scan per dim), over database blocks, so it streams a database
 *   larger than memory, within the plan of search/plan.ts; the neighbours are the ones FAISS IndexFlatL2 finds
 *   (test/nested.test.ts checks every query against Python FAISS). The exact index files the original writes are
 *   still written, in FAISS's format, during the first pass. A run killed in the middle resumes from its last
 *   checkpoint (finished query chunks).
 * - HNSW indexes are built as the original builds them (search/build.ts): the whole normalized prefix in one FAISS
 *   add (the index itself must fit the budget). With exactEngine "faiss", exactl2 is searched that way too, by
 *   FAISS IndexFlatL2 per dim: the original's ids bit for bit, near-duplicates included. Every vector handed to
 *   FAISS is normalized by FAISS's own fvec_renorm_L2 (faissNormalized), so it equals faiss.normalize_L2's.
 */
import * as fs from "node:fs";
import { checkNonZeroPrefixes } from "../core/checks";
import { checkOneOf, MrlError } from "../core/errors";
import { EXACT_ENGINES, type ExactEngine } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact, type StageConfig } from "../io/manifest";
import { indexPath, neighborsPath, type ArtifactSpec } from "../io/naming";
import { writeShortlist } from "../io/shortlists";
import { buildFaissIndex, knnLabels, searchIndex } from "./build";
import { nestedExactSearch } from "./exactSearch";
import { FaissIndex, faissNormalized } from "./faiss";
import { exactDimGroups } from "./plan";

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

/** Seconds between checkpoints of an exact search (an interrupted run resumes from the last one). */
export const CHECKPOINT_SECONDS = 60;

/** What one run of the stage decides once: who searches, what each artifact depends on, which files it keeps. */
export interface StagePlan {
  spec: ArtifactSpec;
  arrays: RetrievalArrays;
  options: IndexSearchOptions;
  engine: ExactEngine;
  /** The nested engine searches (exactl2 with engine "nested"); FAISS everything else. */
  nested: boolean;
  /** Write exact index files (indexFiles: false concerns exact index files only). */
  writeIndex: boolean;
  keepsIndexFile: boolean;
  inputs: string[];
  indexConfig: (dim: number) => StageConfig;
  searchConfig: (dim: number) => StageConfig;
}

/** A dim whose shortlist the nested engine computes, with its files and whether its index file is up to date. */
interface ExactTodo { dim: number; indexFile: string; neighborsFile: string; indexFresh: boolean }

/** Checks k and the nesting dims against the arrays (errors name the file and the allowed range). */
export function checkSearchOptions(arrays: RetrievalArrays, options: IndexSearchOptions): void {
  const { database, files } = arrays;
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
}

export function stagePlan(spec: ArtifactSpec, arrays: RetrievalArrays, options: IndexSearchOptions): StagePlan {
  const engine = checkOneOf(options.exactEngine ?? "nested", EXACT_ENGINES, "exact engine");
  const nested = spec.indexType === "exactl2" && engine === "nested";
  const writeIndex = options.indexFiles !== false;
  // What each artifact depends on besides its input files; efSearch only changes HNSW results.
  return {
    spec, arrays, options, engine, nested, writeIndex, keepsIndexFile: writeIndex || spec.indexType !== "exactl2",
    inputs: [arrays.files.databaseX, arrays.files.queriesX],
    indexConfig: (dim) => ({ indexType: spec.indexType, dim }),
    searchConfig: (dim) => ({ indexType: spec.indexType, dim, k: options.k,
      efSearch: spec.indexType.startsWith("hnsw") ? options.efSearch ?? "default" : undefined,
      engine: spec.indexType === "exactl2" && !nested ? engine : undefined }),
  };
}

/**
 * Runs faiss_nn for every nesting dim. Index files are cached like the original; an index or shortlist whose
 * manifest entry matches the current configuration and inputs (see manifest.ts) is reused / left as it is.
 * Exact shortlists of all dims that need one are computed together, in one pass of the nested engine.
 * Everything is validated before the first file is written.
 */
export function runIndexSearch(spec: ArtifactSpec, arrays: RetrievalArrays, options: IndexSearchOptions): DimResult[] {
  checkSearchOptions(arrays, options);
  const plan = stagePlan(spec, arrays, options);
  if (plan.nested) exactDimGroups(arrays, options.nesting, options.k, options.maxChunkQueries); // the budget holds the search
  checkNonZeroPrefixes(arrays.queries, options.nesting, arrays.files.queriesX);
  arrays.database.check(options.nesting, options.quiet);
  const results: DimResult[] = [];
  const exactTodo: ExactTodo[] = [];
  for (const dim of options.nesting) {
    const indexFile = indexPath(spec, dim);
    const neighborsFile = neighborsPath(spec, dim, options.k);
    const indexFresh = !options.force && isFresh(indexFile, "faiss_nn", plan.indexConfig(dim), [arrays.files.databaseX]);
    if ((indexFresh || (spec.indexType === "exactl2" && !plan.writeIndex)) && !options.force &&
      isFresh(neighborsFile, "faiss_nn", plan.searchConfig(dim), shortlistInputs(plan, indexFile))) {
      results.push({ dim, indexFile, neighborsFile, action: "skipped", buildSeconds: 0, searchSeconds: 0 });
    } else if (plan.nested) exactTodo.push({ dim, indexFile, neighborsFile, indexFresh });
    else results.push(searchWithFaiss(plan, dim, indexFile, neighborsFile, indexFresh));
  }
  results.push(...searchExact(plan, exactTodo));
  return options.nesting.map((dim) => results.find((r) => r.dim === dim)!);
}

/** The files a shortlist is made from: the arrays, and the index file when FAISS searched one that is kept. */
const shortlistInputs = (plan: StagePlan, indexFile: string): string[] =>
  plan.nested || !plan.keepsIndexFile ? plan.inputs : [indexFile, ...plan.inputs];

/** One dim through FAISS: its index reused or built (and written), searched, the shortlist written and recorded. */
function searchWithFaiss(plan: StagePlan, dim: number, indexFile: string, neighborsFile: string, indexFresh: boolean): DimResult {
  const { spec, arrays, options } = plan;
  const { database, queries, files } = arrays;
  const label = `${spec.indexType} ${dim}d`;
  const queriesAtDim = faissNormalized(queries, dim, files.queriesX);
  const t0 = performance.now();
  let index: FaissIndex, action: DimResult["action"];
  if (indexFresh && plan.keepsIndexFile) {
    index = FaissIndex.read(indexFile);
    if (index.dim !== dim || index.ntotal !== database.rows) {
      throw new MrlError(`cached index has ${index.ntotal} x ${index.dim}-d vectors, expected ${database.rows} x ${dim}; delete it or use force`, indexFile);
    }
    action = "reused-index";
  } else {
    index = buildFaissIndex(spec.indexType, arrays, dim, `${label} add`, options.quiet);
    if (plan.keepsIndexFile) {
      index.write(indexFile);
      recordArtifact(indexFile, "faiss_nn", plan.indexConfig(dim), [files.databaseX]);
    }
    action = plan.keepsIndexFile ? "built" : "searched";
  }
  const buildSeconds = (performance.now() - t0) / 1000;
  if (options.efSearch !== undefined) index.setEfSearch(options.efSearch);
  const labels = knnLabels(searchIndex(index, queriesAtDim, options.k, `${label} search`, options.quiet));
  index.reset();
  writeShortlist(neighborsFile, labels);
  recordArtifact(neighborsFile, "faiss_nn", plan.searchConfig(dim), shortlistInputs(plan, indexFile));
  return { dim, indexFile, neighborsFile, action, buildSeconds, searchSeconds: (performance.now() - t0) / 1000 - buildSeconds };
}

/** The nested engine's dims, in groups that fit the budget: one checkpointed pass per group, shortlists written and recorded. */
function searchExact(plan: StagePlan, exactTodo: ExactTodo[]): DimResult[] {
  const { spec, arrays, options, inputs } = plan;
  const results: DimResult[] = [];
  for (const group of exactDimGroups(arrays, exactTodo.map((t) => t.dim), options.k, options.maxChunkQueries)) {
    const todo = exactTodo.filter((t) => group.includes(t.dim));
    const t0 = performance.now();
    const dims = todo.map((t) => t.dim);
    const newIndexes = plan.writeIndex ? todo.filter((t) => !t.indexFresh) : [];
    const run = nestedExactSearch(arrays, dims, options.k, {
      label: `${spec.indexType} ${dims.length === 1 ? `${dims[0]}d` : `${dims.length} dims ${dims[0]}..${dims[dims.length - 1]}`}`,
      quiet: options.quiet, force: options.force, checkpointSeconds: options.checkpointSeconds ?? CHECKPOINT_SECONDS, onProgress: options.onProgress,
      maxChunkQueries: options.maxChunkQueries,
      indexFiles: newIndexes.map((t) => ({ dim: t.dim, file: t.indexFile })),
      checkpoints: todo.map((t) => ({ file: `${t.neighborsFile}.partial`, config: plan.searchConfig(t.dim), inputs })),
      onIndexesWritten: () => { for (const t of newIndexes) recordArtifact(t.indexFile, "faiss_nn", plan.indexConfig(t.dim), [arrays.files.databaseX]); },
    });
    const seconds = (performance.now() - t0) / 1000;
    todo.forEach((t, i) => {
      writeShortlist(t.neighborsFile, run.labels[i]);
      recordArtifact(t.neighborsFile, "faiss_nn", plan.searchConfig(t.dim), inputs);
      fs.rmSync(`${t.neighborsFile}.partial`, { force: true });
      results.push({ dim: t.dim, indexFile: t.indexFile, neighborsFile: t.neighborsFile, action: !plan.writeIndex ? "searched" : t.indexFresh ? "reused-index" : "built",
        buildSeconds: 0, searchSeconds: seconds / todo.length, resumedQueries: run.resumedQueries || undefined });
    });
  }
  return results;
}
