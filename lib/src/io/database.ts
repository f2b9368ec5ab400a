/**
 * The database embeddings of an experiment, wherever they are: in their .npy file, read on demand (row blocks
 * for search, candidate rows for reranking), and loaded once into memory only where random access
 * pays for it (reranking in place) and the array fits the memory budget. Sequential reads go to the file
 * even then: from the page cache they cost what a copy from memory costs, without holding the whole array.
 * Both give the same float32 values, so every stage gives the same results either way.
 */
import * as fs from "node:fs";
import { checkFinite, checkNonZeroPrefixes } from "../core/checks";
import { check, MrlError } from "../core/errors";
import { matrix, type Matrix } from "../core/matrix";
import { createProgress } from "../core/progress";
import { readFully } from "./npy";
import { npyRowBlocks, openNpy, readMatrixPrefixNpy, STREAM_BUFFER_BYTES } from "./npy";

/** Rows read through rather than skipped when a gap between wanted rows is at most this many bytes (one read beats two). */
const COALESCE_GAP_BYTES = 64 * 1024;

export class DatabaseVectors {
  private resident?: Matrix;
  private readonly checkedDims = new Set<number>();

  /**
   * @param inMemory whether the array may be loaded into memory (it fits the budget); matrix() loads it
   */
  constructor(readonly file: string, readonly rows: number, readonly cols: number, readonly inMemory: boolean) {}

  /** Bytes of the whole array as float32. */
  get bytes(): number {
    return this.rows * this.cols * 4;
  }

  /** Whether the whole array is in memory now (matrix() was called). */
  get loaded(): boolean {
    return this.resident !== undefined;
  }

  /** The whole array in memory, loaded on first use. Only for databases that fit the budget. */
  matrix(): Matrix {
    if (!this.inMemory) {
      throw new MrlError(`the database is read from its file (${this.rows} x ${this.cols} is over the memory budget); ` +
        "use readBlock / gatherRows, or raise the budget (--memory-gb)", this.file);
    }
    if (!this.resident) {
      this.resident = checkFinite(readMatrixPrefixNpy(this.file), this.file);
      this.checkedDims.add(0);
    }
    return this.resident;
  }

