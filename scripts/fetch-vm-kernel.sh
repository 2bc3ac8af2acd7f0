#!/usr/bin/env bash
# Unpacks Debian 12's kernel (the package linux-image-amd64 points to) into a cache directory for
# the tests that boot it in a VM (tests/vm/run-in-vm.sh), without installing it: nothing lands in
# /boot, no initramfs is built and no boot loader is touched. Idempotent: when that kernel is
# unpacked already it changes nothing and asks apt nothing (any Debian 12 kernel serves the tests;
# remove the cache to pick up a newer one). Leaves NK_VM_CACHE/kernel pointing at the unpacked tree
# (boot/vmlinuz-*, lib/modules/<version>/ with a modules.dep made by depmod).
#
#   scripts/fetch-vm-kernel.sh            # as root; scripts/install-deps.sh calls it
set -euo pipefail

cache=${NK_VM_CACHE:-/var/cache/nk-vm}

if [[ -f "$cache/kernel/.complete" ]]; then
  echo "fetch-vm-kernel: $(readlink "$cache/kernel") is unpacked in $cache"
  exit 0
fi

if ((EUID != 0)); then
  echo "fetch-vm-kernel: unpacking the VM test's kernel into $cache needs root; run: sudo $0" >&2
  exit 1
fi

concrete_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

pkg=$(concrete_package)
if [[ -z "$pkg" ]]; then
  # A fresh machine may not have read its package lists yet.
  apt-get update >/dev/null
  pkg=$(concrete_package)
fi
[[ -n "$pkg" ]] || { echo "fetch-vm-kernel: apt-cache names no package behind linux-image-amd64" >&2; exit 1; }

tree=$cache/$pkg
if [[ -f "$tree/.complete" ]]; then
  ln -sfn "$pkg" "$cache/kernel"
  echo "fetch-vm-kernel: $pkg is unpacked in $tree"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.download.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download drops to the _apt user, who cannot write here; the file is checked against
# the signed package lists all the same.
(cd "$work" && apt-get -q -o APT::Sandbox::User=root download "$pkg")
dpkg -x "$work"/"$pkg"_*.deb "$work/tree"
version=$(basename "$(ls -d "$work"/tree/lib/modules/*/)")
# The package ships no modules.dep (its postinst makes it); run-in-vm.sh resolves modules with it.
depmod -b "$work/tree" "$version"
rm -rf "$tree"
mv "$work/tree" "$tree"
touch "$tree/.complete"
ln -sfn "$pkg" "$cache/kernel"
# Kernels this one replaced (an update of linux-image-amd64) are ~400 MB each and unused now.
find "$cache" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$pkg" -exec rm -rf {} +
echo "fetch-vm-kernel: unpacked $pkg (kernel $version) in $tree"
