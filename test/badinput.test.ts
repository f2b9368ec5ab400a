/**
 * The bad-input catalogue: every way a researcher's files or settings can be wrong that we know of, each
 * run through the public entry point a notebook or the CLI uses. Every case must throw an MrlError whose
 * message names the file (when there is one), what is wrong and what was expected, and must leave the
 * folder exactly as it was: no new or changed file, no temp file.
 *
 * Related cases live next to their modules: test/npy.test.ts (big-endian, wrong rank, not an .npy, missing
 * file), test/csv.test.ts (header rows, empty fields, int32 overflow, empty CSV), test/inference.test.ts
 * (truncated IDX), test/export.test.ts (3x224x224 model fed Fashion-MNIST, checkpoint errors),
 * test/retrieval.test.ts (missing shortlist).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  arrayPath, checkFinite, imageFolder, metricsPath, readMetricsTable, intMatrix, loadEmbeddingModel, loadExperiment, loadRetrievalArrays, loadShortlist, matrix, MrlError,
  neighborsPath, readShortlistCsv, runRerankStage, runIndexSearch, runRetrievalInference, writeLabelsNpy, writeMatrixNpy,
  writeShortlistCsv, type ArtifactSpec, type ImageSource, type RerankStageOptions,
} from "@mrl-retrieval/lib/internal";
import { modelFile, python, seededFloats, tempDir, TEST_EXPERIMENT } from "./helpers";

const DB = 300, NQ = 40, DIM = 32, K = 20;
const top = tempDir("mrl-bad-");
const base = path.join(top, "fixture");
const spec = (root: string): ArtifactSpec => ({ root, model: "mrl", dataset: "SYN", indexType: "exactl2" });
const X = (root: string, split: "train" | "val"): string => arrayPath(root, "SYN", split, "mrl", "X");
const Y = (root: string, split: "train" | "val"): string => arrayPath(root, "SYN", split, "mrl", "y");
const shortlist8 = (root: string): string => neighborsPath(spec(root), 8, K);
const rerankOptions = (extra: Partial<RerankStageOptions> = {}): RerankStageOptions =>
  ({ k: K, adaptive: [{ retrievalDim: 8, rerankDim: 32, shortlist: 10 }], funnels: [], quiet: true, ...extra });
const search = (root: string, k = K, nesting = [8, 32]) => runIndexSearch(spec(root), loadRetrievalArrays(root, "SYN", "mrl"), { k, nesting, quiet: true });
const rerankStage = (root: string, extra: Partial<RerankStageOptions> = {}) => runRerankStage(spec(root), loadRetrievalArrays(root, "SYN", "mrl"), rerankOptions(extra));

/** Writes a matrix with one value changed. */
function poke(file: string, rows: number, cols: number, r: number, c: number, value: number, seed: number): void {
  const data = seededFloats(rows * cols, seed);
  data[r * cols + c] = value;
  writeMatrixNpy(file, matrix(rows, cols, data));
}

/** Rewrites a shortlist CSV's text with `edit`. */
function editCsv(file: string, edit: (lines: string[]) => void): void {
  const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
  edit(lines);
  fs.writeFileSync(file, lines.join("\n") + "\n");
}

/** A tiny ONNX model whose output is the 4-D input itself (a feature map, not pooled features). */
function featureMapModel(file: string): void {
  python(`
import onnx, sys
from onnx import helper, TensorProto
x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 1, 28, 28])
y = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1, 28, 28])
g = helper.make_graph([helper.make_node("Identity", ["images"], ["features"])], "feature_map", [x], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]); m.ir_version = 8
onnx.checker.check_model(m); onnx.save(m, sys.argv[1]); print("{}")`, [file]);
}

/** An experiment file in `root` that extends the test experiment with bad `fields`, as a user might write it. */
const badExperiment = (root: string): string => path.join(root, "bad-experiment.json");
const experimentFile = (root: string, fields: Record<string, unknown>): void =>
  fs.writeFileSync(badExperiment(root), JSON.stringify({ extends: TEST_EXPERIMENT, root: ".", ...fields }));
const loadBadExperiment = (root: string) => loadExperiment({}, badExperiment(root));

/** Inference into `root` with the shipped model unless `modelFile` is given. */
const infer = (root: string, database: ImageSource, queries: ImageSource, model = modelFile("mrl")) =>
  runRetrievalInference({ modelFile: model, modelKind: "mrl", dataset: "IMG", root, database, queries, quiet: true });

