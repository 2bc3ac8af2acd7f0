#!/bin/busybox sh
# /init of run-in-vm.sh's initramfs: mounts the host's tree (9p, read-only) with the VM's own
# proc, sys, dev, tmpfs and a cgroup2 hierarchy inside it, makes that tree the root, runs /command
# there, reports its status on the console in the line run-in-vm.sh looks for, and powers off.
/bin/busybox --install -s /bin
export PATH=/bin

# Without a status line run-in-vm.sh fails the run; this says what went wrong first.
die() {
  echo "nk-vm: $*"
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do
  insmod "/modules/$module.ko" || die "insmod $module failed"
done </modules/order

# msize: 9p's default 8 KiB messages make reading the build tree's binaries slow.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host || die "mounting the host's tree over 9p failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
# A second view of the host's tree, which the tmpfs mounts below do not cover: what run-in-vm.sh
# lists in /keep (a build tree under /tmp) is bound back in from it.
mkdir -p /orig
mount --bind /host /orig || die "a second view of the host's tree failed"
for dir in /host/tmp /host/run /host/var/tmp /host/dev/shm; do
  mount -t tmpfs -o mode=1777 tmpfs "$dir" || die "tmpfs on $dir failed"
done
while read -r kept; do
  [ -n "$kept" ] || continue
  mkdir -p "/host$kept" && mount --bind "/orig$kept" "/host$kept" || die "binding $kept into the VM failed"
done </keep
# Only cgroup2, as a v2-only host has it; its root hands cpuset, cpu and memory to its children.
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup || die "mounting cgroup2 failed"
echo "+cpuset +cpu +memory" >/host/sys/fs/cgroup/cgroup.subtree_control || die "enabling controllers in the cgroup2 root failed"

echo "nk-vm: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs, cgroup2 controllers: $(cat /host/sys/fs/cgroup/cgroup.subtree_control)"
# The host's tree becomes the root of the first mount namespace, not a chroot inside it: setns()
# into a mount namespace (nkctl exec does) moves to that namespace's root, which must be this tree.
mkdir -p /host/run/nk-vm
cp /command /bin/busybox /host/run/nk-vm/
cat >/host/run/nk-vm/init <<'EOF'
#!/run/nk-vm/busybox sh
# Laid out as on a systemd host: PID 1 in init.scope, the command in a service's group, the root
# holding only kernel threads.
cg=/sys/fs/cgroup
/run/nk-vm/busybox mkdir -p $cg/init.scope $cg/system.slice/nk-vm.service
echo $$ >$cg/init.scope/cgroup.procs
/run/nk-vm/busybox sh -c "echo \$\$ >$cg/system.slice/nk-vm.service/cgroup.procs && exec /run/nk-vm/command"
echo "nk-vm: command exited with status $?"
/run/nk-vm/busybox sync
/run/nk-vm/busybox poweroff -f
EOF
chmod +x /host/run/nk-vm/init
exec switch_root /host /run/nk-vm/init
