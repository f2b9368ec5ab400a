/**
 * A submission: the folder `<root>/slurm/<stage>-<time>/` with the experiment the tasks read (experiment.json),
 * one sbatch script per job, the tasks' logs and exit files, and submission.json (the job ids), written before
 * and as each job is submitted, so `mrl slurm wait <id>` and a user find everything there.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { saveExperiment, type Experiment } from "../experiment/experiment";
import { checkOnly, jobFiles, sbatchScript, slurmJobs, type SlurmJob, type SlurmStage } from "./scripts";
import { submitScript } from "./slurm";

export const SUBMISSION_FILE = "submission.json";

/** A job as submitted: its script and Slurm job id (absent until submitted). */
export interface SubmittedJob extends SlurmJob { script: string; id?: string }

/** What one `mrl slurm` call submitted. */
export interface Submission {
  /** The submission folder. */
  dir: string;
  stage: SlurmStage | string;
  /** The experiment file every task reads (the submission's own copy). */
  experimentFile: string;
  shards: number;
  jobs: SubmittedJob[];
}

/** The submissions folder of a root. */
export const slurmDir = (root: string): string => path.join(root, "slurm");

/** `search-20261204-171503-042`: the stage and the local time, to the millisecond. */
function folderName(stage: string, now = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${stage}-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}-${p(now.getMilliseconds(), 3)}`;
}

/**
 * A task's memory budget within its Slurm allocation: 1 GB less for the runtime and native libraries, which the
 * budget does not count (at least half of it), so a task kept to the budget stays within --mem.
 */
export const taskBudgetGb = (memoryGb?: number): number | undefined => (memoryGb === undefined ? undefined : Math.max(memoryGb / 2, memoryGb - 1));

/**
 * Writes a submission's folder for an experiment's stage: the experiment (a task's memory budget from the
 * cluster's memoryGb when the experiment sets none), the jobs' scripts and submission.json; submits nothing.
 */
export function prepareSubmission(experiment: Experiment, stage: SlurmStage, options: { shards: number; only?: number[]; force?: boolean }): Submission {
  const only = options.only && checkOnly(options.only, options.shards);
  const dir = path.join(slurmDir(experiment.root), folderName(stage));
  fs.mkdirSync(dir, { recursive: true });
  const cluster = { ...experiment.cluster, shards: options.shards };
  const forTasks: Experiment = { ...experiment, cluster, memoryGb: experiment.memoryGb ?? taskBudgetGb(cluster.memoryGb) };
  const experimentFile = saveExperiment(forTasks, path.join(dir, "experiment.json"));
  return prepareJobs(dir, stage, experimentFile, options.shards, slurmJobs(stage, experimentFile, options.shards, only, options.force), forTasks);
}

/** Writes the scripts of any jobs (the project's stages, or a test's own commands) and submission.json. */
export function prepareJobs(dir: string, stage: string, experimentFile: string, shards: number, jobs: SlurmJob[], experiment?: Pick<Experiment, "cluster">): Submission {
  fs.mkdirSync(dir, { recursive: true });
  const submitted = jobs.map((job) => {
    const script = jobFiles(dir, job).script;
    writeFileAtomic(script, sbatchScript(dir, job, experiment?.cluster));
    return { ...job, script };
  });
  const submission: Submission = { dir, stage, experimentFile, shards, jobs: submitted };
  recordSubmission(submission);
  return submission;
}

function recordSubmission(s: Submission): void {
  writeFileAtomic(path.join(s.dir, SUBMISSION_FILE), JSON.stringify(s, null, 2) + "\n");
}

/**
 * Submits a prepared submission's jobs in order, each after the job it depends on; records each id as it goes.
 * A refused submission is one line naming what was already submitted (and how to cancel it).
 */
export function submit(s: Submission): Submission {
  for (const job of s.jobs) {
    const after = job.after === undefined ? undefined : s.jobs[job.after].id;
    try {
      job.id = submitScript(job.script, after);
    } catch (err) {
      const done = s.jobs.filter((j) => j.id).map((j) => j.id!);
      if (err instanceof MrlError && done.length > 0) throw new MrlError(`${err.message}; already submitted: ${done.join(", ")} (scancel ${done.join(" ")} to cancel them)`);
      throw err;
    } finally {
      recordSubmission(s);
    }
  }
  return s;
}

/** Reads a submission folder's submission.json. */
export function readSubmission(dir: string): Submission {
  return JSON.parse(fs.readFileSync(path.join(dir, SUBMISSION_FILE), "utf8")) as Submission;
}

/** The newest submission under a root holding any of these job ids; one line when none does. */
export function findSubmission(root: string, jobIds: string[]): Submission {
  const base = slurmDir(root);
  const dirs = fs.existsSync(base) ? fs.readdirSync(base).sort().reverse() : [];
  for (const name of dirs) {
    const file = path.join(base, name, SUBMISSION_FILE);
    if (!fs.existsSync(file)) continue;
    const s = readSubmission(path.join(base, name));
    if (s.jobs.some((j) => j.id && jobIds.includes(j.id))) return s;
  }
  throw new MrlError(`no submission under ${base} has job ${jobIds.join(", ")}; expected the ids mrl slurm --no-wait printed, with the same --root / --experiment`);
}
