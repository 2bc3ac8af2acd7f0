#!/usr/bin/env bash
# The main job: install what is missing, build, and bring up the default two-guest platform.
#
#   scripts/run-platform.sh [CONFIG] [--keep]
#
# Starts nkd with CONFIG (default examples/platforms/two-guests.toml): nkd starts guest "linux"
# (nk-init in namespaces of its own) and guest "rt" (a 1 kHz SCHED_FIFO ticker). It prints the
# partition map and the guests, looks inside the linux guest, reads the rt guest's live status
# from the linux guest through shared memory, raises an interrupt line in the rt guest, kills
# the rt guest to show that only it restarts, stops (hangs) it to show the linux guest's watchdog
# finding it, hangs the linux guest to show the rt guest's watchdog task finding that, and stops
# the platform again (with --keep it stays up; stop it with: kill $(cat /run/nk/nkd.pid)).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
config=examples/platforms/two-guests.toml
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    *) config=$arg ;;
  esac
done

bash scripts/install-deps.sh
bash scripts/build.sh default >/dev/null
bin=build/default/bin

export NK_RUN_DIR=${NK_RUN_DIR:-/run/nk}
platform=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$config" | head -n 1)
mkdir -p "$NK_RUN_DIR"

"$bin/nkd" --config "$config" 2> >(sed 's/^/  nkd| /' >&2) &
nkd_pid=$!
echo "$nkd_pid" >"$NK_RUN_DIR/nkd.pid"
stop() {
  kill -TERM "$nkd_pid" 2>/dev/null || true
  wait "$nkd_pid" 2>/dev/null || true
  rm -f "$NK_RUN_DIR/nkd.pid"
}
((keep)) || trap stop EXIT

nkctl() { "$bin/nkctl" "$@"; }
wait_running() {  # GUEST
  for _ in $(seq 1 200); do
    nkctl guests --platform "$platform" --json 2>/dev/null | tr -d ' \n' | grep -q "\"name\":\"$1\",\"pid\":[0-9]*,\"restarts\":[0-9]*,\"state\":\"running\"" && return 0
    kill -0 "$nkd_pid" 2>/dev/null || { echo "nkd failed to start" >&2; exit 1; }
    sleep 0.05
  done
  echo "guest '$1' did not come up" >&2
  exit 1
}
for _ in $(seq 1 200); do
  [[ -S $NK_RUN_DIR/$platform.sock ]] && break
  kill -0 "$nkd_pid" 2>/dev/null || { echo "nkd failed to start" >&2; exit 1; }
  sleep 0.05
done
wait_running linux
wait_running rt
sleep 0.5

echo
echo "== nkctl map: the partition of platform '$platform' =="
nkctl map --platform "$platform"

echo
echo "== nkctl guests =="
nkctl guests --platform "$platform"

echo
echo "== inside guest 'linux' (nkctl exec linux -- ...): its own host name and processes =="
nkctl exec --platform "$platform" linux -- sh -c 'echo "hostname: $(hostname)"; ps -e -o pid,comm'

echo
echo "== the rt guest's live status, read from the linux guest through segment rt.status =="
nkctl exec --platform "$platform" linux -- nk_example_shared_segment read rt.status
sleep 1
nkctl exec --platform "$platform" linux -- nk_example_shared_segment read rt.status

echo
echo "== the rt guest's executive: its tasks, overruns and dispatch delays (segment rt.exec) =="
nkctl rt --platform "$platform"

echo
echo "== a process of guest 'linux' writes a segment in link linux-rt; one in guest 'rt' reads it =="
nkctl exec --platform "$platform" linux -- nk_example_shared_segment write greeting rt "hello from the linux guest"
nkctl exec --platform "$platform" rt -- nk_example_shared_segment read greeting
echo
nkctl segments --platform "$platform"

echo
echo "== the linux guest raises virtual interrupt line rt.command; the rt guest's handler answers on its console =="
nkctl exec --platform "$platform" linux -- nk_example_raise rt.command
sleep 0.2
echo "(a line the platform does not have is refused with a clear error:)"
nkctl exec --platform "$platform" rt -- nk_example_raise no.such.line || true

echo
echo "== kill -9 the rt guest: nkd restarts it alone; the linux guest keeps running =="
rt_pid=$(nkctl guests --platform "$platform" --json | tr -d ' \n' | grep -o '"name":"rt","pid":[0-9]*' | grep -o '[0-9]*$')
kill -9 "$rt_pid"
sleep 0.5
wait_running rt
nkctl guests --platform "$platform"

echo
echo "== kill -STOP the rt guest (alive but hung): the linux guest's watchdog finds its heartbeat stale and has it recovered =="
rt_pid=$(nkctl guests --platform "$platform" --json | tr -d ' \n' | grep -o '"name":"rt","pid":[0-9]*' | grep -o '[0-9]*$')
kill -STOP "$rt_pid"
sleep 0.5
wait_running rt
nkctl guests --platform "$platform"
nkctl crash-info --platform "$platform" rt --lines 0 | head -n 4

echo
echo "== kill -STOP the linux guest's init: the rt guest's watchdog task finds it hung and has it recovered; rt runs on =="
linux_pid=$(nkctl guests --platform "$platform" --json | tr -d ' \n' | grep -o '"name":"linux","pid":[0-9]*' | grep -o '[0-9]*$')
kill -STOP "$linux_pid"
sleep 0.5
wait_running linux
nkctl guests --platform "$platform"
nkctl crash-info --platform "$platform" linux --lines 0 | head -n 4

if ((keep)); then
  echo
  echo "platform '$platform' keeps running (nkd pid $nkd_pid); stop it with: kill $nkd_pid"
fi
