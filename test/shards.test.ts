/**
 * Shards and exact merges (issue 25, item 1), without a scheduler: 4 shards of each stage run as 4 CLI processes
 * at once on Fashion-MNIST-sized data (experiments/fmnist-test.json, 9 nesting dims), merged with `mrl merge`;
 * every output is compared byte for byte with an unsharded run's. A missing and a foreign shard make the merge
 * refuse in one line; running only those again completes identically; a finished shard is not redone.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import { promisify } from "node:util";
import { mergeSortedEntries, NO_ENTRY, parseShard, seededUniform, shardFromArgs, shardRanges } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

const CLI = path.join(REPO, "lib", "dist", "cli.js");
const DIMS = "8,16,32,64,128,256,512,1024,2048";
const run = promisify(execFile);

let dir: string;
const experiment = (name: string): string => path.join(dir, `${name}.json`);
const root = (name: string): string => path.join(dir, name);

/** One CLI run that must succeed; its stderr. */
function mrl(name: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [CLI, ...args, "--experiment", experiment(name), "--dims", DIMS], { encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `mrl ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stderr;
}

/** A CLI run expected to fail: its last stderr line. */
function mrlFails(name: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [CLI, ...args, "--experiment", experiment(name), "--dims", DIMS], { encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 1, `mrl ${args.join(" ")} should fail:\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  return lines[lines.length - 1];
}

/** The 4 shards of a stage as 4 processes at once (they share the root's lock). */
async function shards(name: string, stage: string, which = [0, 1, 2, 3]): Promise<string[]> {
  return Promise.all(which.map(async (i) => (await run(process.execPath, [CLI, stage, "--shard", `${i}/4`, "--experiment", experiment(name), "--dims", DIMS])).stderr));
}

/** Every file under a root's output folders but the manifests and shards, relative paths. */
function outputs(folder: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== "shards") walk(p);
      else if (e.isFile() && e.name !== "manifest.json" && !e.name.startsWith(".")) found.push(path.relative(folder, p));
    }
  };
  walk(folder);
  return found.sort();
}

function assertSameOutputs(what: string, pattern: RegExp, atLeast: number): void {
  const a = outputs(root("whole")).filter((f) => pattern.test(f)), b = outputs(root("sharded")).filter((f) => pattern.test(f));
  assert.deepEqual(b, a, `${what}: the same files`);
  assert.ok(a.length >= atLeast, `${what}: expected at least ${atLeast} files, found ${a.join(", ")}`);
  for (const f of a) assert.ok(fs.readFileSync(path.join(root("whole"), f)).equals(fs.readFileSync(path.join(root("sharded"), f))), `${what}: ${f} differs`);
}

before(() => {
  dir = tempDir("mrl-shards-");
  for (const name of ["whole", "sharded"]) {
    fs.writeFileSync(experiment(name), JSON.stringify({ extends: TEST_EXPERIMENT, root: root(name) }));
  }
  // the unsharded run every merge is compared with
  for (const stage of ["infer", "search", "rerank", "metrics"]) mrl("whole", [stage]);
});

