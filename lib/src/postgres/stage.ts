/**
 * Serving from Postgres + pgvector as a stage of the pipeline: for each nested model and `pgvector-*` index type of
 * an experiment, load the database (load.ts), build the first-stage index at each of its dims, and run every query
 * as one SQL statement (sql.ts): the first stage's shortlist at each dim (k ids), every adaptive configuration and
 * every funnel. The files get the originals' formats and names under the index type's name, recorded in the
 * manifest like faiss_nn's and the rerank stage's, so `mrl metrics`, the report and the figures take them as they
 * take FAISS's; the speed of each (QPS over all queries, p50 / p95 of one statement) goes to timingsPath.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { intMatrix, type IntMatrix, type Matrix } from "../core/matrix";
import { createProgress } from "../core/progress";
import { experimentSpec, searchedDims, type Experiment } from "../experiment/experiment";
import { rerankLabel } from "../experiment/labels";
import { isPgvectorIndexType, parsePgvectorIndexType, type PgvectorIndex, type PgvectorIndexType } from "../experiment/types";
import type { RetrievalArrays } from "../io/arrays";
import { isFresh, recordArtifact, type StageConfig } from "../io/manifest";
import { databaseDataset, funnelPath, isPerSizeModel, neighborsPath, pgliteDataDir, rerankedPath, timingsPath, type ArtifactSpec } from "../io/naming";
import { writeShortlist } from "../io/shortlists";
import type { ServingTimes } from "../metrics/evaluate";
import { percentile, queriesPerSecond } from "../metrics/ranking";
import { openSqlClient, type SqlClient } from "./client";
import { ensureIndex, loadDatabase, servedTable, type LoadResult } from "./load";
import {
  adaptiveSql, createIndexSql, firstStageSql, funnelSql, indexName, PGVECTOR_INDEX_MAX_DIMS, RESET_SETTINGS_SQL, searchSettingsSql,
  vectorLiteral, type ServedTable,
} from "./sql";

/** The steps of `mrl postgres`: load the database, search (first-stage shortlists), rerank (adaptive and funnels). */
export const POSTGRES_STEPS = ["load", "search", "rerank"] as const;
export type PostgresStep = (typeof POSTGRES_STEPS)[number];

export interface PostgresOptions {
  /** Default: all three. "search" and "rerank" load first (a no-op when the table is up to date). */
  steps?: PostgresStep[];
  force?: boolean;
  quiet?: boolean;
  /** Queries per progress step (default 500). */
  batchQueries?: number;
  /** The experiment's arrays of a model (experiment/run.ts passes experimentArrays). */
  arraysOf: (model: string) => RetrievalArrays;
}

/** One shortlist file written or found up to date, with its speed when it was run. */
export interface ServedFile { file: string; kind: "first-stage" | "adaptive" | "funnel"; label: string; skipped: boolean; times?: ServingTimes }

export interface PostgresRun {
  model: string;
  indexType: PgvectorIndexType;
  spec: ArtifactSpec;
  load?: LoadResult;
  /** Index builds per dim, seconds (0: reused or none). */
  indexSeconds: Record<number, number>;
  files: ServedFile[];
}

/** One retrieval's statement and where its ids go. */
interface Job { kind: ServedFile["kind"]; label: string; file: string; sql: string; width: number; dim: number; config: StageConfig }

/** The statements of one index type: the first stage at each dim, then every adaptive and funnel configuration. */
function jobsOf(e: Experiment, spec: ArtifactSpec, t: ServedTable, base: StageConfig, steps: PostgresStep[]): Job[] {
  const jobs: Job[] = [];
  if (steps.includes("search")) {
    for (const dim of searchedDims(e, spec.indexType)) {
      jobs.push({ kind: "first-stage", label: `${spec.indexType} ${dim}d`, file: neighborsPath(spec, dim, e.k), sql: firstStageSql(t, dim, e.k),
        width: e.k, dim, config: { ...base, dim, k: e.k } });
    }
  }
  if (steps.includes("rerank")) {
    for (const a of e.adaptive) {
      jobs.push({ kind: "adaptive", label: rerankLabel(a), file: rerankedPath(spec, a), sql: adaptiveSql(t, a), width: a.shortlist,
        dim: a.retrievalDim, config: { ...base, ...a } });
    }
    for (const f of e.funnels) {
      jobs.push({ kind: "funnel", label: rerankLabel(f), file: funnelPath(spec, f), sql: funnelSql(t, f), width: f.shortlists[f.shortlists.length - 1],
        dim: f.retrievalDim, config: { ...base, ...f } });
    }
  }
  return jobs;
}

