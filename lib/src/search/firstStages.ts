/**
 * First stages: how a shortlist is found at a prefix dim before the float rerank / funnel stages. Beside exact
 * search and HNSW (the original's two), the ones practitioners put in front of Matryoshka prefixes: IVF with
 * its clusters made at a smaller prefix (AdANNS), product quantization (PQ, OPQ), 8-bit scalar quantization,
 * and sign bits (centred) searched by Hamming distance. Every one is a FAISS index whose file Python FAISS reads.
 *
 * A stage is named by a short spec, as grids and labels write it:
 *   exact | hnsw<M>[-ef<efSearch>] | ivf<nlist>-p<nprobe>[-c<d_c>] | pq<m> | opq<m> | sq8 | binary
 */
import { writeMatrixNpy } from "../io/npy";
import { MrlError } from "../core/errors";
import { evenlySpacedRows, type Matrix } from "../core/matrix";
import { FaissBinaryIndex, FaissIndex, faissDistanceCounts, faissNormalized } from "./faiss";

export type FirstStageSpec =
  | { kind: "exact" }
  | { kind: "hnsw"; m: number; efSearch?: number }
  /** Clusters made at the first `clusterDim` dims (default: the stage's dim), lists scanned at the stage's dim. */
  | { kind: "ivf"; nlist: number; nprobe: number; clusterDim?: number }
  /** `m` sub-quantizers of 8 bits; opq adds FAISS's learned rotation first. */
  | { kind: "pq"; m: number; opq: boolean }
  | { kind: "sq8" }
  /** One bit per dim: the sign of the prefix centred at each dim's median (columnMedians), compared by Hamming distance. */
  | { kind: "binary" };

export const FIRST_STAGE_GRAMMAR = "exact, hnsw<M>[-ef<efSearch>], ivf<nlist>-p<nprobe>[-c<d_c>], pq<m>, opq<m>, sq8, binary";

/** Whether `name` is a first-stage spec parseFirstStage accepts (for readers that word their own error). */
export function isFirstStageName(name: string): boolean {
  try {
    parseFirstStage(name);
    return true;
  } catch {
    return false;
  }
}

/** The spec a name stands for; an unknown name is one error listing the grammar. */
export function parseFirstStage(name: string): FirstStageSpec {
  const int = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
  let m: RegExpMatchArray | null;
  if (name === "exact") return { kind: "exact" };
  if (name === "sq8") return { kind: "sq8" };
  if (name === "binary") return { kind: "binary" };
  if ((m = /^hnsw([1-9]\d*)(?:-ef([1-9]\d*))?$/.exec(name))) return { kind: "hnsw", m: Number(m[1]), ...(m[2] ? { efSearch: int(m[2]) } : {}) };
  if ((m = /^ivf([1-9]\d*)-p([1-9]\d*)(?:-c([1-9]\d*))?$/.exec(name))) {
    const spec = { kind: "ivf" as const, nlist: Number(m[1]), nprobe: Number(m[2]), ...(m[3] ? { clusterDim: int(m[3]) } : {}) };
    if (spec.nprobe > spec.nlist) throw new MrlError(`first stage "${name}" probes ${spec.nprobe} of ${spec.nlist} lists; expected nprobe <= nlist`);
    return spec;
  }
  if ((m = /^(o?)pq([1-9]\d*)$/.exec(name))) return { kind: "pq", m: Number(m[2]), opq: m[1] === "o" };
  throw new MrlError(`first stage "${name}" is not one of: ${FIRST_STAGE_GRAMMAR}`);
}

/**
 * Why `spec` cannot run at `dim` over `rows` database rows, or undefined when it can: PQ needs m to divide the
 * dim, sign bits whole bytes, AdANNS clusters a prefix no longer than the dim, IVF fewer lists than rows.
 */
export function firstStageUnfit(spec: FirstStageSpec, dim: number, rows: number): string | undefined {
  if (spec.kind === "pq" && dim % spec.m !== 0) return `${spec.m} sub-quantizers do not divide ${dim} dims`;
  if (spec.kind === "binary" && dim % 8 !== 0) return `${dim} sign bits are not whole bytes`;
  if (spec.kind === "ivf" && (spec.clusterDim ?? dim) > dim) return `clusters at ${spec.clusterDim} dims cannot be made from a ${dim}-d prefix`;
  if (spec.kind === "ivf" && spec.nlist > rows) return `${spec.nlist} lists need at least as many database rows (${rows})`;
  return undefined;
}

