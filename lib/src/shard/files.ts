/**
 * Shard files: `<root>/shards/<stage>/<the original's path under the root>.shard-I-of-N`, one per shard and
 * original, so no two shard tasks write one file (and no shared manifest: each file carries its own fingerprint).
 * Each is the project's one checkpoint format (io/checkpoint.ts): a header line with the fingerprint (the
 * settings the manifest would record for the original, the input files' stamps by role, the shard plan and its
 * range), then the payload (binary rows). Written atomically, so a file that exists is whole.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { StreamedFileWriter } from "../core/atomic";
import { MrlError } from "../core/errors";
import { checkpointHeader, checkpointPayloadBytes, matchCheckpoint, writeCheckpoint, type CheckpointKind } from "../io/checkpoint";
import { canonicalJson, configChanges, fileStamp, type FileStamp, type StageConfig } from "../io/manifest";
import { readFully } from "../io/npy";
import { shardLabel, type RowRange, type ShardPlan } from "./plan";

/** The stages that run sharded (their CLI command names). */
export type ShardStage = "infer" | "search" | "rerank";

export const SHARDS_FOLDER = "shards";

/** Where shard `s` of `original` (a file under `root`) lives. */
export function shardFile(root: string, stage: ShardStage, original: string, s: ShardPlan): string {
  const relative = path.relative(root, original);
  if (relative.startsWith("..") || path.isAbsolute(relative)) throw new MrlError(`is outside the experiment's root ${root}; shards mirror the root's files`, original);
  return path.join(root, SHARDS_FOLDER, stage, `${relative}.shard-${s.index}-of-${s.count}`);
}

/** What a shard file's payload depends on; a merge takes it only when every field matches. */
export interface ShardFingerprint {
  stage: ShardStage;
  /** The original's file name. */
  output: string;
  /** The settings the original's manifest entry records (plus what the shard's cut depends on). */
  config: StageConfig;
  /** The input files as they were, by role (e.g. database, queries, shortlist, model); null when absent. */
  inputs: Record<string, FileStamp | null>;
  plan: ShardPlan;
  range: RowRange;
}

/** The fingerprint of shard `plan` of `original`, its inputs stamped as they are now (paths relative to the shard file). */
export function shardFingerprint(file: string, stage: ShardStage, original: string, config: StageConfig, inputs: Record<string, string>,
  plan: ShardPlan, range: RowRange): ShardFingerprint {
  const folder = path.dirname(path.resolve(file));
  const stamps = Object.fromEntries(Object.entries(inputs).map(([role, f]) => [role, fileStamp(f, folder) ?? null]));
  return { stage, output: path.basename(original), config, inputs: stamps, plan, range };
}

/** Why a shard made under `before` does not hold now, in a few words: "made from another database file". */
function explain(before: ShardFingerprint, now: ShardFingerprint): string {
  if (before.stage !== now.stage || before.output !== now.output) return "from another experiment";
  if (canonicalJson(before.plan) !== canonicalJson(now.plan) || canonicalJson(before.range) !== canonicalJson(now.range)) return "from another shard plan";
  if (canonicalJson(before.config) !== canonicalJson(now.config)) return `from another experiment (${configChanges(before.config, now.config)})`;
  const role = Object.keys({ ...before.inputs, ...now.inputs }).find((r) => canonicalJson(before.inputs?.[r]) !== canonicalJson(now.inputs[r]));
  return role ? `made from another ${role} file` : "stale";
}

const SHARD_KIND: CheckpointKind<ShardFingerprint> = { format: "mrl-shard/1", what: "shard", explain };

/** Writes a whole shard file atomically: header, then the payload's parts. */
export function writeShardFile(file: string, fingerprint: ShardFingerprint, payload: Uint8Array[]): void {
  writeCheckpoint(file, SHARD_KIND, fingerprint, payload);
}

/** A shard file's state against the fingerprint expected now: where its payload starts, or why it cannot be merged. */
export type ShardState = { payloadOffset: number; reason?: undefined } | { reason: string; payloadOffset?: undefined };