test("shard plans: I/N from the flag or the scheduler's variables, contiguous ranges on whole units", () => {
  assert.deepEqual(parseShard("3/4"), { index: 3, count: 4 });
  assert.throws(() => parseShard("4/4"), /^MrlError: --shard "4\/4": shard 4 of 4 does not exist/);
  assert.throws(() => parseShard("1-4"), /--shard "1-4": expected I\/N/);
  assert.deepEqual(shardFromArgs(undefined, undefined, { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "4" }), { index: 2, count: 4 });
  assert.deepEqual(shardFromArgs(undefined, 8, { JOB_COMPLETION_INDEX: "5" }), { index: 5, count: 8 });
  assert.deepEqual(shardFromArgs(undefined, undefined, { JOB_COMPLETION_INDEX: "1", MRL_SHARD_COUNT: "3" }), { index: 1, count: 3 });
  assert.equal(shardFromArgs(undefined, undefined, {}), undefined);
  assert.deepEqual(shardFromArgs("0/2", undefined, { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" }), { index: 0, count: 2 }, "the flag wins");
  assert.throws(() => shardFromArgs(undefined, undefined, { SLURM_ARRAY_TASK_ID: "1" }), /SLURM_ARRAY_TASK_COUNT is not set/);
  assert.throws(() => shardFromArgs(undefined, undefined, { SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "4" }), /SLURM_ARRAY_TASK_ID\/SLURM_ARRAY_TASK_COUNT "5\/4"/);
  assert.throws(() => shardFromArgs(undefined, undefined, { JOB_COMPLETION_INDEX: "1" }), /expected --shards N or MRL_SHARD_COUNT/);
  assert.throws(() => shardFromArgs(undefined, undefined, { JOB_COMPLETION_INDEX: "1", MRL_SHARD_COUNT: "x" }), /MRL_SHARD_COUNT "x"/);
  assert.throws(() => shardFromArgs("1/4", 3), /--shards 3 contradicts --shard 1\/4/);
  // ranges tile the rows, start on whole units, and differ by at most one unit
  for (const [total, count, unit] of [[4000, 4, 1024], [400, 4, 256], [10, 3, 1], [1281167, 7, 1024]]) {
    const ranges = shardRanges(total, count, unit);
    assert.equal(ranges[0].start, 0);
    assert.equal(ranges[count - 1].end, total);
    ranges.forEach((r, i) => {
      assert.equal(r.start % unit, 0);
      if (i > 0) assert.equal(r.start, ranges[i - 1].end);
    });
    const sizes = ranges.map((r) => Math.ceil((r.end - r.start) / unit));
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${total}/${count}/${unit}: ${sizes}`);
  }
});

test("the k-way merge keeps the k smallest entries of all runs, in order, against a sort of their union", () => {
  const slots = 50, k = 16, runs = 4;
  const keys = seededUniform(slots * k * runs, 7, 0, 64); // few distinct key bits: many equal keys, decided by the id
  const made = Array.from({ length: runs }, () => new Uint32Array(slots * k * 2).fill(NO_ENTRY));
  const union: [number, number][][] = Array.from({ length: slots }, () => []);
  for (let s = 0; s < slots; s++) {
    for (let r = 0; r < runs; r++) {
      const n = r === 3 && s % 5 === 0 ? 5 : k; // some runs shorter than k (a shard with fewer rows)
      const entries: [number, number][] = Array.from({ length: n }, (_, i) => [Math.floor(keys[(s * runs + r) * k + i]), r * 1000 + s * 20 + i]);
      entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      entries.forEach(([hi, lo], i) => { made[r][(s * k + i) * 2] = lo; made[r][(s * k + i) * 2 + 1] = hi; });
      union[s].push(...entries);
    }
  }
  const merged = mergeSortedEntries(made, slots, k);
  for (let s = 0; s < slots; s++) {
    const expected = union[s].sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k);
    const got = Array.from({ length: k }, (_, i) => [merged[(s * k + i) * 2 + 1], merged[(s * k + i) * 2]]);
    assert.deepEqual(got, expected, `slot ${s}`);
  }
});

test("4 inference shards merge into the unsharded run's arrays, byte for byte", async () => {
  await shards("sharded", "infer");
  const merged = mrl("sharded", ["merge", "infer"]);
  assert.match(merged, /merged .*FMNIST_train_mrl1_e0_ff2048-X\.npy/);
  assertSameOutputs("inference", /\.npy$/, 4);
  assert.match(mrl("sharded", ["infer"]), /mrl: up to date/, "the merged arrays are recorded as an unsharded run records them");
});

test("4 search shards merge exactly: shortlists at all 9 dims and the exact index files, byte for byte", async () => {
  await shards("sharded", "search");
  mrl("sharded", ["merge", "search"]);
  assertSameOutputs("search", /^(neighbors\/mrl|index_files)\//, 18);
  assert.match(mrl("sharded", ["search"]), /8d skipped, 16d skipped, 32d skipped, 64d skipped, 128d skipped, 256d skipped, 512d skipped, 1024d skipped, 2048d skipped/);
});

test("a missing and a foreign search shard: the merge refuses in one line; running only those again completes identically", () => {
  const folder = path.join(root("sharded"), "shards", "search", "neighbors", "mrl");
  const file = (dim: number, i: number): string => path.join(folder, `exactl2_${dim}dim_256shortlist_FMNIST.csv.shard-${i}-of-4`);
  fs.rmSync(file(64, 1));
  fs.copyFileSync(file(8, 2), file(8, 3)); // shard 2's file where shard 3's should be
  const before = fs.readFileSync(path.join(root("sharded"), "neighbors", "mrl", "exactl2_8dim_256shortlist_FMNIST.csv"));
  const line = mrlFails("sharded", ["merge", "search"]);
  assert.equal(line, `error: merge search: shards 1/4 (missing), 3/4 (from another shard plan); run them again: ` +
    `mrl search --shard 1/4 --experiment ${experiment("sharded")} --dims ${DIMS} and mrl search --shard 3/4 --experiment ${experiment("sharded")} --dims ${DIMS} ` +
    `(or mrl slurm search --experiment ${experiment("sharded")} --dims ${DIMS} --shards 4 --only 1,3)`);
  assert.ok(fs.readFileSync(path.join(root("sharded"), "neighbors", "mrl", "exactl2_8dim_256shortlist_FMNIST.csv")).equals(before), "nothing written");
  // a finished shard is not redone
  const done = fs.statSync(file(8, 0)).mtimeMs;
  assert.match(mrl("sharded", ["search", "--shard", "0/4"]), /shard 0\/4 up to date/);
  assert.equal(fs.statSync(file(8, 0)).mtimeMs, done);
  for (const i of [1, 3]) assert.match(mrl("sharded", ["search", "--shard", `${i}/4`]), new RegExp(`shard ${i}/4 written`));
  mrl("sharded", ["merge", "search", "--shards", "4"]);
  assertSameOutputs("search after the re-run shards", /^(neighbors\/mrl|index_files)\//, 18);
});

test("4 rerank shards (adaptive and funnel) merge into the unsharded lists, and the metrics table is the same", async () => {
  await shards("sharded", "rerank");
  mrl("sharded", ["merge", "rerank"]);
  assertSameOutputs("rerank", /^neighbors\/(reranked|funnel_retrieval)\//, 2);
  mrl("sharded", ["metrics"]);
  assertSameOutputs("metrics", /^metrics\//, 2);
  assert.match(mrl("sharded", ["retrieve"]), /up to date: 9\/9 shortlists, 2\/2 reranked/);
});

test("bad shard input stops in one line naming the flag or variable, before anything is written", () => {
  assert.equal(mrlFails("sharded", ["search", "--shard", "4/4"]), 'error: --shard "4/4": shard 4 of 4 does not exist; expected I/N with 0 <= I < N');
  assert.match(mrlFails("sharded", ["search"], { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "" }), /^error: SLURM_ARRAY_TASK_ID is 1 but SLURM_ARRAY_TASK_COUNT is not set/);
  assert.match(mrlFails("sharded", ["search", "--shard", "0/4", "--index", "hnsw32"]), /^error: --shard: search shards need exact search with the nested engine .* not hnsw32: a FAISS index/);
  assert.match(mrlFails("sharded", ["search", "--shard", "0/4", "--exact-engine", "faiss"]), /not --exact-engine faiss/);
  assert.match(mrlFails("sharded", ["search", "--shard", "0/5"]), /--shard 0\/5: the database's 4000 rows are 4 tiles of 1024 rows, fewer than 5 shards; expected N <= 4$/);
  assert.match(mrlFails("sharded", ["metrics", "--shard", "0/4"]), /^error: --shard 0\/4: mrl metrics does not run in shards/);
  assert.match(mrlFails("sharded", ["merge", "sweep"]), /^error: usage: mrl merge infer\|search\|rerank/);
  assert.equal(fs.existsSync(path.join(root("sharded"), "shards", "search", "neighbors", "mrl", "hnsw32_8dim_256shortlist_FMNIST.csv.shard-0-of-4")), false);
});

test("a search shard made from another database file is named as such", () => {
  const db = path.join(root("sharded"), "FMNIST_train_mrl1_e0_ff2048-X.npy");
  const stat = fs.statSync(db);
  fs.utimesSync(db, stat.atime, new Date(stat.mtimeMs + 5000)); // as if the database were written again (the last test to need it as it was)
  assert.match(mrlFails("sharded", ["merge", "search"]), /^error: merge search: shards 0\/4 \(made from another database file\), 1\/4 \(made from another database file\), .*run them again: mrl search --shard 0\/4 /);
});
