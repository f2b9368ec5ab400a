/**
 * The experiment definition: files that extend others, paths relative to the file that names them,
 * overrides, defaults, and the round trip through saveExperiment that carries the CLI's flags into the
 * notebooks it runs.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { loadExperiment, MrlError, readManifest, saveExperiment, validateExperiment } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir, TEST_EXPERIMENT } from "./helpers";

const write = (file: string, value: unknown): string => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
  return file;
};

test("the shipped experiment files load, and the test and quick ones extend the paper settings", () => {
  const paper = loadExperiment({}, path.join(REPO, "experiments", "fmnist.json"));
  assert.equal(paper.name, "fmnist");
  assert.equal(paper.root, path.join(REPO, "data", "retrieval"));
  assert.deepEqual(paper.nesting, [8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
  assert.deepEqual(paper.funnels.map((f) => f.shortlists), [[800, 400, 200, 50, 10], [400, 200, 50, 25, 10], [200, 100, 50, 25, 10]]);
  assert.equal(paper.inference!.models.mrl, path.join(REPO, "data", "models", "fmnist_mrl_cnn.onnx"));
  const testing = loadExperiment({}, TEST_EXPERIMENT);
  assert.equal(testing.name, "fmnist-test");
  assert.equal(testing.root, path.join(REPO, "data", "retrieval-test"));
  assert.deepEqual(testing.inference!.limit, { database: 4000, queries: 400 });
  assert.equal(testing.inference!.database, "fashion-mnist:train", "inherited, not a path");
  assert.equal(testing.rerankPrecision, "float32");
  const quick = loadExperiment({}, path.join(REPO, "experiments", "fmnist-quick.json"));
  assert.equal(quick.k, 1024);
  assert.deepEqual(quick.models, ["mrl", "mrl0_e0_ff2048"]);
});

test("paths resolve against the file that names them; objects merge, lists replace, null removes; overrides win", () => {
  const dir = tempDir("mrl-exp-");
  write(path.join(dir, "base", "base.json"), {
    root: "arrays", dataset: "SYN", models: ["mrl", "mrl0_e0_ff2048"], indexTypes: ["exactl2"], k: 10, nesting: [8, 16], metricKs: [5, 10],
    inference: { models: { mrl: "m.onnx", mrl0_e0_ff2048: "f.onnx" }, database: "images/train", queries: "fashion-mnist:test", batchSize: 32 },
  });
  const child = write(path.join(dir, "child", "child.json"), {
    extends: "../base/base.json", models: ["mrl"], nesting: [16], inference: { models: { mrl: "own.onnx" }, limit: { database: 5, queries: 2 } },
    adaptive: [{ retrievalDim: 16, rerankDim: 16, shortlist: 10 }],
  });
  const e = loadExperiment({}, child);
  assert.equal(e.name, "child");
  assert.equal(e.root, path.join(dir, "base", "arrays"));
  assert.deepEqual(e.nesting, [16], "lists replace");
  assert.deepEqual(e.metricKs, [5, 10], "inherited");
  assert.deepEqual(e.inference!.models, { mrl: path.join(dir, "child", "own.onnx"), mrl0_e0_ff2048: path.join(dir, "base", "f.onnx") }, "objects merge");
  assert.equal(e.inference!.database, path.join(dir, "base", "images", "train"));
  assert.equal(e.inference!.batchSize, 32);
  assert.deepEqual([e.shortlistFormat, e.rerankPrecision, e.recallDenominator, e.funnels], ["csv", "float32", "class-count", []], "defaults");
  const overridden = loadExperiment({ k: 20, root: "elsewhere", inference: null as never }, child);
  assert.equal(overridden.k, 20);
  assert.equal(overridden.root, path.resolve("elsewhere"), "override paths are relative to the working folder");
  assert.equal(overridden.inference, undefined, "null removes an inherited field");
});

test("saveExperiment writes a file that loads back to the same experiment (how the CLI's flags reach notebooks)", () => {
  const e = loadExperiment({ rerankPrecision: "float64", shortlistFormat: "npy", root: tempDir() }, TEST_EXPERIMENT);
  const file = saveExperiment(e, path.join(tempDir(), "experiment.json"));
  assert.deepEqual(loadExperiment({}, file), e);
  assert.deepEqual(validateExperiment(JSON.parse(fs.readFileSync(file, "utf8"))), e);
});

test("bad experiment files: not found, not JSON, an extends loop, a wrong type, a k the shortlists exceed", () => {
  const dir = tempDir("mrl-exp-bad-");
  const bad = (file: string, re: RegExp): void => assert.throws(() => loadExperiment({}, file),
    (e: unknown) => e instanceof MrlError && e.message.startsWith(`${file}: `) && re.test(e.message), String(re));
  bad(path.join(dir, "missing.json"), /experiment file not found; expected a JSON file like experiments\/fmnist\.json/);
  bad(write(path.join(dir, "broken.json"), "{ \"k\": 3, }"), /not valid JSON \(/);
  write(path.join(dir, "a.json"), { extends: "b.json" });
  bad(write(path.join(dir, "b.json"), { extends: "a.json" }), /"extends" loops back to this file/);
  bad(write(path.join(dir, "str.json"), { extends: TEST_EXPERIMENT, k: "256" }), /field "k" is "256"; expected a positive integer/);
  bad(write(path.join(dir, "long.json"), { extends: TEST_EXPERIMENT, k: 100 }),
    /field "adaptive\[0\]\.shortlist" is 200; expected at most k = 100 \(the k-NN shortlist it reranks\)/);
  bad(write(path.join(dir, "model.json"), { extends: TEST_EXPERIMENT, inference: { models: { ff: "ff.onnx" } } }),
    /field "inference\.models key" is "ff"; expected a nested model's name: ff means one model per size/);
  bad(write(path.join(dir, "kind.json"), { extends: TEST_EXPERIMENT, models: ["mrl", "../mrl"] }),
    /field "models\[1\]" is "\.\.\/mrl"; expected a plain name .*no path separators or "\.\."/);
  bad(write(path.join(dir, "tag.json"), { extends: TEST_EXPERIMENT, dataset: "1K/../../etc" }), /field "dataset" is "1K\/\.\.\/\.\.\/etc"; expected a plain name/);
});

test("a CLI flag reaches the stages it runs: --rerank-precision float64 is what the reranked files record", () => {
  const root = tempDir("mrl-exp-cli-");
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO, "lib", "dist", "cli.js"), ...args, "--experiment", TEST_EXPERIMENT,
    "--root", root], { encoding: "utf8", env: { ...process.env, MRL_QUIET: "1" } });
  for (const step of [["infer"], ["search"], ["rerank", "--rerank-precision", "float64"]]) {
    const run = cli(...step);
    assert.equal(run.status, 0, run.stderr);
  }
  const entries = Object.values(readManifest(path.join(root, "neighbors", "reranked", "mrl")).artifacts);
  assert.deepEqual(entries.map((x) => x.config.precision), ["float64"]);
  const unknown = cli("rerank", "--precision", "float64");
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /error: unknown option --precision; expected one of: \[--experiment FILE\]/);
});
