/**
 * `mrl sweep`'s flags: the grid flags become the experiment's "sweep" field (over the file's, over the default
 * grid), --sweep-queries samples the queries by seed, --latency-queries sets the latency sample; values that do
 * not parse, and grids the sweep cannot run, stop with one line naming the flag. End to end on real embeddings.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  DEFAULT_SWEEP_GRID, fitSweepFunnels, loadExperiment, loadRetrievalArrays, MrlError, parseFlags, runSweep, runInference, sampleIds, sampleQueries,
  withSweepFlag, type RetrievalArrays,
} from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, testExperimentFile, TEST_EXPERIMENT } from "./helpers";

test("the grid flags become the experiment's \"sweep\" field, over the file's fields; the run flags stay beside it", () => {
  const f = parseFlags(["--retrieval-dims", "8,16", "--shortlists", "100,200", "--rerank-dims", "2048", "--exact-dims", "none", "--first-stages", "exact,hnsw32",
    "--funnel-shortlists", "200", "--funnel-steps", "4,5", "--sweep-queries", "1000", "--latency-queries", "20"]);
  assert.deepEqual(f.overrides, { sweep: { retrievalDims: [8, 16], shortlists: [100, 200], rerankDims: [2048], exactDims: [], firstStages: ["exact", "hnsw32"],
    funnels: { firstShortlists: [200], steps: [4, 5] } } });
  assert.deepEqual(f.sweep, { queries: 1000, latencyQueries: 20, gridFlags: ["--retrieval-dims", "--shortlists", "--rerank-dims", "--exact-dims", "--first-stages",
    "--funnel-shortlists", "--funnel-steps"] });
  assert.deepEqual(parseFlags(["--no-funnels"]).sweep, { noFunnels: true, gridFlags: [] });
  assert.deepEqual(parseFlags([]).overrides, {}, "no sweep flags, no sweep field");

  // a file's "sweep" field: flags replace the fields they name, the others stay the file's
  const file = testExperimentFile({ sweep: { retrievalDims: [32], shortlists: [400], funnels: { firstShortlists: [800], steps: [3], finalShortlist: 20 } } });
  const e = loadExperiment(parseFlags(["--shortlists", "100", "--first-stages", "hnsw8"]).overrides, file);
  assert.deepEqual(e.sweep, { retrievalDims: [32], shortlists: [100], firstStages: ["hnsw8"], funnels: { firstShortlists: [800], steps: [3], finalShortlist: 20 } });
  // one funnel flag: the rule's other fields from the file's rule, or from the default grid's when the file has none
  const steps = parseFlags(["--funnel-steps", "5"]).overrides;
  assert.deepEqual(fitSweepFunnels(loadExperiment({}, file).sweep, steps), { firstShortlists: [800], steps: [5], finalShortlist: 20 });
  assert.deepEqual(fitSweepFunnels(undefined, steps), { ...DEFAULT_SWEEP_GRID.funnels, steps: [5] });
  assert.equal(fitSweepFunnels(undefined, parseFlags(["--shortlists", "100"]).overrides), undefined);
});

test("sweep flags that do not parse: one line naming the flag, the value and the expected form", () => {
  const bad = (args: string[], re: RegExp): void => assert.throws(() => parseFlags(args),
    (e: unknown) => e instanceof MrlError && re.test(e.message) && !e.message.includes("\n"), re.source);
  bad(["--shortlists", "100,x"], /^--shortlists "100,x" does not parse; expected comma-separated positive integers \(e\.g\. 100,200,400, or none\)$/);
  bad(["--retrieval-dims", "8,0"], /^--retrieval-dims "8,0" does not parse; expected comma-separated positive integers/);
  bad(["--rerank-dims", "2048.5"], /^--rerank-dims "2048\.5" does not parse/);
  bad(["--exact-dims", ""], /^--exact-dims "" does not parse/);
  bad(["--first-stages", "exact,ivf"], /^--first-stages "exact,ivf" does not parse; expected comma-separated first stages \(exact, hnsw<M>\[-ef<efSearch>\], ivf<nlist>-p<nprobe>\[-c<d_c>\], pq<m>, opq<m>, sq8, binary\)$/);
  assert.deepEqual(parseFlags(["--first-stages", "exact,ivf256-p16-c8,opq8,binary"]).overrides.sweep?.firstStages, ["exact", "ivf256-p16-c8", "opq8", "binary"]);
  bad(["--first-stages", "none"], /^--first-stages "none" does not parse/);
  bad(["--funnel-steps", "none"], /^--funnel-steps "none" does not parse; expected comma-separated positive integers \(e\.g\. 3,5\)$/);
  bad(["--funnel-shortlists", "200;400"], /^--funnel-shortlists "200;400" does not parse/);
  bad(["--sweep-queries", "0"], /^--sweep-queries "0" does not parse; expected a positive integer$/);
  bad(["--latency-queries", "-3"], /^--latency-queries "-3" does not parse; expected a positive integer$/);
  bad(["--sweep-queries"], /^option --sweep-queries needs a value$/);
  bad(["--no-funnels", "--funnel-steps", "3"], /^--no-funnels and --funnel-shortlists \/ --funnel-steps contradict each other/);
  // values that parse but break the grid's rules: the grid's message, prefixed with the flag that set the field
  assert.equal(withSweepFlag('sweep grid field "shortlists" has 5; expected shortlists of at least 10', ["--rerank-dims", "--shortlists"]),
    '--shortlists: sweep grid field "shortlists" has 5; expected shortlists of at least 10');
  assert.equal(withSweepFlag('sweep grid field "funnels.steps" is [0]; expected ...', ["--funnel-steps"]), '--funnel-steps: sweep grid field "funnels.steps" is [0]; expected ...');
  assert.equal(withSweepFlag('sweep grid field "shortlists" has 5', ["--rerank-dims"]), 'sweep grid field "shortlists" has 5', "the file set it, not a flag");
});

test("--sweep-queries' sample: distinct ids in ascending order, the same for the same seed, spread over the whole range", () => {
  const a = sampleIds(50_000, 1000), b = sampleIds(50_000, 1000);
  assert.deepEqual(a, b, "the same seed, the same sample");
  assert.equal(new Set(a).size, 1000);
  assert.ok(a.every((id, i) => id >= 0 && id < 50_000 && (i === 0 || id > a[i - 1])), "distinct, ascending, in range");
  assert.notDeepEqual(sampleIds(50_000, 1000, 7), a, "another seed, another sample");
  // class-ordered queries (ImageNet val: 50 per class in order): the sample reaches every fifth of the range, not the first 1000 ids
  for (let fifth = 0; fifth < 5; fifth++) {
    const inside = a.filter((id) => id >= fifth * 10_000 && id < (fifth + 1) * 10_000).length;
    assert.ok(inside > 100 && inside < 300, `${inside} of 1000 in fifth ${fifth}`);
  }
  assert.deepEqual(sampleIds(5, 9), Int32Array.from([0, 1, 2, 3, 4]), "all of them when asked for more");
  assert.throws(() => sampleIds(5, 0), /cannot sample 0 of 5/);
});

let root: string, arrays: RetrievalArrays;
before(async () => {
  root = tempDir("mrl-sweep-flags-");
  const config = loadExperiment({ root }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
});

const cli = (args: string[]) => spawnSync(process.execPath, [path.join(REPO, "lib", "dist", "cli.js"), "sweep", "--experiment", TEST_EXPERIMENT, "--root", root, ...args],
  { encoding: "utf8" });

test("mrl sweep with grid flags runs exactly that grid on the sampled queries; grids it cannot run stop before the database loads, naming the flag", () => {
  const results = tempDir("mrl-sweep-flags-out-");
  const run = cli(["--results", results, "--retrieval-dims", "16", "--shortlists", "50", "--rerank-dims", "2048", "--exact-dims", "2048", "--first-stages", "exact",
    "--no-funnels", "--sweep-queries", "100", "--latency-queries", "3"]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /sweep: 100 of 400 queries, a seeded sample \(seed \d+\)/);
  assert.match(run.stdout, /^sweep: 2 configurations, 4000 database rows, 100 queries/);
  const csv = fs.readFileSync(path.join(results, "sweep", "FMNIST_mrl_sweep.csv"), "utf8").trimEnd().split("\n");
  assert.deepEqual(csv.slice(1).map((l) => l.split(",")[0]), ["exact 2048d", "16->2048 @50"]);
  // the rows are those of the same sweep run directly on the sample
  const sample = sampleQueries(arrays.queries, arrays.queryLabels, 100);
  const direct = runSweep(arrays.database.matrix(), sample.queries, arrays.databaseLabels, sample.labels,
    { retrievalDims: [16], shortlists: [50], rerankDims: [2048], exactDims: [2048], firstStages: ["exact"] }, { latencyQueries: 3 });
  assert.deepEqual(csv.slice(1).map((l) => l.split(",").slice(2, 8).map(Number)),
    direct.rows.map((r) => [r.mAP10, r.top1, r.precision10, r.nDCG10, r.recall10, r.mflops]));

  const fails = (args: string[], re: RegExp): void => {
    const r = cli(["--results", results, ...args]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  };
  fails(["--shortlists", "5"], /^error: --shortlists: sweep grid field "shortlists" has 5; expected shortlists of at least 10/);
  fails(["--rerank-dims", "4096"], /^error: --rerank-dims: sweep grid field "rerankDims" has dim 4096; expected dims up to the arrays' 2048$/);
  fails(["--shortlists", "8000", "--funnel-shortlists", "200"], /^error: --shortlists: sweep grid field "shortlists" has 8000, longer than the search's k = 4000/);
  fails(["--first-stages", "ivf"], /^error: --first-stages "ivf" does not parse; expected comma-separated first stages \(exact, hnsw<M>.*, binary\)$/);
  fails(["--retrieval-dims", "none", "--shortlists", "none", "--rerank-dims", "none", "--exact-dims", "none", "--no-funnels"], /^error: sweep grid is empty/);
});
