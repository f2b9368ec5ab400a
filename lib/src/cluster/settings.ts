/**
 * The experiment's "cluster" field: how `mrl slurm` (and a notebook's runSearch) asks Slurm for each shard task.
 * Validated like every experiment field (experiment/fields.ts readers); `mrl slurm` flags override it.
 */
import { fieldError, objectOf, positiveInt, positiveNumber, type Reader } from "../experiment/fields";

/** Per-task resources and the shard count of a stage's array job. */
export interface ClusterSettings {
  /** Shards (array tasks) per stage. */
  shards?: number;
  /** Slurm partition (`--partition`; default: the cluster's default partition). */
  partition?: string;
  /** Cores per task (`--cpus-per-task`). */
  cpusPerTask?: number;
  /** Memory per task in GB, 10^9 bytes (`--mem`); less 1 GB, the task's memory budget when the experiment sets none. */
  memoryGb?: number;
  /** Time limit per task in Slurm's spelling ("90", "2:00:00", "1-00:00:00"). */
  time?: string;
  /** Further sbatch options for every job, e.g. ["--gres=gpu:1", "--account=proj"]. */
  sbatchArgs?: string[];
}

/** sbatch options `mrl slurm` sets itself (they say where logs go and what runs after what). */
export const RESERVED_SBATCH_OPTIONS = ["--array", "-a", "--output", "-o", "--error", "-e", "--dependency", "-d", "--parsable", "--wrap", "--job-name", "-J"];

/** Slurm's time formats: minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S. */
export const isSlurmTime = (v: string): boolean => /^(\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+)$/.test(v);

const slurmTime: Reader<string> = (v, at) => (typeof v === "string" && isSlurmTime(v) ? v
  : fieldError(at, v, 'a Slurm time limit: minutes, "H:MM:SS" or "D-HH:MM:SS" (e.g. "2:00:00")'));

const partition: Reader<string> = (v, at) => (typeof v === "string" && /^[A-Za-z0-9_.,-]+$/.test(v) ? v
  : fieldError(at, v, "a Slurm partition name (letters, digits, _ . , -)"));

/** One sbatch option as sbatch takes it on its command line; not one of the options `mrl slurm` sets. */
export function sbatchArgProblem(v: string): string | undefined {
  if (!/^--?[A-Za-z]/.test(v) || /[\n\r]/.test(v)) return 'an sbatch option such as "--gres=gpu:1"';
  const name = v.split("=")[0];
  if (RESERVED_SBATCH_OPTIONS.includes(name)) return `an sbatch option other than ${name}, which mrl slurm sets itself`;
  return undefined;
}

const sbatchArgs: Reader<string[]> = (v, at) => {
  if (!Array.isArray(v)) return fieldError(at, v, 'a list of sbatch options, e.g. ["--gres=gpu:1"]');
  return v.map((x, i) => {
    const problem = typeof x === "string" ? sbatchArgProblem(x) : 'an sbatch option such as "--gres=gpu:1"';
    return problem ? fieldError({ ...at, field: `${at.field}[${i}]` }, x, problem) : (x as string);
  });
};

/** The reader of the "cluster" field (experiment/experiment.ts). */
export const clusterSettings = objectOf<ClusterSettings>({
  shards: positiveInt, partition, cpusPerTask: positiveInt, memoryGb: positiveNumber, time: slurmTime, sbatchArgs,
}, ["shards", "partition", "cpusPerTask", "memoryGb", "time", "sbatchArgs"]);

/**
 * The #SBATCH options of every job for these settings: `["--partition=p", "--cpus-per-task=2", "--mem=4000M",
 * "--time=2:00:00", ...sbatchArgs]` (memory in MB, rounded up, as Slurm counts it).
 */
export function sbatchResourceOptions(c: ClusterSettings): string[] {
  return [
    ...(c.partition ? [`--partition=${c.partition}`] : []),
    ...(c.cpusPerTask ? [`--cpus-per-task=${c.cpusPerTask}`] : []),
    ...(c.memoryGb ? [`--mem=${Math.ceil(c.memoryGb * 1000)}M`] : []),
    ...(c.time ? [`--time=${c.time}`] : []),
    ...(c.sbatchArgs ?? []),
  ];
}
