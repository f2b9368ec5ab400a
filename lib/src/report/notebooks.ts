/** Headless notebook execution through Jupyter's nbconvert with the project's tslab kernel. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempPathFor, writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";

/** Debian's Jupyter (the pyenv python3 on PATH has none). */
export function jupyterCommand(): string {
  return fs.existsSync("/usr/bin/jupyter") ? "/usr/bin/jupyter" : "jupyter";
}

export interface ExecuteOptions {
  /** Seconds a single cell may run. */
  cellTimeoutSeconds?: number;
  /** Extra environment for the kernel (e.g. MRL_EXPERIMENT=experiments/fmnist-test.json to run a reduced experiment). */
  env?: Record<string, string>;
  /** Also export an HTML file next to the executed notebook. */
  html?: boolean;
}

const DRIVER = path.join(__dirname, "..", "..", "notebook-runner", "execute_notebook.py");
/** This checkout's kernel spec (scripts/setup.sh), searched first so headless runs use this checkout's tslab. */
const LOCAL_JUPYTER = path.resolve(__dirname, "..", "..", "..", "build", "jupyter", "share", "jupyter");

interface DriverReport { ok: boolean; cell?: number; source?: string; stderr?: string; error?: string }

/**
 * Executes `notebook` with the tslab kernel and writes the executed copy to `outputNotebook` (atomically).
 * When a cell fails, throws MrlError with that cell's readable error and keeps the partly executed copy as
 * `<output>.failed.ipynb`; a previous good `outputNotebook` is left untouched.
 */
export function executeNotebook(notebook: string, outputNotebook: string, options: ExecuteOptions = {}): void {
  if (!fs.existsSync(notebook)) throw new MrlError("notebook not found", notebook);
  fs.mkdirSync(path.dirname(outputNotebook), { recursive: true });
  const temp = tempPathFor(outputNotebook);
  const failed = outputNotebook.replace(/\.ipynb$/, "") + ".failed.ipynb";
  fs.rmSync(failed, { force: true });
  // The kernel starts in the notebook's folder, so the lib resolves through the project's node_modules.
  const run = spawnSync("/usr/bin/python3", [DRIVER, notebook, temp, failed, "tslab", String(options.cellTimeoutSeconds ?? 3600)], {
    cwd: path.dirname(notebook),
    env: { ...process.env, JUPYTER_PATH: [LOCAL_JUPYTER, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter), ...options.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const lastLine = run.stdout?.trim().split("\n").pop() ?? "";
  let report: DriverReport | undefined;
  try {
    report = JSON.parse(lastLine) as DriverReport;
  } catch {
    report = undefined;
  }
  if (!report) {
    fs.rmSync(temp, { force: true });
    const detail = (run.stderr || run.error?.message || "").split("\n").filter((l) => l.trim()).slice(-20).join("\n");
    throw new MrlError(`notebook execution failed:\n${detail}`, notebook);
  }
  if (!report.ok) {
    const source = (report.source ?? "").trim().split("\n").slice(0, 4).join("\n");
    const message = [report.error, report.stderr?.trim()].filter(Boolean).join("\n");
    throw new MrlError(`code cell ${report.cell} failed:\n${source}\n---\n${message}\n(partly executed copy: ${failed})`, notebook);
  }
  fs.renameSync(temp, outputNotebook);
  if (options.html) exportHtml(outputNotebook);
}

/** Converts an executed notebook to a standalone HTML page next to it (atomically); returns the HTML path. */
export function exportHtml(executedNotebook: string): string {
  // Through stdout, so a killed export never leaves a half-written page under the final name.
  const html = spawnSync(jupyterCommand(), ["nbconvert", "--to", "html", "--stdout", executedNotebook], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
  if (html.status !== 0) throw new MrlError(`HTML export failed: ${html.stderr}`, executedNotebook);
  const target = executedNotebook.replace(/\.ipynb$/, ".html");
  writeFileAtomic(target, html.stdout);
  return target;
}
