#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/slurm.rs: Debian's slurmctld, slurmd and munge (SLURM 22.05)
# run as root, without systemd, with a configuration and state of their own under $VST_SLURM_DIR (default
# /tmp/vst-slurm), so nothing in /etc/slurm is touched.
#
#   scripts/slurm-test-cluster.sh start   # writes the configuration, starts munged, slurmctld, slurmd; waits for
#                                         # the node to be idle and runs one job through sbatch; exit 0 = working
#   scripts/slurm-test-cluster.sh stop    # stops what start started (by the pids it recorded)
#   scripts/slurm-test-cluster.sh logs    # prints the daemons' logs
#   scripts/slurm-test-cluster.sh env     # prints `export SLURM_CONF=...` for the clients (sbatch, squeue, ...)
#
# Packages (installed by .ci/run when missing): slurmctld slurmd slurm-client munge.
set -uo pipefail

DIR="${VST_SLURM_DIR:-/tmp/vst-slurm}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

log() { echo "slurm-test-cluster: $*" >&2; }

write_config() {
  mkdir -p "$DIR/spool" "$DIR/state" "$DIR/log" "$DIR/munge"
  local host cpus memory
  host="$(hostname -s)"
  cpus="$(nproc)"
  # All of the machine's memory less 1 GiB for the system, in MiB, as slurmd measures it.
  memory="$(awk '/MemTotal/ { printf "%d", $2 / 1024 - 1024 }' /proc/meminfo)"
  cat > "$CONF" <<EOF
# Written by scripts/slurm-test-cluster.sh: a one-node test cluster.
ClusterName=vsttest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdSpoolDir=$DIR/spool
StateSaveLocation=$DIR/state
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
# Seconds-scale tests: finished jobs leave squeue/scontrol after MinJobAge seconds.
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    log "no /etc/munge/munge.key: creating one"
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  local socket="$DIR/munge/munge.socket"
  if [ -S "$socket" ] && munge -n -S "$socket" >/dev/null 2>&1; then
    return 0
  fi
  # munged refuses to run as root without --force; the socket lives in $DIR so slurm finds it through the
  # configuration below (AuthInfo) and a system munged, if any, is left alone.
  munged --force --socket="$socket" --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed" || return 1
  echo "AuthInfo=socket=$socket" >> "$CONF"
  for _ in $(seq 1 50); do
    munge -n -S "$socket" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "munged does not answer"
  return 1
}

start() {
  for binary in slurmctld slurmd munged sbatch squeue scontrol scancel; do
    command -v "$binary" >/dev/null || { log "missing $binary (apt-get install slurmctld slurmd slurm-client munge)"; return 1; }
  done
  stop quiet
  rm -rf "$DIR"
  write_config
  start_munge || return 1
  # -c: a clean start (no saved jobs); -i: ignore stale state. Both daemons daemonise themselves.
  slurmctld -c -i -f "$CONF" || { log "slurmctld did not start"; return 1; }
  slurmd -f "$CONF" || { log "slurmd did not start"; return 1; }
  local state=""
  for _ in $(seq 1 100); do
    state="$(sinfo -h -N -o '%t' 2>/dev/null | head -1)"
    [ "$state" = "idle" ] && break
    sleep 0.2
  done
  if [ "$state" != "idle" ]; then
    log "the node is not idle after 20 s (state: ${state:-none})"
    return 1
  fi
  # One real job through the scheduler, with a dependency, before anyone relies on the cluster.
  local first second
  first="$(sbatch --parsable -o "$DIR/check-%j.out" --wrap 'echo first')" || return 1
  second="$(sbatch --parsable -o "$DIR/check-%j.out" --dependency="afterok:$first" --wrap 'echo second')" || return 1
  for _ in $(seq 1 150); do
    if [ -z "$(squeue -h -j "$first,$second" -o %i 2>/dev/null)" ] && [ -s "$DIR/check-$second.out" ]; then
      log "working: jobs $first and $second (afterok) ran; export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 0.2
  done
  log "the check jobs did not finish in 30 s:"
  squeue >&2
  return 1
}

stop() {
  for name in slurmd slurmctld munged; do
    local pidfile="$DIR/$name.pid"
    [ -s "$pidfile" ] || continue
    local pid
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  done
  [ "${1:-}" = quiet ] || log "stopped"
}

logs() {
  for file in "$DIR"/log/*.log; do
    [ -f "$file" ] || continue
    echo "===== $file"
    tail -n 60 "$file"
  done
}

case "${1:-}" in
  start) start || { logs >&2; exit 1; } ;;
  stop) stop ;;
  logs) logs ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|logs|env" >&2; exit 2 ;;
esac