/** Everything a served file depends on besides its inputs: the index, its parameters and where it ran. */
function servingConfig(e: Experiment, index: PgvectorIndex): StageConfig {
  const p = e.postgres ?? {};
  return {
    engine: "pgvector", index, halfvec: p.halfvec ?? false, server: p.databaseUrl ? "databaseUrl" : "pglite",
    efConstruction: index.kind === "hnsw" ? p.efConstruction ?? 64 : undefined, efSearch: index.kind === "hnsw" ? p.efSearch ?? 40 : undefined,
    probes: index.kind === "ivfflat" ? p.probes ?? 1 : undefined,
  };
}

/**
 * Checks what the server would refuse later, before anything is written: first-stage dims within the arrays and,
 * for an index, within pgvector's limit (2,000 dims of vector, 4,000 of halfvec).
 */
export function checkPostgresSettings(e: Experiment, cols: number): void {
  const type = e.postgres?.halfvec ? "halfvec" : "vector";
  for (const indexType of e.indexTypes.filter(isPgvectorIndexType)) {
    const index = parsePgvectorIndexType(indexType)!;
    const setting = e.postgres?.dims ? "postgres.dims" : "postgres.dims (default: the adaptive and funnel retrieval dims)";
    for (const dim of searchedDims(e, indexType)) {
      if (dim > cols) throw new MrlError(`${setting} has dim ${dim}, larger than the arrays' ${cols} dims; expected dims up to ${cols}`);
      if (index.kind !== "exact" && dim > PGVECTOR_INDEX_MAX_DIMS[type]) createIndexSql({ table: "t", type }, dim, index, 64, setting); // throws
    }
  }
}

/**
 * `mrl postgres`: every nested model x `pgvector-*` index type of the experiment, through PGlite in process (data
 * under <root>/postgres) or the server at `postgres.databaseUrl`. Files already up to date are left as they are.
 */
export async function servePostgres(e: Experiment, options: PostgresOptions): Promise<PostgresRun[]> {
  const steps = options.steps ?? [...POSTGRES_STEPS];
  const indexTypes = e.indexTypes.filter(isPgvectorIndexType);
  if (indexTypes.length === 0) {
    throw new MrlError(`field "indexTypes" has no pgvector index type; expected one of pgvector-exact, pgvector-hnsw<m>, pgvector-ivf<lists> (e.g. --index pgvector-hnsw16)`);
  }
  const models = e.models.filter((m) => !isPerSizeModel(m));
  const runs: PostgresRun[] = [];
  let client: SqlClient | undefined;
  try {
    for (const model of models) {
      const arrays = options.arraysOf(model);
      checkPostgresSettings(e, arrays.database.cols);
      const t = servedTable(databaseDataset(e.dataset), model, e.postgres?.halfvec ? "halfvec" : "vector");
      let load: LoadResult | undefined;
      for (const indexType of indexTypes) {
        const spec = experimentSpec(e, model, indexType);
        const index = parsePgvectorIndexType(indexType)!;
        const base = servingConfig(e, index);
        const inputs = [arrays.files.databaseX, arrays.files.databaseY, arrays.files.queriesX];
        const jobs = jobsOf(e, spec, t, base, steps);
        const todo = jobs.filter((j) => options.force || !isFresh(j.file, "pgvector", j.config, inputs));
        const run: PostgresRun = { model, indexType, spec, indexSeconds: {}, files: [] };
        runs.push(run);
        if (todo.length === 0 && !steps.includes("load")) {
          run.files = jobs.map((j) => ({ file: j.file, kind: j.kind, label: j.label, skipped: true }));
          continue;
        }
        client ??= await openSqlClient({ databaseUrl: e.postgres?.databaseUrl, dataDir: pgliteDataDir(e.root) });
        load ??= await loadDatabase(client, t, arrays, { batchRows: e.postgres?.batchRows, force: options.force, quiet: options.quiet });
        run.load = load;
        run.files = await serveJobs(client, e, run, t, index, jobs, todo, arrays, inputs, options);
      }
    }
  } finally {
    await client?.close();
  }
  return runs;
}

