/**
 * Interrupted runs resume and nothing is lost: a pipeline child process is killed (SIGKILL) mid faiss_nn,
 * re-run, and must skip what was finished and end with the same files as an uninterrupted run. Then the
 * manifest's freshness rule: changed configuration, edited inputs, deleted or overwritten artifacts and
 * --force recompute exactly what they affect.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  LOCK_NAME,
  artifactFreshness, DEFAULT_RERANK_PRECISION, FaissIndex, loadExperiment, loadRetrievalArrays, matrix, MANIFEST_NAME, readManifest, readMatrixNpy, readNpy,
  readShortlistCsv, runIndexSearch, runInference, runRetrieval, writeLabelsNpy, writeMatrixNpy, type ArtifactSpec,
} from "@mrl-retrieval/lib/internal";
import { REPO, seededFloats, tempDir, TEST_EXPERIMENT } from "./helpers";

const CLI = path.join(REPO, "lib", "dist", "cli.js");
/** All nine nesting dims: after the first shortlist there is plenty of work left to interrupt. */
const NESTING = [8, 16, 32, 64, 128, 256, 512, 1024, 2048];
/** The pipeline (the test experiment, all dims) in a child process, as `npm run pipeline` runs it minus notebooks. */
const PIPELINE_SCRIPT = `
const lib = require(${JSON.stringify(path.join(REPO, "lib", "dist", "index.js"))});
lib.runPipeline(lib.loadExperiment({ root: process.argv[1], nesting: ${JSON.stringify(NESTING)} }, ${JSON.stringify(TEST_EXPERIMENT)}), { quiet: true })
  .then((rs) => console.log(JSON.stringify(rs.map(({ result: r }) => ({ search: r.search.map((s) => s.action), rerank: r.rerank.map((x) => x.skipped) })))))
  .catch((e) => { console.error(e.message); process.exit(1); });`;

/** Every file under `dir` (relative paths, sorted). */
function files(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

// hidden files are temp files, but for the root's lock file (core/lock.ts), which stays and names no holder when free
const isTemp = (file: string): boolean => /\.tmp$/.test(file) || (path.basename(file).startsWith(".") && path.basename(file) !== LOCK_NAME);

/** Files that have a manifest entry, with their inode and mtime. */
function recorded(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of files(root).filter((f) => path.basename(f) === MANIFEST_NAME)) {
    const folder = path.join(root, path.dirname(m));
    for (const name of Object.keys(readManifest(folder).artifacts)) {
      const st = fs.statSync(path.join(folder, name), { throwIfNoEntry: false });
      if (st) out.set(path.join(path.dirname(m), name), `${st.ino}@${st.mtimeMs}`);
    }
  }
  return out;
}

/** Reads every final-named artifact completely (throws on a half-written one). */
function readAll(root: string): void {
  for (const f of files(root).filter((x) => !isTemp(x))) {
    const file = path.join(root, f);
    if (f.endsWith(".npy")) readNpy(file);
    else if (f.endsWith(".csv") && f.startsWith("neighbors")) assert.equal(readShortlistCsv(file).rows, 400, f);
    else if (f.endsWith(".index")) assert.equal(FaissIndex.read(file).ntotal, 4000, f);
    else if (f.endsWith(".json")) JSON.parse(fs.readFileSync(file, "utf8"));
  }
}

interface Actions { search: string[]; rerank: boolean[] }

