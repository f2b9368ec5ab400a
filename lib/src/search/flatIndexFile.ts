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
import { StreamedFileWriter } from "../core/atomic";
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
 * Writes an exact L2 index file block by block into a temp file of this process (tempPathFor: its pid in the
 * name, so two writers never share one), renamed to `file` by finish(). A failed write (a full disk) removes the
 * temp file and names `file` in one line; an interrupted run leaves only a temp file, which the next run clears.
 */
export class FlatIndexWriter {
  private readonly out: StreamedFileWriter;
  private rows = 0;

  /** `expectedRows`, when known: the bytes the file will need, named in a full-disk message. */
  constructor(readonly file: string, readonly dim: number, expectedRows?: number) {
    this.out = new StreamedFileWriter(file, expectedRows === undefined ? undefined : FLAT_HEADER_BYTES + expectedRows * dim * 4);
    this.out.write(header(dim, 0));
  }

  /** The temp file being written. */
  get partial(): string {
    return this.out.temp;
  }

  /** Appends normalized rows. */
  append(block: Matrix): void {
    check(block.cols === this.dim, `cannot append ${block.cols}-d rows to a ${this.dim}-d index`, this.file);
    this.out.write(new Uint8Array(block.data.buffer, block.data.byteOffset, block.rows * block.cols * 4));
    this.rows += block.rows;
  }

  /** Writes the final header and renames the file into place. */
  finish(): void {
    this.out.write(header(this.dim, this.rows), 0);
    this.out.finish();
  }

  /** Stops without finishing: the temp file is removed (safe to call twice). */
  close(): void {
    this.out.close();
  }
}
