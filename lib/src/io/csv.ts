/**
 * Shortlist CSV files in the format of the original notebooks:
 * `pd.DataFrame(I).to_csv(path, header=None, index=None)` — one row per query, comma-separated database ids,
 * "\n" line ends, no header, no index. Read back by `pd.read_csv(path, header=None)`.
 */
import * as fs from "node:fs";
import { writeAtomically } from "../core/atomic";
import { MrlError } from "../core/errors";
import { intMatrix, type IntMatrix } from "../core/matrix";

/**
 * Writes an integer matrix as a headerless CSV, atomically. Digits are formatted straight into a byte buffer
 * (no per-row strings) that is flushed every ~8 MB.
 */
export function writeShortlistCsv(file: string, m: IntMatrix): void {
  writeAtomically(file, (temp) => {
    const fd = fs.openSync(temp, "w");
    try {
      const { data, rows, cols } = m;
      const capacity = 8 * 1024 * 1024;
      const buf = Buffer.allocUnsafe(capacity + 16 * Math.max(1, cols));
      let pos = 0;
      for (let r = 0; r < rows; r++) {
        const base = r * cols;
        for (let c = 0; c < cols; c++) {
          pos = writeInt(buf, pos, data[base + c]);
          buf[pos++] = c === cols - 1 ? NL : COMMA;
        }
        if (pos >= capacity) {
          writeAll(fd, buf, pos);
          pos = 0;
        }
      }
      if (pos > 0) writeAll(fd, buf, pos);
    } finally {
      fs.closeSync(fd);
    }
  });
}

function writeAll(fd: number, buf: Buffer, length: number): void {
  let done = 0;
  while (done < length) done += fs.writeSync(fd, buf, done, length - done);
}

/** Two ASCII digits per value 0..99, so formatting does half the divisions. */
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0")).join(""), "latin1");
const INT32_MIN = Buffer.from("-2147483648", "latin1");

/** Writes the decimal digits of an int32 at `pos`; returns the position after them. */
function writeInt(buf: Buffer, pos: number, value: number): number {
  if (value === -2147483648) {
    INT32_MIN.copy(buf, pos);
    return pos + INT32_MIN.length;
  }
  let v = value;
  if (v < 0) {
    buf[pos++] = MINUS;
    v = -v;
  }
  const digits = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6
    : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
  let end = pos + digits;
  while (v >= 100) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) * 2;
    buf[--end] = PAIRS[r + 1];
    buf[--end] = PAIRS[r];
    v = q;
  }
  if (v >= 10) {
    buf[--end] = PAIRS[v * 2 + 1];
    buf[--end] = PAIRS[v * 2];
  } else {
    buf[--end] = ZERO + v;
  }
  return pos + digits;
}

const COMMA = 44, NL = 10, CR = 13, MINUS = 45, ZERO = 48, NINE = 57, SPACE = 32;

/**
 * Reads a headerless integer CSV into an IntMatrix, parsing bytes directly (no giant string: 50k x 2048
 * shortlists exceed V8's string limit). Errors name the file and the line: ragged rows, empty or
 * non-integer fields, values outside int32, empty files.
 */
export function readShortlistCsv(file: string): IntMatrix {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new MrlError("file not found", file);
    throw new MrlError(`cannot read: ${(err as Error).message}`, file);
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === NL || bytes[end - 1] === CR || bytes[end - 1] === SPACE)) end--;
  if (end === 0) throw new MrlError("empty CSV file, expected one row of neighbour ids per query", file);

  let rows = 1;
  for (let i = 0; i < end; i++) if (bytes[i] === NL) rows++;
  let cols = 1;
  for (let i = 0; i < end && bytes[i] !== NL; i++) if (bytes[i] === COMMA) cols++;

  const out = new Int32Array(rows * cols);
  let line = 1, col = 0, value = 0, digits = 0, negative = false, at = 0;
  const fieldError = (why: string): MrlError => {
    let s = at, e = at;
    while (s > 0 && bytes[s - 1] !== COMMA && bytes[s - 1] !== NL) s--;
    while (e < end && bytes[e] !== COMMA && bytes[e] !== NL) e++;
    const text = bytes.subarray(s, e).toString("utf8").trim();
    return new MrlError(`line ${line}, column ${col + 1}: "${text}" ${why}`, file);
  };
  const finishField = (): void => {
    if (digits === 0) throw fieldError("is not an integer neighbour id");
    if (col >= cols) throw new MrlError(`ragged CSV: line ${line} has more than ${cols} values (line 1 has ${cols})`, file);
    out[(line - 1) * cols + col] = negative ? -value : value;
    col++;
    value = 0; digits = 0; negative = false;
  };
  for (at = 0; at < end; at++) {
    const b = bytes[at];
    if (b >= ZERO && b <= NINE) {
      value = value * 10 + (b - ZERO);
      digits++;
      if (value > (negative ? 2147483648 : 2147483647)) throw fieldError("does not fit in int32");
    } else if (b === COMMA) {
      finishField();
    } else if (b === NL) {
      finishField();
      if (col !== cols) throw new MrlError(`ragged CSV: line ${line} has ${col} values, line 1 has ${cols}`, file);
      line++;
      col = 0;
    } else if (b === MINUS && digits === 0 && !negative) {
      negative = true;
    } else if (b === CR || b === SPACE) {
      // tolerated: Windows line ends, spaces around fields
    } else {
      throw fieldError("is not an integer neighbour id");
    }
  }
  finishField();
  if (col !== cols) throw new MrlError(`ragged CSV: line ${line} has ${col} values, line 1 has ${cols}`, file);
  return intMatrix(rows, cols, out);
}
