import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

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

/** Seeded pseudo-random floats in [-1, 1) (mulberry32), so tests are reproducible without fixtures. */
export function seededFloats(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
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
