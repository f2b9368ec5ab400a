/**
 * The inner loop of adaptive and funnel reranking over raw typed arrays, shared by the single-thread path
 * (rerank/rerank.ts) and the worker threads (worker.ts). Pure: no IO, no allocation per query.
 *
 * Results are bit-identical to the straightforward loop (one candidate at a time, float64 sums in dimension
 * order, ties by shortlist position): every candidate keeps its own accumulators summed in the same order;
 * only the loop over candidates is unrolled by eight, so the CPU overlaps eight independent add chains instead
 * of waiting on one (the straightforward loop is bound by add latency, not by arithmetic). When the database
 * lives in wasm memory, the eight dot products run in the WebAssembly SIMD kernel (dots.wat), two
 * candidates per f64x2 instruction, with the same per-candidate order of additions.
 *
 * precision "float32" (see RerankPrecision) sums in float32 instead: f32x4 kernels, one candidate per
 * accumulator, no shuffles, so about twice the multiply-adds per second; its results equal the scalar dotF32
 * bit for bit. Reranking 2048-d rows is mostly bound by memory traffic, so queries are processed in
 * localityOrder: neighbouring queries share candidates, whose rows are then still in cache.
 */
import { MrlError } from "../core/errors";
import { RERANK_PRECISIONS, type RerankPrecision } from "../experiment/types";
import { keepSmallest, sortByDistance } from "./sort";
import { WASM_SLOTS, type WasmHome, type WasmMemory } from "../core/sharedMemory";
import { instantiateKernels, type Dots8, type KernelF32, type Kernels } from "./wasm";

const fround = Math.fround;

/**
 * The float32 dot product of a[ao..ao+dim) and b[bo..bo+dim) that the float32 kernels compute: four partial
 * sums s[c mod 4] += fround(a[c] * b[c]) in float32, the prefix padded with zeros to a multiple of four dims,
 * combined as (s0 + s1) + (s2 + s3).
 */
export function dotF32(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0;
  for (; c + 4 <= dim; c += 4) {
    s0 = fround(s0 + fround(a[ao + c] * b[bo + c]));
    s1 = fround(s1 + fround(a[ao + c + 1] * b[bo + c + 1]));
    s2 = fround(s2 + fround(a[ao + c + 2] * b[bo + c + 2]));
    s3 = fround(s3 + fround(a[ao + c + 3] * b[bo + c + 3]));
  }
  if (c < dim) {
    // zero padding: the missing lanes add fround(0 * 0) = +0
    s0 = fround(s0 + fround(a[ao + c] * b[bo + c]));
    s1 = fround(s1 + (c + 1 < dim ? fround(a[ao + c + 1] * b[bo + c + 1]) : 0));
    s2 = fround(s2 + (c + 2 < dim ? fround(a[ao + c + 2] * b[bo + c + 2]) : 0));
    s3 = fround(s3 + 0);
  }
  return fround(fround(s0 + s1) + fround(s2 + s3));
}

/** A query-range job: rows first..last-1 of `queries` against their `candidates` rows. */
export interface RerankArrays {
  /** n x stride database, row-major. */
  database: Float32Array;
  stride: number;
  /** nq x stride queries, same stride as the database. */
  queries: Float32Array;
  /** Neighbour ids, candidateCols per row; query i reads row i - candidateBase. */
  candidates: Int32Array;
  candidateCols: number;
  /** First query index covered by `candidates` (0 when it holds every query). */
  candidateBase?: number;
  /** When `database` lives in a wasm memory: use the SIMD kernel, with this thread's scratch slot. */
  wasm?: { home: WasmHome; slot: number };
  /** Default "float64". */
  precision?: RerankPrecision;
  /**
   * The order to process queries in (a permutation of 0..nq-1, see localityOrder): a range first..last covers
   * queries order[first..last). Only the speed depends on it: every query's result is the same.
   */
  order?: Int32Array;
}

interface WasmKernel {
  dots: Dots8; norms: Dots8;
  /** float32 kernels over 8 and 4 rows */
  d8: KernelF32; d4: KernelF32; n8: KernelF32; n4: KernelF32;
  qAddr: number; outAddr: number; q: Float32Array; out: Float64Array; out32: Float32Array; base: number; pending: Int32Array; addr: Int32Array;
}
const instances = new WeakMap<WasmMemory, Kernels>();

