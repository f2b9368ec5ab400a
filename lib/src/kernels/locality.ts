/**
 * Query order for reranking: reranking 2048-d rows is bound by memory traffic, so queries that share
 * candidates are processed one after the other and find those rows still in cache.
 */

/**
 * A cache-friendly order of the nq queries: the leaves of a k-d tree over the first `dims` columns (each node
 * splits its queries at the median of the column with the largest range), so that queries next to each other
 * in the order are near each other and share many candidates, whose rows are then still in cache. Reranking
 * 2048-d rows is bound by memory traffic (8 KiB per candidate), and in shortlist order almost every candidate
 * row comes from DRAM. Deterministic (stable sorts).
 */
export function localityOrder(queries: Float32Array, stride: number, nq: number, dims = 8, leaf = 8): Int32Array {
  const order = new Int32Array(nq);
  const cols = Math.min(dims, stride);
  const points = new Float32Array(nq * cols); // the columns used, contiguous
  for (let i = 0; i < nq; i++) {
    order[i] = i;
    for (let c = 0; c < cols; c++) points[i * cols + c] = queries[i * stride + c];
  }
  const key = new Float64Array(nq), min = new Float64Array(cols), max = new Float64Array(cols);
  const split = (lo: number, hi: number): void => {
    if (hi - lo <= leaf) return;
    min.fill(Infinity);
    max.fill(-Infinity);
    for (let t = lo; t < hi; t++) {
      const o = order[t] * cols;
      for (let c = 0; c < cols; c++) {
        const v = points[o + c];
        if (v < min[c]) min[c] = v;
        if (v > max[c]) max[c] = v;
      }
    }
    let best = 0, range = -1;
    for (let c = 0; c < cols; c++) if (max[c] - min[c] > range) { range = max[c] - min[c]; best = c; }
    if (!(range > 0)) return; // all equal (or NaN): nothing to split on
    for (let t = lo; t < hi; t++) {
      const v = points[order[t] * cols + best];
      key[order[t]] = v === v ? v : Infinity; // NaN with the largest
    }
    const mid = (lo + hi) >> 1;
    selectNth(order, key, lo, hi, mid);
    split(lo, mid);
    split(mid, hi);
  };
  split(0, nq);
  return order;
}

/**
 * Rearranges order[lo..hi) so that order[nth] is the element a sort by (key, index) would put there, smaller
 * ones before it and larger ones after (quickselect, middle pivot; deterministic).
 */
function selectNth(order: Int32Array, key: Float64Array, lo: number, hi: number, nth: number): void {
  const less = (a: number, b: number): boolean => key[a] < key[b] || (key[a] === key[b] && a < b);
  let l = lo, r = hi - 1;
  while (r > l) {
    const pivot = order[(l + r) >> 1];
    let i = l, j = r;
    while (i <= j) {
      while (less(order[i], pivot)) i++;
      while (less(pivot, order[j])) j--;
      if (i <= j) {
        const t = order[i]; order[i] = order[j]; order[j] = t;
        i++; j--;
      }
    }
    if (nth <= j) r = j;
    else if (nth >= i) l = i;
    else return;
  }
}