/**
 * Multiply-adds per query, in millions, the paper's cost model extended to each stage: exact d x N; SQ8 the
 * same (codes decoded on the fly); PQ a 256 x d distance table plus m lookups per row (OPQ adds the d x d
 * rotation); IVF the d_c-dim coarse search over nlist centroids plus the list rows it measurably scanned at d;
 * HNSW the distances it measurably computed at d; sign bits N x d/64 (one XOR-popcount per 64-bit word, not
 * floating-point, counted alike). `distancesPerQuery` is FAISS's own counter over the searched batch.
 */
export function firstStageMflops(spec: FirstStageSpec, dim: number, rows: number, distancesPerQuery = 0): number {
  switch (spec.kind) {
    case "exact": case "sq8": return (dim * rows) / 1e6;
    case "pq": return (256 * dim + rows * spec.m + (spec.opq ? dim * dim : 0)) / 1e6;
    case "ivf": return (spec.nlist * (spec.clusterDim ?? dim) + distancesPerQuery * dim) / 1e6;
    case "hnsw": return (distancesPerQuery * dim) / 1e6;
    case "binary": return (rows * dim) / 64 / 1e6;
  }
}

/** Queries as a stage searches them: the FAISS-normalized prefix (float stages) or packed sign bits. */
export type PreparedQueries = { rows: number; floats: Matrix } | { rows: number; bits: Uint8Array; bytes: number };

/** A built first stage over one database prefix. */
export interface FirstStageIndex {
  readonly spec: FirstStageSpec;
  readonly dim: number;
  /** The queries in the form `search` takes (done once, outside any timing). */
  prepare(queries: Matrix): PreparedQueries;
  /** Each prepared query's k nearest ids in [from, to) (row-major, -1 where fewer found), and the distances FAISS counted. */
  search(queries: PreparedQueries, k: number, from?: number, to?: number): { labels: Int32Array; distances: number };
  /** The index file, in FAISS's own format (binary stages: faiss.read_index_binary). */
  write(file: string): void;
  /** Frees the native memory now rather than at garbage collection. */
  free(): void;
}

/**
 * Each column's median over `sample` rows: the thresholds that make sign bits informative. Embeddings after a
 * ReLU (the MRL ResNet50's, Fashion-MNIST's here) are never negative, so raw signs would only mark zeros;
 * FAISS's IndexLSH centres the same way (train_thresholds).
 */
export function columnMedians(sample: Matrix): Float32Array {
  const medians = new Float32Array(sample.cols), column = new Float32Array(sample.rows);
  for (let c = 0; c < sample.cols; c++) {
    for (let r = 0; r < sample.rows; r++) column[r] = sample.data[r * sample.cols + c];
    column.sort();
    const h = sample.rows >> 1;
    medians[c] = sample.rows % 2 ? column[h] : (column[h - 1] + column[h]) / 2;
  }
  return medians;
}

/**
 * One bit per dim of each row's FAISS-normalized `dim`-prefix: 1 where it exceeds the column's threshold. Packed
 * 8 per byte, lowest bit first (numpy.packbits(..., bitorder="little")); normalized a block of rows at a time so
 * a large database never needs a second full-size copy.
 */
export function thresholdBits(m: Matrix, dim: number, thresholds: Float32Array, blockRows = 16_384): Uint8Array {
  if (dim % 8 !== 0 || dim > m.cols || thresholds.length !== dim) {
    throw new MrlError(`bits need a prefix of whole bytes within ${m.cols} columns and one threshold per dim, got ${dim} dims, ${thresholds.length} thresholds`);
  }
  const bytes = dim / 8, out = new Uint8Array(m.rows * bytes), buffer = new Float32Array(Math.min(blockRows, m.rows) * dim);
  for (let start = 0; start < m.rows; start += blockRows) {
    const rows = Math.min(blockRows, m.rows - start);
    const block = faissNormalized({ data: m.data.subarray(start * m.cols, (start + rows) * m.cols), rows, cols: m.cols }, dim, undefined, buffer.subarray(0, rows * dim));
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < bytes; b++) {
        let byte = 0;
        for (let j = 0; j < 8; j++) if (block.data[r * dim + b * 8 + j] > thresholds[b * 8 + j]) byte |= 1 << j;
        out[(start + r) * bytes + b] = byte;
      }
    }
  }
  return out;
}

/** The FAISS factory string of a float stage. */
export function firstStageFactory(spec: FirstStageSpec): string {
  switch (spec.kind) {
    case "hnsw": return `HNSW${spec.m},Flat`;
    case "ivf": return `IVF${spec.nlist},Flat`;
    // "np": no polysemous training (the factory's default for IndexPQ; minutes here, and only for Hamming filtering)
    case "pq": return spec.opq ? `OPQ${spec.m},PQ${spec.m}np` : `PQ${spec.m}np`;
    case "sq8": return "SQ8";
    default: throw new MrlError(`first stage ${spec.kind} has no FAISS factory string`);
  }
}

