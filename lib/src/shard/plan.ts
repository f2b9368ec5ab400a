/**
 * The shard plan: which shard this process is (`--shard I/N`, else a scheduler's environment) and which
 * contiguous range of rows (database rows, images, queries) it owns. Ranges are cut at whole units (engine
 * tiles, inference batches), so a shard computes the same floats an unsharded run computes for those rows.
 */
import { MrlError } from "../core/errors";

/** Shard `index` of `count` (0-based). */
export interface ShardPlan { index: number; count: number }

/** Rows start..end-1 of some array. */
export interface RowRange { start: number; end: number }

/** `I/N` as users write it (and as shard file names spell it: shard-I-of-N). */
export const shardLabel = (s: ShardPlan): string => `${s.index}/${s.count}`;

const wholeNumber = (text: string): boolean => /^(0|[1-9]\d*)$/.test(text);

/** Parses `I/N` (0 <= I < N); `source` names the flag or variables in the one-line error. */
export function parseShard(text: string, source = "--shard"): ShardPlan {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m || !wholeNumber(m[1]) || !wholeNumber(m[2])) throw new MrlError(`${source} "${text}": expected I/N with 0 <= I < N, e.g. 0/4`);
  const plan = { index: Number(m[1]), count: Number(m[2]) };
  if (plan.count < 1 || plan.index >= plan.count) throw new MrlError(`${source} "${text}": shard ${plan.index} of ${plan.count} does not exist; expected I/N with 0 <= I < N`);
  return plan;
}

/** A shard count (`--shards N`, MRL_SHARD_COUNT): a positive integer, or a one-line error naming `source`. */
export function parseShardCount(text: string, source: string): number {
  if (!wholeNumber(text.trim()) || Number(text) < 1) throw new MrlError(`${source} "${text}": expected a positive number of shards, e.g. 4`);
  return Number(text);
}

/**
 * This process's shard: `--shard I/N` when given, else Slurm's array variables (SLURM_ARRAY_TASK_ID and
 * SLURM_ARRAY_TASK_COUNT), else a Kubernetes Indexed Job's JOB_COMPLETION_INDEX with `--shards N` or
 * MRL_SHARD_COUNT; undefined when none is set (an unsharded run).
 */
export function shardFromArgs(flag: string | undefined, shardsFlag: number | undefined, env: NodeJS.ProcessEnv = process.env): ShardPlan | undefined {
  if (flag !== undefined) {
    const plan = parseShard(flag);
    if (shardsFlag !== undefined && shardsFlag !== plan.count) throw new MrlError(`--shards ${shardsFlag} contradicts --shard ${flag}; expected the same N (or only --shard)`);
    return plan;
  }
  const slurmId = env.SLURM_ARRAY_TASK_ID, slurmCount = env.SLURM_ARRAY_TASK_COUNT;
  if (slurmId !== undefined && slurmId !== "") {
    if (slurmCount === undefined || slurmCount === "") throw new MrlError(`SLURM_ARRAY_TASK_ID is ${slurmId} but SLURM_ARRAY_TASK_COUNT is not set; expected both (an sbatch --array job sets them)`);
    return parseShard(`${slurmId}/${parseShardCount(slurmCount, "SLURM_ARRAY_TASK_COUNT")}`, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT");
  }
  const k8s = env.JOB_COMPLETION_INDEX;
  if (k8s !== undefined && k8s !== "") {
    const count = shardsFlag ?? (env.MRL_SHARD_COUNT ? parseShardCount(env.MRL_SHARD_COUNT, "MRL_SHARD_COUNT") : undefined);
    if (count === undefined) throw new MrlError(`JOB_COMPLETION_INDEX is ${k8s} but the shard count is not set; expected --shards N or MRL_SHARD_COUNT`);
    return parseShard(`${k8s}/${count}`, shardsFlag !== undefined ? "JOB_COMPLETION_INDEX/--shards" : "JOB_COMPLETION_INDEX/MRL_SHARD_COUNT");
  }
  return undefined;
}

/**
 * Shard `s`'s contiguous range of `total` rows, cut at multiples of `unit` (the last range ends at `total`):
 * the units are spread as evenly as possible, earlier shards never larger than later ones by more than one.
 * A range is empty when there are fewer units than shards.
 */
export function shardRange(total: number, s: ShardPlan, unit: number): RowRange {
  const units = Math.ceil(total / unit);
  const at = (i: number): number => Math.min(total, Math.floor((units * i) / s.count) * unit);
  return { start: at(s.index), end: at(s.index + 1) };
}

/** Every shard's range (index order); they tile 0..total-1. */
export const shardRanges = (total: number, count: number, unit: number): RowRange[] =>
  Array.from({ length: count }, (_, index) => shardRange(total, { index, count }, unit));
