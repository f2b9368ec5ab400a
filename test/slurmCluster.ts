/**
 * The local one-node Slurm of scripts/slurm-local.sh for tests: started when a test file needs it (stopped again
 * after, unless it was already running), or the reason it cannot run here for t.skip.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { REPO } from "./helpers";

const SCRIPT = path.join(REPO, "scripts", "slurm-local.sh");
const STATE = process.env.MRL_SLURM_DIR ?? "/tmp/mrl-slurm";

export interface LocalSlurm { ok: boolean; reason?: string; stop(): void }

/** Starts the local cluster; sbatch and squeue of this process and its children then use its configuration. */
export function startLocalSlurm(): LocalSlurm {
  const off = (reason: string): LocalSlurm => ({ ok: false, reason, stop: () => {} });
  if (process.getuid?.() !== 0) return off("the local Slurm cluster starts its daemons as root; these tests run as another user");
  const wasRunning = spawnSync("bash", [SCRIPT, "status"], { encoding: "utf8" }).status === 0;
  const run = spawnSync("bash", [SCRIPT, "start"], { encoding: "utf8", timeout: 120_000 });
  if (run.status !== 0) return off(`scripts/slurm-local.sh start failed: ${`${run.stderr}`.trim().split("\n").pop()}`);
  process.env.SLURM_CONF = path.join(STATE, "slurm.conf");
  return { ok: true, stop: () => { if (!wasRunning) spawnSync("bash", [SCRIPT, "stop"], { encoding: "utf8", timeout: 60_000 }); } };
}
