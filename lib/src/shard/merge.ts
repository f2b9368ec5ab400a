/**
 * The one k-way merge of top-k lists: shards' sorted entries (search/nested.ts NestedTopK.sortedEntries: the
 * engine's own key, then the smaller id, packed into one 64-bit order) merged into the k best per (dim, query).
 * Because the order is the engine's selection order, the merged k are exactly the k one whole search keeps;
 * NestedTopK.load + result() then turn them into the same distances and ids (faiss contrib's ResultHeap:
 * add each part's top k, finalize once).
 */
import { check } from "../core/errors";
import { nativeKernels } from "../kernels/native";
import { defaultThreads } from "../kernels/threads";

/**
 * Merges `n` runs held one after another in `runs` (each `slots` x `k` entries as uint32 (lo, hi) pairs, each slot's
 * list ascending by (hi, lo), NO_ENTRY padding last) into `out`: per slot, the k smallest entries of all runs,
 * ascending (native, lib/native/src/merge.cc; slots split over threads).
 */
export function mergeRuns(runs: Uint32Array, n: number, slots: number, k: number, out = new Uint32Array(slots * k * 2), threads = defaultThreads()): Uint32Array {
  check(n > 0 && runs.length === n * slots * k * 2 && out.length === slots * k * 2, `mergeRuns: ${n} runs of ${slots} x ${k} entries do not fit the arrays given`);
  nativeKernels().mergeRuns(runs, n, slots, k, out, threads);
  return out;
}

/** mergeRuns over separate run arrays (each `slots` x `k` entries). */
export function mergeSortedEntries(runs: Uint32Array[], slots: number, k: number): Uint32Array {
  check(runs.length > 0 && runs.every((r) => r.length === slots * k * 2), `each run must hold ${slots} x ${k} entries`);
  const all = new Uint32Array(runs.length * slots * k * 2);
  runs.forEach((r, i) => all.set(r, i * r.length));
  return mergeRuns(all, runs.length, slots, k);
}
