/**
 * The only module that imports faiss-node. It uses the typed-array methods that the project patches into
 * faiss-node's source at build time (patches/faiss-node/typed-arrays.patch): Float32Array in, Float32Array
 * distances and Int32Array labels out, no per-element conversion.
 */
import * as fs from "node:fs";
import * as faissNode from "faiss-node";
import { writeAtomically } from "../core/atomic";
import { check, checkOneOf, MrlError } from "../core/errors";
import type { Matrix } from "../core/matrix";
import { INDEX_TYPES, type FaissIndexType, type IndexType } from "../experiment/types";
import { allocateFloat32 } from "../kernels/native";

/** faiss-node's Index with the patched-in typed-array methods. */
interface NativeIndex {
  ntotal(): number;
  getDimension(): number;
  write(fname: string): void;
  addFloat32(data: Float32Array): void;
  searchFloat32(queries: Float32Array, k: number, distances: Float32Array, labels: Int32Array): void;
  setEfSearch(ef: number): boolean;
  resetIndex(): void;
  trainFloat32(data: Float32Array): void;
  setNprobe(nprobe: number): boolean;
  trainIvfOnPrefix(data: Float32Array, clusterDim: number): void;
}

/** faiss-node's BinaryIndex, added by the patch (faiss::IndexBinaryFlat: Hamming distance over packed bits). */
interface NativeBinaryIndex {
  ntotal(): number;
  getDimension(): number;
  addBits(codes: Uint8Array): void;
  searchBits(queries: Uint8Array, k: number, distances: Int32Array, labels: Int32Array): void;
  write(fname: string): void;
  resetIndex(): void;
}
const patched = faissNode as unknown as {
  BinaryIndex?: { new (bits: number): NativeBinaryIndex; read(fname: string): NativeBinaryIndex };
  searchStats?: () => { hnsw: number; ivf: number };
};

/** What every entry point the patch adds says when faiss-node was built without it. */
const unpatched = (): MrlError => new MrlError("faiss-node was built without the project's typed-array patch; run `npm run setup`");

/** The module-level function the patch adds (faiss::fvec_renorm_L2, see faissNormalized). */
const normalizeL2Float32 = (faissNode as unknown as {
  normalizeL2Float32?: (x: Float32Array, d: number, src?: Float32Array, srcStride?: number) => number;
}).normalizeL2Float32;

/**
 * The first `dim` columns of every row, L2-normalized by FAISS itself (faiss::fvec_renorm_L2, what Python's
 * faiss.normalize_L2 calls: float32 sum of squares, times 1 / sqrtf), into `out` (rows x dim values at least, e.g. a
 * buffer reused block after block) or a new array; `out` may be `m.data` itself when dim == m.cols (in place).
 * Everything handed to FAISS goes through here, so its vectors are the original's bit for bit (a float64 sum
 * rounds differently on near-duplicates, which changes HNSW graphs). The library's one normalization.
 * A zero or non-finite row cannot be normalized: an error naming it (and `file`).
 */
export function faissNormalized(m: Matrix, dim = m.cols, file?: string, out?: Float32Array): Matrix {
  if (!Number.isInteger(dim) || dim <= 0 || dim > m.cols) {
    throw new MrlError(`nesting dim ${dim} is outside the array's 1..${m.cols} columns`, file);
  }
  if (!normalizeL2Float32) throw unpatched();
  const n = m.rows * dim;
  check(out === undefined || out.length >= n, `cannot write ${m.rows} x ${dim} values into ${out?.length}`);
  const inPlace = out === m.data;
  check(!inPlace || dim === m.cols, `normalizing a ${dim}-prefix in place needs all ${m.cols} columns`);
  const data = out ? (out.length === n ? out : out.subarray(0, n)) : n >= 1 << 20 ? allocateFloat32(n) : new Float32Array(n);
  const bad = inPlace ? normalizeL2Float32(data, dim) : normalizeL2Float32(data, dim, m.data.subarray(0, m.rows * m.cols), m.cols);
  if (bad >= 0) {
    const values = data.subarray(bad * dim, (bad + 1) * dim);
    throw new MrlError(values.every((v) => v === 0) ? `row ${bad} is all zeros in its first ${dim} dims and cannot be L2-normalized`
      : values.every(Number.isFinite) ? `row ${bad} has a squared norm that underflows to 0 in float32 in its first ${dim} dims and cannot be L2-normalized`
        : `row ${bad} contains NaN or Inf values`, file);
  }
  return { data, rows: m.rows, cols: dim };
}

/** k-NN results in FAISS's (D, I) layout: row q holds query q's k neighbours, nearest first. */
export interface KnnResult {
  /** nq x k squared L2 distances. */
  distances: Float32Array;
  /** nq x k database ids; -1 where fewer than k were found. */
  labels: Int32Array;
  nq: number;
  k: number;
}

