/**
 * The native kernels (lib/native, C++ over OpenBLAS, compiled at set-up by scripts/build-native.sh): nested
 * exact k-NN, adaptive and funnel reranking with its query order, and huge-page buffers. Typed wrappers only;
 * callers check their inputs (the kernels check shapes again and never read outside the arrays).
 */
import * as path from "node:path";
import { MrlError } from "../core/errors";

interface NativeKernels {
  allocate(bytes: number): ArrayBuffer;
  /**
   * The file's first `bytes` (which it must hold) as a private mapping read in now: the page cache's own pages,
   * no copy; writes stay in this process. Unmapped when the buffer is collected.
   */
  mapFile(fd: number, bytes: number): ArrayBuffer;
  /** Index of the first NaN or Inf in x, or -1; x is scanned by `threads` threads. */
  firstNonFinite(x: Float32Array, threads: number): number;
  nestedKnnBlock(queries: Float32Array, nq: number, qStride: number, block: Float32Array, nb: number, bStride: number, firstId: number,
    dims: Int32Array, k: number, entries: Float32Array, counts: Int32Array, thresholds: Float32Array, threads: number,
    invNorms?: Float32Array, invNormsStride?: number): void;
  /** out[s * rows + r] = 1 / |row r's first dims[s] values|. */
  prefixInvNorms(x: Float32Array, rows: number, stride: number, dims: Int32Array, out: Float32Array, threads: number): void;
  nestedKnnFinish(queries: Float32Array, nq: number, qStride: number, dims: Int32Array, k: number, entries: Float32Array,
    counts: Int32Array, thresholds: Float32Array, distances: Float32Array, labels: Int32Array, threads: number): void;
  /** Benchmark floors: seconds of one m x kdim x n sgemm, and the engine's selection alone over nq x nb keys. */
  sgemmSeconds(m: number, n: number, kdim: number, threads: number): number;
  selectPass(scores: Float32Array, nq: number, nb: number, k: number, threads: number): Int32Array;
  /**
   * A funnel over every query (one step: adaptive retrieval): rerank its first shortlists[0] candidates at
   * dims[0] keeping shortlists[1], ..., the last step writing shortlists[last] ids per query to out (nq rows).
   * Rows of the arrays are row-major with the given strides; `order` is the order to process queries in (a
   * permutation, or empty for 0..nq-1); queryNorms[i] = |query i| over its whole row (empty:
   * the rows given are whole, and the kernel sums them). Candidate -1 is a missing
   * one (skipped; -1 fills the tail of a row with fewer real candidates). Returns -1, or the index in `candidates`
   * of the first id outside -1..rows-1 (then nothing was computed). See lib/native/src/rerank.cc for the arithmetic.
   */
  rerank(database: Float32Array, rows: number, stride: number, queries: Float32Array, qStride: number, nq: number,
    candidates: Int32Array, candidateCols: number, dims: Int32Array, shortlists: Int32Array, float32: boolean, order: Int32Array,
    out: Int32Array, threads: number, queryNorms: Float64Array): number;
  /** Writes to order (nq values) the queries' locality order (see kernels/locality.ts). */
  localityOrder(queries: Float32Array, stride: number, nq: number, dims: number, leaf: number, order: Int32Array): void;
  /** flock(fd, LOCK_EX or LOCK_SH | LOCK_NB): true when locked, false when another open file holds a conflicting lock. */
  flockTry(fd: number, exclusive: boolean): boolean;
  /** The k smallest of n ascending runs per slot (shard/merge.ts): runs concatenated, each slots x k uint32 (lo, hi) pairs. */
  mergeRuns(runs: Uint32Array, n: number, slots: number, k: number, out: Uint32Array, threads: number): void;
  /**
   * posix_fadvise on bytes offset..offset+length-1 of an open file (length 0: to its end): "willneed" starts
   * reading them into the page cache in the background, "dontneed" evicts them (a cold-cache benchmark).
   */
  fileAdvice(fd: number, offset: number, length: number, advice: "willneed" | "dontneed" | "sequential"): void;
  /** Bytes of the file's first `length` bytes whose pages are in the page cache now (mincore; nothing is read). */
  residentBytes(fd: number, length: number): number;
  /**
   * Starts reading `rows` rows of rowBytes bytes at fileOffset into target on a background thread, the first
   * prefixBytes of each (rows x prefixBytes, packed); returns a ticket for readWait.
   */
  readStart(fd: number, target: Float32Array, fileOffset: number, rows: number, rowBytes: number, prefixBytes: number): number;
  /** Waits for a readStart: the bytes read (fewer at the end of the file); throws the read's error. */
  readWait(ticket: number): number;
}

const ADDON = path.join(__dirname, "..", "..", "native", "build", "Release", "mrl_native.node");
let addon: NativeKernels | undefined;

/** The loaded addon; a clear error when set-up has not built it. */
export function nativeKernels(): NativeKernels {
  if (!addon) {
    try {
      addon = require(ADDON) as NativeKernels;
    } catch (err) {
      throw new MrlError(`the native kernels are not built (${(err as Error).message.split("\n")[0]}); run npm run setup`, ADDON);
    }
  }
  return addon;
}

/**
 * A zeroed Float32Array of `length` values in huge-page memory that is populated up front. On this kind of
 * virtual machine a fresh page costs a slow fault on first touch (a new 500 MB array took ~2 s to fill);
 * these arrays fill at memory speed. Use for large matrices; small ones gain nothing.
 */
export function allocateFloat32(length: number): Float32Array {
  return new Float32Array(nativeKernels().allocate(length * 4), 0, length);
}

/** allocateFloat32's Int32Array twin. */
export function allocateInt32(length: number): Int32Array {
  return new Int32Array(nativeKernels().allocate(length * 4), 0, length);
}
