/**
 * The SQL of serving, as pure functions of the configuration: the table, the expression index on the normalized
 * prefix, and each retrieval as one statement with the query vector as $1. Matryoshka retrieval in pgvector is a
 * subvector expression: `l2_normalize(subvector(e, 1, D))` is the unit D-prefix the project ranks by (L2 between
 * unit prefixes, as faiss_nn and the rerank stage), and an index built on that expression answers the first stage.
 * Adaptive retrieval and funnels are nested subqueries: each level re-orders the rows the level inside it kept.
 */
import { MrlError } from "../core/errors";
import type { FunnelSpec, PgvectorIndex, RerankSpec } from "../experiment/types";

/** Vector storage: float32 `vector` or 16-bit `halfvec`. */
export type VectorType = "vector" | "halfvec";

/** pgvector's limit on indexed dims (HNSW and IVFFlat) per storage type. */
export const PGVECTOR_INDEX_MAX_DIMS: Record<VectorType, number> = { vector: 2000, halfvec: 4000 };

/** What the statements are about: the table (a quoted identifier) and its vector type. */
export interface ServedTable { table: string; type: VectorType }

/** A name as a quoted SQL identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** `CREATE TABLE` of one database: row id (the database row), label, the full vector. */
export function createTableSql(t: ServedTable, dims: number): string {
  return `CREATE TABLE ${t.table} (id integer PRIMARY KEY, label integer NOT NULL, e ${t.type}(${dims}) NOT NULL)`;
}

/** The unit D-prefix of the stored vectors: the expression the index is built on and the first stage orders by. */
export const prefixOf = (t: ServedTable, dim: number, column = "e"): string => `l2_normalize(subvector(${column}, 1, ${dim}))::${t.type}(${dim})`;

/** The unit D-prefix of the query, $1 (the whole query vector as text). */
const queryPrefix = (t: ServedTable, dim: number): string => `l2_normalize(subvector($1::${t.type}, 1, ${dim}))::${t.type}(${dim})`;

/** L2 between unit D-prefixes of a row and the query (pgvector's `<->`). */
const distance = (t: ServedTable, dim: number, column = "e"): string => `${prefixOf(t, dim, column)} <-> ${queryPrefix(t, dim)}`;

/** The index's name on one table and dim (one index per dim: another kind replaces it). */
export const indexName = (t: ServedTable, dim: number): string => quoteIdent(`${t.table.replace(/"/g, "")}_d${dim}`);

/**
 * `CREATE INDEX` of a first stage at `dim`: HNSW (m, ef_construction) or IVFFlat (lists) on the unit prefix;
 * undefined for exact (a scan). Throws when `dim` is over pgvector's index limit, naming `setting`.
 */
export function createIndexSql(t: ServedTable, dim: number, index: PgvectorIndex, efConstruction: number, setting: string): string | undefined {
  if (index.kind === "exact") return undefined;
  const max = PGVECTOR_INDEX_MAX_DIMS[t.type];
  if (dim > max) {
    throw new MrlError(`${setting} has dim ${dim}: pgvector indexes at most ${max} dims of ${t.type}` +
      (t.type === "vector" ? " (4000 with postgres.halfvec: true)" : "") + "; expected first-stage dims up to " + max + " or pgvector-exact");
  }
  const ops = `${t.type}_l2_ops`;
  const using = index.kind === "hnsw" ? `hnsw ((${prefixOf(t, dim)}) ${ops}) WITH (m = ${index.m}, ef_construction = ${efConstruction})`
    : `ivfflat ((${prefixOf(t, dim)}) ${ops}) WITH (lists = ${index.lists})`;
  return `CREATE INDEX ${indexName(t, dim)} ON ${t.table} USING ${using}`;
}

/** The first stage: the `k` rows nearest the query's unit `dim`-prefix (the index answers it when there is one). */
export function firstStageSql(t: ServedTable, dim: number, k: number): string {
  return `SELECT id FROM ${t.table} ORDER BY ${distance(t, dim)} LIMIT ${k}`;
}

/** The innermost level of adaptive and funnel retrieval: the first stage's rows, with their vectors. */
const shortlistRows = (t: ServedTable, dim: number, shortlist: number): string =>
  `SELECT id, e FROM ${t.table} ORDER BY ${distance(t, dim)} LIMIT ${shortlist}`;

/** Adaptive retrieval: the first stage's L rows at D_r, re-ordered by the unit D_s-prefix (L ids). */
export function adaptiveSql(t: ServedTable, a: RerankSpec): string {
  return `SELECT id FROM (${shortlistRows(t, a.retrievalDim, a.shortlist)}) s ORDER BY ${distance(t, a.rerankDim, "s.e")}`;
}

/**
 * Funnel retrieval: the first stage's shortlists[0] rows at D_r; step i re-orders what the step before kept at
 * dims[i] and keeps its first shortlists[i + 1] for the next (the last step returns shortlists[last] ids), as
 * rerank/rerank.ts's funnelRerank.
 */
export function funnelSql(t: ServedTable, f: FunnelSpec): string {
  let inner = shortlistRows(t, f.retrievalDim, f.shortlists[0]);
  f.dims.forEach((dim, i) => {
    const last = i === f.dims.length - 1;
    inner = `SELECT ${last ? "id" : "id, e"} FROM (${inner}) s${i} ORDER BY ${distance(t, dim, `s${i}.e`)}${last ? "" : ` LIMIT ${f.shortlists[i + 1]}`}`;
  });
  return inner;
}

/** The settings a search runs under: ef_search / probes, and HNSW scans that go on past ef_search up to the LIMIT. */
export function searchSettingsSql(index: PgvectorIndex, settings: { efSearch?: number; probes?: number }): string[] {
  if (index.kind === "hnsw") {
    return [`SET hnsw.ef_search = ${settings.efSearch ?? 40}`, "SET hnsw.iterative_scan = strict_order", "SET enable_seqscan = on"];
  }
  if (index.kind === "ivfflat") return [`SET ivfflat.probes = ${settings.probes ?? 1}`, "SET enable_seqscan = on"];
  // exact: a scan, whatever index another type left on the dim
  return ["SET enable_indexscan = off", "SET enable_bitmapscan = off"];
}

/** Undoes searchSettingsSql (the session goes on to other index types). */
export const RESET_SETTINGS_SQL = ["RESET enable_indexscan", "RESET enable_bitmapscan", "RESET enable_seqscan"];

/** A query vector as pgvector's text input: float32 values in their shortest exact decimal form. */
export function vectorLiteral(values: Float32Array): string {
  return `[${Array.prototype.join.call(values, ",")}]`;
}
