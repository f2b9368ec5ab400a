#!/usr/bin/env node
/**
 * Command line for the pipeline stages; each command calls the same lib functions as the notebooks.
 *   mrl pipeline [--force]      run every stage on the default data, then execute the notebooks into results/
 *   mrl notebook <in> <out>     execute one notebook headless with the tslab kernel
 */
import * as path from "node:path";
import { MrlError } from "./errors";
import { executeNotebook } from "./notebooks";

const REPO = path.resolve(__dirname, "..", "..");

type Command = (args: string[]) => Promise<void> | void;

const commands: Record<string, { usage: string; run: Command }> = {
  pipeline: {
    usage: "pipeline            run the whole pipeline on the default data (Fashion-MNIST)",
    run: () => {
      const results = path.join(REPO, "results");
      for (const name of ["smoke.ipynb"]) {
        const out = path.join(results, "notebooks", name);
        console.error(`pipeline: executing notebooks/${name}`);
        executeNotebook(path.join(REPO, "notebooks", name), out, { html: true });
        console.error(`pipeline: wrote ${path.relative(REPO, out)} and its .html`);
      }
    },
  },
  notebook: {
    usage: "notebook IN OUT     execute a notebook headless (tslab kernel), writing the executed copy",
    run: ([input, output]) => {
      if (!input || !output) throw new MrlError("usage: mrl notebook IN.ipynb OUT.ipynb");
      executeNotebook(path.resolve(input), path.resolve(output), { html: output.endsWith(".ipynb") });
    },
  },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    console.error(`usage: mrl <command> [options]\n\n${Object.values(commands).map((c) => `  ${c.usage}`).join("\n")}`);
    process.exitCode = name && name !== "help" && name !== "--help" ? 2 : 0;
    return;
  }
  await command.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // User errors print as one readable message; anything else keeps its stack for a bug report.
  console.error(err instanceof MrlError ? `error: ${err.message}` : err);
  process.exitCode = 1;
});
