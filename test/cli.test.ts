/**
 * The command line mirrors the notebooks' parameters: every flag parses into the experiment (pure), a run with
 * all of them on arrays named as the originals name ImageNet's writes the originals' file names, and flags
 * that do not parse stop with one line before anything is written.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import { loadExperiment, MrlError, parseAdaptive, parseFlags, parseFunnel, fitRerankConfigs, readMetricsTable, runInference, type Experiment } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

test("every flag becomes its experiment field", () => {
  const f = parseFlags([
    "--experiment", "e.json", "--root", "data", "--results", "out", "--dataset", "1K", "--model", "mrl,mrl_e", "--index", "exactl2,hnsw32",
    "--dims", "8,16,2048", "--k", "1024", "--ef-search", "64", "--exact-engine", "faiss", "--adaptive", "16:2048:200", "--adaptive", "8:64:100",
    "--funnel", "8:16,32,2048:200,50,10", "--recall-denominator", "1300", "--shortlist-format", "npy", "--rerank-precision", "float64",
    "--rerank-access", "rows", "--memory-gb", "4.5", "--no-index-files", "--force", "--no-notebooks", "extra",
  ]);
  assert.equal(f.experimentFile, "e.json");
  assert.deepEqual(f.paths, { root: "data", results: "out" });
  assert.deepEqual(f.overrides, {
    dataset: "1K", models: ["mrl", "mrl_e"], indexTypes: ["exactl2", "hnsw32"], nesting: [8, 16, 2048], k: 1024, efSearch: 64, exactEngine: "faiss",
    adaptive: [{ retrievalDim: 16, rerankDim: 2048, shortlist: 200 }, { retrievalDim: 8, rerankDim: 64, shortlist: 100 }],
    funnels: [{ retrievalDim: 8, dims: [16, 32, 2048], shortlists: [200, 50, 10] }],
    recallDenominator: 1300, shortlistFormat: "npy", rerankPrecision: "float64", rerankAccess: "rows", memoryGb: 4.5, indexFiles: false,
  });
  assert.equal(f.force, true);
  assert.equal(f.notebooks, false);
  assert.deepEqual(f.positional, ["extra"]);
  assert.deepEqual(parseFlags(["--model-config", "mrl1_e0_ff768", "--recall-denominator", "class-count"]).overrides,
    { models: ["mrl1_e0_ff768"], recallDenominator: "class-count" });
  // a flag's value then goes through the experiment's own checks
  assert.throws(() => loadExperiment(parseFlags(["--rerank-access", "some"]).overrides, TEST_EXPERIMENT), /field "rerankAccess" is "some"; expected one of: auto, load, rows/);
  assert.throws(() => loadExperiment(parseFlags(["--index", "ivf"]).overrides, TEST_EXPERIMENT), /field "indexTypes\[0\]" is "ivf"; expected one of: exactl2, hnsw8, hnsw32/);
  assert.throws(() => loadExperiment(parseFlags(["--exact-engine", "gpu"]).overrides, TEST_EXPERIMENT), /field "exactEngine" is "gpu"; expected one of: nested, faiss/);
  assert.throws(() => loadExperiment(parseFlags(["--dataset", "../1K"]).overrides, TEST_EXPERIMENT), /field "dataset" is "\.\.\/1K"; expected a plain name/);
  assert.throws(() => loadExperiment(parseFlags(["--model-config", "a/b"]).overrides, TEST_EXPERIMENT), /field "models\[0\]" is "a\/b"; expected a plain name/);
});

test("flags that do not parse: one line naming the flag, the value and the expected form", () => {
  const bad = (args: string[], re: RegExp): void => assert.throws(() => parseFlags(args),
    (e: unknown) => e instanceof MrlError && re.test(e.message) && !e.message.includes("\n"), re.source);
  bad(["--funnel", "8:16,32:200"], /--funnel "8:16,32:200" does not parse; expected DR:D1,D2,\.\.\.:S1,S2,\.\.\., e\.g\. 8:16,32,64,128,2048:200,100,50,25,10/);
  bad(["--funnel", "8:16,x:200,10"], /--funnel "8:16,x:200,10" does not parse/);
  bad(["--adaptive", "16-2048-200"], /--adaptive "16-2048-200" does not parse; expected DR:DS:L, e\.g\. 16:2048:200/);
  bad(["--adaptive", "16:2048:0"], /--adaptive "16:2048:0" does not parse/);
  bad(["--dims", "8,,16"], /--dims "8,,16" does not parse; expected comma-separated positive integers/);
  bad(["--k", "2k"], /--k "2k" does not parse; expected a positive integer/);
  bad(["--memory-gb", "lots"], /--memory-gb "lots" does not parse; expected a positive number of GB/);
  bad(["--recall-denominator", "all"], /--recall-denominator "all" does not parse; expected class-count or a positive integer/);
  bad(["--k"], /option --k needs a value/);
  bad(["--shortlist", "3"], /unknown option --shortlist; expected one of: /);
  assert.deepEqual(parseAdaptive("8:16:20"), { retrievalDim: 8, rerankDim: 16, shortlist: 20 });
  assert.deepEqual(parseFunnel("8:16:20"), { retrievalDim: 8, dims: [16], shortlists: [20] });
});

test("--dims or --k without --adaptive / --funnel leave out the experiment's configurations that no longer fit, and say so", () => {
  const base = loadExperiment({}, TEST_EXPERIMENT); // adaptive 16->2048 @200, funnel 8->[16,64,2048] @[200,50,10], k 256
  const fitted = fitRerankConfigs(base, { nesting: [8, 64] });
  assert.deepEqual(fitted.adaptive, []);
  assert.equal(fitted.funnels, undefined, "the funnel still fits");
  assert.match(fitted.note!, /left out .*: adaptive 16:2048:200/);
  assert.deepEqual(fitRerankConfigs(base, { k: 100 }).funnels, []);
  assert.deepEqual(fitRerankConfigs(base, { nesting: [8], adaptive: [] }).adaptive, undefined, "named ones are the user's");
});

let source: Experiment;
before(async () => {
  source = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(source, { quiet: true });
});

const cli = (args: string[]) => spawnSync(process.execPath, [path.join(REPO, "lib", "dist", "cli.js"), ...args],
  { encoding: "utf8", env: { ...process.env, MRL_QUIET: "1", MRL_EXPERIMENT: TEST_EXPERIMENT } });

/** A root with the test arrays named like ImageNet-1K's (hard links). */
function imagenetNamedRoot(): string {
  const root = tempDir();
  for (const split of ["train", "val"]) for (const part of ["X", "y"]) {
    fs.linkSync(path.join(source.root, `${source.dataset}_${split}_mrl1_e0_ff2048-${part}.npy`), path.join(root, `1K_${split}_mrl1_e0_ff2048-${part}.npy`));
  }
  return root;
}

