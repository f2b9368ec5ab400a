#!/usr/bin/env node
/**
 * Command line for the pipeline stages; each command calls the same lib functions as the notebooks.
 * Options: --preset paper|quick|test (default paper), --root DIR, --force (recompute up-to-date outputs),
 * --no-notebooks (pipeline: stages only, no notebooks or report), --shortlist-format csv|npy.
 */
import * as path from "node:path";
import { loadConfig, PROJECT_ROOT, resultsDir, type PRESETS, type RetrievalConfig } from "./experiment/experiment";
import { MrlError } from "./core/errors";
import { executeNotebook } from "./report/notebooks";
import { runInferenceStage, runPipeline, runRetrievalExperiment } from "./experiment/run";
import { writeReport } from "./report/report";

interface Options { config: RetrievalConfig; preset: string; force: boolean; notebooks: boolean; results: string; positional: string[] }

function parseOptions(args: string[]): Options {
  let preset: keyof typeof PRESETS | undefined;
  let root: string | undefined;
  let force = false;
  let notebooks = true;
  let results = resultsDir();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--preset") preset = args[++i] as keyof typeof PRESETS;
    else if (a === "--root") root = path.resolve(args[++i]);
    else if (a === "--force") force = true;
    else if (a === "--no-notebooks") notebooks = false;
    else if (a === "--results") results = path.resolve(args[++i]);
    else if (a === "--shortlist-format") process.env.MRL_SHORTLIST_FORMAT = args[++i];
    else if (a.startsWith("--")) throw new MrlError(`unknown option ${a}`);
    else positional.push(a);
  }
  return { config: loadConfig(preset ?? "paper", root ? { root } : {}), preset: preset ?? "paper", force, notebooks, results, positional };
}

export const NOTEBOOKS = ["inference.ipynb", "faiss_nn.ipynb", "reranking.ipynb", "compute_metrics.ipynb"];

function printTimings(results: Awaited<ReturnType<typeof runPipeline>>): void {
  for (const r of results) {
    const s = r.seconds;
    console.error(`${r.spec.model}/${r.spec.indexType}: load ${s.load.toFixed(1)}s, faiss_nn ${s.search.toFixed(1)}s, ` +
      `rerank ${s.rerank.toFixed(1)}s, metrics ${s.metrics.toFixed(1)}s -> ${path.relative(process.cwd(), r.metricsFile)} ` +
      `(up to date: ${r.search.filter((x) => x.action === "skipped").length}/${r.search.length} shortlists, ` +
      `${r.rerank.filter((x) => x.skipped).length}/${r.rerank.length} reranked)`);
  }
}

const commands: Record<string, { usage: string; run: (o: Options) => Promise<void> | void }> = {
  pipeline: {
    usage: "pipeline   all stages on the default data (Fashion-MNIST), then the notebooks executed into results/",
    run: async (o) => {
      const results = await runPipeline(o.config, { force: o.force });
      printTimings(results);
      if (!o.notebooks) return;
      const out = path.join(o.results, "notebooks");
      for (const name of NOTEBOOKS) {
        console.error(`pipeline: executing notebooks/${name}`);
        executeNotebook(path.join(PROJECT_ROOT, "notebooks", name), path.join(out, name), {
          html: true, env: { MRL_PRESET: o.preset, MRL_ROOT: o.config.root, MRL_RESULTS: o.results },
        });
      }
      console.error(`pipeline: executed notebooks and HTML in ${path.relative(process.cwd(), out)}`);
      const report = await writeReport(o.config, { outDir: o.results, notebooksDir: out });
      console.error(`pipeline: report ${path.relative(process.cwd(), report.reportFile)} with ${report.figureFiles.length} figure files`);
    },
  },
  report: {
    usage: "report     figures (PNG/SVG), retrieval gallery and report.html from finished metrics into results/",
    run: async (o) => {
      const report = await writeReport(o.config, { outDir: o.results, notebooksDir: path.join(o.results, "notebooks") });
      console.error(`report: ${report.reportFile}, ${report.figureFiles.length} figure files, gallery ${report.galleryFile}`);
    },
  },
  infer: {
    usage: "infer      stage 1: embed database and queries with the shipped models",
    run: async (o) => {
      for (const kind of o.config.models) {
        const r = await runInferenceStage(o.config, kind, { force: o.force });
        console.error(r.skipped ? `${kind}: up to date` : `${kind}: ${Object.values(r.files).join(", ")}`);
      }
    },
  },
  retrieve: {
    usage: "retrieve   stages 2-4: faiss_nn, reranking, compute_metrics for every model and index type",
    run: (o) => {
      const results = o.config.models.flatMap((m) => o.config.indexTypes.map((t) => runRetrievalExperiment(o.config, m, t, { force: o.force })));
      printTimings(results);
    },
  },
  notebook: {
    usage: "notebook IN OUT   execute a notebook headless (tslab kernel), writing OUT and OUT's .html",
    run: (o) => {
      const [input, output] = o.positional;
      if (!input || !output) throw new MrlError("usage: mrl notebook IN.ipynb OUT.ipynb");
      executeNotebook(path.resolve(input), path.resolve(output), { html: true });
    },
  },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    console.error(`usage: mrl <command> [--preset paper|quick|test] [--root DIR] [--results DIR] [--force] [--no-notebooks] [--shortlist-format csv|npy]\n\n` +
      Object.values(commands).map((c) => `  ${c.usage}`).join("\n"));
    process.exitCode = name && name !== "help" && name !== "--help" ? 2 : 0;
    return;
  }
  await command.run(parseOptions(rest));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // User errors print as one readable message; anything else keeps its stack for a bug report.
  console.error(err instanceof MrlError ? `error: ${err.message}` : err);
  process.exitCode = 1;
});
