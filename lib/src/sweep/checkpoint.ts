/**
 * A killed sweep loses nothing it finished. As each configuration finishes, its row is appended as one JSON line,
 * flushed to disk, to `<csv>.partial.jsonl`, whose first line holds the fingerprint of what the rows were computed
 * from: the grid, the arrays' shapes, a hash of their contents and the latency sample. Re-running the same sweep
 * takes those rows instead of recomputing them; a different fingerprint starts afresh and says why. The final CSV
 * is written atomically and the partial file removed. The file is the project's one checkpoint format
 * (io/checkpoint.ts): a header line with the fingerprint, then the rows as JSON lines.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { evenlySpacedRows, type Matrix } from "../core/matrix";
import { appendingCheckpoint, parseCheckpointText, type CheckpointKind } from "../io/checkpoint";
import { canonicalJson } from "../io/manifest";
import type { SweepGrid } from "./grid";
import { runSweep, type SweepOptions, type SweepResult, type SweepRow } from "./run";
import { saveSweepCsv, SWEEP_NUMBER_COLUMNS } from "./csv";

/** What a sweep's rows depend on; two runs with equal fingerprints compute equal quality columns. */
export interface SweepFingerprint {
  /** The grid as canonical JSON (keys sorted, so field order does not matter). */
  grid: string;
  /** [rows, cols] of the database and of the queries the sweep ran on. */
  database: [number, number];
  queries: [number, number];
  /** sha256 of the queries, both label arrays and up to DATABASE_SAMPLE_ROWS database rows evenly spaced. */
  contents: string;
  /** SweepOptions.latencyQueries as given (null: the default). */
  latencyQueries: number | null;
}

/** Database rows hashed into the fingerprint: cheap at any size (32 MB at 2048-d), and any other array differs there. */
export const DATABASE_SAMPLE_ROWS = 4096;

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The fingerprint of a sweep's inputs (hashes the queries and labels whole, the database by a sample of rows). */
export function sweepFingerprint(database: Matrix, queries: Matrix, databaseLabels: Int32Array, queryLabels: Int32Array, grid: SweepGrid,
  latencyQueries?: number): SweepFingerprint {
  const hash = createHash("sha256");
  hash.update(bytesOf(queries.data)).update(bytesOf(databaseLabels)).update(bytesOf(queryLabels));
  const sample = evenlySpacedRows(database, DATABASE_SAMPLE_ROWS);
  hash.update(bytesOf(sample.data.subarray(0, sample.rows * sample.cols)));
  return {
    grid: canonicalJson(grid), database: [database.rows, database.cols], queries: [queries.rows, queries.cols],
    contents: hash.digest("hex"), latencyQueries: latencyQueries ?? null,
  };
}

/** Why rows computed under `before` do not hold under `now` (undefined when they do). */
export function fingerprintChange(before: SweepFingerprint, now: SweepFingerprint): string | undefined {
  const shape = (s: [number, number]): string => `${s[0]} x ${s[1]}`;
  if (before.grid !== now.grid) return `the grid differs (then ${before.grid}, now ${now.grid})`;
  if (shape(before.database) !== shape(now.database)) return `the database was ${shape(before.database)}, now ${shape(now.database)}`;
  if (shape(before.queries) !== shape(now.queries)) return `the queries were ${shape(before.queries)}, now ${shape(now.queries)}`;
  if (before.contents !== now.contents) return "the arrays' contents differ (same shapes)";
  if (before.latencyQueries !== now.latencyQueries) return `the latency sample was ${before.latencyQueries ?? "the default"}, now ${now.latencyQueries ?? "the default"}`;
  return undefined;
}

/** A sweep's partial file in the checkpoint mechanism (io/checkpoint.ts): JSON lines of rows after the header. */
const SWEEP_CHECKPOINT: CheckpointKind<SweepFingerprint> = { format: "mrl-sweep-partial/1", what: "sweep", explain: fingerprintChange };

/** The partial file of a sweep CSV. */
export const checkpointFile = (csvFile: string): string => `${csvFile}.partial.jsonl`;

/** One row as a JSON line; non-finite numbers (JSON has none) as strings. */
export function checkpointLine(row: SweepRow): string {
  return JSON.stringify(row, (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)) + "\n";
}

/** A row read back from its line, or undefined when the line is not a whole row (e.g. cut short by a kill). */
function rowOf(line: string): SweepRow | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== "object") return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.label !== "string" || typeof r.kind !== "string" || r.config === null || typeof r.config !== "object") return undefined;
  for (const key of SWEEP_NUMBER_COLUMNS) {
    const v = r[key];
    if (typeof v === "string" && ["NaN", "Infinity", "-Infinity"].includes(v)) r[key] = Number(v);
    else if (typeof v !== "number") return undefined;
  }
  return r as unknown as SweepRow;
}