/** FAISS factory strings per index type, as the original builds them (IndexFlatL2, IndexHNSWFlat(d, M)). */
export const INDEX_FACTORY: Record<FaissIndexType, string> = { exactl2: "Flat", hnsw8: "HNSW8,Flat", hnsw32: "HNSW32,Flat" };

export class FaissIndex {
  /**
   * @param hnsw whether this is an HNSW index: added in one call, as the original does, because FAISS orders
   *   insertion by level within one add (rows added in blocks would make another graph)
   */
  private constructor(private readonly native: NativeIndex, readonly type: string, readonly hnsw: boolean) {
    if (typeof native.addFloat32 !== "function") {
      throw unpatched();
    }
  }

  /** A new empty index of the given type over `dim`-dimensional vectors (L2 metric). */
  static create(indexType: IndexType, dim: number): FaissIndex {
    const faissType = checkOneOf(indexType, INDEX_TYPES, "index type");
    if (!Number.isInteger(dim) || dim <= 0) throw new MrlError(`index dimension must be a positive integer, got ${dim}`);
    const native = faissType === "exactl2"
      ? new faissNode.IndexFlatL2(dim)
      : faissNode.Index.fromFactory(dim, INDEX_FACTORY[faissType], faissNode.MetricType.METRIC_L2);
    return new FaissIndex(native as unknown as NativeIndex, indexType, indexType !== "exactl2");
  }

  /**
   * A new empty index from a FAISS factory string over `dim`-d vectors, L2 metric (e.g. "IVF256,Flat", "PQ16",
   * "OPQ16,PQ16", "SQ8"); indexes that need training say so (`train`).
   */
  static fromFactory(factory: string, dim: number): FaissIndex {
    if (!Number.isInteger(dim) || dim <= 0) throw new MrlError(`index dimension must be a positive integer, got ${dim}`);
    try {
      const native = faissNode.Index.fromFactory(dim, factory, faissNode.MetricType.METRIC_L2) as unknown as NativeIndex;
      return new FaissIndex(native, factory, factory.startsWith("HNSW"));
    } catch (err) {
      throw new MrlError(`FAISS cannot build "${factory}" at ${dim} dims: ${(err as Error).message}`);
    }
  }

  /** Reads an index written by this project or by Python's faiss.write_index. */
  static read(file: string): FaissIndex {
    if (!fs.existsSync(file)) throw new MrlError("index file not found", file);
    try {
      return new FaissIndex(faissNode.Index.read(file) as unknown as NativeIndex, "file", fourcc(file).startsWith("IHN"));
    } catch (err) {
      throw new MrlError(`cannot read FAISS index: ${(err as Error).message}`, file);
    }
  }

  get dim(): number {
    return this.native.getDimension();
  }

  get ntotal(): number {
    return this.native.ntotal();
  }

  /**
   * Adds rows: an HNSW index in one call, as the original (see `hnsw`); a flat index in blocks (bounded
   * temporary memory inside FAISS, and a progress callback per block).
   */
  add(vectors: Matrix, onRows?: (rows: number) => void, blockRows = 65536): void {
    if (vectors.cols !== this.dim) {
      throw new MrlError(`cannot add ${vectors.cols}-d vectors to a ${this.dim}-d index`);
    }
    const step = this.hnsw ? Math.max(1, vectors.rows) : blockRows;
    for (let start = 0; start < vectors.rows; start += step) {
      const end = Math.min(vectors.rows, start + step);
      this.native.addFloat32(vectors.data.subarray(start * vectors.cols, end * vectors.cols));
      onRows?.(end - start);
    }
  }

  /**
   * k nearest neighbours of every query row. Queries go to FAISS in batches so FAISS's own buffers stay
   * bounded for large k; results land directly in the output arrays.
   */
  search(queries: Matrix, k: number, onRows?: (rows: number) => void, batchRows?: number): KnnResult {
    if (queries.cols !== this.dim) {
      throw new MrlError(`query dim ${queries.cols} does not match the index dim ${this.dim}`);
    }
    if (!Number.isInteger(k) || k <= 0) throw new MrlError(`k must be a positive integer, got ${k}`);
    if (k > this.ntotal) throw new MrlError(`k=${k} is larger than the database (${this.ntotal} vectors)`);
    const nq = queries.rows;
    const distances = new Float32Array(nq * k);
    const labels = new Int32Array(nq * k);
    const batch = batchRows ?? Math.max(1, Math.floor(4_194_304 / k));
    for (let start = 0; start < nq; start += batch) {
      const end = Math.min(nq, start + batch);
      this.native.searchFloat32(queries.data.subarray(start * this.dim, end * this.dim), k,
        distances.subarray(start * k, end * k), labels.subarray(start * k, end * k));
      onRows?.(end - start);
    }
    return { distances, labels, nq, k };
  }

  /** Trains the index (k-means, PQ codebooks, OPQ rotation, SQ ranges; FAISS subsamples large sets itself). */
  train(vectors: Matrix): void {
    check(vectors.cols === this.dim, `cannot train a ${this.dim}-d index on ${vectors.cols}-d vectors`);
    this.native.trainFloat32(vectors.data.subarray(0, vectors.rows * vectors.cols));
  }

