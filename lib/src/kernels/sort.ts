/**
 * The orderings reranking needs over typed arrays, without comparator calls: a stable sort of distances
 * with their shortlist positions, and a selection of the smallest few (funnel steps keep only those).
 */

/**
 * Sorts dist[0..n) ascending and moves the positions in `order` (0..n-1 on entry) along: a stable sort, so
 * equal distances keep shortlist order, the order of Array.prototype.sort with (a, b) => dist[a] - dist[b] ||
 * a - b. Insertion sort on runs of 16, then bottom-up merges; keys travel with positions, so a comparison is
 * two adjacent loads rather than an indirection, and stability makes position comparisons unnecessary
 * (within a run and between merged runs, left positions are always smaller).
 */
export function sortByDistance(dist: Float64Array, order: Int32Array, distTmp: Float64Array, orderTmp: Int32Array, n: number): void {
  const RUN = 16;
  for (let s = 0; s < n; s += RUN) {
    const e = Math.min(n, s + RUN);
    for (let i = s + 1; i < e; i++) {
      const key = dist[i], pos = order[i];
      let k = i - 1;
      while (k >= s && key < dist[k]) {
        dist[k + 1] = dist[k];
        order[k + 1] = order[k];
        k--;
      }
      dist[k + 1] = key;
      order[k + 1] = pos;
    }
  }
  let srcD = dist, srcO = order, dstD = distTmp, dstO = orderTmp;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width), hi = Math.min(n, lo + 2 * width);
      let a = lo, b = mid, k = lo;
      while (a < mid && b < hi) {
        if (srcD[b] < srcD[a]) {
          dstD[k] = srcD[b]; dstO[k++] = srcO[b++];
        } else {
          dstD[k] = srcD[a]; dstO[k++] = srcO[a++];
        }
      }
      while (a < mid) { dstD[k] = srcD[a]; dstO[k++] = srcO[a++]; }
      while (b < hi) { dstD[k] = srcD[b]; dstO[k++] = srcO[b++]; }
    }
    const td = srcD, to = srcO;
    srcD = dstD; srcO = dstO;
    dstD = td; dstO = to;
  }
  if (srcO !== order) {
    order.set(srcO.subarray(0, n));
    dist.set(srcD.subarray(0, n));
  }
}

/**
 * Moves the `keep` smallest of dist[0..n) by (distance, position) to the front, in position order, with their
 * positions in `order` (0..n-1 on entry); returns keep. A stable sort of those then equals the first `keep` of
 * a stable sort of all n: a funnel step only needs the candidates the next step keeps. No NaN allowed (the
 * comparator sort places NaN by position only, which is not a total order).
 */
export function keepSmallest(dist: Float64Array, order: Int32Array, d: Float64Array, p: Int32Array, n: number, keep: number): number {
  // quickselect on copies for the keep-th smallest (d, p) pair
  d.set(dist.subarray(0, n));
  p.set(order.subarray(0, n));
  let l = 0, r = n - 1;
  const nth = keep - 1;
  while (r > l) {
    const m = (l + r) >> 1, pd = d[m], pp = p[m];
    let i = l, j = r;
    while (i <= j) {
      while (d[i] < pd || (d[i] === pd && p[i] < pp)) i++;
      while (pd < d[j] || (pd === d[j] && pp < p[j])) j--;
      if (i <= j) {
        const td = d[i]; d[i] = d[j]; d[j] = td;
        const tp = p[i]; p[i] = p[j]; p[j] = tp;
        i++; j--;
      }
    }
    if (nth <= j) r = j;
    else if (nth >= i) l = i;
    else break;
  }
  const td = d[nth], tp = p[nth];
  let k = 0;
  for (let q = 0; q < n; q++) {
    const v = dist[q];
    if (v < td || (v === td && q <= tp)) {
      dist[k] = v;
      order[k++] = q;
    }
  }
  return k;
}