/** Checks `file` against `now` (and, when given, its payload size in bytes). */
export function shardState(file: string, now: ShardFingerprint, payloadBytes?: number): ShardState {
  const match = matchCheckpoint(file, SHARD_KIND, now);
  if (!match) return { reason: "missing" };
  if (match.afresh !== undefined) return { reason: match.afresh.startsWith("its first line") ? "not a shard file" : match.afresh };
  if (payloadBytes !== undefined && checkpointPayloadBytes(file, match) !== payloadBytes) return { reason: "truncated" };
  return { payloadOffset: match.payloadOffset };
}

/** Reads `target.length` payload bytes of a checked shard file, starting `at` bytes into its payload. */
export function readShardPayload(file: string, state: { payloadOffset: number }, target: Uint8Array, at = 0): void {
  const fd = fs.openSync(file, "r");
  try {
    readFully(fd, target, state.payloadOffset + at, file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A shard file written row block by row block (an index part: the shard's normalized rows at one dim), into a
 * temp file of this process renamed into place by finish(); the same append/finish/close as FlatIndexWriter.
 */
export class ShardRowsWriter {
  private readonly out: StreamedFileWriter;

  constructor(readonly file: string, fingerprint: ShardFingerprint) {
    this.out = new StreamedFileWriter(file);
    this.out.write(Buffer.from(checkpointHeader(SHARD_KIND, fingerprint)));
  }

  append(block: { data: Float32Array; rows: number; cols: number }): void {
    this.out.write(new Uint8Array(block.data.buffer, block.data.byteOffset, block.rows * block.cols * 4));
  }

  finish(): void {
    this.out.finish();
  }

  close(): void {
    this.out.close();
  }
}

/** A shard that cannot be merged, and why. */
export interface ShardProblem { shard: ShardPlan; reason: string }

/**
 * The one-line refusal of `mrl merge <stage>`: the shards that are missing or stale and the commands that run
 * only those again (`rerun`: the arguments the shard runs take besides --shard).
 */
export function mergeRefusal(stage: ShardStage, problems: ShardProblem[], rerun: string[]): MrlError {
  const byShard = new Map<number, ShardProblem>();
  for (const p of problems) if (!byShard.has(p.shard.index)) byShard.set(p.shard.index, p);
  const shards = [...byShard.values()].sort((a, b) => a.shard.index - b.shard.index);
  const n = shards[0].shard.count;
  const args = rerun.length > 0 ? ` ${rerun.join(" ")}` : "";
  const commands = shards.map((p) => `mrl ${stage} --shard ${shardLabel(p.shard)}${args}`).join(" and ");
  return new MrlError(`merge ${stage}: ${shards.length === 1 ? "shard" : "shards"} ${shards.map((p) => `${shardLabel(p.shard)} (${p.reason})`).join(", ")}; ` +
    `run ${shards.length === 1 ? "it" : "them"} again: ${commands} (or mrl slurm ${stage}${args} --shards ${n} --only ${shards.map((p) => p.shard.index).join(",")})`);
}

/**
 * The shard count of a merge: `--shards N` when given, else the N of the shard files found for `original`
 * (one N only; several leave the choice to --shards).
 */
export function shardCountFound(root: string, stage: ShardStage, original: string, given?: number): number {
  if (given !== undefined) return given;
  const probe = shardFile(root, stage, original, { index: 0, count: 1 });
  const folder = path.dirname(probe), base = path.basename(original);
  const counts = new Set<number>();
  for (const name of fs.existsSync(folder) ? fs.readdirSync(folder) : []) {
    const m = /\.shard-\d+-of-(\d+)$/.exec(name);
    if (m && name.startsWith(`${base}.shard-`)) counts.add(Number(m[1]));
  }
  if (counts.size === 1) return [...counts][0];
  if (counts.size === 0) throw new MrlError(`merge ${stage}: no shard files of ${base} under ${path.relative(process.cwd(), folder) || folder}; run mrl ${stage} --shard I/N first (or give --shards N)`);
  throw new MrlError(`merge ${stage}: shard files of several plans (${[...counts].sort((a, b) => a - b).map((c) => `of ${c}`).join(", ")}) for ${base}; expected --shards N to pick one`);
}
