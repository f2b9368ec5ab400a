/**
 * The Pareto front of a sweep and the planner that picks from it (pure functions over result rows).
 */
import { MrlError } from "../core/errors";

/**
 * Indices of the non-dominated points, by ascending cost: a point is dominated when another costs no more and
 * scores no less, and is strictly better in one of the two. Equal points: the first one stays.
 */
export function paretoFront(cost: ArrayLike<number>, quality: ArrayLike<number>): number[] {
  if (cost.length !== quality.length) throw new MrlError(`pareto front: ${cost.length} costs for ${quality.length} qualities`);
  const order = Array.from({ length: cost.length }, (_, i) => i)
    .filter((i) => Number.isFinite(cost[i]) && Number.isFinite(quality[i]))
    .sort((a, b) => cost[a] - cost[b] || quality[b] - quality[a] || a - b);
  const front: number[] = [];
  let best = -Infinity;
  for (const i of order) {
    // sorted by cost (then best quality first): a point is on the front iff it beats every cheaper one
    if (quality[i] > best) {
      front.push(i);
      best = quality[i];
    }
  }
  return front;
}

/** What a planner may be asked: a budget to stay within, or a quality to reach at the least cost. */
export interface PlanRequest {
  /** Largest MFLOPs per query allowed. */
  maxMflops?: number;
  /** Largest measured milliseconds per query allowed (batch time / queries). */
  maxMsPerQuery?: number;
  /** Smallest mAP@10 allowed. */
  minMap?: number;
  /** With minMap: minimize "mflops" (default) or "time". */
  minimize?: "mflops" | "time";
}

/** The numbers a planner reads from each row. */
export interface PlanRow {
  label: string;
  mAP10: number;
  mflops: number;
  msPerQuery: number;
}

/**
 * The best row for a request: within the budgets, the highest mAP@10 (then the least MFLOPs); or, given minMap
 * (and any budgets), the cheapest row that reaches it. Undefined when no row fits.
 */
export function bestConfig<R extends PlanRow>(rows: readonly R[], request: PlanRequest): R | undefined {
  const { maxMflops = Infinity, maxMsPerQuery = Infinity, minMap, minimize = "mflops" } = request;
  if (maxMflops === Infinity && maxMsPerQuery === Infinity && minMap === undefined) {
    throw new MrlError("bestConfig needs a budget or a target: maxMflops, maxMsPerQuery or minMap");
  }
  const fits = rows.filter((r) => r.mflops <= maxMflops && r.msPerQuery <= maxMsPerQuery && (minMap === undefined || r.mAP10 >= minMap));
  const cost = (r: R): number => (minimize === "time" ? r.msPerQuery : r.mflops);
  const better = minMap === undefined
    ? (a: R, b: R) => b.mAP10 - a.mAP10 || a.mflops - b.mflops
    : (a: R, b: R) => cost(a) - cost(b) || b.mAP10 - a.mAP10;
  return [...fits].sort(better)[0];
}
