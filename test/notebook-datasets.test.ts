/**
 * The retrieval notebooks on the two experiment shapes whose files are not "<DATASET>_{train,val}_<config>": ImageNet-V2
 * (its queries search 1K's database) and the ff baselines (one array per size). Small arrays under the original
 * file names, written here; each notebook's method cell must agree with the library, and what the notebooks write
 * must be byte for byte what the library writes from the same arrays.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  experimentGallerySettings, loadExperiment, matrix, neighborsPath, experimentSpec, readShortlist, runMetrics, runReranking, runSearch, writeLabelsNpy, writeMatrixNpy, type ModelKind,
} from "@mrl-retrieval/lib/internal";
import { seededFloats, tempDir } from "./helpers";
import { runNotebook, streamText } from "./notebookRun";

const CLASSES = 5;

/**
 * `<root>/<name>-X.npy` (rows x cols, each row its class's centre plus noise) and `-y.npy` (class r % CLASSES of
 * row r): neighbours of the same class are nearer, so the metrics are not all chance.
 */
function writeArrays(root: string, name: string, rows: number, cols: number, seed: number): void {
  const centres = seededFloats(CLASSES * cols, 1), noise = seededFloats(rows * cols, seed);
  const x = Float32Array.from(noise, (v, i) => centres[(Math.floor(i / cols) % CLASSES) * cols + (i % cols)] + 0.8 * v);
  writeMatrixNpy(path.join(root, `${name}-X.npy`), matrix(rows, cols, x));
  writeLabelsNpy(path.join(root, `${name}-y.npy`), Int32Array.from({ length: rows }, (_, r) => r % CLASSES));
}

/** Every file a run wrote under `root` (relative paths), without its inputs and the manifests (they hold absolute paths and times). */
function outputs(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(root, f)).isFile() && !f.endsWith(".npy") && path.basename(f) !== "manifest.json").sort();
}

interface Shape {
  name: string;
  /** The experiment's fields besides its root. */
  fields: { dataset: string; models: ModelKind[]; nesting: number[]; [field: string]: unknown };
  /** Writes the arrays under a root, with the original file names. */
  arrays: (root: string) => void;
  /** Files both runs must have written (relative to the root). */
  expected: string[];
  /** The reranking notebook's check line. */
  rerankCheck: RegExp;
}

const SHAPES: Shape[] = [
  {
    name: "V2-shaped: V2's queries against 1K's database",
    fields: {
      dataset: "V2", models: ["mrl"], nesting: [8, 16, 64, 2048],
      adaptive: [{ retrievalDim: 16, rerankDim: 2048, shortlist: 50 }],
      funnels: [{ retrievalDim: 8, dims: [16, 64, 2048], shortlists: [50, 20, 10] }],
    },
    arrays: (root) => {
      // no V2_train_* arrays: V2 is a test set only
      writeArrays(root, "1K_train_mrl1_e0_ff2048", 600, 2048, 11);
      writeArrays(root, "V2_val_mrl1_e0_ff2048", 40, 2048, 12);
    },
    expected: ["index_files/mrl/1K_2048dim_exactl2.index", "neighbors/mrl/exactl2_8dim_100shortlist_V2.csv",
      "neighbors/reranked/mrl/16dim-reranked2048_50shortlist_V2_exactl2.csv",
      "neighbors/funnel_retrieval/mrl/8dim-cascade[16,64,2048]_shortlist[50,20,10]_V2_exactl2.csv", "metrics/mrl/V2_exactl2_metrics.csv"],
    rerankCheck: /16->2048 @50 on 40 queries: \d+ identical, \d+ differ only in the order of candidates at equal distance \(within 0\.00001, float32 rounding\), 0 differ/,
  },
  {
    name: "ff per size: one array per nesting size",
    fields: { dataset: "4K", models: ["ff"], nesting: [8, 16, 32] },
    arrays: (root) => {
      for (const d of [8, 16, 32]) {
        writeArrays(root, `4K_train_mrl0_e0_ff${d}`, 600, d, 20 + d);
        writeArrays(root, `4K_val_mrl0_e0_ff${d}`, 40, d, 60 + d);
      }
    },
    expected: ["index_files/ff/4K_8dim_exactl2.index", "neighbors/ff/exactl2_32dim_100shortlist_4K.csv", "metrics/ff/4K_exactl2_metrics.csv"],
    rerankCheck: /this experiment has no adaptive retrieval to check/,
  },
];

