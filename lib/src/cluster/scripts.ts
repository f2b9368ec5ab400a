/**
 * What `mrl slurm` submits, as plain data and sbatch script text (no IO): per stage an array job whose task I runs
 * the project's own CLI with `--shard I/N`, then a merge job after it (`--dependency=afterok`); `retrieve` chains
 * search, merge, rerank, merge, metrics. Each script records its exit code beside its log, because accounting
 * (sacct) may be off; the scripts stay in the submission folder so a user can read and resubmit them.
 */
import * as path from "node:path";
import { MrlError } from "../core/errors";
import { PROJECT_ROOT } from "../core/paths";
import { sbatchResourceOptions, type ClusterSettings } from "./settings";

/** The stages `mrl slurm` runs: each shardable CLI stage, or retrieve (search, rerank, metrics). */
export const SLURM_STAGES = ["infer", "search", "rerank", "retrieve"] as const;
export type SlurmStage = (typeof SLURM_STAGES)[number];

/** In a job's command, stands for the task's `I/N` (the array task id over the shard count). */
export const SHARD_TOKEN = "{shard}";

/** One job of a submission: an array of shard tasks, or a single job (a merge, the metrics). */
export interface SlurmJob {
  /** File stem of its script, logs and exit files, e.g. "search" or "merge-search". */
  name: string;
  /** argv of the task; SHARD_TOKEN becomes `$SLURM_ARRAY_TASK_ID/<shards>` in an array job. */
  command: string[];
  /** Array jobs: the shard count N and the task ids to run (all of 0..N-1, or the ones given by --only). */
  array?: { shards: number; tasks: number[] };
  /** Index in the submission of the job it runs after (afterok), if any. */
  after?: number;
}

/** The project's CLI as an argv prefix: this Node and lib/dist/cli.js (the same checkout on every node). */
export const cliCommand = (): string[] => [process.execPath, path.join(PROJECT_ROOT, "lib", "dist", "cli.js")];

/**
 * The jobs of `mrl slurm <stage>` in submission order: for a shardable stage its array (tasks `only`, default
 * all) and its merge; for retrieve search's array (tasks `only`), merge, rerank's array (all tasks: finished
 * shards exit at once), merge and metrics, each after the one before. `experimentFile` is the submission's own copy;
 * `force` redoes finished shards and outputs (`--force` on every command).
 */
export function slurmJobs(stage: SlurmStage, experimentFile: string, shards: number, only?: number[], force = false): SlurmJob[] {
  const cli = cliCommand(), exp = ["--experiment", experimentFile, ...(force ? ["--force"] : [])];
  const all = Array.from({ length: shards }, (_, i) => i);
  const pair = (s: string, tasks: number[], after?: number): SlurmJob[] => [
    { name: s, command: [...cli, s, ...exp, "--shard", SHARD_TOKEN], array: { shards, tasks }, after },
    { name: `merge-${s}`, command: [...cli, "merge", s, ...exp, "--shards", String(shards)], after: after === undefined ? 0 : after + 1 },
  ];
  if (stage !== "retrieve") return pair(stage, only ?? all);
  return [...pair("search", only ?? all), ...pair("rerank", all, 1), { name: "metrics", command: [...cli, "metrics", ...exp], after: 3 }];
}

/** `--only 1,3`: task ids within 0..shards-1, no repeats; one line naming the flag otherwise. */
export function checkOnly(only: number[], shards: number): number[] {
  const bad = only.find((i) => !Number.isInteger(i) || i < 0 || i >= shards);
  if (bad !== undefined) throw new MrlError(`--only "${only.join(",")}": shard ${bad} is not among 0..${shards - 1} (--shards ${shards}); expected shard indices I of I/${shards}`);
  if (new Set(only).size !== only.length) throw new MrlError(`--only "${only.join(",")}": a shard appears twice; expected each shard once`);
  return [...only].sort((a, b) => a - b);
}

/** Single-quoted for bash (any text), unless it is a plain word. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `0-3` or `1,3`: sbatch's --array value for task ids. */
export function arraySpec(tasks: number[]): string {
  const contiguous = tasks.every((t, i) => i === 0 || t === tasks[i - 1] + 1);
  return contiguous && tasks.length > 1 ? `${tasks[0]}-${tasks[tasks.length - 1]}` : tasks.join(",");
}

/** Where a job's files go in its submission folder: script, log and exit file (of task `task` for arrays). */
export function jobFiles(dir: string, job: SlurmJob, task?: number | string): { script: string; log: string; exit: string } {
  const stem = path.join(dir, job.array ? `${job.name}-${task ?? "%a"}` : job.name);
  return { script: path.join(dir, `${job.name}.sbatch`), log: `${stem}.log`, exit: `${stem}.exit` };
}

/**
 * The sbatch script of one job: #SBATCH lines (name, array, output, the cluster's resources; a merge also
 * `--kill-on-invalid-dep=yes`, so it leaves the queue when a shard fails), then the command run from the
 * project folder, its exit code written (atomically) beside its log.
 */
export function sbatchScript(dir: string, job: SlurmJob, cluster: ClusterSettings = {}): string {
  const files = jobFiles(dir, job);
  const exitFile = job.array ? jobFiles(dir, job, "$SLURM_ARRAY_TASK_ID").exit : files.exit;
  const shardArg = job.array ? `"$SLURM_ARRAY_TASK_ID/${job.array.shards}"` : "";
  const command = job.command.map((a) => (a === SHARD_TOKEN ? shardArg : shellQuote(a))).join(" ");
  const options = [
    `--job-name=mrl-${job.name}`,
    ...(job.array ? [`--array=${arraySpec(job.array.tasks)}`] : ["--kill-on-invalid-dep=yes"]),
    `--output=${files.log}`,
    ...sbatchResourceOptions(cluster),
  ];
  const quotedExit = `"${exitFile}"`;
  return [
    "#!/bin/bash",
    ...options.map((o) => `#SBATCH ${o}`),
    job.array
      ? `# Shard $SLURM_ARRAY_TASK_ID of ${job.array.shards} (written by mrl slurm). Resubmit some: sbatch --array=1,3 ${shellQuote(files.script)}`
      : "# Written by mrl slurm; submitted with --dependency=afterok:<the job before it>.",
    `cd ${shellQuote(PROJECT_ROOT)} || exit 1`,
    // the native kernels' threads: the cores Slurm gave, even where it does not pin tasks to them
    ...(cluster.cpusPerTask ? [`export MRL_THREADS=${cluster.cpusPerTask}`] : []),
    `rm -f ${quotedExit}`,
    command,
    "code=$?",
    `echo "$code" > ${quotedExit}.tmp && mv ${quotedExit}.tmp ${quotedExit}`,
    "exit $code",
    "",
  ].join("\n");
}
