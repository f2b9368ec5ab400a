/**
 * Matrices in shared memory: a shared WebAssembly memory (so the SIMD kernels read rows in place and worker
 * threads see the same bytes), with per-thread scratch slots in front of the data. Arrays too large for
 * wasm32's 4 GiB fall back to a SharedArrayBuffer.
 */

/** The parts of the WebAssembly API used here (the project compiles without the DOM typings). */
export interface WasmMemory { readonly buffer: ArrayBufferLike }
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: {
    new (bytes: Uint8Array): object;
    exports(module: object): { name: string; kind: string }[];
    imports(module: object): { module: string; name: string; kind: string }[];
  };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A shared memory of `pages` 64 KiB pages (fixed size). */
export function sharedWasmMemory(pages: number): WasmMemory {
  return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Scratch slots in front of the rows: one per thread (a query prefix and eight results each). */
export const WASM_SLOTS = 16;

/** Where a float32 matrix lives in a wasm memory, and the scratch slots in front of it. */
export interface WasmHome {
  memory: WasmMemory;
  pages: number;
  /** Byte offset of element 0. */
  dataBase: number;
  /** Bytes per scratch slot (query prefix + 8 float64 results). */
  slotBytes: number;
}

const homes = new WeakMap<ArrayBufferLike, WasmHome>();
const MAX_PAGES = 65536; // wasm32: 4 GiB

function layout(rowFloats: number, length: number): { slotBytes: number; dataBase: number; pages: number } {
  const slotBytes = Math.ceil((rowFloats * 4 + 64) / 64) * 64;
  const dataBase = WASM_SLOTS * slotBytes;
  return { slotBytes, dataBase, pages: Math.ceil((dataBase + length * 4) / 65536) };
}

/**
 * A zeroed Float32Array of `length` values (rows of `rowFloats`) inside a shared wasm memory, so the SIMD
 * kernel and worker threads can read it in place; undefined when it does not fit in wasm32's 4 GiB.
 */
export function allocateWasmFloat32(length: number, rowFloats: number): Float32Array | undefined {
  const { slotBytes, dataBase, pages } = layout(rowFloats, length);
  if (pages > MAX_PAGES) return undefined;
  let memory: WasmMemory;
  try {
    memory = sharedWasmMemory(pages);
  } catch {
    return undefined; // the engine refused the size
  }
  homes.set(memory.buffer, { memory, pages, dataBase, slotBytes });
  return new Float32Array(memory.buffer, dataBase, length);
}

const copies = new WeakMap<Float32Array, Float32Array | null>();

/** The wasm home of `data` (copying it into a new wasm memory once, cached), or undefined if it cannot have one. */
export function wasmHomeOf(data: Float32Array, rowFloats: number): { data: Float32Array; home: WasmHome } | undefined {
  const own = homes.get(data.buffer);
  if (own && data.byteOffset === own.dataBase && own.slotBytes >= rowFloats * 4 + 64) return { data, home: own };
  let copy = copies.get(data);
  if (copy === undefined) {
    copy = allocateWasmFloat32(data.length, rowFloats) ?? null;
    copy?.set(data);
    copies.set(data, copy);
  }
  return copy ? { data: copy, home: homes.get(copy.buffer)! } : undefined;
}


const sharedCopies = new WeakMap<object, Float32Array>();

/** The same values in a SharedArrayBuffer: the array itself when it already is shared, else a cached copy. */
export function sharedFloat32(data: Float32Array): Float32Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  let copy = sharedCopies.get(data);
  if (copy === undefined) {
    copy = new Float32Array(new SharedArrayBuffer(data.byteLength));
    copy.set(data);
    sharedCopies.set(data, copy);
  }
  return copy;
}
