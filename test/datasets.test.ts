/**
 * The originals' datasets and models by their file names: V2 queries against the 1K database, mrl_e, and the
 * per-size ff baselines each evaluated at their own d, checked against FAISS and the compute_metrics loop
 * run independently in Debian's Python on the same files. Real data: the shipped MRL model on the first
 * 4000 / 400 Fashion-MNIST images, renamed as the originals name ImageNet arrays.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  indexPath, loadExperiment, MrlError, neighborsPath, readMetricsTable, runInference, runRetrieval, type Experiment,
} from "@mrl-retrieval/lib/internal";
import { python, tempDir, TEST_EXPERIMENT } from "./helpers";

let source: Experiment;
const K = 50;

before(async () => {
  source = loadExperiment({ root: tempDir() }, TEST_EXPERIMENT);
  await runInference(source, { quiet: true });
});

const arrayOf = (split: "train" | "val", part: "X" | "y"): string => path.join(source.root, `${source.dataset}_${split}_mrl1_e0_ff2048-${part}.npy`);

/** A root holding the test arrays under the given names (hard links). */
function rootWith(names: Record<string, string>): string {
  const root = tempDir();
  for (const [name, from] of Object.entries(names)) fs.linkSync(from, path.join(root, name));
  return root;
}

/** Our experiment on `root` with the given dataset and models (exact search, k = 50, two dims). */
const experimentOn = (root: string, fields: Record<string, unknown>): Experiment => loadExperiment({
  root, k: K, nesting: [8, 64], adaptive: [{ retrievalDim: 8, rerankDim: 64, shortlist: 40 }], funnels: [], recallDenominator: 1300, ...fields,
}, TEST_EXPERIMENT);

/** FAISS exact search and the compute_metrics loop (recall / 1300), in Python, on the given files. */
const PYTHON_REFERENCE = `
import faiss, numpy as np, pandas as pd, sys, json
db_x, db_y, q_x, q_y, shortlist, dim, k = sys.argv[1:8]; dim = int(dim); k = int(k)
xb = np.array(np.load(db_x)[:, :dim], dtype=np.float32); faiss.normalize_L2(xb)
xq = np.array(np.load(q_x)[:, :dim], dtype=np.float32); faiss.normalize_L2(xq)
index = faiss.IndexFlatL2(dim); index.add(xb); D, I = index.search(xq, k)
ours = pd.read_csv(shortlist, header=None).to_numpy()
# tie-aware: where ids differ, our candidate's distance equals FAISS's at that rank (within float rounding)
d_ours = ((xq[:, None, :] - xb[ours]) ** 2).sum(-1)
same = (ours == I).mean(); worst = float(np.abs(np.sort(d_ours, 1) - D).max())
db_labels, q_labels = np.load(db_y), np.load(q_y)
aps = []
for i in range(len(q_labels)):
    matches = db_labels[ours[i, :10]] == q_labels[i]
    precs = np.cumsum(matches) / np.arange(1, 11)
    aps.append(np.sum(precs[matches]) / 10)
recall = np.mean([(db_labels[ours[i, :10]] == q_labels[i]).sum() / 1300 for i in range(len(q_labels))])
print(json.dumps({"same": float(same), "worst": worst, "map10": float(np.mean(aps)), "recall10": float(recall)}))`;

test("V2 searches the 1K database (mrl_e names): shortlists, 1K's index, metrics as FAISS and compute_metrics give them", () => {
  const root = rootWith({
    "1K_train_mrl0_e1_ff2048-X.npy": arrayOf("train", "X"), "1K_train_mrl0_e1_ff2048-y.npy": arrayOf("train", "y"),
    "V2_val_mrl0_e1_ff2048-X.npy": arrayOf("val", "X"), "V2_val_mrl0_e1_ff2048-y.npy": arrayOf("val", "y"),
  });
  const e = experimentOn(root, { dataset: "V2", models: ["mrl_e"] });
  const [run] = runRetrieval(e, { quiet: true });
  assert.ok(fs.existsSync(path.join(root, "index_files", "mrl_e", "1K_8dim_exactl2.index")), "V2 uses (and names) 1K's index");
  assert.ok(fs.existsSync(path.join(root, "neighbors", "mrl_e", "exactl2_64dim_50shortlist_V2.csv")));
  assert.ok(fs.existsSync(path.join(root, "neighbors", "reranked", "mrl_e", "8dim-reranked64_40shortlist_V2_exactl2.csv")));
  assert.ok(fs.existsSync(path.join(root, "metrics", "mrl_e", "V2_exactl2_metrics.csv")));
  for (const dim of e.nesting) {
    const ref = python<{ same: number; worst: number; map10: number; recall10: number }>(PYTHON_REFERENCE, [
      path.join(root, "1K_train_mrl0_e1_ff2048-X.npy"), path.join(root, "1K_train_mrl0_e1_ff2048-y.npy"),
      path.join(root, "V2_val_mrl0_e1_ff2048-X.npy"), path.join(root, "V2_val_mrl0_e1_ff2048-y.npy"),
      neighborsPath(run.spec, dim, K), String(dim), String(K)]);
    assert.ok(ref.same > 0.999 && ref.worst < 1e-5, `dim ${dim}: ${JSON.stringify(ref)}`);
    const row = run.result.metrics.rows.find((r) => r.method === "exact" && r.retrievalDim === dim)!;
    assert.ok(Math.abs((row["mAP@10"] as number) - ref.map10) < 1e-9, `mAP@10 ${row["mAP@10"]} vs ${ref.map10}`);
    assert.ok(Math.abs((row["recall@10"] as number) - ref.recall10) < 1e-9, `recall@10 ${row["recall@10"]} vs ${ref.recall10}`);
  }
});

