/**
 * Stage 3 (reranking): adaptive retrieval (shortlist at D_r, rerank the first L candidates at D_s) and
 * funnel retrieval (repeated rerank + shrink). Pure functions over typed arrays, plus the stage runner.
 *
 * Normalization, compared with the original notebook: it L2-normalizes queries and database at 2048 once,
 * then at each step re-normalizes the candidates' D_s-prefix but not the query's. With unit candidates,
 * ||c - a*q||^2 = 1 + a^2|q|^2 - 2a c.q ranks candidates by c.q for any query scale a > 0, so normalizing the
 * query prefix too (as done here, making the distances true unit-sphere L2 distances) gives the same order.
 * Ties keep the earlier candidate first (stable sort); numpy's argsort is not stable, so exact ties may differ.
 */
import * as fs from "node:fs";
import { readShortlistCsv, writeShortlistCsv } from "./csv";
import { funnelPath, neighborsPath, rerankedPath, type ArtifactSpec, type RerankSpec } from "./naming";
import { createProgress } from "./progress";
import type { RetrievalArrays } from "./search";
import { check, MrlError } from "./errors";
import { intMatrix, type IntMatrix, type Matrix } from "./matrix";
import type { FunnelSpec } from "./naming";
import { isFresh, recordArtifact } from "./manifest";

/**
 * Reorders each query's first `shortlist` candidates by L2 distance between the unit-normalized `dim`-prefixes
 * of query and candidate. Returns nq x shortlist ids. Candidate ids must be valid database rows.
 */
export function rerank(database: Matrix, queries: Matrix, candidates: IntMatrix, dim: number, shortlist: number): IntMatrix {
  check(Number.isInteger(dim) && dim > 0 && dim <= database.cols, `rerank dim ${dim} is outside the database's 1..${database.cols} dims`);
  check(queries.cols === database.cols, `queries are ${queries.cols}-d, the database is ${database.cols}-d`);
  check(candidates.rows === queries.rows, `the shortlist has ${candidates.rows} rows for ${queries.rows} queries`);
  check(Number.isInteger(shortlist) && shortlist > 0, `shortlist must be a positive integer, got ${shortlist}`);
  check(shortlist <= candidates.cols, `cannot rerank ${shortlist} candidates: the shortlist has only ${candidates.cols} per query`);
  const out = new Int32Array(queries.rows * shortlist);
  const dist = new Float64Array(shortlist);
  const order = new Int32Array(shortlist);
  const n = database.rows, stride = database.cols;
  const db = database.data, q = queries.data, ids = candidates.data;
  for (let i = 0; i < queries.rows; i++) {
    const qo = i * stride;
    let qq = 0;
    for (let c = 0; c < dim; c++) qq += q[qo + c] * q[qo + c];
    const qInv = qq > 0 ? 1 / Math.sqrt(qq) : 0;
    const row = i * candidates.cols;
    for (let j = 0; j < shortlist; j++) {
      const id = ids[row + j];
      if (id < 0 || id >= n) throw new MrlError(`neighbour id ${id} (query ${i}, position ${j}) is outside the database's 0..${n - 1}`);
      const o = id * stride;
      let dot = 0, cc = 0;
      for (let c = 0; c < dim; c++) {
        const v = db[o + c];
        dot += v * q[qo + c];
        cc += v * v;
      }
      // squared distance between unit vectors: 2 - 2 cos
      dist[j] = cc > 0 ? 2 - 2 * dot * qInv / Math.sqrt(cc) : 4;
      order[j] = j;
    }
    order.sort((a, b) => dist[a] - dist[b] || a - b);
    const outRow = i * shortlist;
    for (let j = 0; j < shortlist; j++) out[outRow + j] = ids[row + order[j]];
  }
  return intMatrix(queries.rows, shortlist, out);
}

/** Funnel retrieval: rerank at dims[0] keeping shortlists[0], then dims[1] keeping shortlists[1], ... */
export function funnelRerank(database: Matrix, queries: Matrix, candidates: IntMatrix, funnel: Pick<FunnelSpec, "dims" | "shortlists">): IntMatrix {
  check(funnel.dims.length === funnel.shortlists.length && funnel.dims.length > 0,
    `funnel dims [${funnel.dims}] and shortlists [${funnel.shortlists}] must be non-empty lists of the same length`);
  let current = candidates;
  funnel.dims.forEach((dim, i) => {
    check(i === 0 || funnel.shortlists[i] < funnel.shortlists[i - 1], `funnel shortlists [${funnel.shortlists}] must be strictly decreasing`);
    current = rerank(database, queries, current, dim, funnel.shortlists[i]);
  });
  return current;
}

