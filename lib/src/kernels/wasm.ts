/**
 * The WebAssembly SIMD kernels of reranking, written in the text format in dots.wat (read it for the layout and
 * the order of additions) and assembled at build time into dots.wasm next to this file (scripts/build-wasm.sh).
 * `dots8(q, o0..o7, dimBytes, out)` computes the dot products of one float32 query prefix with eight float32
 * database rows in float64, bit-identical to the scalar loop; `norms8` the rows' squared norms; the float32
 * kernels the same sums as `dotF32` (rerankKernel.ts), over 8 or 4 rows. The arrays must live in the module's
 * (shared) memory. The module is read and compiled once per thread, then instantiated per memory.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { MrlError } from "../core/errors";
import { sharedWasmMemory, wasm, type WasmMemory } from "../core/sharedMemory";

/** Rows per call of the float32 kernels (dots8f/norms8f, dots4f/norms4f); 12 or 16 rows run out of registers and are slower. */
export const F32_KERNEL_ROWS = [8, 4] as const;

/** The compiled kernels, built from dots.wat. */
const WASM_FILE = path.join(__dirname, "dots.wasm");

let bytes: Uint8Array | undefined;
let compiled: object | undefined;

function loadBytes(): Uint8Array {
  if (bytes === undefined) {
    if (!fs.existsSync(WASM_FILE)) {
      throw new MrlError("the WebAssembly kernels are not built (they come from lib/src/kernels/dots.wat); run `npm run setup`", WASM_FILE);
    }
    bytes = new Uint8Array(fs.readFileSync(WASM_FILE));
  }
  return bytes;
}

/** The bytes of the kernel module in use (a copy): dots.wasm, assembled from dots.wat. */
export function kernelModuleBytes(): Uint8Array {
  return loadBytes().slice();
}

/** The compiled module (once). */
function kernelModule(): object {
  compiled ??= new wasm.Module(loadBytes());
  return compiled;
}

export type Dots8 = (q: number, o0: number, o1: number, o2: number, o3: number, o4: number, o5: number, o6: number, o7: number,
  dimBytes: number, out: number) => void;
/** Instantiates dots8 over `memory` (synchronously: the module is tiny). */
export function instantiateDots8(memory: WasmMemory): Dots8 {
  return instantiateKernels(memory).dots8;
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
 * All kernels over `memory` (a shared memory of any size): dots8 and norms8
 * (float64 sums; same signature, norms8 ignores q and writes the rows' squared norms), and the float32
 * dots/norms over 8 or 4 rows.
 */
export function instantiateKernels(memory: WasmMemory): Kernels {
  const fns = new wasm.Instance(kernelModule(), { env: { memory } }).exports;
  return {
    dots8: fns.dots8 as Dots8, norms8: fns.norms8 as Dots8,
    dotsF32: new Map(F32_KERNEL_ROWS.map((r) => [r, fns[`dots${r}f`] as KernelF32])),
    normsF32: new Map(F32_KERNEL_ROWS.map((r) => [r, fns[`norms${r}f`] as KernelF32])),
  };
}

/**
 * Whether this engine runs the kernels (WebAssembly SIMD and shared memory); checked once. A missing dots.wasm
 * is an error (MrlError), not "unsupported".
 */
let supported: boolean | undefined;
export function wasmSimdSupported(): boolean {
  if (supported === undefined) {
    loadBytes();
    try {
      const memory = sharedWasmMemory(1);
      const dots = instantiateDots8(memory);
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
