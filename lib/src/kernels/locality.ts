/**
 * Query order for reranking: reranking 2048-d rows is bound by memory traffic, so queries that share
 * candidates are processed one after the other and find those rows still in cache.
 */
import { nativeKernels } from "./native";

/**
 * A cache-friendly order of the nq queries: the leaves of a k-d tree over the first `dims` columns (each node
 * splits its queries at the median of the column with the largest range), so that queries next to each other
 * in the order are near each other and share many candidates, whose rows are then still in cache. Reranking
 * 2048-d rows is bound by memory traffic (8 KiB per candidate), and in shortlist order almost every candidate
 * row comes from DRAM. Deterministic. Computed natively (lib/native/src/locality.cc), so that a first rerank
 * does not wait for the JIT.
 */
export function localityOrder(queries: Float32Array, stride: number, nq: number, dims = 8, leaf = 8): Int32Array {
  const order = new Int32Array(nq);
  nativeKernels().localityOrder(queries, stride, nq, dims, leaf, order);
  return order;
}
