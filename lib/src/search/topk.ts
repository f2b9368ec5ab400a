/**
 * The running k nearest neighbours of every query while the database is searched block by block (faiss
 * contrib's `knn` over a database iterator keeps a ResultHeap the same way). Lists are kept sorted by
 * (distance, id), so the result does not depend on how the database was cut into blocks: equal distances
 * keep the smaller id, as FAISS's own heaps do.
 */

export class RunningTopK {
  /** nq x k squared distances, ascending per query (+Infinity where fewer than k were seen). */
  readonly distances: Float32Array;
  /** nq x k database ids (-1 where fewer than k were seen). */
  readonly labels: Int32Array;
  private readonly scratchD: Float32Array;
  private readonly scratchI: Int32Array;

  constructor(readonly nq: number, readonly k: number, state?: { distances: Float32Array; labels: Int32Array }) {
    this.distances = state?.distances ?? new Float32Array(nq * k).fill(Infinity);
    this.labels = state?.labels ?? new Int32Array(nq * k).fill(-1);
    this.scratchD = new Float32Array(k);
    this.scratchI = new Int32Array(k);
  }

  /**
   * Merges one block's results: `kb` neighbours per query, ascending distance, ids relative to the block
   * (added to `offset`; -1 stays absent).
   */
  merge(blockDistances: Float32Array, blockLabels: Int32Array, kb: number, offset: number): void {
    const { k, distances: D, labels: I, scratchD, scratchI } = this;
    for (let q = 0; q < this.nq; q++) {
      const a0 = q * k, b0 = q * kb;
      canonicalTies(blockDistances, blockLabels, b0, b0 + kb);
      // quick exit: the block's best is no better than this query's current k-th
      const worst = D[a0 + k - 1];
      if (!(blockDistances[b0] < worst || (blockDistances[b0] === worst && blockLabels[b0] >= 0 && blockLabels[b0] + offset < I[a0 + k - 1]))) continue;
      let a = 0, b = 0;
      for (let out = 0; out < k; out++) {
        const bLabel = b < kb ? blockLabels[b0 + b] : -1;
        const takeB = bLabel >= 0 && (blockDistances[b0 + b] < D[a0 + a] ||
          (blockDistances[b0 + b] === D[a0 + a] && (I[a0 + a] < 0 || bLabel + offset < I[a0 + a])));
        if (takeB) {
          scratchD[out] = blockDistances[b0 + b];
          scratchI[out] = bLabel + offset;
          b++;
        } else {
          scratchD[out] = D[a0 + a];
          scratchI[out] = I[a0 + a];
          a++;
        }
      }
      D.set(scratchD, a0);
      I.set(scratchI, a0);
    }
  }
}

/** Sorts runs of equal distances by id (FAISS gives no order among them), in place. */
function canonicalTies(d: Float32Array, ids: Int32Array, start: number, end: number): void {
  for (let i = start + 1; i < end; i++) {
    if (d[i] !== d[i - 1] || ids[i] < 0) continue;
    // insertion step: runs of ties are short
    let j = i;
    while (j > start && d[j - 1] === d[j] && ids[j - 1] > ids[j]) {
      const t = ids[j - 1];
      ids[j - 1] = ids[j];
      ids[j] = t;
      j--;
    }
  }
}
