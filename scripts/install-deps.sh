#!/usr/bin/env bash
# Installs every Debian 12 package that nk's build and tests need. Idempotent: when all are
# present it only asks dpkg (well under a second) and changes nothing, so scripts/test.sh and
# .ci/run call it every time. Installing needs root; checking does not.
#
# Add a package to the group it belongs to, with a comment if the group does not say why.
set -euo pipefail

packages=(
  # Toolchain and build
  build-essential
  cmake
  ninja-build
  pkg-config
  # clang for the fuzz preset: libFuzzer and clang's sanitizer runtimes; llvm for
  # llvm-symbolizer, which clang's sanitizers need to print function names in their reports
  clang
  libclang-rt-14-dev
  llvm
  # Libraries nk links
  libtomlplusplus-dev
  libexpected-dev
  libcli11-dev
  libasio-dev
  nlohmann-json3-dev
  libspdlog-dev
  libfmt-dev
  # lwIP (NO_SYS=0, sockets API) for the rt guest's netif and console (netbridge/lwip/)
  liblwip-dev
  # Protobuf: protoc, the runtime, and libprotoc for the protoc-gen-nk plugin (bindings/)
  protobuf-compiler
  libprotobuf-dev
  libprotoc-dev
  # Tests and benchmarks
  libgtest-dev
  libgmock-dev
  googletest
  libbenchmark-dev
  # rt benchmark: cyclictest (its peer, in the same run) and gnuplot for the latency histogram's PNG
  rt-tests
  gnuplot-nox
  # Peers the benchmarks measure nk against, in the same run (tests/bench)
  libboost-dev
  libreaderwriterqueue-dev
  # iceoryx and its broker iox-roudi: the publish/subscribe peer of the ipc ping-pong
  iceoryx
  libiceoryx-posh-dev
  # gRPC C++ and its protoc plugin: the peer of the rpc benchmark (tests/bench/rpc_bench.cpp)
  libgrpc++-dev
  protobuf-compiler-grpc
  # Tools the integration tests drive: ip and network namespaces, unshare/nsenter, ps/pgrep;
  # stress-ng loads guests in the watchdog soak (no false failures under load)
  stress-ng
  iproute2
  # The netbridge tests and benchmark use real programs between guests: ping, telnet against
  # telnetd (behind systemd-socket-activate), ftp against vsftpd, driven by expect; iperf3 and
  # sockperf measure it against veth and pasta (passt)
  iputils-ping
  inetutils-telnet
  inetutils-telnetd
  systemd
  vsftpd
  ftp
  expect
  iperf3
  sockperf
  passt
  # python3 drives the net benchmark (tests/bench/net_bench.py) and a connect() in a netbridge test
  python3
  util-linux
  procps
  # The cgroup v2 test boots Debian's kernel in a VM (tests/vm/run-in-vm.sh): qemu, a static
  # busybox for its initramfs, cpio and xz to pack it, depmod (kmod) for the kernel's module
  # list. The kernel itself is unpacked, not installed (scripts/fetch-vm-kernel.sh, below).
  qemu-system-x86
  busybox-static
  cpio
  xz-utils
  kmod
)

# One dpkg-query for all of them; a package dpkg has never heard of is simply not printed.
missing=()
declare -A installed=()
while read -r name status; do
  [[ "$status" == "install ok installed" ]] && installed["$name"]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  bash "$(dirname "${BASH_SOURCE[0]}")/fetch-vm-kernel.sh"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if ((EUID != 0)); then
  echo "install-deps: installing needs root; run: sudo $0" >&2
  exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
bash "$(dirname "${BASH_SOURCE[0]}")/fetch-vm-kernel.sh"
