import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import {
  loadExperiment, MrlError, parseJobId, runSearch, sbatchScript, slurmJobs, splitSlurmFlags, startLocalSlurm, taskBudgetGb, taskStates, validateExperiment,
  type LocalSlurm, type Submission,
} from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

// Real Slurm (scripts/slurm-local.sh), real sbatch array jobs, Fashion-MNIST-sized data (fmnist-test.json: 4000 /
// 400 images), 4 shards per stage, all 9 nesting dims. cpusPerTask = the node's 2 cores: tasks run one at a time,
// so a shard cancelled right after submission is still pending.
const CLI = path.join(REPO, "lib", "dist", "cli.js");
const DIMS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048];
const CLUSTER = { shards: 4, cpusPerTask: 2 };

let slurm: LocalSlurm;
let reference: string; // root of the single-machine run

function mrl(args: string[]): { status: number; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 300_000 });
  return { status: run.status ?? -1, stderr: run.stderr };
}

/** An experiment file over fmnist-test.json with its own root, the 9 dims and (optionally) the cluster field. */
function experimentFile(root: string, cluster = true): string {
  const file = path.join(tempDir("mrl-slurm-exp-"), "experiment.json");
  fs.writeFileSync(file, JSON.stringify({ extends: TEST_EXPERIMENT, root, nesting: DIMS, ...(cluster ? { cluster: CLUSTER } : {}) }));
  return file;
}

/** Every output file under a root (relative paths), without the cluster's own folders, manifests and the lock. */
function outputs(root: string, under = ""): string[] {
  return fs.readdirSync(path.join(root, under), { withFileTypes: true }).flatMap((d) => {
    const rel = path.join(under, d.name);
    if (d.isDirectory()) return ["slurm", "shards"].includes(rel) ? [] : outputs(root, rel);
    return d.name === "manifest.json" || d.name === ".mrl.lock" ? [] : [rel];
  }).sort();
}

function assertSameFiles(root: string, files: string[]): void {
  for (const f of files) assert.ok(fs.readFileSync(path.join(root, f)).equals(fs.readFileSync(path.join(reference, f))), `${f} differs from the single-machine run`);
}

/** Copies the reference's arrays (inference outputs) into a fresh root. */
function rootWithArrays(): string {
  const root = tempDir("mrl-slurm-root-");
  for (const f of fs.readdirSync(reference).filter((n) => n.endsWith(".npy"))) fs.copyFileSync(path.join(reference, f), path.join(root, f));
  return root;
}

before(() => {
  slurm = startLocalSlurm();
  if (!slurm.ok) return;
  reference = tempDir("mrl-slurm-ref-");
  const file = experimentFile(reference, false);
  for (const stage of ["infer", "retrieve"]) assert.equal(mrl([stage, "--experiment", file]).status, 0, `single-machine ${stage}`);
});
after(() => slurm?.stop());