for (const shape of SHAPES) {
  test(`faiss_nn, reranking and compute_metrics on a ${shape.name}: method cells agree, outputs match the library's`, async () => {
    const dir = tempDir(); // one temp folder (each registers an exit handler)
    const [notebookRoot, libraryRoot, results] = ["notebooks", "library", "results"].map((sub) => path.join(dir, sub));
    for (const root of [notebookRoot, libraryRoot]) {
      fs.mkdirSync(root);
      shape.arrays(root);
    }
    const file = path.join(dir, "experiment.json");
    fs.writeFileSync(file, JSON.stringify({ name: "shape", root: notebookRoot, indexTypes: ["exactl2"], k: 100, metricKs: [10, 25], ...shape.fields }, null, 2));
    const env = { MRL_EXPERIMENT: file, MRL_RESULTS: results };
    const model = shape.fields.models[0];

    // faiss_nn: the plain-TypeScript nested search agrees with the library's shortlists at every dim
    const faissNn = streamText(runNotebook("faiss_nn.ipynb", env));
    for (const dim of shape.fields.nesting) {
      assert.match(faissNn, new RegExp(`${model} ${dim}d, top 100 of 5 queries: \\d identical, \\d differ only in the order of rows at equal distance \\(within 0\\.00001\\), 0 differ`));
    }
    assert.match(streamText(runNotebook("reranking.ipynb", env)), shape.rerankCheck);
    const metrics = streamText(runNotebook("compute_metrics.ipynb", env));

    // the library on the same arrays under another root writes the same files, byte for byte
    const experiment = loadExperiment({ root: libraryRoot }, file);
    runSearch(experiment, { quiet: true });
    runReranking(experiment, { quiet: true });
    const table = runMetrics(experiment)[0].result.rows;
    const written = outputs(notebookRoot);
    assert.deepEqual(written, outputs(libraryRoot));
    for (const f of shape.expected) assert.ok(written.includes(f), `${f} among ${written.join(", ")}`);
    for (const f of written) assert.ok(fs.readFileSync(path.join(notebookRoot, f)).equals(fs.readFileSync(path.join(libraryRoot, f))), `${f} differs`);

    // the gallery: each dim's row is that dim's shortlist (ff: its own size's model), drawn by the notebook as a PNG
    const gallery = experimentGallerySettings(experiment, model, "exactl2", shape.fields.nesting);
    shape.fields.nesting.forEach((d, i) => assert.deepEqual(gallery.settings[i].neighbors.data,
      readShortlist(neighborsPath(experimentSpec(experiment, model, "exactl2"), d, experiment.k)).data, `the gallery's ${d}-d row`));
    assert.ok(fs.statSync(path.join(results, "figures", "retrieval_gallery.png")).size > 1000, "the notebook drew the gallery");

    // the AP cell reads the labels the metrics stage reads: on all 40 queries at the largest dim it gives the table's mAP@10
    const largest = Math.max(...shape.fields.nesting);
    const ap = new RegExp(`mAP@10 at ${largest}d on the first 40 queries: this cell (\\S+), the library (\\S+)`).exec(metrics);
    assert.ok(ap && ap[1] === ap[2], `the notebook's AP cell agrees with computeMetrics: ${ap?.[0]}`);
    const exactRow = table.find((r) => r.method === "exact" && r.retrievalDim === largest)!;
    assert.equal(ap[1], Number(exactRow["mAP@10"]).toFixed(6));
    assert.ok(Number(exactRow["mAP@10"]) > 0.5, "same-class neighbours are found (the labels line up with the rows)");
  });
}