  /** Rows start..end-1, first `dims` columns, into `out` (or a new array). */
  readBlock(start: number, end: number, dims: number, out = new Float32Array((end - start) * dims)): Matrix {
    check(0 <= start && start <= end && end <= this.rows && dims > 0 && dims <= this.cols, `rows ${start}..${end} x ${dims} dims are outside ${this.rows} x ${this.cols}`, this.file);
    const block = matrix(end - start, dims, out.subarray(0, (end - start) * dims));
    if (this.resident) {
      const m = this.matrix();
      if (dims === this.cols) block.data.set(m.data.subarray(start * dims, end * dims));
      else for (let r = start; r < end; r++) block.data.set(m.data.subarray(r * this.cols, r * this.cols + dims), (r - start) * dims);
      return block;
    }
    const chunkRows = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / (this.cols * 4)));
    for (const part of npyRowBlocks(this.file, { start, end, dims, blockRows: chunkRows })) {
      block.data.set(part.data.data, (part.start - start) * dims);
    }
    return block;
  }

  /** Rows `ids` (ascending, distinct), first `dims` columns, packed into `out` (ids.length x dims). */
  gatherRows(ids: Int32Array, dims: number, out: Float32Array): void {
    check(out.length >= ids.length * dims && dims > 0 && dims <= this.cols, `cannot gather ${ids.length} rows x ${dims} dims into ${out.length} values`, this.file);
    if (this.resident) {
      const m = this.resident.data, cols = this.cols;
      for (let i = 0; i < ids.length; i++) out.set(m.subarray(ids[i] * cols, ids[i] * cols + dims), i * dims);
      return;
    }
    const npy = openNpy(this.file);
    try {
      check(npy.header.dtype === "f4", `reading single rows needs float32 vectors, got dtype ${npy.header.dtype}`, this.file);
      const rowBytes = this.cols * 4, gapRows = Math.max(1, Math.floor(COALESCE_GAP_BYTES / rowBytes));
      // a run spans up to maxRun rows of the file (wanted or not), so the buffer holds maxRun rows
      const maxRun = Math.min(this.rows, Math.max(1, Math.floor(STREAM_BUFFER_BYTES / rowBytes)));
      const buffer = new Uint8Array(maxRun * rowBytes);
      const floats = new Float32Array(buffer.buffer);
      for (let i = 0; i < ids.length;) {
        // one read for a run of nearby rows: consecutive ids no more than gapRows apart, at most maxRun rows
        let j = i + 1;
        while (j < ids.length && ids[j] - ids[j - 1] <= gapRows && ids[j] - ids[i] < maxRun) j++;
        const first = ids[i], span = ids[j - 1] - first + 1;
        if (first < 0 || ids[j - 1] >= this.rows) throw new MrlError(`row id ${first < 0 ? first : ids[j - 1]} is outside the database's 0..${this.rows - 1}`, this.file);
        const bytes = span === 1 ? buffer.subarray(0, dims * 4) : buffer.subarray(0, (span - 1) * rowBytes + dims * 4);
        readFully(npy.fd, bytes, npy.header.dataOffset + first * rowBytes, this.file);
        for (let t = i; t < j; t++) {
          const at = (ids[t] - first) * this.cols;
          out.set(floats.subarray(at, at + dims), t * dims);
        }
        i = j;
      }
    } finally {
      fs.closeSync(npy.fd);
    }
  }

  /**
   * Checks, before a stage writes anything, that every value is finite and every row's prefix at each of
   * `dims` is non-zero (it must be L2-normalized). Streams the file when it is not in memory; each check runs once.
   */
  check(dims: number[], quiet = false, rows?: { start: number; end: number }): void {
    if (rows && !this.resident) return this.checkRows(dims, rows, quiet);
    const todo = dims.filter((d) => !this.checkedDims.has(d));
    if (todo.length === 0 && this.checkedDims.has(0)) return;
    if (this.resident) {
      checkNonZeroPrefixes(this.resident, todo, this.file);
    } else {
      const largest = Math.max(...todo, 1), finite = !this.checkedDims.has(0);
      const chunkRows = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / (this.cols * 4)));
      const progress = createProgress("check database", this.rows, { quiet });
      for (const block of npyRowBlocks(this.file, { dims: finite ? this.cols : largest, blockRows: chunkRows })) {
        progress.tick(block.data.rows);
        try {
          if (finite) checkFinite(block.data);
          checkNonZeroPrefixes(block.data, todo);
        } catch (err) {
          // the block's row numbers are relative: say which database row it is
          throw new MrlError((err as Error).message.replace(/^row (\d+)/, (_, r) => `row ${block.start + Number(r)}`).replace(/^error: /, ""), this.file);
        }
      }
      progress.done();
      this.checkedDims.add(0);
    }
    for (const d of todo) this.checkedDims.add(d);
  }

  /** check() of rows start..end-1 only (a shard's), read from the file; not remembered (other rows are unchecked). */
  private checkRows(dims: number[], rows: { start: number; end: number }, quiet: boolean): void {
    const chunkRows = Math.max(1, Math.floor(STREAM_BUFFER_BYTES / (this.cols * 4)));
    const progress = createProgress("check database rows", rows.end - rows.start, { quiet });
    for (const block of npyRowBlocks(this.file, { start: rows.start, end: rows.end, dims: this.cols, blockRows: chunkRows })) {
      progress.tick(block.data.rows);
      try {
        checkFinite(block.data);
        checkNonZeroPrefixes(block.data, dims);
      } catch (err) {
        throw new MrlError((err as Error).message.replace(/^row (\d+)/, (_, r) => `row ${block.start + Number(r)}`).replace(/^error: /, ""), this.file);
      }
    }
    progress.done();
  }
}
