/**
 * The local one-node Slurm of scripts/slurm-local.sh, for the cluster tests and benchmark: started when needed
 * (and stopped again only by whoever started it), or the reason it cannot run on this machine.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT } from "../core/paths";

const SCRIPT = path.join(PROJECT_ROOT, "scripts", "slurm-local.sh");

/** A started local cluster (`ok`), or why not (`reason`); stop() ends it if this call started it. */
export interface LocalSlurm { ok: boolean; reason?: string; stop(): void }

/**
 * Starts the local cluster unless it runs already; sbatch and squeue of this process and its children then use
 * its configuration (SLURM_CONF).
 */
export function startLocalSlurm(): LocalSlurm {
  const off = (reason: string): LocalSlurm => ({ ok: false, reason, stop: () => {} });
  if (process.getuid?.() !== 0) return off("the local Slurm cluster starts its daemons as root; this process runs as another user");
  const wasRunning = spawnSync("bash", [SCRIPT, "status"], { encoding: "utf8" }).status === 0;
  const run = spawnSync("bash", [SCRIPT, "start"], { encoding: "utf8", timeout: 120_000 });
  if (run.status !== 0) return off(`scripts/slurm-local.sh start failed: ${`${run.stderr}`.trim().split("\n").pop()}`);
  process.env.SLURM_CONF = path.join(process.env.MRL_SLURM_DIR ?? "/tmp/mrl-slurm", "slurm.conf");
  return { ok: true, stop: () => { if (!wasRunning) spawnSync("bash", [SCRIPT, "stop"], { encoding: "utf8", timeout: 60_000 }); } };
}
