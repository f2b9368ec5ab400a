/**
 * Tables as CSV text, written and read by one pair of functions (the metrics table, the sweep's CSV): a header
 * row, one line per row, "\n" line ends and a final newline, pandas-readable. A cell holding a comma or a double
 * quote is quoted, its quotes doubled (funnel labels such as `8->[16,2048] @[200,10]` hold commas). Pure
 * functions over strings; the callers do the file IO. (Shortlist CSVs, integers only, are io/csv.ts.)
 */

/** One cell: "" for undefined (a missing value), a string holding `,` or `"` quoted, anything else String(v). */
export function csvCell(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" && /[",]/.test(value) ? `"${value.replace(/"/g, '""')}"` : String(value);
}

/** The CSV text of `rows` under the header `columns` (each row's cells in that order, csvCell). */
export function formatCsvTable(columns: readonly string[], rows: readonly object[]): string {
  const line = (row: object): string => columns.map((c) => csvCell((row as Record<string, unknown>)[c])).join(",");
  return [columns.join(","), ...rows.map(line)].join("\n") + "\n";
}

/** The cells of one CSV line: commas split, except inside double quotes ("" is a quote). */
export function csvLineCells(line: string): string[] {
  const cells: string[] = [];
  let cell = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted && ch === '"' && line[i + 1] === '"') { cell += '"'; i++; }
    else if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) { cells.push(cell); cell = ""; }
    else cell += ch;
  }
  cells.push(cell);
  return cells;
}

/** Every non-empty line of a CSV text as its cells (csvLineCells), the header first. */
export function parseCsvTable(text: string): string[][] {
  return text.split("\n").filter((l) => l.length > 0).map(csvLineCells);
}
