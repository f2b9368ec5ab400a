import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { executeNotebook } from "@mrl-retrieval/lib";
import { REPO, tempDir } from "./helpers";

interface Output { output_type: string; text?: string[]; data?: Record<string, unknown>; ename?: string; evalue?: string }
interface Notebook { cells: Array<{ cell_type: string; outputs?: Output[] }>; metadata: { kernelspec: { name: string } } }

/** Executes a notebook headless with the tslab kernel and returns the executed JSON. */
export function runNotebook(name: string, env: Record<string, string> = {}): Notebook {
  const out = path.join(tempDir(), name);
  executeNotebook(path.join(REPO, "notebooks", name), out, { env, cellTimeoutSeconds: 600 });
  const nb = JSON.parse(fs.readFileSync(out, "utf8")) as Notebook;
  const errors = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "error");
  assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), [], `${name} raised errors`);
  return nb;
}

export function streamText(nb: Notebook): string {
  return nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "stream").map((o) => (o.text ?? []).join("")).join("");
}

test("smoke notebook executes headless with the tslab kernel and imports lib by package name", () => {
  const nb = runNotebook("smoke.ipynb");
  assert.equal(nb.metadata.kernelspec.name, "tslab");
  const text = streamText(nb);
  assert.match(text, /DEMO_train_mrl1_e0_ff2048-X\.npy: 4 x 3, sum 5/);
  assert.match(text, /nearest ids: 0, 3/);
  const html = nb.cells.flatMap((c) => c.outputs ?? []).map((o) => (o.data?.["text/html"] as string[] | string | undefined) ?? "").join("");
  assert.match(String(html), /exactl2_16dim_2048shortlist_FMNIST\.csv/);
});

test("a failing notebook surfaces the cell's readable error instead of writing an output", () => {
  // Inside the project, so the kernel resolves the lib through node_modules like a real notebook.
  const dir = fs.mkdtempSync(path.join(REPO, "build", "nb-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  const bad = path.join(dir, "bad.ipynb");
  const nb = JSON.parse(fs.readFileSync(path.join(REPO, "notebooks", "smoke.ipynb"), "utf8"));
  nb.cells = [{ cell_type: "code", id: "bad-0", metadata: {}, execution_count: null, outputs: [],
    source: ['import { readMatrixNpy } from "@mrl-retrieval/lib";\n', 'readMatrixNpy("/nonexistent/x.npy");\n'] }];
  fs.writeFileSync(bad, JSON.stringify(nb));
  const out = path.join(dir, "out", "bad.ipynb");
  assert.throws(() => executeNotebook(bad, out), (err: Error) => {
    assert.match(err.message, /bad\.ipynb: code cell 1 failed:[\s\S]*MrlError: \/nonexistent\/x\.npy: file not found/);
    assert.doesNotMatch(err.message, /\n\s+at \S/, "no internal stack frames");
    return true;
  });
  assert.equal(fs.existsSync(out), false);
  assert.ok(fs.existsSync(path.join(dir, "out", "bad.failed.ipynb")));
});