// ---- stage runner (IO at the edge) ------------------------------------------------------------------------


export interface RerankStageOptions {
  /** k of the k-NN shortlist files to start from. */
  k: number;
  adaptive: RerankSpec[];
  funnels: FunnelSpec[];
  force?: boolean;
  quiet?: boolean;
}

export interface RerankStageResult {
  file: string;
  kind: "adaptive" | "funnel";
  seconds: number;
  skipped: boolean;
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
 * Checks that a shortlist can feed a rerank of its first `needed` candidates: long enough, and no missing
 * neighbour (-1) among them, since a rerank cannot score a candidate that does not exist.
 */
export function checkCandidates(neighbors: IntMatrix, needed: number, file: string, what: string): IntMatrix {
  if (neighbors.cols < needed) {
    throw new MrlError(`has ${neighbors.cols} neighbours per query; expected at least ${needed} for ${what}`, file);
  }
  for (let r = 0; r < neighbors.rows; r++) {
    const row = neighbors.data.subarray(r * neighbors.cols, r * neighbors.cols + needed);
    const j = row.indexOf(-1);
    if (j >= 0) {
      throw new MrlError(`line ${r + 1} has a missing neighbour (-1) at position ${j + 1}; expected ${needed} real candidates for ${what} ` +
        "(FAISS returns -1 when it finds fewer than k neighbours: raise efSearch or use exactl2)", file);
    }
  }
  return neighbors;
}

/** Reads a shortlist CSV and checks it against the arrays; `missingHint` says which stage makes the file. */
export function loadShortlist(file: string, arrays: RetrievalArrays, missingHint: string): IntMatrix {
  if (!fs.existsSync(file)) throw new MrlError(`shortlist not found; ${missingHint}`, file);
  return checkShortlist(readShortlistCsv(file), arrays.queries.rows, arrays.database.rows, file);
}

/**
 * Adaptive and funnel retrieval from the D_r shortlist files written by faiss_nn; writes the reranked
 * shortlists, skipping those whose manifest entry matches (see manifest.ts) unless `force`.
 */
export function runRerankStage(spec: ArtifactSpec, arrays: RetrievalArrays, options: RerankStageOptions): RerankStageResult[] {
  const cache = new Map<number, IntMatrix>();
  const shortlistAt = (dim: number): { file: string; load: () => IntMatrix } => {
    const file = neighborsPath(spec, dim, options.k);
    return {
      file,
      load: () => {
        if (!cache.has(dim)) cache.set(dim, loadShortlist(file, arrays, `run the faiss_nn stage for dim ${dim} with k=${options.k} first`));
        return cache.get(dim)!;
      },
    };
  };
  const jobs = [
    ...options.adaptive.map((a) => ({ kind: "adaptive" as const, retrievalDim: a.retrievalDim, out: rerankedPath(spec, a),
      config: { k: options.k, ...a }, needed: a.shortlist,
      run: (c: IntMatrix) => rerank(arrays.database, arrays.queries, c, a.rerankDim, a.shortlist),
      label: `rerank ${a.retrievalDim}->${a.rerankDim} @${a.shortlist}` })),
    ...options.funnels.map((f) => ({ kind: "funnel" as const, retrievalDim: f.retrievalDim, out: funnelPath(spec, f),
      config: { k: options.k, ...f }, needed: f.shortlists[0],
      run: (c: IntMatrix) => funnelRerank(arrays.database, arrays.queries, c, f),
      label: `funnel ${f.retrievalDim}->[${f.dims}] @[${f.shortlists}]` })),
  ];
  const progress = createProgress("rerank/funnel", jobs.length, { quiet: options.quiet, intervalSeconds: 0 });
  const results: RerankStageResult[] = [];
  for (const job of jobs) {
    const input = shortlistAt(job.retrievalDim);
    const inputs = [input.file, arrays.files.databaseX, arrays.files.queriesX];
    if (!options.force && isFresh(job.out, job.kind, job.config, inputs)) {
      results.push({ file: job.out, kind: job.kind, seconds: 0, skipped: true });
    } else {
      const candidates = checkCandidates(input.load(), job.needed, input.file, job.label);
      const t0 = performance.now();
      const reranked = job.run(candidates);
      const seconds = (performance.now() - t0) / 1000;
      writeShortlistCsv(job.out, reranked);
      recordArtifact(job.out, job.kind, job.config, inputs);
      results.push({ file: job.out, kind: job.kind, seconds, skipped: false });
    }
    progress.tick();
  }
  progress.done();
  return results;
}
