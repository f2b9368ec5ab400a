/**
 * A killed sweep resumes: the rows it finished are read back from `<csv>.partial.jsonl` instead of recomputed, a
 * row cut short by the kill is dropped and recomputed, and the final CSV's quality columns equal an uninterrupted
 * run's byte for byte. A partial file made for another grid or other arrays is not used, with a line saying why.
 * Real Fashion-MNIST embeddings (the test experiment), exact first stages only: an HNSW graph built on several
 * threads is not the same graph twice, so its rows would not repeat bit for bit between two runs anyway.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  checkpointFile, configLabel, expandGrid, loadExperiment, loadRetrievalArrays, matrix, parseCheckpoint, parseCsvTable, runCheckpointedSweep, runInference,
  sweepFingerprint, type Matrix, type RetrievalArrays, type SweepGrid, type SweepRow,
} from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, testExperimentFile, TEST_EXPERIMENT } from "./helpers";

const CLI = path.join(REPO, "lib", "dist", "cli.js");
/** 12 configurations: exact 16 and 2048, adaptive 8/16 -> 64/2048 @50/100, two funnels. */
const GRID: SweepGrid = {
  retrievalDims: [8, 16], shortlists: [50, 100], rerankDims: [64, 2048], exactDims: [16, 2048], funnels: { firstShortlists: [100], steps: [3] }, firstStages: ["exact"],
};
const LABELS = expandGrid(GRID, { k: 100, maxDim: 2048 }).map(configLabel);
const QUALITY = ["label", "mAP10", "top1", "precision10", "nDCG10", "recall10", "mflops"];
const TIMES = ["batchSeconds", "msPerQuery", "qps", "p50Ms", "p95Ms"];

let root: string, arrays: RetrievalArrays, database: Matrix;
before(async () => {
  root = tempDir("mrl-sweep-resume-");
  const config = loadExperiment({ root }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  arrays = loadRetrievalArrays(config.root, config.dataset, "mrl");
  database = arrays.database.matrix();
});

/** The CSV's columns `names`, as text, row by row. */
function columns(csvFile: string, names: string[]): string[][] {
  // the library's CSV reader: labels of funnels hold commas inside quotes
  const [header, ...lines] = parseCsvTable(fs.readFileSync(csvFile, "utf8"));
  const at = names.map((n) => header.indexOf(n));
  assert.ok(at.every((i) => i >= 0), `columns ${names} in ${header}`);
  return lines.map((cells) => at.map((i) => cells[i]));
}

/** The whole rows in a partial file (after its header). */
function partialRows(file: string): SweepRow[] {
  const text = fs.readFileSync(file, "utf8");
  return text.slice(0, text.lastIndexOf("\n")).split("\n").slice(1).map((l) => JSON.parse(l) as SweepRow);
}

const sweep = (csv: string, options: Parameters<typeof runCheckpointedSweep>[6] = {}, grid = GRID, queries: Matrix = arrays.queries) =>
  runCheckpointedSweep(database, queries, arrays.databaseLabels, arrays.queryLabels.subarray(0, queries.rows), grid, csv, { latencyQueries: 3, ...options });

test("an aborted sweep resumes: finished rows are not recomputed, a torn last line is, the CSV's quality columns equal an uninterrupted run's", () => {
  const dir = tempDir("mrl-sweep-ckpt-");
  const clean = path.join(dir, "clean.csv"), csv = path.join(dir, "resumed.csv");
  const whole = sweep(clean);
  assert.equal(whole.resumed, 0);
  assert.deepEqual(whole.rows.map((r) => r.label), LABELS);
  assert.ok(!fs.existsSync(checkpointFile(clean)), "the partial file is removed once the CSV is written");

  // stop after 5 configurations, as a kill would
  let done = 0;
  assert.throws(() => sweep(csv, { onConfig: () => { if (++done === 5) throw new Error("stopped"); } }), /stopped/);
  assert.ok(!fs.existsSync(csv), "no CSV before the sweep ends");
  const partial = checkpointFile(csv);
  assert.deepEqual(partialRows(partial).map((r) => r.label), LABELS.slice(0, 5));
  // a kill in the middle of writing the 5th row: half of its line is on disk, no newline
  const text = fs.readFileSync(partial, "utf8");
  const lastLine = text.slice(text.lastIndexOf("\n", text.length - 2) + 1);
  fs.truncateSync(partial, text.length - Math.ceil(lastLine.length / 2));
  const kept = partialRows(partial);
  assert.deepEqual(kept.map((r) => r.label), LABELS.slice(0, 4));

  const events: { label: string; resumed: boolean }[] = [], notes: string[] = [];
  const resumed = sweep(csv, { onConfig: (_d, _t, label, wasResumed) => events.push({ label, resumed: wasResumed }), onNote: (l) => notes.push(l) });
  assert.deepEqual(events.filter((e) => e.resumed).map((e) => e.label), LABELS.slice(0, 4), "the 4 whole rows are taken");
  assert.deepEqual(events.filter((e) => !e.resumed).map((e) => e.label), LABELS.slice(4), "only the missing configurations are computed, the torn one included");
  assert.equal(resumed.resumed, 4);
  assert.match(notes.join("\n"), /resuming .*resumed\.csv\.partial\.jsonl: 4 configurations done, 1 unreadable line dropped/);

  assert.deepEqual(columns(csv, QUALITY), columns(clean, QUALITY), "quality columns byte for byte");
  // resumed rows keep the times measured by the run that computed them
  assert.deepEqual(columns(csv, TIMES).slice(0, 4), kept.map((r) => TIMES.map((c) => String(r[c as keyof SweepRow]))));
  assert.ok(!fs.existsSync(partial), "the partial file is removed at the end");
});

test("a partial file of another sweep is not used, and the line says why", () => {
  const csv = path.join(tempDir("mrl-sweep-afresh-"), "sweep.csv");
  let done = 0;
  assert.throws(() => sweep(csv, { onConfig: () => { if (++done === 3) throw new Error("stopped"); } }), /stopped/);
  const text = fs.readFileSync(checkpointFile(csv), "utf8");
  const same = sweepFingerprint(database, arrays.queries, arrays.databaseLabels, arrays.queryLabels, GRID, 3);
  assert.equal(parseCheckpoint(text, same).rows.size, 3);
  assert.equal(parseCheckpoint(text, same).afresh, undefined);
  // the same grid with its fields in another order is the same sweep
  const reordered = { firstStages: GRID.firstStages, funnels: GRID.funnels, exactDims: GRID.exactDims, rerankDims: GRID.rerankDims, shortlists: GRID.shortlists, retrievalDims: GRID.retrievalDims };
  assert.equal(parseCheckpoint(text, sweepFingerprint(database, arrays.queries, arrays.databaseLabels, arrays.queryLabels, reordered, 3)).rows.size, 3);

  const why = (fp: ReturnType<typeof sweepFingerprint>): string | undefined => {
    const found = parseCheckpoint(text, fp);
    assert.equal(found.rows.size, found.afresh ? 0 : 3);
    return found.afresh;
  };
  const q = arrays.queries, half = matrix(200, q.cols, q.data.subarray(0, 200 * q.cols));
  assert.match(why(sweepFingerprint(database, q, arrays.databaseLabels, arrays.queryLabels, { ...GRID, shortlists: [50] }, 3))!, /^the grid differs/);
  assert.match(why(sweepFingerprint(database, half, arrays.databaseLabels, arrays.queryLabels.subarray(0, 200), GRID, 3))!,
    /^the queries were 400 x 2048, now 200 x 2048$/);
  const shifted = new Float32Array(q.data);
  shifted[0] += 1;
  assert.equal(why(sweepFingerprint(database, matrix(q.rows, q.cols, shifted), arrays.databaseLabels, arrays.queryLabels, GRID, 3)), "the arrays' contents differ (same shapes)");
  const relabelled = new Int32Array(arrays.databaseLabels);
  relabelled[relabelled.length - 1] ^= 1;
  assert.equal(why(sweepFingerprint(database, q, relabelled, arrays.queryLabels, GRID, 3)), "the arrays' contents differ (same shapes)");
  assert.match(why(sweepFingerprint(database, q, arrays.databaseLabels, arrays.queryLabels, GRID, 7))!, /^the latency sample was 3, now 7$/);
  assert.match(parseCheckpoint("not a header\n", same).afresh!, /not a sweep checkpoint header/);

  // through the sweep: another grid starts afresh and computes every configuration
  const notes: string[] = [];
  const grid = { ...GRID, shortlists: [100] };
  const afresh = sweep(csv, { onNote: (l) => notes.push(l) }, grid);
  assert.equal(afresh.resumed, 0);
  assert.equal(afresh.rows.length, expandGrid(grid, { k: 100, maxDim: 2048 }).length);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /^starting afresh, not resuming .*sweep\.csv\.partial\.jsonl: the grid differs/);
});

