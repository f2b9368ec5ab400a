/**
 * Loading an experiment's database into Postgres and building its first-stage indexes. The table holds each
 * database row (id = row number, label, the full vector); a bookkeeping table records the fingerprint of the
 * source array (size and mtime of the -X and -y files, as the manifest's freshness rule) and how many rows are
 * committed, so a changed array reloads, an unchanged one is left as it is, and a killed load resumes after its
 * last committed batch. Indexes are recorded the same way: one per (table, dim), rebuilt when its definition changes.
 */
import * as fs from "node:fs";
import { createProgress } from "../core/progress";
import { canonicalJson } from "../io/manifest";
import type { RetrievalArrays } from "../io/arrays";
import type { SqlClient } from "./client";
import { createTableSql, quoteIdent, type ServedTable, type VectorType } from "./sql";

/** The bookkeeping tables, created on first use. */
const META_SQL = [
  "CREATE TABLE IF NOT EXISTS mrl_sources (tbl text PRIMARY KEY, fingerprint text NOT NULL, rows integer NOT NULL, dims integer NOT NULL, loaded integer NOT NULL)",
  "CREATE TABLE IF NOT EXISTS mrl_indexes (tbl text NOT NULL, dim integer NOT NULL, definition text NOT NULL, PRIMARY KEY (tbl, dim))",
].join("; ");

/** The table of one database (dataset, model) and vector type, e.g. "mrl_FMNIST_mrl_vector". */
export function servedTable(databaseDataset: string, model: string, type: VectorType): ServedTable {
  return { table: quoteIdent(`mrl_${databaseDataset}_${model}_${type}`), type };
}

/** What the table was loaded from: the source files as they are now (size, mtime), the shape and the vector type. */
export function sourceFingerprint(arrays: RetrievalArrays, type: VectorType): string {
  const stamp = (f: string): [number, number] => { const st = fs.statSync(f); return [st.size, st.mtimeMs]; };
  return canonicalJson({ X: stamp(arrays.files.databaseX), y: stamp(arrays.files.databaseY), rows: arrays.database.rows, dims: arrays.database.cols, type });
}

export interface LoadResult {
  /** "loaded": from row 0; "resumed": after an interrupted load; "skipped": already up to date. */
  action: "loaded" | "resumed" | "skipped";
  rows: number;
  /** Rows written by this call. */
  rowsWritten: number;
  seconds: number;
}

/**
 * Loads the database rows into `t` in batches of `batchRows` (each one transaction, with progress), unless the
 * recorded fingerprint matches and every row is there. A different fingerprint drops the table and its indexes.
 */
export async function loadDatabase(client: SqlClient, t: ServedTable, arrays: RetrievalArrays,
  options: { batchRows?: number; force?: boolean; quiet?: boolean } = {}): Promise<LoadResult> {
  const t0 = performance.now();
  const { rows, cols } = arrays.database;
  const fingerprint = sourceFingerprint(arrays, t.type);
  await client.exec(META_SQL);
  const [meta] = await client.query("SELECT fingerprint, loaded FROM mrl_sources WHERE tbl = $1", [t.table]);
  let start = 0;
  if (meta && meta.fingerprint === fingerprint && !options.force) {
    start = Number(meta.loaded);
    if (start >= rows) return { action: "skipped", rows, rowsWritten: 0, seconds: (performance.now() - t0) / 1000 };
  } else {
    await client.exec(`BEGIN; DROP TABLE IF EXISTS ${t.table}; DELETE FROM mrl_indexes WHERE tbl = '${t.table.replace(/'/g, "''")}'; ${createTableSql(t, cols)}`);
    await client.query("INSERT INTO mrl_sources (tbl, fingerprint, rows, dims, loaded) VALUES ($1, $2, $3, $4, 0) " +
      "ON CONFLICT (tbl) DO UPDATE SET fingerprint = $2, rows = $3, dims = $4, loaded = 0", [t.table, fingerprint, rows, cols]);
    await client.exec("COMMIT");
  }
  const batch = options.batchRows ?? 1000;
  const progress = createProgress(`postgres load ${t.table}`, rows, { quiet: options.quiet });
  progress.tick(start);
  for (let s = start; s < rows; s += batch) {
    const e = Math.min(rows, s + batch);
    const block = arrays.database.readBlock(s, e, cols).data;
    await client.exec("BEGIN");
    if (client.copyBinary && t.type === "vector") await client.copyBinary(t.table, "id, label, e", copyRows(block, arrays.databaseLabels, s, e, cols));
    else await insertRows(client, t, block, arrays.databaseLabels, s, e, cols);
    await client.query("UPDATE mrl_sources SET loaded = $2 WHERE tbl = $1", [t.table, e]);
    await client.exec("COMMIT");
    progress.tick(e - s);
  }
  progress.done();
  return { action: start > 0 ? "resumed" : "loaded", rows, rowsWritten: rows - start, seconds: (performance.now() - t0) / 1000 };
}

