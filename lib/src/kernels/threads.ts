/** How many threads the native kernels use when the caller does not say. */
import * as os from "node:os";

/** MRL_THREADS, else the machine's cores. */
export function defaultThreads(): number {
  const env = Number(process.env.MRL_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
