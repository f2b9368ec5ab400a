/**
 * Memory reporting for long stages: resident set size now and at its peak, so each stage can print what it
 * used and benchmarks can compare peaks.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { MrlError } from "./errors";

export interface MemoryReport {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size of the process (since start or the last resetPeakRss), MiB. */
  peakRssMiB: number;
  /** Typed-array and Buffer memory (outside the JS heap), MiB. */
  arrayBuffersMiB: number;
}

/** VmHWM from /proc (resettable), else the process's maxRSS. */
function peakRssKiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

export function memoryReport(): MemoryReport {
  const usage = process.memoryUsage();
  return { rssMiB: usage.rss / 2 ** 20, peakRssMiB: peakRssKiB() / 1024, arrayBuffersMiB: usage.arrayBuffers / 2 ** 20 };
}

/**
 * Resets the peak RSS to the current RSS (Linux: writes 5 to /proc/self/clear_refs), so a stage's own peak
 * can be measured in a long-lived process. Returns false where that is not possible.
 */
export function resetPeakRss(): boolean {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Share of the machine's memory the stages may use when no budget is given (the rest: OS, page cache, peers). */
export const DEFAULT_BUDGET_SHARE = 0.6;

/**
 * The memory budget in bytes: `gb` (GB = 10^9 bytes) when given, else $MRL_MEMORY_GB, else
 * DEFAULT_BUDGET_SHARE of this machine's memory.
 */
export function memoryBudgetBytes(gb?: number): number {
  if (gb !== undefined) {
    if (!(typeof gb === "number" && Number.isFinite(gb) && gb > 0)) throw new MrlError(`memory budget must be a positive number of GB, got ${gb}`);
    return Math.floor(gb * 1e9);
  }
  const env = process.env.MRL_MEMORY_GB;
  if (env !== undefined && env !== "") {
    const value = Number(env);
    if (!(Number.isFinite(value) && value > 0)) throw new MrlError(`MRL_MEMORY_GB is "${env}"; expected a positive number of GB`);
    return Math.floor(value * 1e9);
  }
  return Math.floor(os.totalmem() * DEFAULT_BUDGET_SHARE);
}

/**
 * Bytes as "1.23 GB" for messages. A budget printed "down" beside a need printed "up" never reads as equal to
 * it (rounded to nearest, a need one byte over the budget prints the same number).
 */
export const gigabytes = (bytes: number, rounding: "nearest" | "down" | "up" = "nearest"): string => {
  const places = bytes < 1e8 ? 3 : 2, unit = 10 ** (9 - places);
  const value = rounding === "nearest" ? bytes / 1e9 : (rounding === "up" ? Math.ceil(bytes / unit) : Math.floor(bytes / unit)) / 10 ** places;
  return `${value.toFixed(places)} GB`;
};

/**
 * Resident memory of the runtime itself (Node, V8, the native libraries loaded with the library), taken when this
 * module is first loaded, before any stage allocates: the memory budget covers what stages allocate on top of it.
 */
const RUNTIME_RSS_BYTES = process.memoryUsage().rss;

/**
 * One line for the end of a stage: its peak resident memory, split into the runtime's own (which the budget does
 * not cover) and the rest, against the budget the stage kept to.
 */
export function peakRssLine(stage: string, budgetBytes?: number): string {
  const peak = memoryReport().peakRssMiB * 2 ** 20;
  if (!budgetBytes) return `${stage}: peak RSS ${gigabytes(peak)}`;
  const runtime = Math.min(RUNTIME_RSS_BYTES, peak);
  return `${stage}: peak RSS ${gigabytes(peak)} = ${gigabytes(runtime)} the Node runtime at start + ${gigabytes(peak - runtime)} the stage ` +
    `(budget ${gigabytes(budgetBytes)} for the stage's arrays and buffers; the runtime is not counted in it)`;
}
