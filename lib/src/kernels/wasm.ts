/**
 * A WebAssembly SIMD kernel for reranking's dot products, assembled here from its bytes (no toolchain):
 * `dots8(q, o0..o7, dimBytes, out)` computes the dot products of one float32 query prefix with eight float32
 * database rows, in float64. Two candidates share one f64x2 register, one per lane, and each lane adds its
 * products in dimension order, exactly as the scalar loop does: the sums are bit-identical, but two
 * candidates cost one instruction. `norms8` does the same for the rows' squared norms. The arrays must live in
 * the module's (shared) memory.
 */

import { sharedWasmMemory, wasm, type WasmMemory } from "../core/sharedMemory";

/** LEB128 of an unsigned integer. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const str = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, "utf8")];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

// opcodes
const I32 = 0x7f, V128 = 0x7b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_GE_U = 0x4f;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
const F32_LOAD = 0x2a, F64_PROMOTE_F32 = 0xbb;
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const V128_STORE = 0x0b, F64X2_SPLAT = 0x14, V128_LOAD32_LANE = 0x56, V128_LOAD32_ZERO = 0x5c;
const F64X2_PROMOTE_LOW_F32X4 = 0x5f, F64X2_ADD = 0xf0, F64X2_MUL = 0xf2;

const I32_GT_U = 0x4b, V128_LOAD = 0x00, I8X16_SHUFFLE = 0x0d;
/** i8x16.shuffle lane bytes: f32 lanes [a0 b0 a1 b1], [a2 b2 a3 b3], and "high f64 half to low". */
const INTERLEAVE_LO = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const INTERLEAVE_HI = [8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31];
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/**
 * The body of dots8 (`square` false) or norms8 (`square` true: each lane adds v * v of its own row, the
 * squared norms; q is ignored). The main loop takes four dims per round: one 16-byte load per row, the two
 * rows of a pair interleaved so lane 0 holds row 2p's values and lane 1 row 2p+1's, then four multiply-adds
 * per lane in dimension order. A one-dim loop finishes the rest.
 */
function kernelBody(square: boolean): number[] {
  // params: q=0, o0..o7=1..8, dimBytes=9, out=10. locals: c=11 (i32); v128: x0..x3=12..15, acc0..acc3=16..19,
  // va=20, vb=21, lo=22, hi=23, t=24, x=25
  const Q = 0, O = (i: number): number => 1 + i, DIM = 9, OUT = 10, C = 11;
  const XK = (k: number): number => 12 + k, ACC = (p: number): number => 16 + p, VA = 20, VB = 21, LO = 22, HI = 23, T = 24, X = 25;
  const get = (i: number): number[] => [LOCAL_GET, i];
  const set = (i: number): number[] => [LOCAL_SET, i];
  const shuffle = (lanes: number[]): number[] => [...simd(I8X16_SHUFFLE), ...lanes];
  /** acc(p) += (vector on the stack, promoted) * (x or itself) */
  const multiplyAdd = (p: number, x: number): number[] => [
    ...simd(F64X2_PROMOTE_LOW_F32X4),
    ...(square ? [...set(T), ...get(T), ...get(T)] : get(x)), ...simd(F64X2_MUL),
    ...get(ACC(p)), ...simd(F64X2_ADD), ...set(ACC(p)),
  ];
  const body: number[] = [BLOCK, VOID, LOOP, VOID, ...get(C), I32_CONST, 16, I32_ADD, ...get(DIM), I32_GT_U, BR_IF, 1];
  if (!square) {
    for (let k = 0; k < 4; k++) body.push(...get(Q), ...get(C), I32_ADD, F32_LOAD, 2, 4 * k, F64_PROMOTE_F32, ...simd(F64X2_SPLAT), ...set(XK(k)));
  }
  for (let p = 0; p < 4; p++) {
    body.push(
      ...get(O(2 * p)), ...get(C), I32_ADD, ...simd(V128_LOAD), 2, 0, ...set(VA),
      ...get(O(2 * p + 1)), ...get(C), I32_ADD, ...simd(V128_LOAD), 2, 0, ...set(VB),
      ...get(VA), ...get(VB), ...shuffle(INTERLEAVE_LO), ...set(LO),
      ...get(VA), ...get(VB), ...shuffle(INTERLEAVE_HI), ...set(HI),
      ...get(LO), ...multiplyAdd(p, XK(0)),
      ...get(LO), ...get(LO), ...shuffle(HIGH_TO_LOW), ...multiplyAdd(p, XK(1)),
      ...get(HI), ...multiplyAdd(p, XK(2)),
      ...get(HI), ...get(HI), ...shuffle(HIGH_TO_LOW), ...multiplyAdd(p, XK(3)),
    );
  }
  body.push(...get(C), I32_CONST, 16, I32_ADD, ...set(C), BR, 0, END, END);
  // the remaining dims one at a time
  body.push(BLOCK, VOID, LOOP, VOID, ...get(C), ...get(DIM), I32_GE_U, BR_IF, 1);
  if (!square) body.push(...get(Q), ...get(C), I32_ADD, F32_LOAD, 2, 0, F64_PROMOTE_F32, ...simd(F64X2_SPLAT), ...set(X));
  for (let p = 0; p < 4; p++) {
    body.push(
      // lane 1 address, then lane 0 loaded into a zeroed vector, then lane 1 inserted
      ...get(O(2 * p + 1)), ...get(C), I32_ADD,
      ...get(O(2 * p)), ...get(C), I32_ADD, ...simd(V128_LOAD32_ZERO), 2, 0,
      ...simd(V128_LOAD32_LANE), 2, 0, 1,
      ...multiplyAdd(p, X),
    );
  }
  body.push(...get(C), I32_CONST, 4, I32_ADD, ...set(C), BR, 0, END, END);
  for (let p = 0; p < 4; p++) body.push(...get(OUT), ...get(ACC(p)), ...simd(V128_STORE), 3, 16 * p);
  body.push(END);
  return [...vec([[...uleb(1), I32], [...uleb(14), V128]]), ...body];
}