test("mrl sweep killed (SIGKILL) mid-run resumes: it says how many were resumed and ends with the uninterrupted run's quality columns", async () => {
  const experiment = testExperimentFile({ root, sweep: GRID });
  const cli = (results: string) => [CLI, "sweep", "--experiment", experiment, "--results", results, "--latency-queries", "20"];
  const clean = tempDir("mrl-sweep-cli-clean-"), killed = tempDir("mrl-sweep-cli-killed-");
  const csvOf = (dir: string): string => path.join(dir, "sweep", "FMNIST_mrl_sweep.csv");

  const child = spawn(process.execPath, cli(killed), { stdio: "ignore" });
  let running = true;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => { running = false; resolve(signal); }));
  const partial = checkpointFile(csvOf(killed));
  const rowsOnDisk = (): number => (fs.existsSync(partial) ? fs.readFileSync(partial, "utf8").split("\n").length - 2 : 0);
  while (running && rowsOnDisk() < 2) await new Promise((r) => setTimeout(r, 2));
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL", "the sweep was killed before it finished");
  assert.ok(!fs.existsSync(csvOf(killed)), "no CSV from the killed run");
  const finished = partialRows(partial).length;
  assert.ok(finished >= 2 && finished < LABELS.length, `${finished} rows on disk at the kill`);

  const resumed = spawnSync(process.execPath, cli(killed), { encoding: "utf8" });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`sweep: ${finished} of ${LABELS.length} configurations resumed from an earlier run, ${LABELS.length - finished} computed`));
  assert.match(resumed.stdout, new RegExp(`sweep: ${LABELS.length} configurations, .*\\(${finished} of them resumed`));
  assert.ok(!fs.existsSync(partial), "the partial file is removed at the end");

  const whole = spawnSync(process.execPath, cli(clean), { encoding: "utf8" });
  assert.equal(whole.status, 0, whole.stderr);
  assert.match(whole.stderr, new RegExp(`sweep: 0 of ${LABELS.length} configurations resumed`));
  assert.deepEqual(columns(csvOf(killed), QUALITY), columns(csvOf(clean), QUALITY), "quality columns byte for byte");
  assert.deepEqual(columns(csvOf(killed), ["label"]).map(([l]) => l), LABELS);
});
