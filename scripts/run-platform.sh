#!/usr/bin/env bash
# The main job: install what is missing, build, and bring up the default two-guest platform.
#
#   scripts/run-platform.sh [CONFIG] [--keep]
#
# Starts nkd with CONFIG (default examples/platforms/two-guests.toml), prints the partition map
# with nkctl, lets a process of guest "linux" share a segment with a process of guest "rt", and
# stops the platform again (with --keep it stays up; stop it with: kill $(cat /run/nk/nkd.pid)).
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
[[ -x $bin/nkd ]] || bin=build/default/daemons

export NK_RUN_DIR=${NK_RUN_DIR:-/run/nk}
platform=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$config" | head -n 1)
mkdir -p "$NK_RUN_DIR"

"$bin/nkd" --config "$config" &
nkd_pid=$!
echo "$nkd_pid" >"$NK_RUN_DIR/nkd.pid"
stop() {
  kill -TERM "$nkd_pid" 2>/dev/null || true
  wait "$nkd_pid" 2>/dev/null || true
  rm -f "$NK_RUN_DIR/nkd.pid"
}
((keep)) || trap stop EXIT

for _ in $(seq 1 200); do
  [[ -S $NK_RUN_DIR/$platform.sock ]] && break
  kill -0 "$nkd_pid" 2>/dev/null || { echo "nkd failed to start" >&2; exit 1; }
  sleep 0.05
done

echo
echo "== nkctl map: the partition of platform '$platform' =="
"$bin/nkctl" map --platform "$platform"

echo
echo "== a process of guest 'linux' writes a segment in link linux-rt; one of guest 'rt' reads it =="
example=build/default/examples/nk_example_shared_segment
[[ -x $example ]] || example=$bin/nk_example_shared_segment
NK_PLATFORM=$platform NK_GUEST=linux "$example" write greeting rt "hello from the linux guest"
NK_PLATFORM=$platform NK_GUEST=rt "$example" read greeting
echo
"$bin/nkctl" segments --platform "$platform"

if ((keep)); then
  echo
  echo "platform '$platform' keeps running (nkd pid $nkd_pid); stop it with: kill $nkd_pid"
fi
