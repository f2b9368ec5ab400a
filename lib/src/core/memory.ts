/**
 * Memory reporting for long stages: resident set size now and at its peak, so each stage can print what it
 * used and benchmarks can compare peaks.
 */
import * as fs from "node:fs";

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