test("the cluster field and mrl slurm's flags are checked, naming the field or flag", () => {
  const base = loadExperiment({}, TEST_EXPERIMENT);
  assert.throws(() => validateExperiment({ ...base, cluster: { shards: 0 } }, "x.json"), /x\.json: field "cluster.shards" is 0; expected a positive integer/);
  assert.throws(() => validateExperiment({ ...base, cluster: { time: "2h" } }, "x.json"), /field "cluster.time" is "2h"; expected a Slurm time limit/);
  assert.throws(() => validateExperiment({ ...base, cluster: { sbatchArgs: ["--array=0-9"] } }, "x.json"),
    /field "cluster.sbatchArgs\[0\]" is "--array=0-9"; expected an sbatch option other than --array, which mrl slurm sets itself/);
  assert.throws(() => validateExperiment({ ...base, cluster: { nodes: 2 } }, "x.json"), /unknown field "cluster.nodes"/);
  assert.throws(() => splitSlurmFlags(["--only", "1,x"]), (e: unknown) => e instanceof MrlError && /^--only "1,x" does not parse/.test(e.message));
  assert.throws(() => splitSlurmFlags(["--time", "soon"]), /^MrlError: --time "soon" does not parse/);
  const { flags, rest } = splitSlurmFlags(["--root", "r", "--shards", "4", "--only", "1,3", "--no-wait", "--sbatch-arg=--gres=gpu:1", "--dims", "8"]);
  assert.deepEqual(flags, { shards: 4, only: [1, 3], wait: false, cluster: { sbatchArgs: ["--gres=gpu:1"] } });
  assert.deepEqual(rest, ["--root", "r", "--dims", "8"]);
  // one line when no shard count is known, before anything is written or submitted
  const r = mrl(["slurm", "search", "--root", tempDir()]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error: no shard count for fmnist; expected --shards N or the experiment's "cluster": \{ "shards": N \}/);
  const empty = tempDir(), missing = mrl(["slurm", "retrieve", "--root", empty, "--shards", "2"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /error: \S+FMNIST_train_mrl1_e0_ff2048-X\.npy: not found; mrl slurm retrieve needs the embedding arrays first/);
  assert.deepEqual(fs.readdirSync(empty), [], "nothing written");
});

test("the sbatch scripts: one array per stage with --shard $SLURM_ARRAY_TASK_ID/N, merges after, resources from the cluster field", () => {
  const jobs = slurmJobs("retrieve", "/r/e.json", 4, [1, 3]);
  assert.deepEqual(jobs.map((j) => [j.name, j.after, j.array?.tasks]), [
    ["search", undefined, [1, 3]], ["merge-search", 0, undefined], ["rerank", 1, [0, 1, 2, 3]], ["merge-rerank", 2, undefined], ["metrics", 3, undefined]]);
  const script = sbatchScript("/r/slurm/x", jobs[0], { partition: "gpu", cpusPerTask: 8, memoryGb: 16, time: "2:00:00", sbatchArgs: ["--gres=gpu:1"] });
  for (const line of ["#SBATCH --array=1,3", "#SBATCH --output=/r/slurm/x/search-%a.log", "#SBATCH --partition=gpu", "#SBATCH --cpus-per-task=8",
    "#SBATCH --mem=16000M", "#SBATCH --time=2:00:00", "#SBATCH --gres=gpu:1"]) assert.ok(script.includes(`${line}\n`), line);
  assert.match(script, /export MRL_THREADS=8\n/);
  assert.match(script, /lib\/dist\/cli\.js search --experiment \/r\/e\.json --shard "\$SLURM_ARRAY_TASK_ID\/4"\ncode=\$\?\n/);
  assert.match(sbatchScript("/r/slurm/x", jobs[1]), /#SBATCH --kill-on-invalid-dep=yes\n[^]*cli\.js merge search --experiment \/r\/e\.json --shards 4\n/);
  assert.ok(slurmJobs("search", "/r/e.json", 2, undefined, true).every((j) => j.command.includes("--force")), "--force reaches every task");
  assert.deepEqual([taskBudgetGb(16), taskBudgetGb(1), taskBudgetGb(undefined)], [15, 0.5, undefined]);
  assert.deepEqual(parseJobId("12_[1-3,5%2]"), { job: "12", tasks: [1, 2, 3, 5] });
  assert.deepEqual(parseJobId("12_4"), { job: "12", tasks: [4] });
  // a task the queue no longer lists and without an exit file failed; the merge after it did not run
  const s: Submission = { dir: tempDir(), stage: "search", experimentFile: "e.json", shards: 2, jobs: [
    { name: "search", command: [], array: { shards: 2, tasks: [0, 1] }, script: "", id: "7" }, { name: "merge-search", command: [], after: 0, script: "", id: "8" }] };
  fs.writeFileSync(path.join(s.dir, "search-0.exit"), "0\n");
  const states = taskStates(s, [{ job: "8", state: "PENDING", reason: "Dependency" }]);
  assert.deepEqual(states.map((t) => [t.task, t.state]), [[0, "done"], [1, "failed"], [undefined, "pending"]]);
  // Slurm's COMPLETED is the script's exit 0, even before its exit file shows on a network filesystem
  assert.deepEqual(taskStates(s, [{ job: "7", task: 1, state: "COMPLETED", reason: "None" }, { job: "8", state: "RUNNING", reason: "None" }])
    .map((t) => t.state), ["done", "done", "running"]);
});

test("through real sbatch array jobs, 4 shards: inference, search (9 dims), adaptive and funnel reranking and metrics byte-identical to one machine", (t) => {
  if (!slurm.ok) return t.skip(slurm.reason);
  const root = tempDir("mrl-slurm-b-"), file = experimentFile(root);
  for (const stage of ["infer", "retrieve"]) {
    const r = mrl(["slurm", stage, "--experiment", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, stage === "infer" ? /slurm: infer 4\/4 done; merge-infer done/ : /rerank 4\/4 done; merge-rerank done; metrics done/);
  }
  const files = outputs(reference);
  assert.ok(files.some((f) => f.startsWith("neighbors")) && files.some((f) => f.startsWith("metrics")) && files.some((f) => f.includes("reranked")), files.join(" "));
  assert.ok(DIMS.every((d) => files.some((f) => f.includes(`_${d}dim`))), "shortlists of all 9 dims");
  assert.deepEqual(outputs(root), files);
  assertSameFiles(root, files);
  // the scripts and logs stay beside the outputs
  const dirs = fs.readdirSync(path.join(root, "slurm"));
  assert.deepEqual(dirs.map((d) => d.replace(/-\d.*/, "")).sort(), ["infer", "retrieve"]);
});

test("a cancelled shard: the wait names it, the merge refuses in one line, resubmitting only it completes identically; a finished shard does nothing", (t) => {
  if (!slurm.ok) return t.skip(slurm.reason);
  const root = rootWithArrays(), file = experimentFile(root);
  const submitted = mrl(["slurm", "search", "--experiment", file, "--no-wait"]);
  assert.equal(submitted.status, 0, submitted.stderr);
  const wait = /slurm: wait for them: mrl slurm wait ([\d ]+) --root (\S+)/.exec(submitted.stderr);
  assert.ok(wait, submitted.stderr);
  const ids = wait[1].split(" ");
  assert.equal(spawnSync("scancel", [`${ids[0]}_3`]).status, 0, "scancel of pending shard 3");
  const waited = mrl(["slurm", "wait", ...ids, "--root", wait[2]]);
  assert.equal(waited.status, 1, waited.stderr);
  assert.match(waited.stderr, new RegExp(`slurm: shard 3/4 \\(job ${ids[0]}_3, search\\) failed`));
  assert.match(waited.stderr, /merge-search\) failed: not run: a job before it failed/);
  const resubmit = /slurm: resubmit what failed: (mrl slurm search .* --only 3)\n/.exec(waited.stderr);
  assert.ok(resubmit, waited.stderr);

  const merge = mrl(["merge", "search", "--experiment", file]);
  assert.equal(merge.status, 1);
  const errors = merge.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, merge.stderr);
  assert.match(errors[0], /^error: merge search: shard 3\/4 \(missing\); run it again: mrl search --shard 3\/4 .*\(or mrl slurm search .*--shards 4 --only 3\)$/);
  assert.ok(!fs.existsSync(path.join(root, "neighbors")) || outputs(root).every((f) => !f.startsWith("neighbors")), "nothing merged");

  const again = mrl(resubmit[1].split(" ").slice(1));
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /slurm: search 1\/1 done; merge-search done/);
  const files = outputs(reference).filter((f) => f.startsWith("neighbors/mrl/") || f.startsWith("index_files"));
  assertSameFiles(root, files);

  // a finished shard resubmitted: up to date, its file untouched
  const shardFiles = fs.readdirSync(path.join(root, "shards", "search"), { recursive: true, encoding: "utf8" }).filter((n) => n.endsWith(".shard-0-of-4"));
  const shard0 = shardFiles.map((n) => path.join(root, "shards", "search", n));
  assert.ok(shard0.length > 0, "shard 0's files");
  const before = shard0.map((f) => fs.statSync(f).mtimeMs);
  const experimentCopy = /--experiment (\S+)/.exec(resubmit[1])![1];
  const redo = mrl(["slurm", "search", "--experiment", experimentCopy, "--shards", "4", "--only", "0"]);
  assert.equal(redo.status, 0, redo.stderr);
  const dir = /scripts and logs in (\S+)/.exec(redo.stderr)![1];
  assert.match(fs.readFileSync(path.join(dir, "search-0.log"), "utf8"), /shard 0\/4 up to date/);
  assert.deepEqual(shard0.map((f) => fs.statSync(f).mtimeMs), before);
  assertSameFiles(root, files);
});

test("runSearch (faiss_nn.ipynb's call) on an experiment with \"cluster\" searches on Slurm and returns the unsharded call's result", (t) => {
  if (!slurm.ok) return t.skip(slurm.reason);
  const root = rootWithArrays();
  const experiment = loadExperiment({ root, nesting: DIMS, cluster: CLUSTER }, TEST_EXPERIMENT);
  const runs = runSearch(experiment, { quiet: true });
  assert.deepEqual(runs.map((r) => [r.model, r.indexType, r.result.map((d) => d.dim)]), [["mrl", "exactl2", DIMS]]);
  assert.ok(runs[0].result.every((d) => d.action === "skipped"), "every dim up to date after the cluster's merge");
  assert.equal(fs.readdirSync(path.join(root, "slurm")).filter((d) => d.startsWith("search-")).length, 1);
  assertSameFiles(root, outputs(reference).filter((f) => f.startsWith("neighbors/mrl/") || f.startsWith("index_files")));
  // run here (local): nothing submitted
  runSearch(experiment, { quiet: true, local: true });
  assert.equal(fs.readdirSync(path.join(root, "slurm")).length, 1);
});
