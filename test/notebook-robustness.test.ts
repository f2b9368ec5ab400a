/**
 * Notebooks as researchers use them: configuration in one cell, re-run from the top in a live kernel and
 * cell by cell out of order without stale-state surprises, and errors shown as the library's one-line
 * message rather than internal source lines or stack frames.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { executeNotebook } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, testExperimentFile } from "./helpers";

interface Output { output_type: string; text?: string[] | string; data?: Record<string, string[] | string>; ename?: string; evalue?: string }
interface Cell { cell_type: string; id: string; source: string[] | string; outputs?: Output[]; execution_count?: number | null; metadata: object }
interface Notebook { cells: Cell[]; metadata: object; nbformat: number; nbformat_minor: number }

const PIPELINE = ["inference.ipynb", "faiss_nn.ipynb", "reranking.ipynb", "compute_metrics.ipynb"];
const read = (file: string): Notebook => JSON.parse(fs.readFileSync(file, "utf8")) as Notebook;
const text = (x: string[] | string | undefined): string => (Array.isArray(x) ? x.join("") : x ?? "");
const codeCells = (nb: Notebook): Cell[] => nb.cells.filter((c) => c.cell_type === "code");
/** What a cell showed: its stream text and HTML. */
const shown = (c: Cell): string => (c.outputs ?? []).map((o) => text(o.text) + text(o.data?.["text/html"])).join("");

/** A scratch folder inside the project: the kernel resolves the lib through the project's node_modules. */
function scratch(): string {
  fs.mkdirSync(path.join(REPO, "build"), { recursive: true });
  const dir = fs.mkdtempSync(path.join(REPO, "build", "nb-robust-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("each pipeline notebook keeps its configuration and settings in one cell and has no absolute paths", () => {
  for (const name of [...PIPELINE, "sweep.ipynb"]) {
    const cells = codeCells(read(path.join(REPO, "notebooks", name))).map((c) => text(c.source));
    assert.equal(cells.filter((s) => /loadExperiment\(/.test(s)).length, 1, `${name}: one configuration cell`);
    assert.equal(cells.filter((s) => /\bexperiment\s*=/.test(s)).length, 1, `${name}: the experiment is assigned only there`);
    for (const s of cells) assert.doesNotMatch(s, /["'`]\/(work|tmp|home|usr)\//, `${name}: hard-coded absolute path`);
    // the settings a user edits sit in the configuration cell: later cells declare no top-level constant from a
    // number (`const sample = 200`) and pass no sample size, efSearch list or budget as a literal
    for (const s of cells.slice(cells.findIndex((c) => /loadExperiment\(/.test(c)) + 1)) {
      assert.doesNotMatch(s, /^const \w+ = -?[\d.]+(e-?\d+)?[,;]/m, `${name}: a setting outside the configuration cell`);
      assert.doesNotMatch(s, /\b(queries|count|latencyQueries|efSearch|maxMflops|maxMsPerQuery|minMap)\s*:\s*\[?\s*-?[\d.]/,
        `${name}: a setting outside the configuration cell`);
    }
  }
});

test("notebooks run in order, then cell by cell in reverse, then from the top again, in one live kernel", () => {
  const dir = scratch();
  const root = tempDir();
  const env = { MRL_EXPERIMENT: testExperimentFile({ root }), MRL_RESULTS: tempDir() };
  for (const name of PIPELINE) {
    const nb = read(path.join(REPO, "notebooks", name));
    const cells = codeCells(nb);
    // pass 1 in order, pass 2 reversed (every cell sees state left by cells "after" it), pass 3 in order
    const order = [...cells.map((_, i) => i), ...cells.map((_, i) => cells.length - 1 - i), ...cells.map((_, i) => i)];
    nb.cells = order.map((i, n) => ({ ...cells[i], id: `run-${n}`, outputs: [], execution_count: null }));
    const input = path.join(dir, name), output = path.join(dir, "out", name);
    fs.writeFileSync(input, JSON.stringify(nb));
    executeNotebook(input, output, { env, cellTimeoutSeconds: 600 });
    const ran = read(output).cells;
    const errors = ran.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === "error");
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), [], `${name}: no errors`);
    const pass = (p: number): Cell[] => ran.slice(p * cells.length, (p + 1) * cells.length);
    const last = pass(2).map(shown).join("\n");
    if (name === "inference.ipynb") assert.match(last, /mrl: arrays up to date/);
    if (name === "faiss_nn.ipynb") {
      assert.match(last, /<td>skipped<\/td>/);
      // the search table's action column (the efSearch sweep's figure embeds plotly.js, whose source has "built")
      assert.doesNotMatch(last, /<td>(built|reused-index)<\/td>/, "re-running recomputes nothing");
    }
    if (name === "reranking.ipynb") assert.equal((last.match(/up to date/g) ?? []).length, 2);
    if (name === "compute_metrics.ipynb") assert.match(last, /up to date .*metrics\/mrl\/FMNIST_exactl2_metrics\.csv/);
    if (name === "compute_metrics.ipynb") {
      // the summary table reads the same after the reversed pass as the first time
      const at = cells.findIndex((c) => /metricsDataFrame\(rows, \[/.test(text(c.source)));
      const summary = (p: number): string => shown(pass(p)[at]);
      assert.match(summary(0), /mAP@10/);
      assert.ok(summary(2) === summary(0), "same summary table");
    }
  }
});

test("a notebook pointed at a missing file shows the library's message, not internal code", () => {
  const root = tempDir();
  const out = path.join(scratch(), "faiss_nn.ipynb");
  assert.throws(() => executeNotebook(path.join(REPO, "notebooks", "faiss_nn.ipynb"), out, { env: { MRL_EXPERIMENT: testExperimentFile({ root }), MRL_RESULTS: tempDir() } }),
    (err: Error) => {
      assert.match(err.message, new RegExp(`faiss_nn\\.ipynb: code cell \\d failed:[\\s\\S]*MrlError: ${root}/FMNIST_train_mrl1_e0_ff2048-X\\.npy: ` +
        "file not found; expected the embeddings of the inference stage"));
      assert.doesNotMatch(err.message, /lib\/dist|\n\s+at \S|\n\s*\^/, "no internal source lines or stack frames");
      return true;
    });
  // and the cell's own output in the partly executed copy reads the same
  const failed = read(out.replace(/\.ipynb$/, ".failed.ipynb"));
  const shownText = failed.cells.map(shown).join("\n");
  assert.match(shownText, /MrlError: .*file not found; expected the embeddings/);
  assert.doesNotMatch(shownText, /lib\/dist|\n\s+at \S/);
});
