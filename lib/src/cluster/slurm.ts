/**
 * The Slurm commands `mrl slurm` runs, and nothing else: `sbatch --parsable` to submit a script and `squeue` to
 * read the queue. Failures are one line (sbatch missing, a submission refused with Slurm's own reason).
 */
import { spawnSync } from "node:child_process";
import { MrlError } from "../core/errors";

/** Runs a Slurm client command; its stdout, or one line naming the command and Slurm's reason. */
function slurmCommand(command: string, args: string[], what: string): string {
  const run = spawnSync(command, args, { encoding: "utf8", timeout: 60_000 });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new MrlError(`${command} not found: mrl slurm needs Slurm's client commands on this machine (Debian: slurm-client; ` +
      "a local one-node cluster: bash scripts/slurm-local.sh start)");
  }
  if (run.error) throw new MrlError(`${what}: ${command} failed (${run.error.message})`);
  if (run.status !== 0) {
    const reason = `${run.stderr}`.trim().split("\n").filter(Boolean).pop() ?? `exit code ${run.status}`;
    throw new MrlError(`${what}: ${command} refused it (${reason.replace(/^s\w+: error: /, "")})`);
  }
  return run.stdout;
}

/**
 * Submits one sbatch script, after job `after` succeeds when given (`--dependency=afterok:<after>`); returns
 * the job id.
 */
export function submitScript(script: string, after?: string): string {
  const args = ["--parsable", ...(after ? [`--dependency=afterok:${after}`] : []), script];
  const out = slurmCommand("sbatch", args, `submitting ${script}`).trim();
  const id = out.split(";")[0]; // "<id>" or "<id>;<cluster>"
  if (!/^\d+$/.test(id)) throw new MrlError(`submitting ${script}: sbatch printed "${out}"; expected a job id`);
  return id;
}

/** One line of the queue: a job, or one task of an array job; Slurm's state and reason. */
export interface QueueEntry { job: string; task?: number; state: string; reason: string }

/** `12_3`, `12_[1-3,5%2]` (pending tasks, `%2` a throttle) or `12`: the job and its task ids. */
export function parseJobId(text: string): { job: string; tasks?: number[] } {
  const m = /^(\d+)(?:_(\d+|\[([^\]]*)\]))?$/.exec(text.trim());
  if (!m) return { job: text.trim() };
  if (m[2] === undefined) return { job: m[1] };
  if (m[3] === undefined) return { job: m[1], tasks: [Number(m[2])] };
  const tasks: number[] = [];
  for (const part of m[3].split("%")[0].split(",")) {
    const [a, b] = part.split("-").map(Number);
    for (let t = a; t <= (b ?? a); t++) tasks.push(t);
  }
  return { job: m[1], tasks };
}

/**
 * The queue's entries for these job ids, finished ones included while the controller remembers them (`-t all`),
 * pending array ranges expanded to one entry per task.
 */
export function queueEntries(jobIds: string[]): QueueEntry[] {
  const out = slurmCommand("squeue", ["-h", "-t", "all", "--me", "-o", "%i|%T|%r"], "reading the queue");
  const wanted = new Set(jobIds), entries: QueueEntry[] = [];
  for (const line of out.split("\n")) {
    const [id, state, reason] = line.split("|");
    if (!id || !state) continue;
    const { job, tasks } = parseJobId(id);
    if (!wanted.has(job)) continue;
    for (const task of tasks ?? [undefined]) entries.push({ job, task, state, reason: reason ?? "" });
  }
  return entries;
}
