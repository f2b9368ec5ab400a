/**
 * The one k-way merge of top-k lists: shards' sorted entries (search/nested.ts NestedTopK.sortedEntries: the
 * engine's own key, then the smaller id, packed into one 64-bit order) merged into the k best per (dim, query).
 * Because the order is the engine's selection order, the merged k are exactly the k one whole search keeps;
 * NestedTopK.load + result() then turn them into the same distances and ids (faiss contrib's ResultHeap:
 * add each part's top k, finalize once).
 */
import { check } from "../core/errors";
import { NO_ENTRY } from "../search/nested";

/**
 * Merges `runs` (each `slots` x `k` entries as uint32 pairs, each slot's list ascending, NO_ENTRY padding last)
 * into one `slots` x `k` list per slot, ascending: the k smallest entries of all runs.
 */
export function mergeSortedEntries(runs: Uint32Array[], slots: number, k: number): Uint32Array {
  check(runs.length > 0 && runs.every((r) => r.length === slots * k * 2), `each run must hold ${slots} x ${k} entries`);
  const out = new Uint32Array(slots * k * 2).fill(NO_ENTRY);
  const heads = new Int32Array(runs.length);
  for (let slot = 0; slot < slots; slot++) {
    const base = slot * k * 2;
    heads.fill(0);
    for (let i = 0; i < k; i++) {
      // the smallest head (few runs: a linear scan beats a heap); equal entries cannot occur (ids are distinct)
      let best = -1, bestHi = NO_ENTRY, bestLo = NO_ENTRY;
      for (let r = 0; r < runs.length; r++) {
        if (heads[r] >= k) continue;
        const at = base + heads[r] * 2, lo = runs[r][at], hi = runs[r][at + 1];
        if (hi < bestHi || (hi === bestHi && lo < bestLo)) {
          best = r;
          bestHi = hi;
          bestLo = lo;
        }
      }
      if (best < 0 || (bestHi === NO_ENTRY && bestLo === NO_ENTRY)) break;
      out[base + i * 2] = bestLo;
      out[base + i * 2 + 1] = bestHi;
      heads[best]++;
    }
  }
  return out;
}
