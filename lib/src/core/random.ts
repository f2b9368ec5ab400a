/**
 * The project's one seeded generator, mulberry32 (Tommy Ettinger's 32-bit generator): small, fast and
 * reproducible across platforms, for samples, synthetic benchmark data and test fixtures; not for cryptography.
 * The same seed gives the same sequence on every run, so seeded samples resume and fixtures need no files.
 */

/** A mulberry32 stream: each next() advances a 32-bit Weyl counter and hashes it. */
export class Mulberry32 {
  private counter: number;

  constructor(seed: number) {
    this.counter = seed >>> 0;
  }

  /** The Weyl counter after the last draw (benches mix its bits into synthetic data). */
  get state(): number {
    return this.counter;
  }

  /** A uniform float in [0, 1): the next 32-bit output / 2^32. */
  next(): number {
    this.counter = (this.counter + 0x6d2b79f5) >>> 0;
    const a = this.counter;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/**
 * `out` filled with uniform floats in [lo, hi) from mulberry32(seed): lo + (hi - lo) * u in float64, rounded to
 * float32 (for [-1, 1) that is 2u - 1). Returns `out`.
 */
export function fillUniform(out: Float32Array, seed: number, lo = 0, hi = 1): Float32Array {
  const random = new Mulberry32(seed), scale = hi - lo;
  for (let i = 0; i < out.length; i++) out[i] = lo + scale * random.next();
  return out;
}

/** `n` uniform floats in [lo, hi) from mulberry32(seed) (fillUniform into a new array). */
export function seededUniform(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  return fillUniform(new Float32Array(n), seed, lo, hi);
}
