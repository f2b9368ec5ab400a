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

/** Bytes read from a CSV file at a time (one reused buffer: fresh pages are slow to touch on some VMs). */
const READ_CHUNK = 8 * 2 ** 20;

/**
 * Reads a headerless integer CSV into an IntMatrix, parsing bytes as they stream from the file (no giant
 * string: 50k x 2048 shortlists exceed V8's string limit). With `columns`, only the first `columns` values of
 * each line are parsed and kept (the rest of the line is skipped unread by the parser): metrics need the first
 * 100 of 2048 neighbours, a rerank its first L. Errors name the file and the line: ragged rows, empty or
 * non-integer fields, values outside int32, empty files.
 */
export function readShortlistCsv(file: string, options: { columns?: number } = {}): IntMatrix {
  const limit = options.columns ?? Infinity;
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new MrlError("file not found", file);
    throw new MrlError(`cannot read: ${(err as Error).message}`, file);
  }
  try {
    return parseCsv(fd, file, limit);
  } finally {
    fs.closeSync(fd);
  }
}

function parseCsv(fd: number, file: string, limit: number): IntMatrix {
  const size = fs.fstatSync(fd).size;
  const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(size, READ_CHUNK)));
  let out = new Int32Array(0);
  let rows = 0;
  /** Values per line (line 1's count, known when line 1 ends) and how many of them are kept. */
  let cols = -1, kept = 0;
  let line = 1, col = 0, value = 0, digits = 0, negative = false, skipping = false, blankLine = -1;
  let bytes = chunk, at = 0, end = 0;
  const fieldError = (why: string): MrlError => {
    let s = at, e = at;
    while (s > 0 && bytes[s - 1] !== COMMA && bytes[s - 1] !== NL) s--;
    while (e < end && bytes[e] !== COMMA && bytes[e] !== NL) e++;
    const text = bytes.subarray(s, e).toString("utf8").trim();
    return new MrlError(`line ${line}, column ${col + 1}: "${text}" ${why}`, file);
  };
  const store = (v: number): void => {
    if (cols < 0) { // line 1 sets the width: grow as it goes
      if (col >= out.length) out = grow(out, Math.max(1024, out.length * 2));
      out[col] = v;
      return;
    }
    const index = (line - 1) * kept + col;
    // capacity from the file size, so a typical file is allocated once
    if (index >= out.length) out = grow(out, Math.max(out.length * 2, Math.ceil(size / Math.max(1, bytesPerLine) * 1.05) * kept));
    out[index] = v;
  };
  let bytesPerLine = 0, position = 0;
  const finishField = (): void => {
    if (digits === 0) throw fieldError("is not an integer neighbour id");
    if (cols >= 0 && col >= cols) throw new MrlError(`ragged CSV: line ${line} has more than ${cols} values (line 1 has ${cols})`, file);
    if (col < limit) store(negative ? -value : value);
    col++;
    value = 0; digits = 0; negative = false;
    if (col >= limit && cols >= 0) skipping = true;
  };
  const finishLine = (): void => {
    if (cols < 0) {
      cols = col;
      kept = Math.min(cols, limit);
      bytesPerLine = position + at + 1;
    } else if (!skipping && col !== cols) {
      throw new MrlError(`ragged CSV: line ${line} has ${col} values, line 1 has ${cols}`, file);
    }
    rows = line;
    line++;
    col = 0;
    skipping = false;
  };
  for (position = 0; position < size; position += end) {
    end = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
    if (end <= 0) throw new MrlError(`cannot read: the file ended at byte ${position} of ${size}`, file);
    bytes = chunk;
    for (at = 0; at < end; at++) {
      if (skipping) { // the rest of the line is not needed: jump to its end
        const nl = bytes.indexOf(NL, at);
        if (nl < 0 || nl >= end) { at = end; break; }
        at = nl;
        finishLine();
        continue;
      }
      const b = bytes[at];
      if (b >= ZERO && b <= NINE) {
        if (blankLine > 0) throw new MrlError(`line ${blankLine} is empty; expected one row of neighbour ids per query`, file);
        value = value * 10 + (b - ZERO);
        digits++;
        if (value > (negative ? 2147483648 : 2147483647)) throw fieldError("does not fit in int32");
      } else if (b === COMMA) {
        finishField();
      } else if (b === NL) {
        if (col === 0 && digits === 0 && !negative) { // an empty line: only more of them may follow
          if (blankLine < 0) blankLine = line;
          line++;
          continue;
        }
        finishField();
        finishLine();
      } else if (b === MINUS && digits === 0 && !negative) {
        negative = true;
      } else if (b === CR || b === SPACE) {
        // tolerated: Windows line ends, spaces around fields
      } else {
        throw fieldError("is not an integer neighbour id");
      }
    }
  }
  if (col > 0 || digits > 0 || negative) { // no final newline
    finishField();
    finishLine();
  }
  if (rows === 0) throw new MrlError("empty CSV file, expected one row of neighbour ids per query", file);
  const used = rows * kept;
  return intMatrix(rows, kept, out.length === used ? out : out.slice(0, used));
}

function grow(a: Int32Array, length: number): Int32Array {
  const b = new Int32Array(length);
  b.set(a);
  return b;
}
