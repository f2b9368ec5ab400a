/** Executing a notebook in a test and reading what it showed (shared by the notebook test files). */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { executeNotebook } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir } from "./helpers";

export interface Output { output_type: string; text?: string[]; data?: Record<string, unknown>; ename?: string; evalue?: string }
export interface Notebook { cells: Array<{ cell_type: string; outputs?: Output[] }>; metadata: { kernelspec: { name: string } } }

/** Executes a notebook headless with the tslab kernel and returns the executed JSON; given `htmlOut`, also exports HTML there. */
export function runNotebook(name: string, env: Record<string, string> = {}, htmlOut?: string): Notebook {
  const out = htmlOut ?? path.join(tempDir(), name);
  executeNotebook(path.join(REPO, "notebooks", name), out, { env, cellTimeoutSeconds: 600, html: htmlOut !== undefined });
  const nb = JSON.parse(fs.readFileSync(out, "utf8")) as Notebook;
  const errors = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "error");
  assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), [], `${name} raised errors`);
  return nb;
}

/** Everything the notebook printed. */
export function streamText(nb: Notebook): string {
  return nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "stream").map((o) => (o.text ?? []).join("")).join("");
}

/** Every HTML output of the notebook (tables, figures, gallery). */
export function htmlText(nb: Notebook): string {
  return nb.cells.flatMap((c) => c.outputs ?? []).map((o) => {
    const h = o.data?.["text/html"] as string[] | string | undefined;
    return Array.isArray(h) ? h.join("") : h ?? "";
  }).join("\n");
}
