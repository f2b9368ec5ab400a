/**
 * The WebAssembly kernels come from their text: lib/src/kernels/dots.wat assembled with Debian's wat2wasm
 * (the flags of scripts/build-wasm.sh) gives exactly the bytes the library loads, and the module has the
 * expected imports and exports. Their sums are checked against the scalar loops in perf.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { instantiateKernels, kernelModuleBytes, sharedWasmMemory, wasm } from "@mrl-retrieval/lib/internal";
import { REPO, tempDir } from "./helpers";

const KERNELS = ["dots8", "norms8", "dots8f", "norms8f", "dots4f", "norms4f"];

test("the kernels in use are dots.wat assembled by wat2wasm", () => {
  const out = path.join(tempDir("mrl-wasm-"), "dots.wasm");
  const run = spawnSync("wat2wasm", ["--enable-threads", path.join(REPO, "lib", "src", "kernels", "dots.wat"), "-o", out], { encoding: "utf8" });
  assert.equal(run.error, undefined, "wat2wasm runs (Debian package wabt, installed by npm run setup)");
  assert.equal(run.status, 0, run.stderr);
  assert.ok(Buffer.from(kernelModuleBytes()).equals(fs.readFileSync(out)), "lib/dist/kernels/dots.wasm is the assembled dots.wat");
});

test("the kernel module imports one shared memory and exports the six kernels; one binary fits any memory size", () => {
  const module = new wasm.Module(kernelModuleBytes());
  assert.deepEqual(wasm.Module.imports(module), [{ module: "env", name: "memory", kind: "memory" }]);
  assert.deepEqual(wasm.Module.exports(module), KERNELS.map((name) => ({ name, kind: "function" })));
  for (const pages of [1, 3, 1000]) {
    const memory = sharedWasmMemory(pages);
    const k = instantiateKernels(memory);
    const f = new Float32Array(memory.buffer, 0, 8);
    f.set([1, 2, 3, 4, 5]);
    k.dots8(0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 64);
    assert.deepEqual(Array.from(new Float64Array(memory.buffer, 64, 8)), Array(8).fill(55), `${pages} pages`);
    k.normsF32.get(4)!(0, 0, 0, 0, 4, 5 * 4, 128);
    assert.deepEqual(Array.from(new Float32Array(memory.buffer, 128, 4)), [55, 55, 55, 54], `${pages} pages`);
  }
});
