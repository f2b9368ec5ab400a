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
  const parser = new ShortlistCsvParser(file, size, limit);
  for (let position = 0, end = 0; position < size; position += end) {
    end = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
    if (end <= 0) throw new MrlError(`cannot read: the file ended at byte ${position} of ${size}`, file);
    parser.scan(chunk, end, position);
  }
  return parser.finish();
}

/**
 * The state machine of readShortlistCsv: scan() takes the file's bytes chunk after chunk (a value may span two
 * chunks), finish() ends the last line and returns the matrix. Line 1 fixes the width; errors name file and line.
 */
class ShortlistCsvParser {
  private out = new Int32Array(0);
  private rows = 0;
  /** Values per line (line 1's count, known when line 1 ends) and how many of them are kept. */
  private cols = -1;
  private kept = 0;
  private line = 1;
  private col = 0;
  private value = 0;
  private digits = 0;
  private negative = false;
  /** A space or CR came after the field's first digit or sign: another digit there is an error ("1 2" is not 12). */
  private gap = false;
  private skipping = false;
  private blankLine = -1;
  private bytesPerLine = 0;
  /** The chunk being scanned, its length, its first byte's offset in the file, and the byte at hand. */
  private bytes: Buffer = Buffer.alloc(0);
  private end = 0;
  private position = 0;
  private at = 0;

  constructor(private readonly file: string, private readonly size: number, private readonly limit: number) {}

  scan(bytes: Buffer, end: number, position: number): void {
    this.bytes = bytes;
    this.end = end;
    this.position = position;
    for (this.at = 0; this.at < end; this.at++) {
      if (this.skipping) { // the rest of the line is not needed: jump to its end
        const nl = bytes.indexOf(NL, this.at);
        if (nl < 0 || nl >= end) { this.at = end; break; }
        this.at = nl;
        this.finishLine();
        continue;
      }
      const b = bytes[this.at];
      if (b >= ZERO && b <= NINE) {
        if (this.blankLine > 0) throw new MrlError(`line ${this.blankLine} is empty; expected one row of neighbour ids per query`, this.file);
        if (this.gap) throw this.fieldError("has a space inside the number; expected one integer neighbour id per field");
        this.value = this.value * 10 + (b - ZERO);
        this.digits++;
        if (this.value > (this.negative ? 2147483648 : 2147483647)) throw this.fieldError("does not fit in int32");
      } else if (b === COMMA) {
        this.finishField();
      } else if (b === NL) {
        if (this.col === 0 && this.digits === 0 && !this.negative) { // an empty line: only more of them may follow
          if (this.blankLine < 0) this.blankLine = this.line;
          this.line++;
          continue;
        }
        this.finishField();
        this.finishLine();
      } else if (b === MINUS && this.digits === 0 && !this.negative) {
        this.negative = true;
      } else if (b === SPACE || b === CR) { // tolerated around a field (Windows line ends, "1, 2"), never inside "1 2"
        if (this.digits > 0 || this.negative) this.gap = true;
      } else {
        throw this.fieldError("is not an integer neighbour id");
      }
    }
  }

  finish(): IntMatrix {
    if (this.col > 0 || this.digits > 0 || this.negative) { // no final newline
      this.finishField();
      this.finishLine();
    }
    if (this.rows === 0) throw new MrlError("empty CSV file, expected one row of neighbour ids per query", this.file);
    const used = this.rows * this.kept;
    return intMatrix(this.rows, this.kept, this.out.length === used ? this.out : this.out.slice(0, used));
  }

  private fieldError(why: string): MrlError {
    const { bytes, at, end } = this;
    let s = at, e = at;
    while (s > 0 && bytes[s - 1] !== COMMA && bytes[s - 1] !== NL) s--;
    while (e < end && bytes[e] !== COMMA && bytes[e] !== NL) e++;
    const text = bytes.subarray(s, e).toString("utf8").trim();
    return new MrlError(`line ${this.line}, column ${this.col + 1}: "${text}" ${why}`, this.file);
  }

  private store(v: number): void {
    if (this.cols < 0) { // line 1 sets the width: grow as it goes
      if (this.col >= this.out.length) this.out = grow(this.out, Math.max(1024, this.out.length * 2));
      this.out[this.col] = v;
      return;
    }
    const index = (this.line - 1) * this.kept + this.col;
    // capacity from the file size, so a typical file is allocated once
    if (index >= this.out.length) {
      this.out = grow(this.out, Math.max(this.out.length * 2, Math.ceil(this.size / Math.max(1, this.bytesPerLine) * 1.05) * this.kept));
    }
    this.out[index] = v;
  }

  private finishField(): void {
    if (this.digits === 0) throw this.fieldError("is not an integer neighbour id");
    if (this.cols >= 0 && this.col >= this.cols) throw new MrlError(`ragged CSV: line ${this.line} has more than ${this.cols} values (line 1 has ${this.cols})`, this.file);
    if (this.col < this.limit) this.store(this.negative ? -this.value : this.value);
    this.col++;
    this.value = 0;
    this.digits = 0;
    this.negative = false;
    this.gap = false;
    if (this.col >= this.limit && this.cols >= 0) this.skipping = true;
  }

  private finishLine(): void {
    if (this.cols < 0) {
      this.cols = this.col;
      this.kept = Math.min(this.cols, this.limit);
      this.bytesPerLine = this.position + this.at + 1;
    } else if (!this.skipping && this.col !== this.cols) {
      throw new MrlError(`ragged CSV: line ${this.line} has ${this.col} values, line 1 has ${this.cols}`, this.file);
    }
    this.rows = this.line;
    this.line++;
    this.col = 0;
    this.skipping = false;
  }
}

function grow(a: Int32Array, length: number): Int32Array {
  const b = new Int32Array(length);
  b.set(a);
  return b;
}
