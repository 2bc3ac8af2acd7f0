#!/usr/bin/env bash
# Runs one command as root in a throw-away VM that boots an unpacked Debian kernel with cgroup v2
# mounted at /sys/fs/cgroup (cpuset, cpu and memory enabled in its root), and exits with the
# command's status. The VM sees this machine's whole file tree read-only over 9p, so the command
# is a binary of the build tree run as it is; /tmp, /run, /var/tmp and /dev/shm are the VM's own
# tmpfs (but for the top directories of the working directory and the arguments under them). Hosts that mount cgroup v1 (as the development machines do) test v2 this way.
#
#   tests/vm/run-in-vm.sh /var/cache/nk-vm/kernel -- env NK_EXPECT_CGROUP=v2 build/ci/bin/x
#
# KERNEL_DIR is a tree scripts/fetch-vm-kernel.sh unpacked (boot/vmlinuz-*, lib/modules/*/ with
# modules.dep). KVM where the host has hardware virtualisation, else TCG emulation (slower, the
# same result); NK_VM_ACCEL=kvm|tcg chooses. NK_VM_TIMEOUT (seconds, default 150) bounds the whole VM run.
set -euo pipefail

usage() { echo "usage: $0 KERNEL_DIR -- COMMAND [ARG...]" >&2; exit 2; }
(($# >= 3)) && [[ "$2" == "--" ]] || usage
kernel_dir=$1
shift 2

fail() { echo "run-in-vm: $*" >&2; exit 1; }

for tool in qemu-system-x86_64 busybox cpio gzip; do
  command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/install-deps.sh"
done
kernel=$(ls "$kernel_dir"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
modules=$(ls -d "$kernel_dir"/lib/modules/*/ 2>/dev/null | head -n 1 || true)
[[ -n "$kernel" && -f "$modules/modules.dep" ]] ||
  fail "no unpacked kernel with modules.dep in '$kernel_dir'; run scripts/fetch-vm-kernel.sh"
busybox=$(command -v busybox)
# The initramfs runs busybox before any library can be reached: it must be the static build.
if ldd "$busybox" >/dev/null 2>&1; then fail "$busybox is linked dynamically; install busybox-static"; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,host,modules}
cp "$busybox" "$root/bin/busybox"

# The modules for virtio-pci and 9p with everything they need, dependencies first.
declare -A packed=()
load_order=()
pack_module() {
  local name=$1 line dep
  [[ -n "${packed[$name]:-}" ]] && return
  packed[$name]=1
  line=$(grep -E "(^|/)$name\.ko(\.xz|\.zst|\.gz)?:" "$modules/modules.dep") ||
    fail "module $name is not in $modules/modules.dep"
  for dep in ${line#*:}; do
    dep=$(basename "$dep")
    pack_module "${dep%%.ko*}"
  done
  local file=${line%%:*} target=$root/modules/$name.ko
  # busybox insmod reads plain .ko files only.
  case "$file" in
    *.ko.xz) xz -dc "$modules/$file" >"$target" ;;
    *.ko.zst) zstd -dcq "$modules/$file" >"$target" ;;
    *.ko.gz) gzip -dc "$modules/$file" >"$target" ;;
    *) cp "$modules/$file" "$target" ;;
  esac
  load_order+=("$name")
}
for module in virtio_pci 9pnet_virtio 9p; do
  # Built into the kernel (another kernel's config): nothing to load.
  grep -qE "/$module\.ko" "$modules/modules.builtin" 2>/dev/null || pack_module "$module"
done
printf '%s\n' "${load_order[@]}" >"$root/modules/order"

# The command, quoted for the host's bash, which runs it inside the chroot.
{
  echo '#!/bin/bash'
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root'
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$root/command"
chmod +x "$root/command"

# The VM's /tmp, /run, /var/tmp and /dev/shm are its own; a build tree or working directory under
# one of them (a clone in /tmp, say) stays visible: its top directory there is bound in read-only.
for path in "$PWD" "$@"; do
  [[ $path == /* ]] || continue
  for dir in /tmp /run /var/tmp /dev/shm; do
    if [[ $path == "$dir"/* ]]; then
      rest=${path#"$dir"/}
      echo "$dir/${rest%%/*}"
    fi
  done
done | sort -u >"$root/keep"

cp "$(dirname "${BASH_SOURCE[0]}")/vm-init.sh" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"

# KVM only on hardware virtualisation (kvm_intel, kvm_amd). Some hosts' /dev/kvm is kvm_pvm, a
# software nested hypervisor that runs only kernels built as PVM guests: a stock kernel hangs
# there before its first line, so /dev/kvm being there is not enough.
accel_wanted=${NK_VM_ACCEL:-auto}
if [[ "$accel_wanted" == auto ]]; then
  accel_wanted=tcg
  if [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]] && (exec 3<>/dev/kvm) 2>/dev/null; then
    accel_wanted=kvm
  fi
fi
case "$accel_wanted" in
  kvm) accel=(-accel kvm -cpu host) ;;
  # One host thread per vCPU, so -smp 2 still runs two CPUs at once.
  tcg) accel=(-accel tcg,thread=multi -cpu max) ;;
  *) fail "NK_VM_ACCEL is '$accel_wanted'; use kvm, tcg or auto" ;;
esac
echo "run-in-vm: accelerator $accel_wanted (NK_VM_ACCEL=${NK_VM_ACCEL:-auto})"

console=$work/console.log
timeout_s=${NK_VM_TIMEOUT:-150}
status=0
# multidevs=remap: the host's tree spans several file systems, whose inode numbers 9p must
# keep apart. cgroup_no_v1=all: no controller can be taken by a v1 mount (the init mounts only
# cgroup2 anyway).
timeout --kill-after=5 "$timeout_s" qemu-system-x86_64 \
  "${accel[@]}" -m 1024 -smp 2 -no-reboot -nic none -display none -monitor none \
  -serial "file:$console" \
  -kernel "$kernel" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all" \
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot </dev/null || status=$?
tr -d '\r' <"$console"
((status != 124 && status != 137)) || fail "the VM did not finish within ${timeout_s} s (NK_VM_TIMEOUT)"
((status == 0)) || fail "qemu failed with status $status"

# vm-init.sh's last line; anything else (a kernel panic, a missing module) is a failure of the VM.
result=$(tr -d '\r' <"$console" | sed -n 's/^nk-vm: command exited with status \([0-9]*\)$/\1/p' | tail -n 1)
[[ -n "$result" ]] || fail "the VM stopped without reporting the command's status (see its console above)"
exit "$result"