function wasmKernel(w: NonNullable<RerankArrays["wasm"]>, stride: number): WasmKernel | undefined {
  const { home, slot } = w;
  if (slot >= WASM_SLOTS || home.slotBytes < stride * 4 + 64) return undefined;
  let kernels = instances.get(home.memory);
  if (kernels === undefined) {
    kernels = instantiateKernels(home.memory);
    instances.set(home.memory, kernels);
  }
  const qAddr = slot * home.slotBytes, outAddr = qAddr + home.slotBytes - 64;
  const { dotsF32: d, normsF32: m } = kernels;
  return { dots: kernels.dots8, norms: kernels.norms8, d8: d.get(8)!, d4: d.get(4)!, n8: m.get(8)!, n4: m.get(4)!,
    qAddr, outAddr, q: new Float32Array(home.memory.buffer, qAddr, stride), out: new Float64Array(home.memory.buffer, outAddr, 8),
    out32: new Float32Array(home.memory.buffer, outAddr, 8), base: home.dataBase, pending: new Int32Array(8), addr: new Int32Array(8) };
}

/** Reusable per-thread scratch, sized for the longest shortlist, with squared row norms cached per dim. */
export interface RerankScratch {
  dist: Float64Array;
  order: Int32Array;
  tmp: Int32Array;
  distTmp: Float64Array;
  /** dim (float64) or -dim (float32) -> squared norm of each database row's dim-prefix, -1 until first needed. */
  norms: Map<number, Float64Array>;
}

export function rerankScratch(shortlist: number): RerankScratch {
  return { dist: new Float64Array(shortlist), order: new Int32Array(shortlist), tmp: new Int32Array(shortlist),
    distTmp: new Float64Array(shortlist), norms: new Map() };
}

function normsFor(scratch: RerankScratch, key: number, rows: number): Float64Array {
  let norms = scratch.norms.get(key);
  if (norms === undefined) {
    norms = new Float64Array(rows).fill(-1);
    scratch.norms.set(key, norms);
  }
  return norms;
}

/**
 * Work shared by threads: positions first..last are handed out `chunk` at a time through counter[0] (which
 * starts at first), so the threads stay close together in the query order (sharing cached rows) and a thread
 * slowed down by other work takes fewer chunks.
 */
export interface WorkQueue { counter: Int32Array; chunk: number }

/** Calls fn(from, to) for each range of [first, last) this thread takes: all of it, or chunks from `queue`. */
function forEachRange(first: number, last: number, queue: WorkQueue | undefined, fn: (from: number, to: number) => void): void {
  if (!queue) {
    fn(first, last);
    return;
  }
  for (;;) {
    const from = Atomics.add(queue.counter, 0, queue.chunk);
    if (from >= last) return;
    fn(from, Math.min(last, from + queue.chunk));
  }
}

/**
 * Orders each query's first `shortlist` candidates by squared L2 distance between the unit-normalized
 * `dim`-prefixes, for the queries at positions [first, last) (of a.order if given); writes ids to
 * out[(i - outBase) * shortlist + j].
 */
export function rerankRange(a: RerankArrays, dim: number, shortlist: number, first: number, last: number,
  out: Int32Array, outBase: number, scratch: RerankScratch = rerankScratch(shortlist), queue?: WorkQueue): void {
  const ctx = context(a, scratch);
  const base = a.candidateBase ?? 0, order = a.order;
  forEachRange(first, last, queue, (from, to) => {
    for (let t = from; t < to; t++) {
      const i = order ? order[t] : t;
      rerankQuery(ctx, i, a.candidates, (i - base) * a.candidateCols, dim, shortlist, out, (i - outBase) * shortlist);
    }
  });
}

/** Per-thread state of a rerank: arrays, scratch, the SIMD kernel if any. */
interface Context {
  db: Float32Array;
  q: Float32Array;
  stride: number;
  n: number;
  scratch: RerankScratch;
  simd: WasmKernel | undefined;
  f32: boolean;
}

