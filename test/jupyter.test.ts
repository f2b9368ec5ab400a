import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { test } from "node:test";
import { jupyterCommand, loadExperiment, runPipeline, withBrowser } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, TEST_EXPERIMENT, testExperimentFile } from "./helpers";

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Starts Debian's classic Jupyter Notebook server on `dir` with the project's tslab kernel; resolves when it listens. */
async function startJupyter(dir: string, env: Record<string, string>): Promise<{ url: string; token: string; server: ChildProcess }> {
  const port = await freePort();
  const token = `mrl${process.pid}${Date.now()}`;
  const server = spawn(jupyterCommand(), ["notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1", `--port=${port}`,
    `--NotebookApp.token=${token}`, `--notebook-dir=${dir}`], {
    env: { ...process.env, JUPYTER_PATH: path.join(REPO, "build", "jupyter", "share", "jupyter"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  for (let i = 0; i < 150 && !log.includes(`127.0.0.1:${port}`); i++) {
    if (server.exitCode !== null) throw new Error(`jupyter notebook exited:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(log, new RegExp(`127\\.0\\.0\\.1:${port}`), `jupyter notebook did not start:\n${log}`);
  return { url: `http://127.0.0.1:${port}`, token, server };
}

test("inline figures and the gallery render live in a Jupyter notebook (classic UI, tslab kernel, run all)", async () => {
  const root = tempDir("mrl-jupyter-root-");
  await runPipeline(loadExperiment({ root }, TEST_EXPERIMENT), { quiet: true });
  // A copy inside the project (the kernel finds @mrl-retrieval/lib through node_modules), so the UI's autosave
  // never touches notebooks/.
  const dir = fs.mkdtempSync(path.join(REPO, "build", "jupyter-live-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.copyFileSync(path.join(REPO, "notebooks", "compute_metrics.ipynb"), path.join(dir, "compute_metrics.ipynb"));
  const { url, token, server } = await startJupyter(REPO, { MRL_EXPERIMENT: testExperimentFile({ root }), MRL_RESULTS: tempDir() });
  try {
    const result = await withBrowser(async (browser) => {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await page.goto(`${url}/notebooks/${path.relative(REPO, dir)}/compute_metrics.ipynb?token=${token}`);
      // In-page code as strings: the tests compile without DOM types.
      await page.waitForFunction("window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()",
        undefined, { timeout: 120_000 });
      await page.evaluate("Jupyter.notebook.execute_all_cells()");
      await page.waitForFunction(`Jupyter.notebook.get_cells().every((c) => c.cell_type !== "code" || typeof c.input_prompt_number === "number")`,
        undefined, { timeout: 600_000, polling: 500 });
      const counts = (await page.evaluate(`({
        figures: document.querySelectorAll(".js-plotly-plot").length,
        drawn: Array.from(document.querySelectorAll(".js-plotly-plot")).filter((f) => f.querySelector(".scatterlayer .trace")).length,
        galleryTiles: document.querySelectorAll(".mrl-gallery .t").length,
        errorOutputs: Array.from(document.querySelectorAll(".output_error")).map((e) => e.textContent),
      })`)) as { figures: number; drawn: number; galleryTiles: number; errorOutputs: string[] };
      const screenshot = path.join(REPO, "build", "test-artifacts", "jupyter-compute_metrics.png");
      fs.mkdirSync(path.dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: false });
      return { ...counts, pageErrors };
    });
    assert.deepEqual(result.errorOutputs, []);
    assert.equal(result.figures, 4, "the four figures of compute_metrics");
    assert.equal(result.drawn, 4, "every figure drew its traces");
    assert.equal(result.galleryTiles, 4 * 4 * 10, "gallery: 4 queries x 4 settings x top-10");
    assert.deepEqual(result.pageErrors.filter((e) => /plotly|mrl/i.test(e)), []);
  } finally {
    server.kill();
  }
});