/** Rows s..e-1 as one multi-row INSERT with text vectors (the path of a server and of halfvec). */
async function insertRows(client: SqlClient, t: ServedTable, block: Float32Array, labels: Int32Array, s: number, e: number, cols: number): Promise<void> {
  const values: string[] = [], params: unknown[] = [];
  for (let r = s; r < e; r++) {
    params.push(r, labels[r], `[${Array.prototype.join.call(block.subarray((r - s) * cols, (r - s + 1) * cols), ",")}]`);
    values.push(`($${params.length - 2}, $${params.length - 1}, $${params.length}::${t.type})`);
  }
  await client.query(`INSERT INTO ${t.table} (id, label, e) VALUES ${values.join(", ")}`, params);
}

/**
 * Rows s..e-1 in COPY's binary format: the 19-byte header, per row 3 fields (int4 id, int4 label, vector as
 * pgvector's binary form: int16 dims, int16 0, float4 values, all big-endian), the -1 trailer.
 */
export function copyRows(block: Float32Array, labels: Int32Array, s: number, e: number, cols: number): Uint8Array {
  const rowBytes = 2 + 8 + 8 + 4 + 4 + 4 * cols;
  const buf = Buffer.alloc(19 + (e - s) * rowBytes + 2);
  buf.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  let o = 19; // header: signature, flags 0, extension length 0
  for (let r = s; r < e; r++) {
    o = buf.writeInt16BE(3, o);
    o = buf.writeInt32BE(4, o); o = buf.writeInt32BE(r, o);
    o = buf.writeInt32BE(4, o); o = buf.writeInt32BE(labels[r], o);
    o = buf.writeInt32BE(4 + 4 * cols, o); o = buf.writeInt16BE(cols, o); o = buf.writeInt16BE(0, o);
    const base = (r - s) * cols;
    for (let c = 0; c < cols; c++) o = buf.writeFloatBE(block[base + c], o);
  }
  buf.writeInt16BE(-1, o);
  return buf;
}

/**
 * Builds the index `createSql` defines at `dim` (undefined: none needed) unless the same definition is recorded
 * for the table; a different one at that dim is dropped first. Returns the seconds it took (0 when reused).
 */
export async function ensureIndex(client: SqlClient, t: ServedTable, dim: number, indexName: string, createSql: string | undefined,
  quiet = false): Promise<{ action: "built" | "reused" | "none"; seconds: number }> {
  if (createSql === undefined) return { action: "none", seconds: 0 };
  const [meta] = await client.query("SELECT definition FROM mrl_indexes WHERE tbl = $1 AND dim = $2", [t.table, dim]);
  if (meta?.definition === createSql) return { action: "reused", seconds: 0 };
  const t0 = performance.now();
  if (!quiet) console.error(`postgres: building ${createSql}`);
  await client.exec(`DROP INDEX IF EXISTS ${indexName}`);
  await client.exec(createSql);
  await client.query("INSERT INTO mrl_indexes (tbl, dim, definition) VALUES ($1, $2, $3) ON CONFLICT (tbl, dim) DO UPDATE SET definition = $3",
    [t.table, dim, createSql]);
  return { action: "built", seconds: (performance.now() - t0) / 1000 };
}
