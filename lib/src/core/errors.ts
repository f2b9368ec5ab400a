/**
 * One error type for everything a user can cause: bad files, bad shapes, bad configuration.
 * The message always starts with the file (when there is one) so a notebook user sees at once what to fix.
 */
export class MrlError extends Error {
  /** The file the problem is about, when there is one. */
  declare readonly file?: string;

  constructor(problem: string, file?: string) {
    super(file ? `${file}: ${problem}` : problem);
    this.name = "MrlError";
    // Non-enumerable so notebook error displays show just the message, not "{ file: ... }".
    Object.defineProperty(this, "file", { value: file, enumerable: false });
    // Users need the message, not the library's internal frames; MRL_DEBUG=1 keeps the full stack. The setter
    // ignores writes: Node's vm (which runs notebook cells) would otherwise prepend the throwing lib source line.
    if (process.env.MRL_DEBUG !== "1") {
      const short = `${this.name}: ${this.message}`;
      Object.defineProperty(this, "stack", { get: () => short, set: () => {}, enumerable: false, configurable: true });
    }
  }
}

/** Throws an MrlError when `condition` is false. */
export function check(condition: unknown, problem: string | (() => string), file?: string): asserts condition {
  if (!condition) throw new MrlError(typeof problem === "function" ? problem() : problem, file);
}

/** Validates a string against an allowed set, naming both in the error. */
export function checkOneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new MrlError(`unknown ${what} "${value}"; expected one of: ${allowed.join(", ")}`);
  }
  return value as T;
}
