/**
 * The only module that imports faiss-node. It uses the typed-array methods that the project patches into
 * faiss-node's source at build time (native/faiss-node/typed-arrays.patch): Float32Array in, Float32Array
 * distances and Int32Array labels out, no per-element conversion.
 */
import * as fs from "node:fs";
import * as faissNode from "faiss-node";
import { writeAtomically } from "../core/atomic";
import { checkOneOf, MrlError } from "../core/errors";
import type { Matrix } from "../core/matrix";
import { INDEX_TYPES, type IndexType } from "../experiment/types";

/** faiss-node's Index with the patched-in typed-array methods. */
interface NativeIndex {
  ntotal(): number;
  getDimension(): number;
  write(fname: string): void;
  addFloat32(data: Float32Array): void;
  searchFloat32(queries: Float32Array, k: number, distances: Float32Array, labels: Int32Array): void;
  setEfSearch(ef: number): boolean;
  resetIndex(): void;
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
export const INDEX_FACTORY: Record<IndexType, string> = { exactl2: "Flat", hnsw8: "HNSW8,Flat", hnsw32: "HNSW32,Flat" };

export class FaissIndex {
  private constructor(private readonly native: NativeIndex, readonly type: string) {
    if (typeof native.addFloat32 !== "function") {
      throw new MrlError("faiss-node was built without the project's typed-array patch; run `npm run setup`");
    }
  }

  /** A new empty index of the given type over `dim`-dimensional vectors (L2 metric). */
  static create(indexType: IndexType, dim: number): FaissIndex {
    checkOneOf(indexType, INDEX_TYPES, "index type");
    if (!Number.isInteger(dim) || dim <= 0) throw new MrlError(`index dimension must be a positive integer, got ${dim}`);
    const native = indexType === "exactl2"
      ? new faissNode.IndexFlatL2(dim)
      : faissNode.Index.fromFactory(dim, INDEX_FACTORY[indexType], faissNode.MetricType.METRIC_L2);
    return new FaissIndex(native as unknown as NativeIndex, indexType);
  }

  /** Reads an index written by this project or by Python's faiss.write_index. */
  static read(file: string): FaissIndex {
    if (!fs.existsSync(file)) throw new MrlError("index file not found", file);
    try {
      return new FaissIndex(faissNode.Index.read(file) as unknown as NativeIndex, "file");
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

  /** Adds rows in blocks (bounded temporary memory inside FAISS, and a progress callback per block). */
  add(vectors: Matrix, onRows?: (rows: number) => void, blockRows = 65536): void {
    if (vectors.cols !== this.dim) {
      throw new MrlError(`cannot add ${vectors.cols}-d vectors to a ${this.dim}-d index`);
    }
    for (let start = 0; start < vectors.rows; start += blockRows) {
      const end = Math.min(vectors.rows, start + blockRows);
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