function runToEnd(root: string): Actions {
  const run = spawnSync(process.execPath, ["-e", PIPELINE_SCRIPT, root], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return (JSON.parse(run.stdout.trim().split("\n").pop()!) as Actions[])[0];
}

test("a pipeline killed mid faiss_nn resumes: finished artifacts are skipped, results equal an uninterrupted run", async () => {
  const root = tempDir("mrl-killed-");
  const child = spawn(process.execPath, ["-e", PIPELINE_SCRIPT, root], { stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  // The shortlist manifest appears once the first shortlist is complete and recorded; 8 dims, reranking
  // and metrics are still to come.
  const target = path.join(root, "neighbors", "mrl", MANIFEST_NAME);
  let running = true;
  void exited.then(() => { running = false; });
  while (running && !fs.existsSync(target)) await new Promise((r) => setTimeout(r, 2));
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL", "the child was killed before it finished");

  // Nothing half-written under a final name: every artifact reads completely; leftovers are temp-named only.
  readAll(root);
  const finished = recorded(root);
  assert.ok([...finished.keys()].some((f) => f.startsWith("neighbors")), "at least one shortlist was finished");

  const resumed = runToEnd(root);
  const skipped = resumed.search.filter((a) => a === "skipped").length;
  assert.ok(skipped >= 1 && skipped === [...finished.keys()].filter((f) => /neighbors\/mrl\/.*\.csv$/.test(f)).length,
    `skipped ${skipped} shortlists: exactly those recorded before the kill`);
  for (const [file, stamp] of finished) {
    const st = fs.statSync(path.join(root, file));
    assert.equal(`${st.ino}@${st.mtimeMs}`, stamp, `${file} was finished before the kill and must be skipped`);
  }
  assert.deepEqual(files(root).filter(isTemp), [], "no temp files left after the re-run");

  // The same files, byte for byte, as a run that was never interrupted (manifests differ in their timestamps).
  const clean = tempDir("mrl-clean-");
  runToEnd(clean);
  const outputs = files(clean).filter((f) => path.basename(f) !== MANIFEST_NAME);
  assert.deepEqual(files(root).filter((f) => path.basename(f) !== MANIFEST_NAME), outputs);
  for (const f of outputs) assert.ok(fs.readFileSync(path.join(root, f)).equals(fs.readFileSync(path.join(clean, f))), `${f} differs`);

  // Re-running has nothing left to do, through the CLI too (the test experiment's 4 dims are a subset of the 9).
  assert.deepEqual(runToEnd(root), { search: NESTING.map(() => "skipped"), rerank: [true, true] });
  const cli = spawnSync(process.execPath, [CLI, "pipeline", "--experiment", TEST_EXPERIMENT, "--root", root, "--no-notebooks"], {
    encoding: "utf8", env: { ...process.env, MRL_QUIET: "1" } });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /inference: mrl arrays up to date/);
  assert.match(cli.stderr, /up to date: 4\/4 shortlists, 2\/2 reranked/);
});

test("changed configuration and edited inputs recompute what they affect, and only that", async () => {
  const root = tempDir("mrl-stale-");
  const config = loadExperiment({ root }, TEST_EXPERIMENT);
  await runInference(config, { quiet: true });
  const once = (e: typeof config, force = false) => {
    const r = runRetrieval(e, { quiet: true, force })[0].result;
    return { ...r, metricsFile: r.metrics.file };
  };
  const run = (overrides = {}) => once(loadExperiment({ root, ...overrides }, TEST_EXPERIMENT));
  const first = run();
  assert.deepEqual(first.search.map((r) => r.action), ["built", "built", "built", "built"]);
  const reranked = first.rerank[0].file;
  const stampOf = (f: string): number => fs.statSync(f).mtimeMs;

  // k is in the shortlist names but not in the reranked ones: new shortlists, same indexes, reranked recomputed.
  const k200 = run({ k: 200 });
  assert.deepEqual(k200.search.map((r) => r.action), ["reused-index", "reused-index", "reused-index", "reused-index"]);
  assert.deepEqual(k200.rerank.map((r) => r.skipped), [false, false]);
  assert.deepEqual(artifactFreshness(reranked, "adaptive", { k: 256, retrievalDim: 16, rerankDim: 2048, shortlist: 200, precision: DEFAULT_RERANK_PRECISION },
    [first.search[1].neighborsFile, ...["train", "val"].map((s) => path.join(root, `FMNIST_${s}_mrl1_e0_ff2048-X.npy`))]),
  { fresh: false, reason: "configuration changed (k: 200 -> 256)" });
  // back to k=256: its shortlists are still valid, the reranked files were overwritten for k=200
  const back = run();
  assert.deepEqual(back.search.map((r) => r.action), ["skipped", "skipped", "skipped", "skipped"]);
  assert.deepEqual(back.rerank.map((r) => r.skipped), [false, false]);
  assert.deepEqual(run().rerank.map((r) => r.skipped), [true, true]);
  // the other rerank precision: shortlists stay, reranked files are recomputed, and again when switching back
  const other = DEFAULT_RERANK_PRECISION === "float32" ? "float64" : "float32";
  const switched = run({ rerankPrecision: other });
  assert.deepEqual(switched.search.map((r) => r.action), ["skipped", "skipped", "skipped", "skipped"]);
  assert.deepEqual(switched.rerank.map((r) => r.skipped), [false, false]);
  assert.deepEqual(run().rerank.map((r) => r.skipped), [false, false]);

  // An edited query array (same shape, one value changed): indexes stay, every shortlist and reranking is redone.
  const queriesX = path.join(root, "FMNIST_val_mrl1_e0_ff2048-X.npy");
  const queries = readMatrixNpy(queriesX);
  queries.data[0] += 0.5;
  writeMatrixNpy(queriesX, queries);
  const before = stampOf(first.metricsFile);
  const edited = run();
  assert.deepEqual(edited.search.map((r) => r.action), ["reused-index", "reused-index", "reused-index", "reused-index"]);
  assert.deepEqual(edited.rerank.map((r) => r.skipped), [false, false]);
  assert.notEqual(stampOf(first.metricsFile), before, "metrics recomputed");

  // A deleted shortlist and an overwritten index are recomputed; the rest is skipped.
  fs.rmSync(first.search[0].neighborsFile);
  fs.copyFileSync(first.search[2].indexFile, first.search[3].indexFile + ".bak");
  fs.renameSync(first.search[3].indexFile + ".bak", first.search[3].indexFile);
  const repaired = run();
  assert.deepEqual(repaired.search.map((r) => r.action), ["reused-index", "skipped", "skipped", "built"]);
  assert.equal(FaissIndex.read(first.search[3].indexFile).dim, 2048);

  // --force recomputes everything.
  const forced = once(config, true);
  assert.deepEqual(forced.search.map((r) => r.action), ["built", "built", "built", "built"]);
  assert.deepEqual(forced.rerank.map((r) => r.skipped), [false, false]);
});

test("inference resumes per split, and efSearch changes recompute HNSW shortlists but reuse the index", async () => {
  const root = tempDir("mrl-split-");
  const config = loadExperiment({ root }, TEST_EXPERIMENT);
  const infer = async (e = config) => (await runInference(e, { quiet: true }))[0].result;
  const first = await infer();
  assert.equal(first.skipped, false);
  const train = fs.statSync(first.files.databaseX);
  fs.rmSync(first.files.queriesX);
  const again = await infer();
  assert.equal(again.skipped, false);
  assert.ok(Number.isNaN(again.imagesPerSecond!.database), "the database split was up to date");
  assert.equal(fs.statSync(first.files.databaseX).mtimeMs, train.mtimeMs);
  assert.equal((await infer()).skipped, true);
  // a different number of images is a different configuration
  const more = await infer(loadExperiment({ root, inference: { limit: { database: 4000, queries: 500 } } }, TEST_EXPERIMENT));
  assert.ok(Number.isNaN(more.imagesPerSecond!.database) && more.imagesPerSecond!.queries > 0);

  const small = tempDir("mrl-hnsw-");
  writeMatrixNpy(path.join(small, "SYN_train_mrl1_e0_ff2048-X.npy"), matrix(500, 16, seededFloats(500 * 16, 5)));
  writeMatrixNpy(path.join(small, "SYN_val_mrl1_e0_ff2048-X.npy"), matrix(30, 16, seededFloats(30 * 16, 6)));
  writeLabelsNpy(path.join(small, "SYN_train_mrl1_e0_ff2048-y.npy"), new Int32Array(500));
  writeLabelsNpy(path.join(small, "SYN_val_mrl1_e0_ff2048-y.npy"), new Int32Array(30));
  const arrays = loadRetrievalArrays(small, "SYN", "mrl");
  const spec: ArtifactSpec = { root: small, model: "mrl", dataset: "SYN", indexType: "hnsw8" };
  const search = (efSearch?: number) => runIndexSearch(spec, arrays, { k: 10, nesting: [8, 16], efSearch, quiet: true }).map((r) => r.action);
  assert.deepEqual(search(), ["built", "built"]);
  assert.deepEqual(search(), ["skipped", "skipped"]);
  assert.deepEqual(search(64), ["reused-index", "reused-index"]);
  assert.deepEqual(search(64), ["skipped", "skipped"]);
});