// float32 kernels
const F32X4_ADD = 0xe4, F32X4_MUL = 0xe6;
/** i8x16.shuffle lane bytes (f32 lanes of a, b): [a0 b0 a2 b2], [a1 b1 a3 b3], [a0 a1 b0 b1], [a2 a3 b2 b3]. */
const EVEN_LANES = [0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27];
const ODD_LANES = [4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31];
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const HIGH_HALVES = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];

/**
 * The body of a float32 kernel over `rows` rows (a multiple of 4): `dots` (square false) computes the dot
 * products of the query prefix with each row, `norms` (square true) each row's squared norm. Each row has one
 * f32x4 accumulator: lane l adds fround(row[c] * q[c]) for the dims c = l mod 4 in dimension order (one
 * 16-byte load per row and four dims, no shuffles); the last 1..3 dims go to lanes 0..2 with zeros in the
 * other lanes, as if the prefix were padded with zeros to a multiple of 4. At the end each row's lanes are
 * combined as (s0 + s1) + (s2 + s3) and the `rows` float32 results stored at `out`. This is exactly
 * `dotF32` in rerankKernel.ts. Params: q, o_0..o_{rows-1}, dimBytes, out.
 */
function kernelBodyF32(square: boolean, rows: number): number[] {
  const Q = 0, O = (r: number): number => 1 + r, DIM = rows + 1, OUT = rows + 2, C = rows + 3;
  // v128 locals: x, t, acc_0..acc_{rows-1}, tail_0..tail_{rows-1}
  const X = C + 1, T = C + 2, ACC = (r: number): number => C + 3 + r, TAIL = (r: number): number => C + 3 + rows + r;
  const get = (i: number): number[] => [LOCAL_GET, i];
  const set = (i: number): number[] => [LOCAL_SET, i];
  const shuffle = (lanes: number[]): number[] => [...simd(I8X16_SHUFFLE), ...lanes];
  /** acc(r) += (vector on the stack) * (x or itself), in float32 */
  const multiplyAdd = (r: number): number[] => [
    ...(square ? [...set(T), ...get(T), ...get(T)] : get(X)), ...simd(F32X4_MUL),
    ...get(ACC(r)), ...simd(F32X4_ADD), ...set(ACC(r)),
  ];
  /** (address of row r, or of q when r < 0) + c + offset */
  const at = (r: number, offset: number): number[] => [...get(r < 0 ? Q : O(r)), ...get(C), I32_ADD, ...(offset ? [I32_CONST, offset, I32_ADD] : [])];
  const first = square ? 0 : -1;
  // main loop: four dims per round
  const body: number[] = [BLOCK, VOID, LOOP, VOID, ...get(C), I32_CONST, 16, I32_ADD, ...get(DIM), I32_GT_U, BR_IF, 1];
  if (!square) body.push(...at(-1, 0), ...simd(V128_LOAD), 2, 0, ...set(X));
  for (let r = 0; r < rows; r++) body.push(...at(r, 0), ...simd(V128_LOAD), 2, 0, ...multiplyAdd(r));
  body.push(...get(C), I32_CONST, 16, I32_ADD, ...set(C), BR, 0, END, END);
  // the last 1..3 dims: lanes 0..2 of zeroed vectors, then one multiply-add (skipped when there are none)
  body.push(BLOCK, VOID, ...get(C), ...get(DIM), I32_GE_U, BR_IF, 0);
  for (let r = first; r < rows; r++) body.push(...at(r, 0), ...simd(V128_LOAD32_ZERO), 2, 0, ...set(r < 0 ? X : TAIL(r)));
  body.push(BLOCK, VOID);
  for (const lane of [1, 2]) {
    body.push(...get(C), I32_CONST, 4 * lane, I32_ADD, ...get(DIM), I32_GE_U, BR_IF, 0);
    for (let r = first; r < rows; r++) {
      const v = r < 0 ? X : TAIL(r);
      body.push(...at(r, 4 * lane), ...get(v), ...simd(V128_LOAD32_LANE), 2, 0, lane, ...set(v));
    }
  }
  body.push(END);
  for (let r = 0; r < rows; r++) body.push(...get(TAIL(r)), ...multiplyAdd(r));
  body.push(END);
  // (s0 + s1) + (s2 + s3) per row, four rows per vector
  for (let g = 0; g < rows / 4; g++) {
    const pair = (r: number): number[] => [
      ...get(ACC(r)), ...get(ACC(r + 1)), ...shuffle(EVEN_LANES), ...get(ACC(r)), ...get(ACC(r + 1)), ...shuffle(ODD_LANES), ...simd(F32X4_ADD),
    ];
    body.push(...pair(4 * g), ...set(X), ...pair(4 * g + 2), ...set(T),
      ...get(OUT), ...get(X), ...get(T), ...shuffle(LOW_HALVES), ...get(X), ...get(T), ...shuffle(HIGH_HALVES), ...simd(F32X4_ADD),
      ...simd(V128_STORE), 2, 16 * g);
  }
  body.push(END);
  return [...vec([[...uleb(1), I32], [...uleb(2 + 2 * rows), V128]]), ...body];
}

