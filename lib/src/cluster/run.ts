/**
 * A stage on the cluster, as `mrl slurm` and a notebook's runSearch run it: the experiment's stage prepared as a
 * submission (cluster/submit.ts), submitted, and by default waited for (cluster/wait.ts).
 */
import * as fs from "node:fs";
import { MrlError } from "../core/errors";
import type { Experiment } from "../experiment/experiment";
import { arrayFiles, isPerSizeModel } from "../io/naming";
import type { SlurmStage } from "./scripts";
import { prepareSubmission, submit, type Submission } from "./submit";
import { waitForSubmission, type WaitResult } from "./wait";

export interface ClusterRunOptions {
  /** Shards per stage (default: the experiment's cluster.shards). */
  shards?: number;
  /** Only these shards of the (first) stage's array (a resubmission). */
  only?: number[];
  /** Redo finished shards and outputs (--force on every task). */
  force?: boolean;
  /** Wait for the jobs (default true). */
  wait?: boolean;
  /** Progress and report lines (default: stderr). */
  onLine?: (line: string) => void;
  /** Milliseconds between looks at the queue while waiting. */
  pollMs?: number;
}

/** A stage's submission and, when waited for, how it ended. */
export interface ClusterRun { submission: Submission; result?: WaitResult }

/** The shard count: the option, else the experiment's cluster.shards; one line when neither is set. */
export function clusterShards(experiment: Experiment, shards?: number): number {
  const n = shards ?? experiment.cluster?.shards;
  if (n === undefined) throw new MrlError(`no shard count for ${experiment.name}; expected --shards N or the experiment's "cluster": { "shards": N }`);
  return n;
}

/**
 * Submits an experiment's stage as Slurm array jobs of shards with their merges (`retrieve`: search, rerank and
 * metrics chained), and waits unless `wait: false`. The submission folder is `<root>/slurm/<stage>-<time>/`.
 */
export function runOnCluster(experiment: Experiment, stage: SlurmStage, options: ClusterRunOptions = {}): ClusterRun {
  const say = options.onLine ?? ((line: string) => console.error(line));
  const shards = clusterShards(experiment, options.shards);
  checkStageInputs(experiment, stage);
  const submission = submit(prepareSubmission(experiment, stage, { shards, only: options.only, force: options.force }));
  say(`slurm: submitted ${submission.jobs.map((j) => `${j.name} ${j.id}`).join(", ")}; scripts and logs in ${submission.dir}`);
  if (options.wait === false) {
    say(`slurm: wait for them: mrl slurm wait ${submission.jobs.map((j) => j.id).join(" ")} --root ${experiment.root}`);
    return { submission };
  }
  return { submission, result: waitForSubmission(submission, { onLine: say, pollMs: options.pollMs }) };
}

/**
 * What every task of the stage would fail on at once, said in one line before anything is submitted: inference
 * without "inference" settings, a later stage without the embedding arrays.
 */
function checkStageInputs(e: Experiment, stage: SlurmStage): void {
  if (stage === "infer") {
    if (!e.inference) throw new MrlError(`experiment ${e.name} has no "inference" settings; expected the image sources and ONNX models to embed`);
    return;
  }
  for (const model of e.models) {
    for (const dim of isPerSizeModel(model) ? e.nesting : [undefined]) {
      const { databaseX, queriesX } = arrayFiles(e.root, e.dataset, model, dim);
      for (const file of [databaseX, queriesX]) {
        if (!fs.existsSync(file)) throw new MrlError(`not found; mrl slurm ${stage} needs the embedding arrays first (mrl slurm infer, or the Python originals' .npy files)`, file);
      }
    }
  }
}

/** Whether this process is itself a shard task (a Slurm array task or a Kubernetes indexed job's pod). */
export const isShardTask = (): boolean => process.env.SLURM_ARRAY_TASK_ID !== undefined || process.env.JOB_COMPLETION_INDEX !== undefined;