function context(a: RerankArrays, scratch: RerankScratch): Context {
  const precision = a.precision ?? "float64";
  if (!RERANK_PRECISIONS.includes(precision)) throw new MrlError(`unknown rerank precision "${String(precision)}"; expected one of: ${RERANK_PRECISIONS.join(", ")}`);
  return { db: a.database, q: a.queries, stride: a.stride, n: (a.database.length / a.stride) | 0, scratch,
    simd: a.wasm ? wasmKernel(a.wasm, a.stride) : undefined, f32: precision === "float32" };
}

/**
 * Query i: orders the `shortlist` candidates at ids[row..] by squared L2 distance between unit-normalized
 * `dim`-prefixes; writes their ids to out[outRow..]. Row norms are computed once per row (a row is a
 * candidate of many queries), the dot products eight candidates at a time.
 */
function rerankQuery(ctx: Context, i: number, ids: Int32Array, row: number, dim: number, shortlist: number, out: Int32Array, outRow: number,
  keep = shortlist): void {
  if (ctx.f32) {
    rerankQueryF32(ctx, i, ids, row, dim, shortlist, out, outRow, keep);
    return;
  }
  const { db, q, stride, n, simd } = ctx;
  const dist = ctx.scratch.dist;
  const norms = normsFor(ctx.scratch, dim, n);
  const qo = i * stride;
  let qq = 0;
  for (let c = 0; c < dim; c++) qq += q[qo + c] * q[qo + c];
  const qInv = qq > 0 ? 1 / Math.sqrt(qq) : 0;
  cacheRowNorms(ctx, i, ids, row, shortlist, dim, norms, flushNorms, rowNormF64);
  let j = 0;
  if (simd) {
    // the same sums, two candidates per SIMD instruction (dots.wat)
    simd.q.set(q.subarray(qo, qo + dim));
    const { dots, qAddr, outAddr, out: res, base } = simd;
    const rowBytes = stride * 4, dimBytes = dim * 4;
    for (; j + 8 <= shortlist; j += 8) {
      dots(qAddr, base + ids[row + j] * rowBytes, base + ids[row + j + 1] * rowBytes, base + ids[row + j + 2] * rowBytes,
        base + ids[row + j + 3] * rowBytes, base + ids[row + j + 4] * rowBytes, base + ids[row + j + 5] * rowBytes,
        base + ids[row + j + 6] * rowBytes, base + ids[row + j + 7] * rowBytes, dimBytes, outAddr);
      dist[j] = res[0]; dist[j + 1] = res[1]; dist[j + 2] = res[2]; dist[j + 3] = res[3];
      dist[j + 4] = res[4]; dist[j + 5] = res[5]; dist[j + 6] = res[6]; dist[j + 7] = res[7];
    }
  }
  for (; j + 8 <= shortlist; j += 8) {
    const o0 = ids[row + j] * stride, o1 = ids[row + j + 1] * stride, o2 = ids[row + j + 2] * stride, o3 = ids[row + j + 3] * stride;
    const o4 = ids[row + j + 4] * stride, o5 = ids[row + j + 5] * stride, o6 = ids[row + j + 6] * stride, o7 = ids[row + j + 7] * stride;
    let d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0;
    for (let c = 0; c < dim; c++) {
      const x = q[qo + c];
      d0 += db[o0 + c] * x; d1 += db[o1 + c] * x; d2 += db[o2 + c] * x; d3 += db[o3 + c] * x;
      d4 += db[o4 + c] * x; d5 += db[o5 + c] * x; d6 += db[o6 + c] * x; d7 += db[o7 + c] * x;
    }
    dist[j] = d0; dist[j + 1] = d1; dist[j + 2] = d2; dist[j + 3] = d3;
    dist[j + 4] = d4; dist[j + 5] = d5; dist[j + 6] = d6; dist[j + 7] = d7;
  }
  for (; j < shortlist; j++) {
    const o = ids[row + j] * stride;
    let dot = 0;
    for (let c = 0; c < dim; c++) dot += db[o + c] * q[qo + c];
    dist[j] = dot;
  }
  finishQuery(ctx, norms, qInv, ids, row, shortlist, out, outRow, keep);
}

type FlushNorms = (simd: WasmKernel, norms: Float64Array, stride: number, dim: number, count: number) => number;
type RowNorm = (db: Float32Array, offset: number, dim: number) => number;

const rowNormF64: RowNorm = (db, o, dim) => {
  let cc = 0;
  for (let c = 0; c < dim; c++) cc += db[o + c] * db[o + c];
  return cc;
};
const rowNormF32: RowNorm = (db, o, dim) => dotF32(db, o, db, o, dim);

