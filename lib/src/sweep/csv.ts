/**
 * A sweep's table on disk and back: `<name>.csv` (one row per configuration, pandas-readable) and `<name>.json`
 * beside it (what the sweep ran on: database rows, queries, seconds, resumed rows). Reading them back gives the
 * SweepResult the figures and the planner take, so the report draws a sweep without running it again.
 */
import * as fs from "node:fs";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { parseConfigLabel } from "../experiment/labels";
import { csvLineCells, formatCsvTable } from "../io/tableCsv";
import type { SweepResult, SweepRow } from "./run";

/** The numeric columns of a sweep row, in CSV order. */
export const SWEEP_NUMBER_COLUMNS = ["mAP10", "top1", "precision10", "nDCG10", "recall10", "mflops", "batchSeconds", "msPerQuery", "qps", "p50Ms", "p95Ms"] as const;
/** The CSV's columns, in order. */
export const SWEEP_CSV_COLUMNS: readonly (keyof SweepRow)[] = ["label", "kind", ...SWEEP_NUMBER_COLUMNS];

/** Every row as CSV (header first), the columns SWEEP_CSV_COLUMNS. */
export function sweepCsv(result: SweepResult): string {
  return formatCsvTable(SWEEP_CSV_COLUMNS, result.rows);
}

/** The file beside a sweep CSV that says what it ran on. */
export const sweepMetaFile = (csvFile: string): string => csvFile.replace(/\.csv$/i, "") + ".json";

/** Writes sweepCsv(result) to `file` and the run's sizes to sweepMetaFile(file), each atomically; returns the CSV file. */
export function saveSweepCsv(result: SweepResult, file: string): string {
  const { databaseRows, queries, seconds, resumed } = result;
  writeFileAtomic(sweepMetaFile(file), JSON.stringify({ databaseRows, queries, seconds, resumed, configurations: result.rows.length }, null, 1) + "\n");
  writeFileAtomic(file, sweepCsv(result));
  return file;
}

/**
 * Reads a sweep CSV written by saveSweepCsv back into a SweepResult (each row's configuration from its label).
 * Without the JSON beside it (an older sweep) databaseRows, queries and seconds are NaN. Errors name the file and line.
 */
export function readSweepCsv(file: string): SweepResult {
  if (!fs.existsSync(file)) throw new MrlError("sweep CSV not found", file);
  const [head, ...lines] = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
  if (head !== SWEEP_CSV_COLUMNS.join(",")) throw new MrlError(`header is "${head ?? ""}"; expected the sweep columns ${SWEEP_CSV_COLUMNS.join(",")}`, file);
  const rows = lines.map((line, i): SweepRow => {
    const at = `line ${i + 2}`;
    const cells = csvLineCells(line);
    if (cells.length !== SWEEP_CSV_COLUMNS.length) throw new MrlError(`${at} has ${cells.length} cells; expected ${SWEEP_CSV_COLUMNS.length}`, file);
    const [label, kind] = cells;
    const config = parseConfigLabel(label);
    if (!config) throw new MrlError(`${at}: label "${label}" names no sweep configuration`, file);
    if (config.kind !== kind) throw new MrlError(`${at}: kind "${kind}" does not match label "${label}", which is of kind ${config.kind}`, file);
    const numbers = Object.fromEntries(SWEEP_NUMBER_COLUMNS.map((column, c) => {
      const text = cells[c + 2], value = Number(text);
      if (text === "" || (Number.isNaN(value) && text !== "NaN")) throw new MrlError(`${at}: ${column} is "${text}"; expected a number`, file);
      return [column, value];
    })) as Record<(typeof SWEEP_NUMBER_COLUMNS)[number], number>;
    return { label, kind: config.kind, config, ...numbers };
  });
  const metaFile = sweepMetaFile(file);
  let meta: Partial<Record<"databaseRows" | "queries" | "seconds" | "resumed", number>> = {};
  if (fs.existsSync(metaFile)) {
    try {
      meta = JSON.parse(fs.readFileSync(metaFile, "utf8")) as typeof meta;
    } catch (err) {
      throw new MrlError(`not valid JSON (${(err as Error).message}); expected what saveSweepCsv writes beside the CSV`, metaFile);
    }
  }
  return { rows, databaseRows: meta.databaseRows ?? NaN, queries: meta.queries ?? NaN, seconds: meta.seconds ?? NaN, resumed: meta.resumed ?? 0 };
}