test("mrl retrieve with every stage flag writes the originals' names, keeps to the budget and prints its peak RSS", () => {
  const root = imagenetNamedRoot();
  const run = cli(["retrieve", "--root", root, "--dataset", "1K", "--model", "mrl", "--index", "exactl2", "--dims", "8,16,64", "--k", "100",
    "--adaptive", "16:64:50", "--funnel", "8:16,64:50,10", "--recall-denominator", "1300", "--shortlist-format", "npy", "--memory-gb", "0.1"]);
  assert.equal(run.status, 0, run.stderr);
  // the line splits the peak into the runtime's own memory and the stage's, which is what the budget covers
  const peak = /retrieve: peak RSS ([\d.]+) GB = ([\d.]+) GB the Node runtime at start \+ ([\d.]+) GB the stage \(budget 0\.10 GB for the stage's arrays and buffers; the runtime is not counted in it\)/.exec(run.stderr);
  assert.ok(peak, run.stderr);
  assert.ok(Math.abs(Number(peak[1]) - Number(peak[2]) - Number(peak[3])) <= 0.011, "the parts add up to the peak (each rounded to 2-3 decimals)");
  for (const file of ["neighbors/mrl/exactl2_8dim_100shortlist_1K.npy", "neighbors/mrl/exactl2_64dim_100shortlist_1K.npy",
    "index_files/mrl/1K_16dim_exactl2.index", "neighbors/reranked/mrl/16dim-reranked64_50shortlist_1K_exactl2.npy",
    "neighbors/funnel_retrieval/mrl/8dim-cascade[16,64]_shortlist[50,10]_1K_exactl2.npy", "metrics/mrl/1K_exactl2_metrics.csv"]) {
    assert.ok(fs.existsSync(path.join(root, file)), file);
  }
  const rows = readMetricsTable({ root, model: "mrl", dataset: "1K", indexType: "exactl2" });
  assert.deepEqual(rows.map((r) => r.config), ["8d", "16d", "64d", "16->64 @50", "8->[16,64] @[50,10]"]);
  // recall over 1300 per class (the original), not the class's 400-odd database items here
  assert.ok(rows.every((r) => (r["recall@10"] as number) <= 10 / 1300 + 1e-12), "recall@10 divides by 1300");
  // a stage command alone, with a flag the file does not have
  const search = cli(["search", "--root", root, "--dataset", "1K", "--dims", "8", "--k", "20", "--shortlist-format", "csv"]);
  assert.equal(search.status, 0, search.stderr);
  assert.ok(fs.existsSync(path.join(root, "neighbors/mrl/exactl2_8dim_20shortlist_1K.csv")));
});

test("a flag that does not parse, or names outside the root, stop the CLI with one line and write nothing", () => {
  const root = imagenetNamedRoot();
  for (const [args, message] of [
    [["--funnel", "8:16,64:50"], /^error: --funnel "8:16,64:50" does not parse; expected DR:D1,D2/],
    [["--adaptive", "16:64"], /^error: --adaptive "16:64" does not parse/],
    [["--dataset", "../1K"], /^error: --dataset "\.\.\/1K": expected a plain name/],
    [["--model-config", "../../etc"], /^error: --model-config "\.\.\/\.\.\/etc": expected a plain name/],
    [["--memory-gb", "0.001"], /^error: --memory-gb "0\.001": .*1K_train_mrl1_e0_ff2048-X\.npy: memory budget 0\.001 GB is smaller than one block/],
    [["--funnel", "8:16,64:10,20"], /^error: --funnel "8:16,64:10,20": shortlists is \[10,20\]; expected strictly decreasing/],
    [["--dims", "8,4096"], /^error: --dims "8,4096": dim 4096 is larger than the arrays' 2048 dims/],
    [["--k", "99999999"], /^error: --k "99999999": larger than the database's \d+ rows/],
  ] as Array<[string[], RegExp]>) {
    const run = cli(["retrieve", "--root", root, "--dataset", "1K", "--dims", "8,16", "--k", "20", ...args]);
    assert.equal(run.status, 1, `${args.join(" ")}: ${run.stderr}`);
    const lines = run.stderr.trim().split("\n").filter((l) => !l.startsWith("note:"));
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], message);
    assert.deepEqual(fs.readdirSync(root).filter((n) => !n.endsWith(".npy")), [], `${args.join(" ")} wrote nothing`);
  }
});