/** What a partial file holds for a sweep with fingerprint `now`. */
export interface CheckpointContents {
  /** Finished rows by label (empty when starting afresh). */
  rows: Map<string, SweepRow>;
  /** Lines dropped because they are not whole rows (a write cut short by a kill). */
  dropped: number;
  /** Why the earlier rows cannot be used, when there is a reason. */
  afresh?: string;
}

/**
 * Reads a partial file's text: its header must carry the same fingerprint; each following line is one row. A last
 * line without its newline, or any line that does not parse as a row, is dropped (its configuration is recomputed).
 */
export function parseCheckpoint(text: string, now: SweepFingerprint): CheckpointContents {
  const { afresh, payload } = parseCheckpointText(text, SWEEP_CHECKPOINT, now);
  if (afresh) return { rows: new Map(), dropped: 0, afresh };
  const lines = payload.split("\n");
  const torn = lines.pop() !== ""; // text after the last newline was being written when the run stopped
  const rows = new Map<string, SweepRow>();
  let dropped = torn ? 1 : 0;
  for (const line of lines) {
    const row = rowOf(line);
    if (!row) dropped++;
    else if (!rows.has(row.label)) rows.set(row.label, row);
  }
  return { rows, dropped, afresh: undefined };
}

/** A partial file opened for appending: the rows it already had, and a durable append for each new one. */
export interface Checkpoint {
  file: string;
  rows: Map<string, SweepRow>;
  /** One line for the log: what was resumed, dropped, or why the sweep starts afresh. */
  note?: string;
  append(row: SweepRow): void;
  close(): void;
}

/**
 * Opens `<csvFile>.partial.jsonl` for a sweep with fingerprint `now`: the rows it holds under the same fingerprint
 * (none with `fresh`), rewritten cleanly (torn lines gone) before new rows are appended, each flushed to disk.
 */
export function openCheckpoint(csvFile: string, now: SweepFingerprint, options: { fresh?: boolean } = {}): Checkpoint {
  const file = checkpointFile(csvFile);
  const exists = fs.existsSync(file);
  const found: CheckpointContents = !exists ? { rows: new Map(), dropped: 0 }
    : options.fresh ? { rows: new Map(), dropped: 0, afresh: "asked to recompute (--force)" }
      : parseCheckpoint(fs.readFileSync(file, "utf8"), now);
  const note = found.afresh ? `starting afresh, not resuming ${file}: ${found.afresh}`
    : found.rows.size > 0 || found.dropped > 0 ? `resuming ${file}: ${found.rows.size} configurations done` +
      (found.dropped > 0 ? `, ${found.dropped} unreadable line${found.dropped > 1 ? "s" : ""} dropped (a write cut short; recomputed)` : "")
      : undefined;
  const appending = appendingCheckpoint(file, SWEEP_CHECKPOINT, now, [...found.rows.values()].map(checkpointLine).join(""));
  return { file, rows: found.rows, note, append: (row) => appending.append(checkpointLine(row)), close: appending.close };
}

/**
 * runSweep with a checkpoint next to `csvFile`: rows a killed run of the same sweep finished are taken from its
 * partial file (their times from that run), each new row is recorded as it finishes; at the end the CSV is
 * written atomically and the partial file removed. `fresh` ignores an earlier partial file.
 */
export function runCheckpointedSweep(database: Matrix, queries: Matrix, databaseLabels: Int32Array, queryLabels: Int32Array, grid: SweepGrid,
  csvFile: string, options: SweepOptions & { fresh?: boolean; onNote?: (line: string) => void } = {}): SweepResult {
  const fingerprint = sweepFingerprint(database, queries, databaseLabels, queryLabels, grid, options.latencyQueries);
  const checkpoint = openCheckpoint(csvFile, fingerprint, { fresh: options.fresh });
  if (checkpoint.note) options.onNote?.(checkpoint.note);
  let result: SweepResult;
  try {
    result = runSweep(database, queries, databaseLabels, queryLabels, grid, {
      ...options, resumed: checkpoint.rows, onRow: (row) => {
        checkpoint.append(row);
        options.onRow?.(row);
      },
    });
  } finally {
    checkpoint.close();
  }
  saveSweepCsv(result, csvFile);
  fs.rmSync(checkpoint.file, { force: true });
  return result;
}
