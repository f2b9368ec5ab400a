/**
 * Inference in shards: shard I embeds its contiguous range of database images and of query images, cut at whole
 * inference batches (so every batch, and every float, is the unsharded run's), into partial arrays; `mrl merge
 * infer` concatenates them into the original .npy arrays and records them as the stage does.
 */
import * as fs from "node:fs";
import { checkFinite } from "../core/checks";
import { MrlError } from "../core/errors";
import { matrix } from "../core/matrix";
import { recordArtifact } from "../io/manifest";
import { writeLabelsNpy, writeMatrixNpy } from "../io/npy";
import { embed, loadEmbeddingModel } from "../inference/model";
import { inferenceSplits, type InferenceSplit, type RetrievalInferenceConfig } from "../inference/stage";
import { mergeRefusal, readShardPayload, shardCountFound, shardFile, shardFingerprint, shardState, writeShardFile, type ShardFingerprint, type ShardProblem } from "./files";
import { shardRange, type ShardPlan } from "./plan";
import type { ShardRun } from "./search";

/** Images per inference batch when the experiment sets none (inference/model.ts embed's default). */
const DEFAULT_BATCH = 256;

/** One split's two shard files (vectors, labels) and their fingerprints. */
interface SplitShard { split: InferenceSplit; x: string; y: string; xPrint: ShardFingerprint; yPrint: ShardFingerprint }

function splitShards(config: RetrievalInferenceConfig, s: ShardPlan): SplitShard[] {
  const batch = config.batchSize ?? DEFAULT_BATCH;
  return inferenceSplits(config).splits.map((split) => {
    const range = shardRange(split.items, s, batch);
    const inputs = Object.fromEntries(split.inputs.map((f, i) => [i === 0 ? "model" : f === split.source.location ? "image source" : "model card", f]));
    const config_ = { ...split.stageConfig, batchSize: batch };
    const x = shardFile(config.root, "infer", split.xFile, s), y = shardFile(config.root, "infer", split.yFile, s);
    return { split, x, y, xPrint: shardFingerprint(x, "infer", split.xFile, config_, inputs, s, range), yPrint: shardFingerprint(y, "infer", split.yFile, config_, inputs, s, range) };
  });
}

const problemsOf = (shards: SplitShard[], s: ShardPlan): ShardProblem[] => shards.flatMap((p) => {
  const rows = p.yPrint.range.end - p.yPrint.range.start;
  return [shardState(p.x, p.xPrint), shardState(p.y, p.yPrint, rows * 4)].flatMap((st) => (st.reason ? [{ shard: s, reason: st.reason }] : []));
});

const bytesOf = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Embeds shard `s`'s images of both splits; a shard whose files are up to date is left as it is (force: redone). */
export async function runInferenceShard(config: RetrievalInferenceConfig, s: ShardPlan): Promise<ShardRun> {
  const shards = splitShards(config, s);
  const files = shards.flatMap((p) => [p.x, p.y]);
  if (!config.force && problemsOf(shards, s).length === 0) return { files, upToDate: true };
  const model = await loadEmbeddingModel(config.modelFile);
  for (const p of shards) {
    const { vectors, labels } = await embed(model, p.split.source, {
      batchSize: config.batchSize ?? DEFAULT_BATCH, limit: config.limit, quiet: config.quiet, label: `${config.dataset} ${p.split.split} shard ${s.index}/${s.count}`,
      range: p.xPrint.range,
    });
    checkFinite(vectors, `${config.modelFile} output for ${p.split.source.location}`);
    writeShardFile(p.x, p.xPrint, [bytesOf(vectors.data)]);
    writeShardFile(p.y, p.yPrint, [bytesOf(labels)]);
  }
  return { files, upToDate: false };
}

/**
 * Concatenates the N shards of both splits into the original arrays, recorded as the stage records them;
 * refuses in one line naming the missing or stale shards (see mergeRefusal). Returns the files written.
 */
export function mergeInferenceShards(config: RetrievalInferenceConfig, count: number | undefined, rerun: string[]): string[] {
  const { splits } = inferenceSplits(config);
  const n = shardCountFound(config.root, "infer", splits[0].xFile, count);
  const all = Array.from({ length: n }, (_, index) => splitShards(config, { index, count: n }));
  const problems = all.flatMap((shards, index) => problemsOf(shards, { index, count: n }));
  if (problems.length > 0) throw mergeRefusal("infer", problems, rerun);
  return splits.flatMap((split, i) => {
    const parts = all.map((shards) => shards[i]);
    const states = parts.map((p) => ({ x: shardState(p.x, p.xPrint) as { payloadOffset: number }, y: shardState(p.y, p.yPrint) as { payloadOffset: number } }));
    // the width is the model's: the bytes of any non-empty part over its rows
    const sized = parts.findIndex((p) => p.xPrint.range.end > p.xPrint.range.start);
    const rowsOf = (p: SplitShard): number => p.xPrint.range.end - p.xPrint.range.start;
    const bytes = sized < 0 ? 0 : fs.statSync(parts[sized].x).size - states[sized].x.payloadOffset;
    const cols = sized < 0 ? 0 : bytes / 4 / rowsOf(parts[sized]);
    if (!Number.isInteger(cols)) throw new MrlError(`holds ${bytes} bytes, not whole rows of ${rowsOf(parts[sized])} float32 vectors`, parts[sized].x);
    const short = parts.find((p, j) => fs.statSync(p.x).size - states[j].x.payloadOffset !== rowsOf(p) * cols * 4);
    if (short) throw new MrlError(`holds a part of another width or length than ${rowsOf(short)} x ${cols} float32 values; run its shard again`, short.x);
    const vectors = new Float32Array(split.items * cols), labels = new Int32Array(split.items);
    parts.forEach((p, j) => {
      const { start, end } = p.xPrint.range;
      readShardPayload(p.x, states[j].x, bytesOf(vectors.subarray(start * cols, end * cols)));
      readShardPayload(p.y, states[j].y, bytesOf(labels.subarray(start, end)));
    });
    writeMatrixNpy(split.xFile, checkFinite(matrix(split.items, cols, vectors), split.xFile));
    writeLabelsNpy(split.yFile, labels);
    recordArtifact(split.xFile, "inference", split.stageConfig, split.inputs);
    recordArtifact(split.yFile, "inference", split.stageConfig, split.inputs);
    return [split.xFile, split.yFile];
  });
}
