#!/usr/bin/env bash
# Builds what an area's benchmarks need, runs nk and its peers alternately in one run, prints the
# table and writes bench-results/AREA.json ({metric, unit, nk, peer, peer_value, ratio, goal, met}).
#
#   scripts/bench.sh ipc|rpc|watchdog [--rounds N]
#   scripts/bench.sh rt [--activations N] [--cpu C] [--rounds R] [--overhead-seconds S]
#
# Areas: ipc, rpc (nk::rpc against gRPC C++ over a Unix socket), watchdog (detection latency), net
# (nk-netbridge against veth and pasta: iperf3, sockperf), rt (the rt guest's response against
# cyclictest and a SCHED_OTHER process, idle and under stress-ng, and the platform's overhead
# against the bare host; also writes bench-results/rt.png).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
area=${1:-}
shift || true

bash scripts/install-deps.sh
build=build/bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNK_BUILD_BENCH=ON -DNK_BUILD_TESTS=OFF \
  -DNK_BUILD_EXAMPLES=OFF >/dev/null
mkdir -p bench-results

case "$area" in
  ipc)
    cmake --build "$build" -j"$(nproc)" --target nk_bench_ipc >/dev/null
    echo "== ipc: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    # iceoryx's broker, for the iceoryx peer; ours alone, stopped when the run ends.
    if pgrep -x iox-roudi >/dev/null; then
      echo "bench.sh: an iox-roudi is already running; stop it first (the run needs its own)" >&2
      exit 1
    fi
    iox-roudi >/dev/null 2>&1 &
    roudi=$!
    trap 'kill "$roudi" 2>/dev/null; wait "$roudi" 2>/dev/null || true' EXIT
    "$build/bin/nk_bench_ipc" --iceoryx --json bench-results/ipc.json "$@"
    echo "wrote bench-results/ipc.json"
    ;;
  watchdog)
    # The platform's own programs are needed beside the benchmark: nkd starts guests from there.
    cmake -S . -B "$build" -DNK_BUILD_EXAMPLES=ON >/dev/null
    cmake --build "$build" -j"$(nproc)" --target nk_bench_watchdog nkd nk-init nk-watchdog nk_example_rt_ticker >/dev/null
    echo "== watchdog: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    "$build/bin/nk_bench_watchdog" --bin "$build/bin" --json bench-results/watchdog.json "$@"
    echo "wrote bench-results/watchdog.json"
    ;;
  rpc)
    cmake --build "$build" -j"$(nproc)" --target nk_bench_rpc >/dev/null
    echo "== rpc: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    "$build/bin/nk_bench_rpc" --json bench-results/rpc.json "$@"
    echo "wrote bench-results/rpc.json"
    ;;
  net)
    # Real programs on three paths: two nk guests over nk-netbridge, a veth pair, pasta.
    cmake -S . -B "$build" -DNK_BUILD_EXAMPLES=ON >/dev/null
    cmake --build "$build" -j"$(nproc)" --target nkd nkctl nk-init nk-netbridge nk_example_rt_console >/dev/null
    echo "== net: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), kernel $(uname -r)"
    python3 tests/bench/net_bench.py --bin "$build/bin" --json bench-results/net.json "$@"
    echo "wrote bench-results/net.json"
    ;;
  rt)
    cmake -S . -B "$build" -DNK_BUILD_EXAMPLES=ON >/dev/null
    cmake --build "$build" -j"$(nproc)" --target nk_bench_rt nkd nk-init nkctl nk_example_rt_ticker >/dev/null
    echo "== rt: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    "$build/bin/nk_bench_rt" --bin "$build/bin" --json bench-results/rt.json "$@"
    echo "wrote bench-results/rt.json"
    ;;
  *)
    echo "usage: scripts/bench.sh ipc|net|rpc|rt|watchdog [options]" >&2
    exit 2
    ;;
esac
