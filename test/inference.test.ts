import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { embed, fashionMnist, firstItems, loadEmbeddingModel, MrlError, runRetrievalInference } from "@mrl-retrieval/lib/internal";
import { modelFile, python, REPO, tempDir } from "./helpers";

for (const kind of ["mrl", "ff"] as const) {
  test(`shipped ${kind} model: ONNX inference in TypeScript matches PyTorch within 1e-4`, { skip: !fs.existsSync(modelFile(kind)) }, async () => {
    const n = 16;
    const model = await loadEmbeddingModel(modelFile(kind));
    assert.deepEqual([model.input.channels, model.input.height, model.input.width], [1, 28, 28]);
    const { vectors } = await embed(model, fashionMnist("test"), { limit: n, batchSize: 5, quiet: true });
    assert.equal(vectors.rows, n);
    assert.equal(vectors.cols, 2048);
    const ref = python<{ features: number[][] }>(
      `import runpy, sys; sys.path.insert(0, "${REPO}/model-tools"); sys.argv = ["x"] + sys.argv[1:]; runpy.run_path("${REPO}/model-tools/reference_outputs.py", run_name="__main__")`,
      [modelFile(kind).replace(/\.onnx$/, ".pt"), kind, String(n)]);
    let maxDiff = 0;
    ref.features.forEach((row, i) => row.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - vectors.data[i * 2048 + j])); }));
    assert.ok(maxDiff <= 1e-4, `max abs diff ${maxDiff}`);
    // the representation is not degenerate: different images give different vectors
    assert.notDeepEqual(Array.from(vectors.data.subarray(0, 2048)), Array.from(vectors.data.subarray(2048, 4096)));
  });
}

test("retrieval inference writes the four arrays numpy loads, and skips when up to date", async () => {
  const root = tempDir();
  const config = {
    modelFile: modelFile("mrl"), modelKind: "mrl" as const, dataset: "FMNIST", root, quiet: true,
    database: firstItems(fashionMnist("train"), 300), queries: firstItems(fashionMnist("test"), 50),
  };
  const first = await runRetrievalInference(config);
  assert.equal(first.skipped, false);
  assert.deepEqual(Object.values(first.files).map((f) => path.basename(f)), [
    "FMNIST_train_mrl1_e0_ff2048-X.npy", "FMNIST_train_mrl1_e0_ff2048-y.npy", "FMNIST_val_mrl1_e0_ff2048-X.npy", "FMNIST_val_mrl1_e0_ff2048-y.npy"]);
  const got = python<Record<string, [string, number[]]>>(`
import numpy as np, sys, json, glob, os
print(json.dumps({os.path.basename(f): [str(a.dtype), list(a.shape)] for f in sorted(glob.glob(sys.argv[1] + "/*.npy")) for a in [np.load(f)]}))`, [root]);
  assert.deepEqual(got, {
    "FMNIST_train_mrl1_e0_ff2048-X.npy": ["float32", [300, 2048]], "FMNIST_train_mrl1_e0_ff2048-y.npy": ["int64", [300]],
    "FMNIST_val_mrl1_e0_ff2048-X.npy": ["float32", [50, 2048]], "FMNIST_val_mrl1_e0_ff2048-y.npy": ["int64", [50]],
  });
  const labels = python<number[]>(`import numpy as np, sys, json; print(json.dumps(np.load(sys.argv[1]).tolist()))`, [first.files.queriesY]);
  assert.deepEqual(labels, Array.from(fashionMnist("test").labels.subarray(0, 50)));
  const mtime = fs.statSync(first.files.databaseX).mtimeMs;
  const second = await runRetrievalInference(config);
  assert.equal(second.skipped, true);
  assert.equal(fs.statSync(first.files.databaseX).mtimeMs, mtime);
});

test("missing model file and bad IDX data give clear errors", async () => {
  await assert.rejects(loadEmbeddingModel("/nope/model.onnx"), (err: unknown) => err instanceof MrlError && /\/nope\/model\.onnx: model file not found/.test(err.message));
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "t10k-images-idx3-ubyte.gz"), Buffer.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]));
  fs.writeFileSync(path.join(dir, "t10k-labels-idx1-ubyte.gz"), Buffer.from([0, 0, 8, 1, 0, 0, 0, 2, 1, 2]));
  assert.throws(() => fashionMnist("test", dir), /t10k-images-idx3-ubyte\.gz: truncated IDX file: expected 1568 bytes of data, found 3/);
  assert.throws(() => fashionMnist("test", path.join(dir, "none")), /file not found/);
});