/**
 * Builds a first stage (not exact, which the nested engine does) over the first `dim` columns of `database`:
 * float stages get the FAISS-normalized prefix (as faiss_nn does), trained on an evenly strided sample of at
 * most `trainRows` rows (default 16,384: 64 per PQ centroid, and at least 64 per IVF list; FAISS's PQ and OPQ
 * training time grows with it) and filled in one add; binary gets bits thresholded at the sample's medians.
 */
export function buildFirstStage(spec: FirstStageSpec, database: Matrix, dim: number, options: { trainRows?: number } = {}): FirstStageIndex {
  const built = buildIndexOf(spec, database, dim, options);
  // counted while its FAISS memory (outside the JS heap, freed only by free()) is held
  unfreed++;
  let freed = false;
  return { ...built, free: () => { if (!freed) { freed = true; unfreed--; built.free(); } } };
}

let unfreed = 0;

/** First-stage indexes built and not yet freed in this process (a leak check: each holds its vectors in FAISS). */
export const unfreedFirstStages = (): number => unfreed;

function buildIndexOf(spec: FirstStageSpec, database: Matrix, dim: number, options: { trainRows?: number }): FirstStageIndex {
  const unfit = firstStageUnfit(spec, dim, database.rows);
  if (unfit) throw new MrlError(`first stage ${spec.kind} cannot run at ${dim} dims: ${unfit}`);
  const trainRows = options.trainRows ?? 16_384;
  const range = (q: PreparedQueries, from: number, to: number): [number, number] => [from, Math.min(to, q.rows)];
  if (spec.kind === "binary") {
    const thresholds = columnMedians(faissNormalized(evenlySpacedRows(database, trainRows), dim));
    const index = FaissBinaryIndex.create(dim), bytes = dim / 8;
    index.add(thresholdBits(database, dim, thresholds));
    return {
      spec, dim,
      prepare: (queries) => ({ rows: queries.rows, bits: thresholdBits(queries, dim, thresholds), bytes }),
      search: (q, k, from = 0, to = q.rows) => {
        if (!("bits" in q)) throw new MrlError("binary first stage needs queries prepared by itself");
        const [a, b] = range(q, from, to);
        return { labels: index.search(q.bits.subarray(a * bytes, b * bytes), k).labels, distances: 0 };
      },
      // the thresholds go beside the index: Python binarizes its queries with them (faiss.read_index_binary + numpy)
      write: (file) => {
        index.write(file);
        writeMatrixNpy(`${file}.thresholds.npy`, { data: thresholds, rows: 1, cols: dim });
      },
      free: () => index.reset(),
    };
  }
  if (spec.kind === "exact") throw new MrlError("the exact first stage is the nested engine's (search/nested.ts), not an index");
  const index = FaissIndex.fromFactory(firstStageFactory(spec), dim);
  const vectors = faissNormalized(database, dim);
  if (spec.kind !== "hnsw") {
    const sample = evenlySpacedRows(vectors, Math.max(trainRows, spec.kind === "ivf" ? 64 * spec.nlist : 0));
    if (spec.kind === "ivf" && (spec.clusterDim ?? dim) < dim) index.trainOnPrefix(sample, spec.clusterDim!);
    else index.train(sample);
  }
  index.add(vectors);
  if (spec.kind === "ivf") index.setNprobe(spec.nprobe);
  if (spec.kind === "hnsw" && spec.efSearch !== undefined) index.setEfSearch(spec.efSearch);
  return {
    spec, dim,
    prepare: (queries) => ({ rows: queries.rows, floats: faissNormalized(queries, dim) }),
    search: (q, k, from = 0, to = q.rows) => {
      if (!("floats" in q)) throw new MrlError("float first stage needs queries prepared by itself");
      const [a, b] = range(q, from, to);
      faissDistanceCounts();
      const found = index.search({ data: q.floats.data.subarray(a * dim, b * dim), rows: b - a, cols: dim }, k);
      const counted = faissDistanceCounts();
      return { labels: found.labels, distances: counted.hnsw + counted.ivf };
    },
    write: (file) => index.write(file),
    free: () => index.reset(),
  };
}

/** The label a spec is written with (the inverse of parseFirstStage). */
export function firstStageName(spec: FirstStageSpec): string {
  switch (spec.kind) {
    case "hnsw": return `hnsw${spec.m}${spec.efSearch !== undefined ? `-ef${spec.efSearch}` : ""}`;
    case "ivf": return `ivf${spec.nlist}-p${spec.nprobe}${spec.clusterDim !== undefined ? `-c${spec.clusterDim}` : ""}`;
    case "pq": return `${spec.opq ? "o" : ""}pq${spec.m}`;
    default: return spec.kind;
  }
}
