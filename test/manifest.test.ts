import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { artifactFreshness, canonicalJson, MANIFEST_NAME, readManifest, recordArtifact, removeStaleTempFiles } from "@mrl-retrieval/lib/internal";
import { tempDir } from "./helpers";

test("freshness: each way an artifact goes stale is detected and named", () => {
  const dir = tempDir();
  const input = path.join(dir, "in.npy"), other = path.join(dir, "other.npy"), out = path.join(dir, "out", "a.csv");
  fs.writeFileSync(input, "abc");
  fs.writeFileSync(other, "xyz");
  const config = { dim: 8, k: 20, dims: [16, 32] };
  const fresh = () => artifactFreshness(out, "faiss_nn", config, [input]);
  assert.deepEqual(fresh(), { fresh: false, reason: "missing" });
  fs.mkdirSync(path.dirname(out));
  fs.writeFileSync(out, "1,2\n");
  assert.deepEqual(fresh(), { fresh: false, reason: "no manifest entry" });
  recordArtifact(out, "faiss_nn", config, [input]);
  assert.deepEqual(fresh(), { fresh: true });
  // key order and undefined fields do not matter; values do
  assert.deepEqual(artifactFreshness(out, "faiss_nn", { dims: [16, 32], k: 20, dim: 8, efSearch: undefined }, [input]), { fresh: true });
  assert.deepEqual(artifactFreshness(out, "faiss_nn", { ...config, dims: [16, 64] }, [input]),
    { fresh: false, reason: "configuration changed (dims: [16,32] -> [16,64])" });
  assert.deepEqual(artifactFreshness(out, "rerank", config, [input]), { fresh: false, reason: "made by stage faiss_nn, not rerank" });
  assert.deepEqual(artifactFreshness(out, "faiss_nn", config, [other]), { fresh: false, reason: `new input ${other}` });
  assert.deepEqual(artifactFreshness(out, "faiss_nn", config, [input, other]), { fresh: false, reason: "different inputs" });
  // the manifest stores paths relative to its folder, so the whole root can move
  assert.deepEqual(readManifest(path.dirname(out)).artifacts["a.csv"].inputs.map((s) => s.path), ["../in.npy"]);

  fs.writeFileSync(input, "abcd");
  assert.deepEqual(fresh(), { fresh: false, reason: `input changed: ${input}` });
  recordArtifact(out, "faiss_nn", config, [input]);
  const t = fs.statSync(input).mtime;
  fs.utimesSync(input, t, new Date(t.getTime() + 1000)); // touched, same content: recomputed (the safe side)
  assert.deepEqual(fresh(), { fresh: false, reason: `input changed: ${input}` });
  recordArtifact(out, "faiss_nn", config, [input]);
  fs.rmSync(input);
  assert.deepEqual(fresh(), { fresh: false, reason: `input missing: ${input}` });
  fs.writeFileSync(input, "abcd");
  recordArtifact(out, "faiss_nn", config, [input]);
  fs.writeFileSync(out, "9,9\n"); // replaced by another tool
  assert.deepEqual(fresh(), { fresh: false, reason: "changed since it was recorded" });
  recordArtifact(out, "faiss_nn", config, [input]);
  assert.deepEqual(fresh(), { fresh: true });
  // a damaged manifest reads as empty: everything in the folder is recomputed, nothing is trusted
  fs.writeFileSync(path.join(path.dirname(out), MANIFEST_NAME), "{ not json");
  assert.deepEqual(fresh(), { fresh: false, reason: "no manifest entry" });
  assert.equal(canonicalJson({ b: 1, a: { d: [2], c: undefined } }), '{"a":{"d":[2]},"b":1}');
});

test("temp files of killed processes are removed, those of live ones and other files are kept", () => {
  const dir = tempDir();
  const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  const deadPid = Number(dead.stdout.trim());
  const names = [`.a.csv.${deadPid}.1700000000000.tmp`, `.b.csv.${process.pid}.1700000000000.tmp`, "c.csv", ".hidden"];
  for (const n of names) fs.writeFileSync(path.join(dir, n), "x");
  assert.deepEqual(removeStaleTempFiles(dir), [names[0]]);
  assert.deepEqual(fs.readdirSync(dir).sort(), names.slice(1).sort());
});
