import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { matrix, seededUniform, type Matrix } from "@mrl-retrieval/lib/internal";

/** The repository root (tests are compiled to build/test). */
export const REPO = path.resolve(__dirname, "..", "..");

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = "mrl-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a Python snippet with Debian's python3 (numpy, pandas, faiss, torch); returns its stdout parsed as JSON. */
export function python<T = unknown>(code: string, args: string[] = []): T {
  const run = spawnSync("/usr/bin/python3", ["-c", code, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`python failed (${run.status}):\n${run.stderr}`);
  const lines = run.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

/**
 * Python lines that import check_knn and faiss_exact (test/knn_check.py: the tie-aware k-NN comparison of the
 * agreement tests, and the original faiss_nn loop's exact search at one dim).
 */
export const IMPORT_KNN_CHECK = `import sys; sys.path.insert(0, ${JSON.stringify(path.join(REPO, "test"))}); from knn_check import check_knn, faiss_exact`;

/** Seeded pseudo-random floats in [-1, 1) (the library's mulberry32), so tests are reproducible without fixtures. */
export function seededFloats(n: number, seed: number): Float32Array {
  return seededUniform(n, seed, -1, 1);
}

/** The first `dims` columns of every row, copied (the MRL nested representation of size `dims`). */
export function prefixColumns(m: Matrix, dims: number): Matrix {
  const out = new Float32Array(m.rows * dims);
  for (let r = 0; r < m.rows; r++) out.set(m.data.subarray(r * m.cols, r * m.cols + dims), r * dims);
  return matrix(m.rows, dims, out);
}

/**
 * The first `dim` columns, L2-normalized per row in float64 (sum of squares in float64, each value times
 * 1 / sqrt(sum), rounded to float32): not FAISS's float32 arithmetic (the library's faissNormalized), which is
 * what the tests compare it with.
 */
export function float64Normalized(m: Matrix, dim: number): Matrix {
  const out = new Float32Array(m.rows * dim);
  for (let r = 0; r < m.rows; r++) {
    const x = m.data.subarray(r * m.cols, r * m.cols + dim);
    let sum = 0;
    for (let c = 0; c < dim; c++) sum += x[c] * x[c];
    if (!(sum > 0) || !Number.isFinite(sum)) throw new Error(`row ${r} cannot be L2-normalized`);
    const inv = 1 / Math.sqrt(sum);
    for (let c = 0; c < dim; c++) out[r * dim + c] = x[c] * inv;
  }
  return matrix(m.rows, dim, out);
}

/** The shipped Fashion-MNIST model of a kind (model-tools/train_fmnist.py). */
export function modelFile(kind: "mrl" | "ff"): string {
  return path.join(REPO, "data", "models", `fmnist_${kind}_cnn.onnx`);
}

/** experiments/fmnist-test.json: the experiment the tests run, in seconds. */
export const TEST_EXPERIMENT = path.join(REPO, "experiments", "fmnist-test.json");

/**
 * An experiment file extending fmnist-test.json with `fields` (e.g. a temp root), for notebooks and child
 * processes, which read it through MRL_EXPERIMENT like a user's run.
 */
export function testExperimentFile(fields: Record<string, unknown>): string {
  const file = path.join(tempDir("mrl-experiment-"), "experiment.json");
  fs.writeFileSync(file, JSON.stringify({ extends: TEST_EXPERIMENT, ...fields }, null, 2));
  return file;
}
