#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the cluster tests and for trying `mrl slurm` locally:
#   bash scripts/slurm-local.sh start|stop|status
# start: munged (its own socket), slurmctld and slurmd as root with a slurm.conf for this machine's cores and
# memory, state, spool, logs and pid files under $MRL_SLURM_DIR (default /tmp/mrl-slurm); waits until `sinfo`
# shows the node idle. /etc/slurm/slurm.conf is linked to that file when no other configuration is there (else
# set SLURM_CONF=$MRL_SLURM_DIR/slurm.conf for sbatch/squeue). stop: the daemons by their pid files. Both are
# idempotent. The Debian packages (slurmctld slurmd slurm-client munge) come from scripts/setup.sh.
set -euo pipefail
state="${MRL_SLURM_DIR:-/tmp/mrl-slurm}"
conf="$state/slurm.conf"
socket="$state/munge/munge.socket.2"
etc_conf=/etc/slurm/slurm.conf
fail() { echo "slurm-local: $*" >&2; exit 1; }
say() { echo "slurm-local: $*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
node_state() { SLURM_CONF="$conf" timeout 5 sinfo -h -o %T 2>/dev/null | head -1; }
running() { alive "$state/munged.pid" && alive "$state/slurmctld.pid" && alive "$state/slurmd.pid"; }

write_conf() {
  local host cpus mem
  host="$(hostname -s)"
  cpus="$(nproc)"
  mem=$(( $(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo) - 2048 ))
  [ "$mem" -gt 512 ] || fail "this machine has too little memory for a node (MemTotal - 2048 MB = $mem MB)"
  cat > "$conf.tmp" <<EOF
# written by scripts/slurm-local.sh: a one-node cluster on $host ($cpus cores, $mem MB for jobs)
ClusterName=local
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerParameters=sched_interval=2
MinJobAge=600
DefMemPerCPU=$(( mem / cpus ))
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
}

link_conf() {
  if [ -L "$etc_conf" ] && [ "$(readlink "$etc_conf")" = "$conf" ]; then return; fi
  if [ -e "$etc_conf" ] || [ -L "$etc_conf" ]; then
    say "$etc_conf is another configuration, left as it is: set SLURM_CONF=$conf for sbatch and squeue"
    return
  fi
  mkdir -p /etc/slurm && ln -s "$conf" "$etc_conf"
}

start_munge() {
  alive "$state/munged.pid" && return
  local key=/etc/munge/munge.key
  if [ ! -s "$key" ]; then
    mkdir -p /etc/munge && chown munge:munge /etc/munge && chmod 700 /etc/munge
    mungekey --create --keyfile "$key" >/dev/null || fail "mungekey could not create $key"
    chown munge:munge "$key" && chmod 400 "$key"
  fi
  mkdir -p "$state/munge" && chown munge:munge "$state/munge" && chmod 755 "$state/munge"  # clients reach the socket
  su -s /bin/sh munge -c "/usr/sbin/munged --socket=$socket --pid-file=$state/munge/munged.pid \
    --log-file=$state/munge/munged.log --seed-file=$state/munge/munged.seed" \
    || fail "munged did not start (see $state/munge/munged.log)"
  cp "$state/munge/munged.pid" "$state/munged.pid"
}

start() {
  [ "$(id -u)" = 0 ] || fail "start needs root (slurmctld, slurmd and munged start as root here); this is uid $(id -u)"
  for bin in munged mungekey slurmctld slurmd sinfo sbatch; do
    command -v "$bin" >/dev/null || [ -x "/usr/sbin/$bin" ] || fail "$bin not found; run scripts/setup.sh (it installs slurmctld slurmd slurm-client munge)"
  done
  if running && [[ "$(node_state)" =~ ^(idle|mixed|allocated)$ ]]; then
    say "already running ($(node_state)), configuration $conf"
    return
  fi
  mkdir -p "$state/ctld" "$state/spool" && chmod 755 "$state"
  write_conf
  link_conf
  start_munge
  alive "$state/slurmctld.pid" || /usr/sbin/slurmctld -f "$conf" || fail "slurmctld did not start (see $state/slurmctld.log)"
  alive "$state/slurmd.pid" || /usr/sbin/slurmd -f "$conf" || fail "slurmd did not start (see $state/slurmd.log)"
  for _ in $(seq 1 60); do
    case "$(node_state)" in
      idle|mixed|allocated) say "running: node $(hostname -s) $(node_state), configuration $conf"; return ;;
    esac
    sleep 0.5
  done
  fail "the node is not idle after 30 s (sinfo says \"$(node_state)\"; see $state/slurmctld.log and $state/slurmd.log)"
}

stop_one() { # pid file, name
  alive "$1" || { rm -f "$1"; return; }
  local pid; pid="$(cat "$1")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return; }; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
  say "$2 did not stop in 10 s; killed"
}

stop() {
  [ -d "$state" ] || { say "not running (no $state)"; return; }
  [ "$(id -u)" = 0 ] || fail "stop needs root (the daemons run as root); this is uid $(id -u)"
  stop_one "$state/slurmd.pid" slurmd
  stop_one "$state/slurmctld.pid" slurmctld
  stop_one "$state/munged.pid" munged
  rm -f "$state/munge/munged.pid"
  if [ -L "$etc_conf" ] && [ "$(readlink "$etc_conf")" = "$conf" ]; then rm -f "$etc_conf"; fi
  say "stopped"
}

status() {
  local name all=0
  for name in munged slurmctld slurmd; do
    if alive "$state/$name.pid"; then echo "$name: running (pid $(cat "$state/$name.pid"))"; else echo "$name: stopped"; all=1; fi
  done
  [ "$all" = 0 ] && echo "node: $(node_state) (configuration $conf)"
  return "$all"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) fail "usage: bash scripts/slurm-local.sh start|stop|status (got \"${1:-}\")" ;;
esac
