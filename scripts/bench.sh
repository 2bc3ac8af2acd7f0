#!/usr/bin/env bash
# Builds what an area's benchmarks need, runs nk and its peers alternately in one run, prints the
# table and writes bench-results/AREA.json ({metric, unit, nk, peer, peer_value, ratio, goal, met}).
#
#   scripts/bench.sh ipc|rpc|watchdog [--rounds N]
#
# Areas: ipc, rpc (nk::rpc against gRPC C++ over a Unix socket), watchdog (detection latency), net
# (nk-netbridge against veth and pasta: iperf3, sockperf); rt arrives with its issue.
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
    "$build/bin/nk_bench_ipc" --json bench-results/ipc.json "$@"
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
    cmake --build "$build" -j"$(nproc)" --target nkd nkctl nk-init nk-netbridge >/dev/null
    echo "== net: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), kernel $(uname -r)"
    python3 tests/bench/net_bench.py --bin "$build/bin" --json bench-results/net.json "$@"
    echo "wrote bench-results/net.json"
    ;;
  rt)
    echo "bench.sh: area '$area' has no benchmarks yet (its issue is still open)" >&2
    exit 2
    ;;
  *)
    echo "usage: scripts/bench.sh ipc|net|rpc|rt|watchdog [options]" >&2
    exit 2
    ;;
esac