/**
 * Checks query i's candidate ids and fills the squared-norm cache (-1 = not yet known) for those it lacks:
 * with SIMD eight rows per `flush` call, else one `rowNorm` each. Shared by both precisions.
 */
function cacheRowNorms(ctx: Context, i: number, ids: Int32Array, row: number, shortlist: number, dim: number, norms: Float64Array,
  flush: FlushNorms, rowNorm: RowNorm): void {
  const { db, stride, n, simd } = ctx;
  let waiting = 0;
  for (let j = 0; j < shortlist; j++) {
    const id = ids[row + j];
    if (id < 0 || id >= n) throw new MrlError(`neighbour id ${id} (query ${i}, position ${j}) is outside the database's 0..${n - 1}`);
    if (norms[id] === -1) {
      if (simd) {
        // -2 marks "queued" so a repeated id is not queued twice
        norms[id] = -2;
        simd.pending[waiting++] = id;
        if (waiting === 8) waiting = flush(simd, norms, stride, dim, waiting);
      } else {
        norms[id] = rowNorm(db, id * stride, dim);
      }
    }
  }
  if (waiting > 0) flush(simd!, norms, stride, dim, waiting);
}

/** From the dot products in scratch.dist: the distances, the stable sort, the ids in order. */
function finishQuery(ctx: Context, norms: Float64Array, qInv: number, ids: Int32Array, row: number, shortlist: number, out: Int32Array, outRow: number,
  keep: number): void {
  const { dist, order, tmp, distTmp } = ctx.scratch;
  let nan = false;
  for (let p = 0; p < shortlist; p++) {
    // squared distance between unit vectors: 2 - 2 cos
    const cc = norms[ids[row + p]];
    const d = cc > 0 ? 2 - 2 * dist[p] * qInv / Math.sqrt(cc) : 4;
    if (d !== d) nan = true;
    dist[p] = d;
    order[p] = p;
  }
  let n = shortlist;
  if (keep < shortlist && !nan) n = keepSmallest(dist, order, distTmp, tmp, shortlist, keep);
  sortByDistance(dist, order, distTmp, tmp, n);
  for (let p = 0; p < keep; p++) out[outRow + p] = ids[row + order[p]];
}

/**
 * rerankQuery in float32 (see RerankPrecision): dot products, squared row norms (cached under -dim) and the
 * query's squared norm are dotF32 sums, computed by the f32x4 kernels (dots.wat: one row per f32x4
 * accumulator, eight rows per call) or by dotF32 itself, bit for bit the same.
 */
function rerankQueryF32(ctx: Context, i: number, ids: Int32Array, row: number, dim: number, shortlist: number, out: Int32Array, outRow: number,
  keep: number): void {
  const { db, q, stride, n, simd } = ctx;
  const dist = ctx.scratch.dist;
  const norms = normsFor(ctx.scratch, -dim, n);
  const qo = i * stride;
  let qq: number;
  if (simd) {
    // the query prefix goes to this thread's slot; its squared norm from the kernel (the same dotF32 sum)
    simd.q.set(q.subarray(qo, qo + dim));
    simd.n4(0, simd.qAddr, simd.qAddr, simd.qAddr, simd.qAddr, dim * 4, simd.outAddr);
    qq = simd.out32[0];
  } else {
    qq = dotF32(q, qo, q, qo, dim);
  }
  const qInv = qq > 0 ? 1 / Math.sqrt(qq) : 0;
  cacheRowNorms(ctx, i, ids, row, shortlist, dim, norms, flushNormsF32, rowNormF32);
  if (simd) {
    const { qAddr, outAddr, out32: res, base, addr: a, d8, d4 } = simd;
    const rowBytes = stride * 4, dimBytes = dim * 4;
    let j = 0;
    for (; j + 8 <= shortlist; j += 8) {
      d8(qAddr, base + ids[row + j] * rowBytes, base + ids[row + j + 1] * rowBytes, base + ids[row + j + 2] * rowBytes,
        base + ids[row + j + 3] * rowBytes, base + ids[row + j + 4] * rowBytes, base + ids[row + j + 5] * rowBytes,
        base + ids[row + j + 6] * rowBytes, base + ids[row + j + 7] * rowBytes, dimBytes, outAddr);
      dist[j] = res[0]; dist[j + 1] = res[1]; dist[j + 2] = res[2]; dist[j + 3] = res[3];
      dist[j + 4] = res[4]; dist[j + 5] = res[5]; dist[j + 6] = res[6]; dist[j + 7] = res[7];
    }
    if (j < shortlist) {
      const count = shortlist - j;
      for (let u = 0; u < count; u++) a[u] = base + ids[row + j + u] * rowBytes;
      callF32(d8, d4, a, count, qAddr, dimBytes, outAddr);
      for (let u = 0; u < count; u++) dist[j + u] = res[u];
    }
  } else {
    for (let j = 0; j < shortlist; j++) dist[j] = dotF32(db, ids[row + j] * stride, q, qo, dim);
  }
  finishQuery(ctx, norms, qInv, ids, row, shortlist, out, outRow, keep);
}

