/**
 * The flags of `mrl slurm` (taken out before the common flags are parsed): the shard count, which shards, whether
 * to wait, and per-task resources that override the experiment's "cluster" field. Bad values are one line naming
 * the flag.
 */
import { MrlError } from "../core/errors";
import { isSlurmTime, sbatchArgProblem, type ClusterSettings } from "./settings";

export const SLURM_FLAG_USAGE = `slurm: [--shards N] [--only I,J] [--no-wait] [--partition P] [--cpus-per-task N] [--task-memory-gb N]
             [--time H:MM:SS] [--sbatch-arg=--gres=gpu:1]...; slurm wait JOBID...`;

export interface SlurmFlags {
  /** --shards N (else the experiment's cluster.shards). */
  shards?: number;
  /** --only I,J: the shards to (re)submit. */
  only?: number[];
  /** false with --no-wait: print the job ids and the command that waits, and return. */
  wait: boolean;
  /** Per-task resources the flags set, over the experiment's "cluster" field. */
  cluster: ClusterSettings;
}

const bad = (flag: string, value: string, expected: string): never => {
  throw new MrlError(`${flag} "${value}" does not parse; expected ${expected}`);
};

/** Splits `mrl slurm`'s own flags from the rest (the common flags: --experiment, --root, --dims, ...). */
export function splitSlurmFlags(args: string[]): { flags: SlurmFlags; rest: string[] } {
  const flags: SlurmFlags = { wait: true, cluster: {} }, rest: string[] = [];
  const sbatchArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].indexOf("=");
    const [name, inline] = args[i].startsWith("--") && eq > 0 ? [args[i].slice(0, eq), args[i].slice(eq + 1)] : [args[i], undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= args.length || (args[i + 1].startsWith("--") && name !== "--sbatch-arg")) throw new MrlError(`option ${name} needs a value`);
      return args[++i];
    };
    const count = (v: string): number => (/^\d+$/.test(v) && Number(v) > 0 ? Number(v) : bad(name, v, "a positive integer"));
    if (name === "--shards") flags.shards = count(value());
    else if (name === "--only") {
      const v = value();
      flags.only = /^\d+(,\d+)*$/.test(v) ? v.split(",").map(Number) : bad(name, v, "comma-separated shard indices, e.g. 1,3");
    } else if (name === "--no-wait") flags.wait = false;
    else if (name === "--partition") flags.cluster.partition = value();
    else if (name === "--cpus-per-task") flags.cluster.cpusPerTask = count(value());
    else if (name === "--task-memory-gb") {
      const v = value();
      flags.cluster.memoryGb = Number(v) > 0 && Number.isFinite(Number(v)) ? Number(v) : bad(name, v, "a positive number of GB per task");
    } else if (name === "--time") {
      const v = value();
      flags.cluster.time = isSlurmTime(v) ? v : bad(name, v, 'a Slurm time limit: minutes, "H:MM:SS" or "D-HH:MM:SS"');
    } else if (name === "--sbatch-arg") {
      const v = value(), problem = sbatchArgProblem(v);
      sbatchArgs.push(problem ? bad(name, v, problem) : v);
    } else rest.push(args[i]);
  }
  if (sbatchArgs.length > 0) flags.cluster.sbatchArgs = sbatchArgs;
  return { flags, rest };
}
