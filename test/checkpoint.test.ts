/**
 * The one checkpoint format (io/checkpoint.ts) that the exact search and the sweep resume from: a header line with
 * the canonical-JSON fingerprint, then the payload, appended or rewritten atomically; a file made under another
 * fingerprint or format is not resumed, and the reason names what changed.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  appendingCheckpoint, checkpointHeader, checkpointPayloadBytes, matchCheckpoint, parseCheckpointText, readCheckpointPayload, writeCheckpoint,
  type CheckpointKind,
} from "@mrl-retrieval/lib/internal";
import { tempDir } from "./helpers";

type Fingerprint = { config: { k: number; dims: number[] }; inputs: string[] };
const KIND: CheckpointKind<Fingerprint> = { format: "test-partial/1", what: "test" };
const FP: Fingerprint = { config: { k: 4, dims: [8, 16] }, inputs: ["a.npy"] };

test("the header holds the fingerprint as canonical JSON: field order does not matter, values do, and the reason names the field", () => {
  assert.equal(checkpointHeader(KIND, FP), '{"format":"test-partial/1","fingerprint":{"config":{"dims":[8,16],"k":4},"inputs":["a.npy"]}}\n');
  const text = checkpointHeader(KIND, FP) + "payload\n";
  assert.deepEqual(parseCheckpointText(text, KIND, { inputs: ["a.npy"], config: { dims: [8, 16], k: 4 } }), { payload: "payload\n" });
  assert.deepEqual(parseCheckpointText(text, KIND, { ...FP, config: { k: 5, dims: [8, 16] } }),
    { afresh: 'its fingerprint differs (config: {"dims":[8,16],"k":4} -> {"dims":[8,16],"k":5})', payload: "" });
  assert.equal(parseCheckpointText(text, { ...KIND, format: "test-partial/2" }, FP).afresh, "its first line is not a test checkpoint header");
  assert.equal(parseCheckpointText("half a hea", KIND, FP).afresh, "its first line is not a test checkpoint header");
  const explained = { ...KIND, explain: (before: Fingerprint, now: Fingerprint) => `k was ${before.config.k}, now ${now.config.k}` };
  assert.equal(parseCheckpointText(text, explained, { ...FP, config: { k: 5, dims: [8, 16] } }).afresh, "k was 4, now 5");
});

test("a binary payload rewritten atomically is read back where the caller wants it; no file, no match", () => {
  const file = path.join(tempDir("mrl-checkpoint-"), "ids.partial");
  assert.equal(matchCheckpoint(file, KIND, FP), undefined);
  const ids = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
  writeCheckpoint(file, KIND, FP, [new Uint8Array(ids.buffer, 0, 16), new Uint8Array(ids.buffer, 16, 16)]);
  const match = matchCheckpoint(file, KIND, FP)!;
  assert.equal(match.afresh, undefined);
  assert.equal(checkpointPayloadBytes(file, match as { payloadOffset: number }), 32);
  const back = new Int32Array(8);
  readCheckpointPayload(file, match as { payloadOffset: number }, new Uint8Array(back.buffer));
  assert.deepEqual([...back], [...ids]);
  assert.match(matchCheckpoint(file, KIND, { ...FP, inputs: ["b.npy"] })!.afresh!, /^its fingerprint differs \(inputs: \["a.npy"\] -> \["b.npy"\]\)$/);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ["ids.partial"], "no temp file left");
});

test("an appending checkpoint starts with the header and the payload kept, and each piece is on disk when append returns", () => {
  const file = path.join(tempDir("mrl-checkpoint-"), "rows.partial.jsonl");
  const checkpoint = appendingCheckpoint(file, KIND, FP, "kept\n");
  checkpoint.append("one\n");
  assert.equal(fs.readFileSync(file, "utf8"), `${checkpointHeader(KIND, FP)}kept\none\n`);
  checkpoint.append("two\n");
  checkpoint.close();
  assert.deepEqual(parseCheckpointText(fs.readFileSync(file, "utf8"), KIND, FP), { payload: "kept\none\ntwo\n" });
  assert.throws(() => checkpoint.append("three\n"), /checkpoint already closed/);
});