function imageDirs(root: string, classes: Record<string, Record<string, Buffer | string>>): string {
  const dir = path.join(root, "images");
  fs.mkdirSync(dir, { recursive: true });
  for (const [cls, files] of Object.entries(classes)) {
    fs.mkdirSync(path.join(dir, cls), { recursive: true });
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, cls, name), data);
  }
  return dir;
}

interface Case {
  name: string;
  /** Breaks something in the case's own copy of the valid fixture. */
  setup?: (root: string) => void;
  run: (root: string) => unknown;
  /** The file the message must name; undefined for configuration errors (the message names the field). */
  file?: (root: string) => string;
  /** What is wrong and what was expected. */
  problem: RegExp;
}

const CASES: Case[] = [
  { name: "truncated .npy", setup: (r) => { const b = fs.readFileSync(X(r, "train")); fs.writeFileSync(X(r, "train"), b.subarray(0, b.length - 100)); },
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "train"),
    problem: /truncated: shape \(300, 32\) of f4 needs 38400 data bytes, file has 38300/ },
  { name: "corrupt .npy header", setup: (r) => { const b = fs.readFileSync(X(r, "val")); b.write("{'garbage': 1}".padEnd(40), 10, "latin1"); fs.writeFileSync(X(r, "val"), b); },
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "val"),
    problem: /corrupt \.npy header \(expected 'descr', 'fortran_order' and 'shape'\)/ },
  { name: "unsupported dtype (float16)", setup: (r) => pyArray(r, X(r, "val"), `np.zeros((${NQ}, ${DIM}), dtype=np.float16)`),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "val"),
    problem: /unsupported dtype '<f2'; expected float32 \('<f4'\), float64, int32, int64 or uint8/ },
  { name: "Fortran order", setup: (r) => pyArray(r, X(r, "train"), `np.asfortranarray(np.ones((${DB}, ${DIM}), dtype=np.float32))`),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "train"),
    problem: /Fortran-order arrays are not supported; expected C order/ },
  { name: "labels that are not integers (float64 .npy)", setup: (r) => pyArray(r, Y(r, "train"), `np.arange(${DB}) % 5 * 1.0`),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => Y(r, "train"),
    problem: /labels must be integers, got dtype f8; expected int64, int32 or uint8/ },
  { name: "X/y row count mismatch", setup: (r) => writeLabelsNpy(Y(r, "train"), new Int32Array(DB - 1)),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => Y(r, "train"),
    problem: /has 299 labels but .*SYN_train_mrl1_e0_ff2048-X\.npy has 300 rows; expected one label per row/ },
  { name: "query dim != database dim", setup: (r) => writeMatrixNpy(X(r, "val"), matrix(NQ, 16, seededFloats(NQ * 16, 3))),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "val"),
    problem: /queries are 16-d but the database .* is 32-d; expected the same dims/ },
  { name: "a directory where an array file should be", setup: (r) => { fs.rmSync(X(r, "val")); fs.mkdirSync(X(r, "val")); },
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "val"), problem: /is a directory; expected a \.npy array/ },
  { name: "an empty query set", setup: (r) => { writeMatrixNpy(X(r, "val"), matrix(0, DIM)); writeLabelsNpy(Y(r, "val"), new Int32Array(0)); },
    run: (r) => runIndexSearch({ root: r, model: "mrl", dataset: "SYN", indexType: "exactl2" }, loadRetrievalArrays(r, "SYN", "mrl"), { k: 10, nesting: [8], quiet: true }),
    file: (r) => X(r, "val"), problem: /has no rows; expected at least one query to search for/ },
  { name: "embeddings missing (inference not run)", setup: (r) => fs.rmSync(X(r, "val")),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "val"),
    problem: /file not found; expected the embeddings of the inference stage/ },
  { name: "NaN in a query row", setup: (r) => poke(X(r, "val"), NQ, DIM, 3, 5, NaN, 2),
    run: (r) => loadRetrievalArrays(r, "SYN", "mrl"), file: (r) => X(r, "val"),
    problem: /row 3, column 5 is NaN; expected finite values/ },
  // the database is checked by the stage that reads it (loading it may wait until then, or never happen: out of core)
  { name: "Inf in a database row", setup: (r) => poke(X(r, "train"), DB, DIM, 7, 0, -Infinity, 1),
    run: (r) => search(r), file: (r) => X(r, "train"),
    problem: /row 7, column 0 is -Infinity; expected finite values/ },
  { name: "all-zero prefix (cannot be L2-normalized)", setup: (r) => {
    const data = seededFloats(DB * DIM, 1);
    data.fill(0, 2 * DIM, 2 * DIM + 8);
    writeMatrixNpy(X(r, "train"), matrix(DB, DIM, data));
  }, run: (r) => search(r), file: (r) => X(r, "train"),
    problem: /row 2 is all zeros in its first 8 dims and cannot be L2-normalized; expected a non-zero vector at every nesting dim/ },
  { name: "nesting dim larger than the array", run: (r) => search(r, K, [8, 64]), file: (r) => X(r, "train"),
    problem: /nesting dim 64 is larger than the array's 32 dims; expected 1\.\.32/ },
  { name: "k larger than the database", run: (r) => search(r, DB + 1), file: (r) => X(r, "train"),
    problem: /k=301 is larger than the database \(300 rows\); expected k <= 300/ },
  { name: "k <= 0", run: (r) => search(r, 0),
    problem: /k must be a positive integer, got 0; expected 1\.\.300/ },
  { name: "k <= 0 in an experiment file", setup: (r) => experimentFile(r, { k: -5 }), run: loadBadExperiment, file: badExperiment,
    problem: /field "k" is -5; expected a positive integer/ },
  { name: "unknown index type", setup: (r) => experimentFile(r, { indexTypes: ["exactl2", "ivf"] }), run: loadBadExperiment, file: badExperiment,
    problem: /field "indexTypes\[1\]" is "ivf"; expected one of: exactl2, hnsw8, hnsw32/ },
  { name: "misspelt experiment field", setup: (r) => experimentFile(r, { nestings: [8, 16] }), run: loadBadExperiment, file: badExperiment,
    problem: /unknown field "nestings"; expected one of: name, description, root, dataset, models, indexTypes, k, nesting,/ },
  { name: "adaptive retrieval from a dim that is not searched", setup: (r) => experimentFile(r, { adaptive: [{ retrievalDim: 32, rerankDim: 2048, shortlist: 200 }] }),
    run: loadBadExperiment, file: badExperiment,
    problem: /field "adaptive\[0\]\.retrievalDim" is 32; expected one of the nesting dims \[8,16,64,2048\] \(faiss_nn makes the shortlist it starts from\)/ },
  // (a rerank parses the first candidates it needs: a line cut short among them is an error)
  { name: "ragged CSV rows", setup: (r) => editCsv(shortlist8(r), (l) => { l[1] = l[1].split(",").slice(0, 5).join(","); }),
    run: (r) => rerankStage(r), file: shortlist8, problem: /ragged CSV: line 2 has 5 values, line 1 has 20/ },
  { name: "non-integer neighbour id", setup: (r) => editCsv(shortlist8(r), (l) => { l[1] = l[1].replace(/^(\d+),(\d+),(\d+)/, "$1,$2,4.5"); }),
    run: (r) => rerankStage(r), file: shortlist8, problem: /line 2, column 3: "4\.5" is not an integer neighbour id/ },
  { name: "neighbour id >= database size", setup: (r) => editCsv(shortlist8(r), (l) => { l[2] = l[2].replace(/^\d+/, String(DB)); }),
    run: (r) => rerankStage(r), file: shortlist8,
    problem: /neighbour id 300 at line 3 is outside the database's 0\.\.299 \(or -1 for a missing neighbour\)/ },
  { name: "negative neighbour id other than -1", setup: (r) => editCsv(shortlist8(r), (l) => { l[0] = l[0].replace(/^\d+/, "-7"); }),
    run: (r) => rerankStage(r), file: shortlist8,
    problem: /neighbour id -7 at line 1 is outside the database's 0\.\.299 \(or -1 for a missing neighbour\)/ },
  { name: "shortlist shorter than the rerank length", run: (r) => rerankStage(r, { adaptive: [{ retrievalDim: 8, rerankDim: 32, shortlist: 30 }] }),
    file: shortlist8, problem: /has 20 neighbours per query; expected at least 30 for rerank 8->32 @30/ },
  { name: "shortlist with fewer rows than queries", setup: (r) => editCsv(shortlist8(r), (l) => { l.pop(); }),
    run: (r) => rerankStage(r), file: shortlist8, problem: /has 39 rows, expected one per query \(40\)/ },
  { name: "cascade lists of different lengths", setup: (r) => experimentFile(r, { funnels: [{ retrievalDim: 8, dims: [16, 64], shortlists: [200] }] }),
    run: loadBadExperiment, file: badExperiment,
    problem: /field "funnels\[0\]" is .*; expected dims and shortlists of the same length \(dims \[16,64\] has 2, shortlists \[200\] has 1\)/ },
  { name: "cascade shortlists not decreasing", setup: (r) => experimentFile(r, { funnels: [{ retrievalDim: 8, dims: [16, 64, 2048], shortlists: [200, 200, 10] }] }),
    run: loadBadExperiment, file: badExperiment,
    problem: /field "funnels\[0\]\.shortlists" is \[200,200,10\]; expected strictly decreasing shortlist lengths/ },
  { name: "cascade passed straight to the rerank stage", run: (r) => rerankStage(r, { adaptive: [], funnels: [{ retrievalDim: 8, dims: [16, 32], shortlists: [10] }] }),
    problem: /funnel dims \[16,32\] and shortlists \[10\] must be non-empty lists of the same length/ },
  { name: "missing model file", run: (r) => infer(r, imageFolder(path.join(r, "images")), imageFolder(path.join(r, "images")), path.join(r, "models", "nope.onnx")),
    setup: (r) => imageDirs(r, { a: { "x.png": PNG } }), file: (r) => path.join(r, "models", "nope.onnx"),
    problem: /model file not found; expected an ONNX model/ },
  { name: "ONNX model whose output is not 2-D", setup: (r) => featureMapModel(path.join(r, "featuremap.onnx")),
    run: (r) => loadEmbeddingModel(path.join(r, "featuremap.onnx")), file: (r) => path.join(r, "featuremap.onnx"),
    problem: /expected a 2-D \(batch, features\) output, got shape \[N, 1, 28, 28\]/ },
  { name: "image that fails to decode", setup: (r) => imageDirs(r, { a: { "ok.png": PNG, "zz-broken.jpg": "not a jpeg at all" } }),
    run: (r) => infer(r, imageFolder(path.join(r, "images")), imageFolder(path.join(r, "images"))),
    file: (r) => path.join(r, "images", "a", "zz-broken.jpg"), problem: /image failed to decode \(.+\); expected a readable JPEG, PNG/ },
  { name: "empty dataset folder", setup: (r) => fs.mkdirSync(path.join(r, "images")),
    run: (r) => imageFolder(path.join(r, "images")), file: (r) => path.join(r, "images"),
    problem: /no class sub-folders; expected <dir>\/<class>\/<image>\.jpg/ },
  { name: "class folders without images", setup: (r) => imageDirs(r, { a: { "notes.txt": "x" }, b: {} }),
    run: (r) => imageFolder(path.join(r, "images")), file: (r) => path.join(r, "images"),
    problem: /no images in the 2 class folders; expected <dir>\/<class>\/<image> files ending in \.jpg/ },
  { name: "corrupt metrics table (cut short)", setup: (r) => { fs.mkdirSync(path.dirname(metricsPath(spec(r), "json")), { recursive: true }); fs.writeFileSync(metricsPath(spec(r), "json"), '[{"config": "8d", "mAP@10": 0.'); },
    run: (r) => readMetricsTable(spec(r)), file: (r) => metricsPath(spec(r), "json"),
    problem: /not a readable metrics table \(.*JSON.*\); delete it and run compute_metrics again/ },
  { name: "metrics table of another shape", setup: (r) => { fs.mkdirSync(path.dirname(metricsPath(spec(r), "json")), { recursive: true }); fs.writeFileSync(metricsPath(spec(r), "json"), '{"rows": []}'); },
    run: (r) => readMetricsTable(spec(r)), file: (r) => metricsPath(spec(r), "json"),
    problem: /not a metrics table \(expected a JSON list of rows with a "config" each\)/ },
  { name: "shortlist CSV with a space inside a number", setup: (r) => editCsv(shortlist8(r), (lines) => { lines[2] = lines[2].replace(",", " "); }),
    run: (r) => rerankStage(r), file: (r) => shortlist8(r), problem: /line 3, column 1: "\d+ \d+" has a space inside the number/ },
];

/** A 28x28 grey PNG (made once by sharp in before()). */
let PNG: Buffer = Buffer.alloc(0);

function pyArray(root: string, file: string, expression: string): void {
  python(`import numpy as np, sys; np.save(sys.argv[1], ${expression}); print("{}")`, [file]);
  void root;
}

/** Every file under `dir` with its size and mtime: the "nothing written" snapshot. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const st = fs.statSync(file);
    out[path.relative(dir, file)] = `${st.size}@${st.mtimeMs}`;
  }
  return out;
}

before(async () => {
  // The valid fixture: synthetic embeddings and labels plus one k-NN shortlist, like faiss_nn leaves them.
  writeMatrixNpy(X(base, "train"), matrix(DB, DIM, seededFloats(DB * DIM, 1)));
  writeMatrixNpy(X(base, "val"), matrix(NQ, DIM, seededFloats(NQ * DIM, 2)));
  writeLabelsNpy(Y(base, "train"), Int32Array.from({ length: DB }, (_, i) => i % 5));
  writeLabelsNpy(Y(base, "val"), Int32Array.from({ length: NQ }, (_, i) => i % 5));
  writeShortlistCsv(shortlist8(base), intMatrix(NQ, K, Int32Array.from({ length: NQ * K }, (_, i) => (i * 7) % DB)));
  const sharp = (await import("sharp")).default;
  PNG = await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
});

test(`the bad-input catalogue has at least 20 cases`, () => assert.ok(CASES.length >= 20, `${CASES.length} cases`));

for (const [i, c] of CASES.entries()) {
  test(`bad input ${i + 1}: ${c.name} -> clear error, nothing written`, async (t) => {
    const root = path.join(top, `case${i + 1}`);
    fs.cpSync(base, root, { recursive: true });
    c.setup?.(root);
    const before = snapshot(root);
    let error: unknown;
    try {
      await c.run(root);
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof MrlError, `expected an MrlError, got ${error instanceof Error ? error.stack : String(error)}`);
    t.diagnostic(error.message.split(root).join("<root>"));
    if (c.file) assert.ok(error.message.startsWith(`${c.file(root)}: `), `message should start with the file ${c.file(root)}: ${error.message}`);
    assert.match(error.message, c.problem);
    assert.doesNotMatch(error.message, /\n\s+at \S/, "no stack frames in the message");
    assert.deepEqual(snapshot(root), before, "no file was written, changed or left behind");
  });
}

test("-1 (FAISS's missing neighbour) is accepted by reranking and by the metrics' loader: a rerank skips it and ends the row in -1", () => {
  const root = path.join(top, "ok");
  fs.cpSync(base, root, { recursive: true });
  // query 1 loses its last candidate (past the rerank length) and its 4th (inside it)
  editCsv(shortlist8(root), (l) => { l[1] = l[1].replace(/\d+$/, "-1").replace(/^(\d+),(\d+),(\d+),(\d+)/, "$1,$2,$3,-1"); });
  const candidates = readShortlistCsv(shortlist8(root));
  const [result] = rerankStage(root);
  assert.equal(result.skipped, false);
  const reranked = readShortlistCsv(result.file);
  assert.deepEqual([reranked.rows, reranked.cols], [NQ, 10]);
  const row1 = Array.from(reranked.data.subarray(10, 20));
  assert.equal(row1[9], -1, "nine real candidates: the tenth place is missing");
  assert.deepEqual(row1.slice(0, 9).sort((a, b) => a - b), Array.from(candidates.data.subarray(K, K + 10)).filter((id) => id >= 0).sort((a, b) => a - b),
    "the real candidates among the first 10, reordered");
  assert.ok(!reranked.data.subarray(0, 10).includes(-1), "other queries are unaffected");
  const loaded = loadShortlist(shortlist8(root), loadRetrievalArrays(root, "SYN", "mrl"), "");
  assert.equal(loaded.data[2 * K - 1], -1);
});

test("a large array is checked on native threads: the first NaN or Inf is named wherever the threads split it", () => {
  const rows = 1600, cols = 2048; // 3.3M values: the native scan, up to 3 threads
  const data = seededFloats(rows * cols, 5);
  const big = matrix(rows, cols, data);
  const saved = process.env.MRL_THREADS;
  try {
    for (const threads of ["1", "2", "3"]) {
      process.env.MRL_THREADS = threads;
      assert.equal(checkFinite(big, "db.npy"), big, `finite values pass (${threads} threads)`);
      data[rows * cols - 1] = Infinity; // the very last value, in the last thread's part
      assert.throws(() => checkFinite(big, "db.npy"), (err) => err instanceof MrlError && /^db\.npy: row 1599, column 2047 is Infinity; expected finite values/.test(err.message));
      data[700 * cols + 3] = NaN; // earlier, in another thread's part: the first one is named
      assert.throws(() => checkFinite(big, "db.npy"), (err) => err instanceof MrlError && /^db\.npy: row 700, column 3 is NaN; expected finite values/.test(err.message));
      data[700 * cols + 3] = 0.5;
      data[rows * cols - 1] = 0.5;
    }
  } finally {
    if (saved === undefined) delete process.env.MRL_THREADS; else process.env.MRL_THREADS = saved;
  }
});
