/**
 * Progress with percent and ETA for long work, in the CLI (a redrawn bar on a TTY) and in notebooks / logs
 * (one line every few seconds, so executed notebooks and CI logs stay readable).
 */
export interface Progress {
  /** Marks `n` more units done. */
  tick(n?: number): void;
  /** Prints the final line (idempotent). */
  done(): void;
}

export interface ProgressOptions {
  /** Where lines go; defaults to stderr (stdout inside Jupyter so the cell shows it). */
  write?: (text: string) => void;
  /** Redraw in place with "\r" (defaults to: stderr is a TTY and we are not in a kernel). */
  inPlace?: boolean;
  /** Minimum seconds between lines when not drawing in place. */
  intervalSeconds?: number;
  /** Silence everything (tests, nested work). */
  quiet?: boolean;
}

const inKernel = (): boolean => process.env.JPY_PARENT_PID !== undefined || process.argv.some((a) => a.includes("tslab"));

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s - m * 60)).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Text of one progress line: label, bar, percent, counts, elapsed and ETA. */
export function progressLine(label: string, done: number, total: number, elapsedSeconds: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const width = 24;
  const filled = Math.round(frac * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const eta = frac > 0 && frac < 1 ? (elapsedSeconds / frac) * (1 - frac) : frac >= 1 ? 0 : NaN;
  return `${label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total} ` +
    `elapsed ${formatSeconds(elapsedSeconds)} ETA ${formatSeconds(eta)}`;
}

export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  if (options.quiet || process.env.MRL_QUIET === "1") return { tick() {}, done() {} };
  const kernel = inKernel();
  const write = options.write ?? ((t: string) => (kernel ? process.stdout : process.stderr).write(t));
  const inPlace = options.inPlace ?? (!kernel && process.stderr.isTTY === true);
  const interval = (options.intervalSeconds ?? (inPlace ? 0.2 : 5)) * 1000;
  const start = Date.now();
  let done = 0;
  let last = 0;
  let finished = false;
  const draw = (final: boolean): void => {
    const line = progressLine(label, done, total, (Date.now() - start) / 1000);
    write(inPlace ? `\r${line}${final ? "\n" : ""}` : `${line}\n`);
  };
  return {
    tick(n = 1) {
      done += n;
      const now = Date.now();
      if (now - last >= interval && done < total) {
        last = now;
        draw(false);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      done = Math.max(done, total);
      draw(true);
    },
  };
}

/**
 * One line where progress lines go (stdout in a kernel, else stderr), for a step that reports no progress of its
 * own (e.g. one FAISS call): a line before it and one after.
 */
export function progressNote(text: string, options: ProgressOptions = {}): void {
  if (options.quiet || process.env.MRL_QUIET === "1") return;
  const write = options.write ?? ((t: string) => (inKernel() ? process.stdout : process.stderr).write(t));
  write(`${text}\n`);
}