/** One float32 kernel call over the `count` (1..8) row addresses in a, the unused lanes repeating the last row. */
function callF32(k8: KernelF32, k4: KernelF32, a: Int32Array, count: number, qAddr: number, dimBytes: number, outAddr: number): void {
  const rows = count > 4 ? 8 : 4;
  for (let u = count; u < rows; u++) a[u] = a[count - 1];
  if (rows === 8) k8(qAddr, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], dimBytes, outAddr);
  else k4(qAddr, a[0], a[1], a[2], a[3], dimBytes, outAddr);
}

/** float32 squared norms of the `count` (1..8) queued rows; returns 0. */
function flushNormsF32(simd: WasmKernel, norms: Float64Array, stride: number, dim: number, count: number): number {
  const p = simd.pending, a = simd.addr, rowBytes = stride * 4;
  for (let u = 0; u < count; u++) a[u] = simd.base + p[u] * rowBytes;
  callF32(simd.n8, simd.n4, a, count, 0, dim * 4, simd.outAddr);
  for (let u = 0; u < count; u++) norms[p[u]] = simd.out32[u];
  return 0;
}

/** Squared norms of the `count` queued rows (padded to eight with the last one); returns 0. */
function flushNorms(simd: WasmKernel, norms: Float64Array, stride: number, dim: number, count: number): number {
  const p = simd.pending, rowBytes = stride * 4, base = simd.base;
  for (let u = count; u < 8; u++) p[u] = p[count - 1];
  simd.norms(0, base + p[0] * rowBytes, base + p[1] * rowBytes, base + p[2] * rowBytes, base + p[3] * rowBytes,
    base + p[4] * rowBytes, base + p[5] * rowBytes, base + p[6] * rowBytes, base + p[7] * rowBytes, dim * 4, simd.outAddr);
  for (let u = 0; u < count; u++) norms[p[u]] = simd.out[u];
  return 0;
}

/**
 * A funnel over queries [first, last): rerank at dims[0] keeping shortlists[0], then at dims[1] keeping
 * shortlists[1], ...; writes the final shortlists to out rows i - outBase. All steps run for one query before
 * the next, so the candidate rows the first step fetched are still in cache for the later steps.
 */
export function funnelRange(a: RerankArrays, dims: number[], shortlists: number[], first: number, last: number,
  out: Int32Array, outBase: number, queue?: WorkQueue): void {
  const ctx = context(a, rerankScratch(shortlists[0]));
  const steps = dims.length, final = shortlists[steps - 1];
  const buffers = [new Int32Array(shortlists[0]), new Int32Array(shortlists[0])];
  const base = a.candidateBase ?? 0, order = a.order;
  forEachRange(first, last, queue, (from, to) => {
    for (let t = from; t < to; t++) {
      const i = order ? order[t] : t;
      let ids = a.candidates, row = (i - base) * a.candidateCols;
      for (let s = 0; s < steps; s++) {
        const isFinal = s === steps - 1;
        const target = isFinal ? out : buffers[s % 2];
        // a step before the last only needs the candidates the next one keeps, in order
        rerankQuery(ctx, i, ids, row, dims[s], shortlists[s], target, isFinal ? (i - outBase) * final : 0, isFinal ? final : shortlists[s + 1]);
        ids = target;
        row = 0;
      }
    }
  });
}