test("ff: one array per size (mrl0_e0_ff{d}), each searched and evaluated at its own d, with its own labels; no reranking", () => {
  const root = tempDir();
  // per-size arrays as the originals name them: here the first d columns of the test arrays, written by numpy
  python(`
import numpy as np, sys, json
root, src_train, src_val, ytrain, yval = sys.argv[1:6]
for d in (8, 64):
    np.save(f"{root}/1K_train_mrl0_e0_ff{d}-X.npy", np.ascontiguousarray(np.load(src_train)[:, :d]))
    np.save(f"{root}/1K_val_mrl0_e0_ff{d}-X.npy", np.ascontiguousarray(np.load(src_val)[:, :d]))
    np.save(f"{root}/1K_train_mrl0_e0_ff{d}-y.npy", np.load(ytrain))
    np.save(f"{root}/1K_val_mrl0_e0_ff{d}-y.npy", np.load(yval))
print(json.dumps(1))`, [root, arrayOf("train", "X"), arrayOf("val", "X"), arrayOf("train", "y"), arrayOf("val", "y")]);
  const e = experimentOn(root, { dataset: "1K", models: ["ff"] });
  const [run] = runRetrieval(e, { quiet: true });
  assert.deepEqual(run.result.rerank, [], "the per-size baselines share no dims: nothing to rerank");
  assert.deepEqual(readMetricsTable(run.spec).map((r) => `${r.method} ${r.retrievalDim}`), ["exact 8", "exact 64"]);
  for (const dim of e.nesting) {
    assert.ok(fs.existsSync(indexPath(run.spec, dim)));
    const ref = python<{ same: number; worst: number; map10: number; recall10: number }>(PYTHON_REFERENCE, [
      path.join(root, `1K_train_mrl0_e0_ff${dim}-X.npy`), path.join(root, `1K_train_mrl0_e0_ff${dim}-y.npy`),
      path.join(root, `1K_val_mrl0_e0_ff${dim}-X.npy`), path.join(root, `1K_val_mrl0_e0_ff${dim}-y.npy`),
      neighborsPath(run.spec, dim, K), String(dim), String(K)]);
    assert.ok(ref.same > 0.999 && ref.worst < 1e-5, `dim ${dim}: ${JSON.stringify(ref)}`);
    const row = run.result.metrics.rows.find((r) => r.retrievalDim === dim)!;
    assert.ok(Math.abs((row["mAP@10"] as number) - ref.map10) < 1e-9, `mAP@10 ${row["mAP@10"]} vs ${ref.map10}`);
  }
});

test("bad arrays stop every stage with one line naming the file, before anything is written", () => {
  const check = (root: string, fields: Record<string, unknown>, file: string, problem: RegExp): void => {
    assert.throws(() => runRetrieval(experimentOn(root, fields), { quiet: true }),
      (err: unknown) => err instanceof MrlError && err.message.startsWith(`${path.join(root, file)}: `) && problem.test(err.message) && !err.message.includes("\n"),
      `${file}: ${problem}`);
    assert.deepEqual(fs.readdirSync(root).filter((n) => !n.endsWith(".npy")), [], "nothing written");
  };
  // V2 queries embedded by another model: 64-d against the 2048-d 1K database
  const v2 = rootWith({ "1K_train_mrl1_e0_ff2048-X.npy": arrayOf("train", "X"), "1K_train_mrl1_e0_ff2048-y.npy": arrayOf("train", "y"),
    "V2_val_mrl1_e0_ff2048-y.npy": arrayOf("val", "y") });
  python(`import numpy as np, sys, json; np.save(sys.argv[1], np.load(sys.argv[2])[:, :64]); print(1)`, [path.join(v2, "V2_val_mrl1_e0_ff2048-X.npy"), arrayOf("val", "X")]);
  check(v2, { dataset: "V2", models: ["mrl"] }, "V2_val_mrl1_e0_ff2048-X.npy", /queries are 64-d but the database .*1K_train_mrl1_e0_ff2048-X\.npy is 2048-d/);
  // a database truncated in the middle of a block (a copy cut short), in memory and out of core
  for (const memoryGb of [undefined, 0.1]) {
    const cut = rootWith({ "1K_train_mrl1_e0_ff2048-y.npy": arrayOf("train", "y"), "1K_val_mrl1_e0_ff2048-X.npy": arrayOf("val", "X"),
      "1K_val_mrl1_e0_ff2048-y.npy": arrayOf("val", "y") });
    const bytes = fs.readFileSync(arrayOf("train", "X"));
    fs.writeFileSync(path.join(cut, "1K_train_mrl1_e0_ff2048-X.npy"), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    check(cut, { dataset: "1K", models: ["mrl"], memoryGb }, "1K_train_mrl1_e0_ff2048-X.npy", /truncated: shape \(4000, 2048\) of f4 needs 32768000 data bytes, file has \d+/);
  }
});
