/**
 * The one connection to Postgres: PGlite in process (its data folder under the root) or a server through `pg`
 * (`databaseUrl`), behind one small interface, so every statement the stage runs is the same SQL on both. The only
 * module that imports @electric-sql/pglite or pg. Opening checks what a first statement would otherwise fail on
 * (a server that cannot be reached, one without the vector extension) and says it in one line naming the setting.
 */
import * as fs from "node:fs";
import { MrlError } from "../core/errors";

/** Rows of a statement, as plain objects keyed by column name. */
export type Row = Record<string, unknown>;

export interface SqlClient {
  /** Where it runs, for messages: "PGlite <dir>" or the URL without its password. */
  readonly where: string;
  /** One statement with $1, $2 ... parameters. */
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Statements without parameters, separated by ";". */
  exec(sql: string): Promise<void>;
  /** Binary COPY into `table` (PGlite: 20x faster than INSERT for wide vectors); undefined where the client has none. */
  copyBinary?: (table: string, columns: string, data: Uint8Array) => Promise<void>;
  close(): Promise<void>;
}

/** Where to connect: a server URL, or PGlite in `dataDir`; `setting` names what the user set (for messages). */
export interface ConnectOptions { databaseUrl?: string; dataDir: string; setting?: string }

/** A URL as messages show it: the password replaced by "***". */
export const redactUrl = (url: string): string => url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");

/**
 * Opens the connection and makes sure pgvector is there (`CREATE EXTENSION IF NOT EXISTS vector`). Throws an
 * MrlError naming `setting` (default "postgres.databaseUrl") for an unreachable server or a missing extension.
 */
export async function openSqlClient(options: ConnectOptions): Promise<SqlClient> {
  const client = options.databaseUrl ? await openPg(options.databaseUrl, options.setting ?? "postgres.databaseUrl") : await openPglite(options.dataDir);
  try {
    await client.exec("CREATE EXTENSION IF NOT EXISTS vector");
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new MrlError(`${options.setting ?? "postgres.databaseUrl"} ${client.where}: the server has no pgvector extension ` +
      `(CREATE EXTENSION vector: ${firstLine(err)}); install pgvector there (hosted Postgres: enable the "vector" extension)`);
  }
  return client;
}

const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split("\n")[0];

async function openPglite(dataDir: string): Promise<SqlClient> {
  fs.mkdirSync(dataDir, { recursive: true });
  const { PGlite } = await import("@electric-sql/pglite");
  const { vector } = await import("@electric-sql/pglite-pgvector");
  const db = await PGlite.create({ dataDir, extensions: { vector } });
  return {
    where: `PGlite ${dataDir}`,
    query: async (sql, params) => (await db.query<Row>(sql, params)).rows,
    exec: async (sql) => { await db.exec(sql); },
    copyBinary: async (table, columns, data) => {
      await db.query(`COPY ${table} (${columns}) FROM '/dev/blob' WITH (FORMAT binary)`, [], { blob: new Blob([data]) });
    },
    close: () => db.close(),
  };
}

async function openPg(url: string, setting: string): Promise<SqlClient> {
  const { Client } = await import("pg");
  const where = redactUrl(url);
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new MrlError(`${setting} ${where}: cannot connect (${firstLine(err) || (err as NodeJS.ErrnoException).code}); ` +
      "expected a reachable Postgres server with pgvector, or no URL for PGlite in process");
  }
  // a server error after connecting (dropped connection) must not crash the process as an unhandled 'error' event
  client.on("error", () => undefined);
  return {
    where,
    query: async (sql, params) => (await client.query(sql, params)).rows as Row[],
    exec: async (sql) => { await client.query(sql); },
    close: () => client.end(),
  };
}