  /**
   * Trains an IVF index's coarse quantizer on the first `clusterDim` columns only (AdANNS: clusters made at
   * d_c, lists searched at the index's d >= d_c); see the patch's trainIvfOnPrefix for why the file stays a
   * standard IndexIVF.
   */
  trainOnPrefix(vectors: Matrix, clusterDim: number): void {
    check(vectors.cols === this.dim, `cannot train a ${this.dim}-d index on ${vectors.cols}-d vectors`);
    check(Number.isInteger(clusterDim) && clusterDim > 0 && clusterDim <= this.dim, `cluster dim ${clusterDim} must be in 1..${this.dim}`);
    this.native.trainIvfOnPrefix(vectors.data.subarray(0, vectors.rows * vectors.cols), clusterDim);
  }

  /** IVF lists probed per query (nprobe); returns false for indexes that are not IVF. */
  setNprobe(nprobe: number): boolean {
    return this.native.setNprobe(nprobe);
  }

  /** Removes every vector (the index object stays, its memory is freed now rather than at garbage collection). */
  reset(): void {
    this.native.resetIndex();
  }

  /** HNSW search breadth (efSearch); returns false for indexes that are not HNSW. */
  setEfSearch(ef: number): boolean {
    return this.native.setEfSearch(ef);
  }

  /** Writes the index atomically in FAISS's own format (readable by Python faiss.read_index). */
  write(file: string): void {
    writeAtomically(file, (temp) => this.native.write(temp));
  }
}

/** The four-character code FAISS writes first in an index file ("IHNf" for IndexHNSWFlat, "IxF2" for IndexFlatL2). */
function fourcc(file: string): string {
  const fd = fs.openSync(file, "r");
  try {
    const bytes = new Uint8Array(4);
    return fs.readSync(fd, bytes, 0, 4, 0) === 4 ? String.fromCharCode(...bytes) : "";
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Distances FAISS computed since the last call (HNSW graph search, IVF list scans; FAISS sums them over its
 * threads), and resets the counters: the measured part of a first stage's cost.
 */
export function faissDistanceCounts(): { hnsw: number; ivf: number } {
  if (!patched.searchStats) throw unpatched();
  return patched.searchStats();
}

/**
 * A FAISS binary index (IndexBinaryFlat): codes of `bits` bits packed 8 per byte, lowest bit first (numpy's
 * packbits(..., bitorder="little")), searched by Hamming distance. Files are FAISS's binary-index format
 * (Python: faiss.read_index_binary).
 */
export class FaissBinaryIndex {
  private constructor(private readonly native: NativeBinaryIndex) {}

  static create(bits: number): FaissBinaryIndex {
    if (!patched.BinaryIndex) throw unpatched();
    if (!Number.isInteger(bits) || bits <= 0 || bits % 8 !== 0) throw new MrlError(`a binary index needs a positive multiple of 8 bits, got ${bits}`);
    return new FaissBinaryIndex(new patched.BinaryIndex(bits));
  }

  static read(file: string): FaissBinaryIndex {
    if (!patched.BinaryIndex) throw unpatched();
    if (!fs.existsSync(file)) throw new MrlError("index file not found", file);
    try {
      return new FaissBinaryIndex(patched.BinaryIndex.read(file));
    } catch (err) {
      throw new MrlError(`cannot read FAISS binary index: ${(err as Error).message}`, file);
    }
  }

  /** Bits per code. */
  get bits(): number {
    return this.native.getDimension();
  }

  get ntotal(): number {
    return this.native.ntotal();
  }

  add(codes: Uint8Array): void {
    check(codes.length % (this.bits / 8) === 0, `${codes.length} bytes are not whole ${this.bits / 8}-byte codes`);
    this.native.addBits(codes);
  }

  /** k nearest codes of every query code by Hamming distance (equal distances in FAISS's heap order). */
  search(queries: Uint8Array, k: number): { distances: Int32Array; labels: Int32Array; nq: number; k: number } {
    const bytes = this.bits / 8;
    check(queries.length % bytes === 0, `${queries.length} query bytes are not whole ${bytes}-byte codes`);
    if (!Number.isInteger(k) || k <= 0) throw new MrlError(`k must be a positive integer, got ${k}`);
    if (k > this.ntotal) throw new MrlError(`k=${k} is larger than the database (${this.ntotal} codes)`);
    const nq = queries.length / bytes;
    const distances = new Int32Array(nq * k), labels = new Int32Array(nq * k);
    this.native.searchBits(queries, k, distances, labels);
    return { distances, labels, nq, k };
  }

  reset(): void {
    this.native.resetIndex();
  }

  /** Writes the index atomically in FAISS's binary-index format. */
  write(file: string): void {
    writeAtomically(file, (temp) => this.native.write(temp));
  }
}
