import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as publicApi from "@mrl-retrieval/lib";
import * as internal from "@mrl-retrieval/lib/internal";
import { REPO } from "./helpers";

// The public API (`import * as mrl from "@mrl-retrieval/lib"`) is what a notebook user calls; plumbing goes to
// "@mrl-retrieval/lib/internal". Each group below names who calls its names, and the test checks that caller.
// A new public name goes into the group of its caller (and docs/api.md); a name only tests or benches use
// belongs in internal.
const MAX_PUBLIC_NAMES = 80;

/** Called as `mrl.<name>` by the notebooks (tools/make_notebooks.py, tools/make_smoke_notebook.py write them). */
const NOTEBOOK_NAMES = [
  // the experiment and its stages
  "loadExperiment", "describeExperiment", "experimentSpec", "experimentArrays",
  "runInference", "runSearch", "runReranking", "runMetrics", "runPostgres", "postgresSql",
  // matrices and paths
  "matrix", "intMatrix", "row", "resultsDir",
  // arrays, shortlists, artifact names
  "readMatrixNpy", "writeMatrixNpy", "experimentLabels", "sweepLimits", "sweepCsvFile", "sweepFigureFiles", "readShortlist", "loadShortlist", "DatabaseVectors",
  "arrayPath", "indexPath", "neighborsPath", "rerankedPath", "funnelPath",
  // retrieval methods
  "loadEmbeddingModel", "FaissIndex", "efSearchSweep", "rerank", "funnelRerank",
  // metrics and agreement
  "computeMetrics", "RECALL_VS_EXACT_COLUMN", "compareRankings",
  // sweeps
  "sweepGridWith", "expandGrid", "runSweep", "saveSweepCsv", "sweepFronts", "planAgainstExact", "bestConfig", "sweepSummary",
  // tables, figures, gallery
  "metricsDataFrame", "htmlTable", "metricVsMflopsFigure", "metricVsDimFigure", "efSearchFigure", "sweepMflopsFigure",
  "sweepRecallQpsFigure", "figureHtml", "renderFigureFiles", "renderHtmlToPng", "reportFigures", "experimentGallery", "galleryPage",
];

/** What the CLI (lib/src/cli.ts) runs for its users, callable from a notebook the same way. */
const CLI_NAMES = ["runRetrieval", "runPipeline", "writeReport", "MrlError"];

/**
 * For notebook users' own cells: documented in docs/api.md (reading and writing the original formats, first
 * stages, metrics beyond the notebooks' tables, the planner's front).
 */
const DOCUMENTED_NAMES = [
  "firstColumns", "readLabelsNpy", "writeLabelsNpy", "arrayFiles", "metricsPath", "embed", "imageSource",
  "faissNormalized", "parseFirstStage", "buildFirstStage", "DEFAULT_EF_SEARCH",
  "METRICS", "rankingMetrics", "readMetricsTable", "sharedIdRecall", "paretoFront", "readSweepCsv",
];

const ALLOWED = [...NOTEBOOK_NAMES, ...CLI_NAMES, ...DOCUMENTED_NAMES];

const read = (rel: string): string => fs.readFileSync(path.join(REPO, rel), "utf8");
const filesIn = (dir: string, ext: string): string[] =>
  fs.readdirSync(path.join(REPO, dir)).filter((f) => f.endsWith(ext)).map((f) => path.join(dir, f));
const word = (name: string): RegExp => new RegExp(`(^|[^A-Za-z0-9_$])${name.replace(/\$/g, "\\$")}(?![A-Za-z0-9_$])`);

test(`the public API has at most ${MAX_PUBLIC_NAMES} runtime names, exactly the allow-list`, () => {
  const names = Object.keys(publicApi).sort();
  assert.ok(names.length <= MAX_PUBLIC_NAMES, `public API has ${names.length} names; at most ${MAX_PUBLIC_NAMES}`);
  assert.equal(new Set(ALLOWED).size, ALLOWED.length, "a name is listed twice in the allow-list");
  const extra = names.filter((n) => !ALLOWED.includes(n));
  const missing = ALLOWED.filter((n) => !names.includes(n));
  assert.deepEqual(extra, [], "public names not in the allow-list: move them to internal, or add them to their caller's group");
  assert.deepEqual(missing, [], "allow-listed names the public API no longer exports");
});

test("every public name is also in internal, as the same value", () => {
  const all = internal as Record<string, unknown>;
  for (const [name, value] of Object.entries(publicApi)) assert.equal(all[name], value, name);
});

test("each group's caller calls its names", () => {
  const notebookText = [...filesIn("notebooks", ".ipynb"), ...filesIn("tools", ".py")].map(read).join("\n");
  const cli = read("lib/src/cli.ts");
  const apiDoc = read("docs/api.md");
  for (const name of NOTEBOOK_NAMES) assert.ok(notebookText.includes(`mrl.${name}`), `no notebook calls mrl.${name}`);
  for (const name of CLI_NAMES) assert.match(cli, word(name), `lib/src/cli.ts does not use ${name}`);
  for (const name of ALLOWED) assert.ok(apiDoc.includes(`\`${name}`), `docs/api.md does not list \`${name}\``);
});
