/**
 * Waiting for a submission: each task's state from its exit file (written by its script) and, while it has none,
 * from `squeue`; a progress line when something changes; at the end each failed task with its log's last lines
 * and the one command that resubmits only what failed. Synchronous (a notebook's runSearch waits in it).
 */
import * as fs from "node:fs";
import { jobFiles } from "./scripts";
import { queueEntries, type QueueEntry } from "./slurm";
import type { Submission, SubmittedJob } from "./submit";

/** One task (array jobs) or job: finished (exit 0), failed (with why), or still queued. */
export interface TaskState {
  job: SubmittedJob;
  task?: number;
  state: "done" | "failed" | "running" | "pending";
  /** Why it failed: `exit code 1`, Slurm's state (`CANCELLED`), or that it never ran. */
  detail: string;
  log: string;
}

const RUNNING = ["RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING"];
const PENDING = ["PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"];

const readExitCode = (file: string): number | undefined => {
  try {
    const text = fs.readFileSync(file, "utf8").trim();
    return text === "" ? undefined : Number(text);
  } catch {
    return undefined;
  }
};

/**
 * Every task's state: its exit file decides when present; else the queue's state (pending, running, COMPLETED, or a
 * final state such as CANCELLED); a task the queue no longer lists and without an exit file failed.
 */
export function taskStates(s: Submission, queue: QueueEntry[], exitCode: (file: string) => number | undefined = readExitCode): TaskState[] {
  const out: TaskState[] = [];
  for (const job of s.jobs) {
    for (const task of job.array ? job.array.tasks : [undefined]) {
      const files = jobFiles(s.dir, job, task);
      const base = { job, task, log: files.log };
      const code = exitCode(files.exit);
      const entry = queue.find((q) => q.job === job.id && (task === undefined || q.task === task || q.task === undefined));
      if (code !== undefined) out.push({ ...base, state: code === 0 ? "done" : "failed", detail: `exit code ${code}` });
      else if (!job.id) out.push({ ...base, state: "failed", detail: "not submitted" });
      else if (entry && PENDING.includes(entry.state)) out.push({ ...base, state: "pending", detail: entry.reason });
      else if (entry && RUNNING.includes(entry.state)) out.push({ ...base, state: "running", detail: "" });
      // the script exits with its command's code, so Slurm's COMPLETED is exit 0 (its exit file may lag on a network filesystem)
      else if (entry?.state === "COMPLETED") out.push({ ...base, state: "done", detail: "COMPLETED" });
      else if (entry?.reason === "DependencyNeverSatisfied") out.push({ ...base, state: "failed", detail: "not run: a job before it failed" });
      else out.push({ ...base, state: "failed", detail: entry ? `${entry.state} without an exit code` : "left the queue without an exit code (cancelled?)" });
    }
  }
  // a job whose predecessor failed never ran (its dependency cannot be met), whatever the queue still says
  for (const t of out) {
    const before = t.job.after === undefined ? undefined : s.jobs[t.job.after];
    const blocked = out.some((p) => p.job === before && (p.state === "failed" || p.detail.startsWith("not run")));
    if (t.state === "failed" && !t.detail.startsWith("exit code") && blocked) t.detail = "not run: a job before it failed";
  }
  return out;
}

/** `search 2/4 done, 1 running, 1 pending; merge-search pending; ...`: one line for the whole submission. */
export function queueProgressLine(states: TaskState[]): string {
  const parts: string[] = [];
  for (const job of [...new Set(states.map((t) => t.job))]) {
    const mine = states.filter((t) => t.job === job);
    const count = (st: TaskState["state"]): number => mine.filter((t) => t.state === st).length;
    if (!job.array) parts.push(`${job.name} ${mine[0].state}`);
    else {
      const extra = (["running", "pending", "failed"] as const).filter((st) => count(st) > 0).map((st) => `, ${count(st)} ${st}`).join("");
      parts.push(`${job.name} ${count("done")}/${mine.length} done${extra}`);
    }
  }
  return parts.join("; ");
}

/** The command that resubmits only what failed (finished shards of a resubmitted array do nothing). */
export function resubmitCommand(s: Submission, failed: TaskState[]): string {
  const firstArray = s.jobs.find((j) => j.array);
  const shardsFailed = failed.filter((t) => t.job === firstArray && t.task !== undefined).map((t) => t.task!);
  const base = `mrl slurm ${s.stage} --experiment ${s.experimentFile} --shards ${s.shards}`;
  const laterFailed = failed.some((t) => t.job !== firstArray && !t.detail.startsWith("not run"));
  return shardsFailed.length > 0 && !laterFailed ? `${base} --only ${shardsFailed.join(",")}` : base;
}

/** How a wait ended. */
export interface WaitResult { ok: boolean; states: TaskState[]; failed: TaskState[]; resubmit?: string }

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The last `lines` lines of a log, or a note that it does not exist (a task cancelled before it started). */
export function logTail(file: string, lines = 12): string {
  if (!fs.existsSync(file)) return `(no log: ${file})`;
  return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Waits until no task of the submission is queued, printing the progress line through `onLine` when it changes
 * (and at least every `everyMs`); then each failed task with its log's tail and the resubmit command.
 */
export function waitForSubmission(s: Submission, options: { onLine?: (line: string) => void; pollMs?: number; everyMs?: number } = {}): WaitResult {
  const say = options.onLine ?? ((line: string) => console.error(line));
  const pollMs = options.pollMs ?? 2000, everyMs = options.everyMs ?? 60_000;
  const ids = s.jobs.filter((j) => j.id).map((j) => j.id!);
  let shown = "", shownAt = 0;
  for (;;) {
    const states = taskStates(s, queueEntries(ids));
    const line = queueProgressLine(states);
    if (line !== shown || performance.now() - shownAt > everyMs) {
      say(`slurm: ${line}`);
      shown = line;
      shownAt = performance.now();
    }
    if (!states.some((t) => t.state === "pending" || t.state === "running")) {
      const failed = states.filter((t) => t.state === "failed");
      for (const t of failed) {
        const what = t.task === undefined ? `job ${t.job.id} (${t.job.name})` : `shard ${t.task}/${t.job.array!.shards} (job ${t.job.id}_${t.task}, ${t.job.name})`;
        say(`slurm: ${what} failed: ${t.detail}; log ${t.log}${t.detail.startsWith("not run") ? "" : `:\n${logTail(t.log)}`}`);
      }
      const resubmit = failed.length > 0 ? resubmitCommand(s, failed) : undefined;
      if (resubmit) say(`slurm: resubmit what failed: ${resubmit}`);
      return { ok: failed.length === 0, states, failed, resubmit };
    }
    sleep(pollMs);
  }
}
