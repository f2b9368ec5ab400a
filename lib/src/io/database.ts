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
import { allocateFloat32, nativeKernels } from "../kernels/native";
import { readFully } from "./npy";
import { mapMatrixNpy, npyRowBlocks, openNpy, STREAM_BUFFER_BYTES } from "./npy";

/** Rows read through rather than skipped when a gap between wanted rows is at most this many bytes (one read beats two). */
export const COALESCE_GAP_BYTES = 64 * 1024;


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

  /** The share (0..1) of the file's bytes in the page cache now (mincore: nothing is read). */
  cachedShare(): number {
    const fd = fs.openSync(this.file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      return size === 0 ? 1 : nativeKernels().residentBytes(fd, size) / size;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Whether the whole array is in memory now (matrix() was called). */
  get loaded(): boolean {
    return this.resident !== undefined;
  }

  /**
   * The whole array in memory, loaded on first use (mapped from the file: the page cache's pages, read in now).
   * Only for databases that fit the budget.
   */
  matrix(): Matrix {
    if (!this.inMemory) {
      throw new MrlError(`the database is read from its file (${this.rows} x ${this.cols} is over the memory budget); ` +
        "use readBlock / gatherRows, or raise the budget (--memory-gb)", this.file);
    }
    if (!this.resident) {
      this.resident = checkFinite(mapMatrixNpy(this.file), this.file);
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

  /**
   * A reader of this file's blocks of `blockRows` rows (their first `dims` columns), in order, `passes` times over,
   * each block read on a background thread while the caller computes on the one before; undefined when the file
   * is not float32 (readBlock converts it). Close it when done.
   */
  blockReader(blockRows: number, dims: number, passes: number): BlockReader | undefined {
    const npy = openNpy(this.file);
    if (npy.header.dtype !== "f4") {
      fs.closeSync(npy.fd);
      return undefined;
    }
    return new BlockReader(this, npy.fd, npy.header.dataOffset, blockRows, dims, passes);
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

/**
 * Blocks of rows (their first `dims` columns) read pass after pass in id order, double-buffered: returning block i starts reading block i + 1 (or block 0 of the
 * next pass) into the other buffer on a native thread (readStart), so reading overlaps the arithmetic. A block is
 * valid until the next read().
 */
export class BlockReader {
  private readonly buffers: Float32Array[];
  private pending?: { start: number; end: number; ticket: number; buffer: number };
  private passesLeft: number;
  private closed = false;

  constructor(private readonly database: DatabaseVectors, private readonly fd: number, private readonly dataOffset: number,
    readonly blockRows: number, readonly dims: number, passes: number) {
    check(Number.isInteger(blockRows) && blockRows > 0 && dims > 0 && dims <= database.cols,
      `blocks of ${blockRows} rows x ${dims} dims do not fit ${database.rows} x ${database.cols}`, database.file);
    const rows = Math.min(blockRows, database.rows);
    this.buffers = [allocateFloat32(rows * dims), allocateFloat32(rows * dims)];
    this.passesLeft = passes;
    nativeKernels().fileAdvice(fd, dataOffset, 0, "sequential");
  }

  /** Rows start..end-1 (first `dims` columns), waiting for the read-ahead when it is this block, else reading it now. */
  read(start: number, end: number): Matrix {
    const db = this.database;
    check(!this.closed && 0 <= start && start < end && end <= db.rows && end - start <= this.blockRows,
      `rows ${start}..${end} are outside ${db.rows} rows in blocks of ${this.blockRows}`, db.file);
    const hit = this.pending && this.pending.start === start && this.pending.end === end ? this.pending : undefined;
    const used = hit ? hit.buffer : this.pending ? 1 - this.pending.buffer : 0;
    this.finishPending(hit !== undefined);
    if (!hit) this.readInto(used, start, end, true);
    if (end === db.rows) this.passesLeft--;
    const next = end < db.rows ? end : this.passesLeft > 0 ? 0 : -1;
    if (next >= 0) this.readInto(1 - used, next, Math.min(db.rows, next + this.blockRows), false);
    return matrix(end - start, this.dims, this.buffers[used].subarray(0, (end - start) * this.dims));
  }

  /** Waits for a read still running and closes the file. */
  close(): void {
    if (this.closed) return;
    try {
      this.finishPending(false);
    } finally {
      this.closed = true;
      fs.closeSync(this.fd);
    }
  }

  private readInto(buffer: number, start: number, end: number, wait: boolean): void {
    const rowBytes = this.database.cols * 4;
    const ticket = nativeKernels().readStart(this.fd, this.buffers[buffer], this.dataOffset + start * rowBytes, end - start, rowBytes, this.dims * 4);
    this.pending = { start, end, ticket, buffer };
    if (wait) this.finishPending(true);
  }

  /** Joins the pending read; `check`: a short read is an error (a truncated file), else it is discarded. */
  private finishPending(checkLength: boolean): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    let got: number;
    try {
      got = nativeKernels().readWait(p.ticket);
    } catch (err) {
      throw new MrlError(`reading rows ${p.start}..${p.end - 1}: ${(err as Error).message}`, this.database.file);
    }
    const rowsGot = Math.floor(got / (this.dims * 4));
    if (checkLength && rowsGot !== p.end - p.start) {
      throw new MrlError(`unexpected end of file: row ${p.start + rowsGot} is not all there (the file is shorter than its header says)`, this.database.file);
    }
  }
}

/**
 * Drops the page-cache pages of one file (posix_fadvise DONTNEED): its next read is cold, the rest of the machine
 * untouched (benchmarks and tests of the rerank access path).
 */
export function evictFromPageCache(file: string): void {
  const fd = fs.openSync(file, "r");
  try {
    fs.fsyncSync(fd); // dirty pages stay until written back
    nativeKernels().fileAdvice(fd, 0, 0, "dontneed");
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a file through once (64 MiB at a time), so its pages are in the page cache. */
export function warmPageCache(file: string): void {
  const fd = fs.openSync(file, "r"), buffer = Buffer.allocUnsafe(64 * 2 ** 20);
  try {
    for (let at = 0, n; (n = fs.readSync(fd, buffer, 0, buffer.length, at)) > 0; at += n);
  } finally {
    fs.closeSync(fd);
  }
}