/** Builds the indexes the jobs need, runs the jobs that are not up to date, writes and records their files and times. */
async function serveJobs(client: SqlClient, e: Experiment, run: PostgresRun, t: ServedTable, index: PgvectorIndex, jobs: Job[], todo: Job[],
  arrays: RetrievalArrays, inputs: string[], options: PostgresOptions): Promise<ServedFile[]> {
  const efConstruction = e.postgres?.efConstruction ?? 64;
  for (const dim of [...new Set(todo.map((j) => j.dim))]) {
    const built = await ensureIndex(client, t, dim, indexName(t, dim), createIndexSql(t, dim, index, efConstruction, "postgres.dims"), options.quiet);
    run.indexSeconds[dim] = built.seconds;
  }
  for (const sql of searchSettingsSql(index, e.postgres ?? {})) await client.exec(sql);
  const files: ServedFile[] = [];
  const times: Record<string, ServingTimes> = {};
  try {
    for (const job of jobs) {
      if (!todo.includes(job)) {
        files.push({ file: job.file, kind: job.kind, label: job.label, skipped: true });
        continue;
      }
      const result = await runStatement(client, job.sql, arrays.queries, job.width, `postgres ${run.indexType} ${job.label}`, options);
      writeShortlist(job.file, result.ids);
      recordArtifact(job.file, "pgvector", job.config, inputs);
      times[path.basename(job.file)] = result.times;
      files.push({ file: job.file, kind: job.kind, label: job.label, skipped: false, times: result.times });
    }
  } finally {
    for (const sql of RESET_SETTINGS_SQL) await client.exec(sql);
    if (Object.keys(times).length > 0) recordTimes(run.spec, times);
  }
  return files;
}

/**
 * Runs `sql` once per query ($1 = the query vector), in batches with progress, timing each statement: ids as
 * nq x width (-1 where a statement returned fewer rows, as FAISS marks missing neighbours) and the speed.
 */
export async function runStatement(client: SqlClient, sql: string, queries: Matrix, width: number, label: string,
  options: { batchQueries?: number; quiet?: boolean } = {}): Promise<{ ids: IntMatrix; times: ServingTimes }> {
  const nq = queries.rows, out = new Int32Array(nq * width).fill(-1), ms = new Float64Array(nq);
  const batch = options.batchQueries ?? 500;
  const progress = createProgress(label, nq, { quiet: options.quiet });
  for (let s = 0; s < nq; s += batch) {
    const e = Math.min(nq, s + batch);
    // the query vectors as text before the clock starts: timed is query vector in memory to ids in memory
    const literals = Array.from({ length: e - s }, (_, i) => vectorLiteral(queries.data.subarray((s + i) * queries.cols, (s + i + 1) * queries.cols)));
    for (let q = s; q < e; q++) {
      const t0 = performance.now();
      const rows = await client.query(sql, [literals[q - s]]);
      ms[q] = performance.now() - t0;
      const n = Math.min(width, rows.length);
      for (let j = 0; j < n; j++) out[q * width + j] = Number(rows[j].id);
    }
    progress.tick(e - s);
  }
  progress.done();
  const total = ms.reduce((a, b) => a + b, 0) / 1000;
  return { ids: intMatrix(nq, width, out), times: { queries: nq, qps: queriesPerSecond(nq, total), p50Ms: percentile(ms, 0.5), p95Ms: percentile(ms, 0.95) } };
}

/** Merges the times of the files just written into the index type's timings file. */
function recordTimes(spec: ArtifactSpec, times: Record<string, ServingTimes>): void {
  const file = timingsPath(spec);
  const before = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, ServingTimes> : {};
  const merged = { ...before, ...times };
  const sorted = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
  writeFileAtomic(file, JSON.stringify(sorted, null, 1) + "\n");
}

/** The statements of an experiment's first pgvector index type, by configuration label, for notebooks and docs. */
export function postgresSql(e: Experiment, model = e.models.find((m) => !isPerSizeModel(m)) ?? e.models[0]): Record<string, string> {
  const indexType = e.indexTypes.find(isPgvectorIndexType) ?? "pgvector-exact";
  const index = parsePgvectorIndexType(indexType)!;
  const t = servedTable(databaseDataset(e.dataset), model, e.postgres?.halfvec ? "halfvec" : "vector");
  const spec = experimentSpec(e, model, indexType);
  const out: Record<string, string> = {};
  for (const dim of searchedDims(e, indexType)) {
    const create = index.kind === "exact" ? undefined : createIndexSql(t, dim, index, e.postgres?.efConstruction ?? 64, "postgres.dims");
    if (create) out[`index ${dim}d`] = create;
  }
  out.settings = searchSettingsSql(index, e.postgres ?? {}).join("; ");
  for (const job of jobsOf(e, spec, t, {}, ["search", "rerank"])) out[job.kind === "first-stage" ? `first stage ${job.dim}d` : job.label] = job.sql;
  return out;
}