/** Rows per call of the float32 kernels (dots8f/norms8f, dots4f/norms4f); 12 or 16 rows run out of registers and are slower. */
export const F32_KERNEL_ROWS = [8, 4] as const;

/** The module's bytes (exports dots8, norms8 and the float32 kernels), importing a shared memory of exactly `pages` pages. */
export function dots8ModuleBytes(pages: number): Uint8Array {
  const f32 = F32_KERNEL_ROWS.flatMap((rows) => [
    { name: `dots${rows}f`, body: kernelBodyF32(false, rows), params: rows + 3 },
    { name: `norms${rows}f`, body: kernelBodyF32(true, rows), params: rows + 3 },
  ]);
  const funcs = [{ name: "dots8", body: kernelBody(false), params: 11 }, { name: "norms8", body: kernelBody(true), params: 11 }, ...f32];
  const types = [...new Set(funcs.map((f) => f.params))];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types.map((n) => [0x60, ...vec(Array.from({ length: n }, () => [I32])), 0x00]))),
    ...section(2, vec([[...str("env"), ...str("memory"), 0x02, 0x03, ...uleb(pages), ...uleb(pages)]])),
    ...section(3, vec(funcs.map((f) => uleb(types.indexOf(f.params))))),
    ...section(7, vec(funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(funcs.map((f) => [...uleb(f.body.length), ...f.body]))),
  ];
  return Uint8Array.from(bytes);
}

export type Dots8 = (q: number, o0: number, o1: number, o2: number, o3: number, o4: number, o5: number, o6: number, o7: number,
  dimBytes: number, out: number) => void;
/** Instantiates dots8 over `memory` of `pages` pages (synchronously: the module is tiny). */
export function instantiateDots8(memory: WasmMemory, pages: number): Dots8 {
  return instantiateKernels(memory, pages).dots8;
}

/**
 * A float32 kernel over `rows` rows (8 or 4): (q, o_0..o_{rows-1}, dimBytes, out) -> `rows` float32
 * results at out. Called with `apply` since the arity varies.
 */
export type KernelF32 = (...args: number[]) => void;

export interface Kernels {
  dots8: Dots8;
  norms8: Dots8;
  /** rows -> float32 kernels (see F32_KERNEL_ROWS). */
  dotsF32: Map<number, KernelF32>;
  normsF32: Map<number, KernelF32>;
}

/**
 * All kernels: dots8 and norms8 (float64 sums; same signature, norms8 ignores q and writes the rows' squared
 * norms), and the float32 dots/norms over 8 or 4 rows.
 */
export function instantiateKernels(memory: WasmMemory, pages: number): Kernels {
  const module = new wasm.Module(dots8ModuleBytes(pages));
  const fns = new wasm.Instance(module, { env: { memory } }).exports;
  return {
    dots8: fns.dots8 as Dots8, norms8: fns.norms8 as Dots8,
    dotsF32: new Map(F32_KERNEL_ROWS.map((r) => [r, fns[`dots${r}f`] as KernelF32])),
    normsF32: new Map(F32_KERNEL_ROWS.map((r) => [r, fns[`norms${r}f`] as KernelF32])),
  };
}

/** Whether this engine runs the kernel (WebAssembly SIMD and shared memory); checked once. */
let supported: boolean | undefined;
export function wasmSimdSupported(): boolean {
  if (supported === undefined) {
    try {
      const memory = sharedWasmMemory(1);
      const dots = instantiateDots8(memory, 1);
      const f = new Float32Array(memory.buffer, 0, 16);
      f.set([1, 2, 3, 4]);
      dots(0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 64);
      supported = new Float64Array(memory.buffer, 64, 8)[7] === 5;
    } catch {
      supported = false;
    }
  }
  return supported;
}
