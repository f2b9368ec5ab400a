/**
 * FAISS's file format of an exact L2 index (IndexFlatL2, written by faiss.write_index), read and written here
 * without building the index in memory: it is a 45-byte header followed by the normalized vectors (normalized
 * by FAISS itself, faiss.ts faissNormalized, so they are faiss.normalize_L2's bit for bit), row after row. So faiss_nn can write a 10.5 GB index block by block while it searches, and a cached index (ours or
 * the Python originals') can be searched block by block like the database itself.
 *
 *   "IxF2" | d int32 | ntotal int64 | 2^20 int64 | 2^20 int64 | is_trained u8 | metric_type int32 (1 = L2) |
 *   number of floats uint64 | float32 data
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { check, MrlError } from "../core/errors";
import type { Matrix } from "../core/matrix";
import { readFully } from "../io/npy";

export const FLAT_HEADER_BYTES = 45;

function header(dim: number, ntotal: number): Uint8Array {
  const out = new Uint8Array(FLAT_HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x78, 0x46, 0x32]); // "IxF2"
  view.setInt32(4, dim, true);
  view.setBigInt64(8, BigInt(ntotal), true);
  view.setBigInt64(16, 1n << 20n, true);
  view.setBigInt64(24, 1n << 20n, true);
  out[32] = 1; // is_trained
  view.setInt32(33, 1, true); // METRIC_L2
  view.setBigUint64(37, BigInt(ntotal) * BigInt(dim), true);
  return out;
}

/** The shape of an exact L2 index file, or undefined when the file is another kind of index. */
export function flatIndexShape(file: string): { dim: number; ntotal: number } | undefined {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    if (size < FLAT_HEADER_BYTES) return undefined;
    const bytes = new Uint8Array(FLAT_HEADER_BYTES);
    readFully(fd, bytes, 0, file);
    const view = new DataView(bytes.buffer);
    if (String.fromCharCode(...bytes.subarray(0, 4)) !== "IxF2" || view.getInt32(33, true) !== 1) return undefined;
    const dim = view.getInt32(4, true), ntotal = Number(view.getBigInt64(8, true));
    if (Number(view.getBigUint64(37, true)) !== dim * ntotal || size < FLAT_HEADER_BYTES + dim * ntotal * 4) {
      throw new MrlError(`exact L2 index of ${ntotal} x ${dim} is truncated (${size} bytes); delete it to rebuild`, file);
    }
    return { dim, ntotal };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes an exact L2 index file block by block into `<file>.partial`, renamed to `file` by finish(). A
 * partial file left by an interrupted run can be continued: `resumeRows` rows are kept, the rest cut off.
 */
export class FlatIndexWriter {
  readonly partial: string;
  private fd: number;
  private rows: number;

  constructor(readonly file: string, readonly dim: number, resumeRows = 0) {
    this.partial = `${file}.partial`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (resumeRows > 0) {
      check(fs.existsSync(this.partial) && fs.statSync(this.partial).size >= FLAT_HEADER_BYTES + resumeRows * dim * 4,
        `cannot resume: the partial index has fewer than ${resumeRows} rows`, this.partial);
      this.fd = fs.openSync(this.partial, "r+");
      fs.ftruncateSync(this.fd, FLAT_HEADER_BYTES + resumeRows * dim * 4);
    } else {
      this.fd = fs.openSync(this.partial, "w");
      fs.writeSync(this.fd, header(dim, 0), 0, FLAT_HEADER_BYTES, 0);
    }
    this.rows = resumeRows;
  }

  /** Appends normalized rows. */
  append(block: Matrix): void {
    check(block.cols === this.dim, `cannot append ${block.cols}-d rows to a ${this.dim}-d index`, this.file);
    const bytes = new Uint8Array(block.data.buffer, block.data.byteOffset, block.rows * block.cols * 4);
    let done = 0;
    const position = FLAT_HEADER_BYTES + this.rows * this.dim * 4;
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, position + done);
    this.rows += block.rows;
  }

  /** Flushes what was appended, so a resumed run can trust the first `rows` rows. */
  sync(): number {
    fs.fsyncSync(this.fd);
    return this.rows;
  }

  /** Writes the final header and renames the file into place. */
  finish(): void {
    fs.writeSync(this.fd, header(this.dim, this.rows), 0, FLAT_HEADER_BYTES, 0);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    fs.renameSync(this.partial, this.file);
  }

  /** Closes without finishing (the partial file stays for a resume). */
  close(): void {
    fs.closeSync(this.fd);
  }
}
