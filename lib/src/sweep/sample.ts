/**
 * The queries a sweep runs on when not all of them (`mrl sweep --sweep-queries N`): a seeded random sample, not
 * the first N, because query files are often in class order (ImageNet's val in ImageFolder order: the first 1,000
 * of 50,000 are 20 classes of 1,000). The same N and seed give the same queries on every run, so a killed sweep
 * resumes (its fingerprint hashes them).
 */
import { check } from "../core/errors";
import { matrix, type Matrix } from "../core/matrix";
import { Mulberry32 } from "../core/random";

/** The seed `mrl sweep --sweep-queries` samples with. */
export const SWEEP_SAMPLE_SEED = 2022;

/**
 * `n` distinct ids out of 0..total-1, ascending: a partial Fisher-Yates shuffle driven by mulberry32(seed). All ids
 * when n >= total.
 */
export function sampleIds(total: number, n: number, seed = SWEEP_SAMPLE_SEED): Int32Array {
  check(Number.isInteger(total) && total >= 0 && Number.isInteger(n) && n > 0, `cannot sample ${n} of ${total}`);
  if (n >= total) return Int32Array.from({ length: total }, (_, i) => i);
  const random = new Mulberry32(seed);
  const ids = Int32Array.from({ length: total }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random.next() * (total - i));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids.subarray(0, n).sort();
}

/** The sampled query rows and their labels (copies, in ascending id order), and the ids. */
export function sampleQueries(queries: Matrix, labels: Int32Array, n: number, seed = SWEEP_SAMPLE_SEED): { queries: Matrix; labels: Int32Array; ids: Int32Array } {
  check(labels.length === queries.rows, `${labels.length} labels for ${queries.rows} queries`);
  const ids = sampleIds(queries.rows, n, seed), cols = queries.cols;
  const data = new Float32Array(ids.length * cols);
  ids.forEach((id, i) => data.set(queries.data.subarray(id * cols, (id + 1) * cols), i * cols));
  return { queries: matrix(ids.length, cols, data), labels: Int32Array.from(ids, (id) => labels[id]), ids };
}
