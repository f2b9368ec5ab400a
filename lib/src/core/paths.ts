/** Where the project and its default outputs live, wherever the code runs from (CLI, notebook, test). */
import * as path from "node:path";

/** The project folder (lib/dist/core -> the checkout's root). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..", "..");

/** Where reports, figure files and executed notebooks go: $MRL_RESULTS or <project>/results. */
export function resultsDir(): string {
  return path.resolve(process.env.MRL_RESULTS ?? path.join(PROJECT_ROOT, "results"));
}
