#!/bin/busybox sh
# stage1-init.sh: /init of the harness's initramfs (built by prepare-boot.sh), run by the
# kernel as PID 1 with nothing but busybox-static and a few modules.
#
# It builds the guest's whole filesystem tree, then hands over to the host's bash:
#   /                  the host's / over virtio-9p (tag hostroot), read-only, under a tmpfs
#                      overlay: the guest may write anywhere (/etc, /var...), in RAM only
#   /run               tmpfs, holding /run/vm-harness: the per-run control share (tag vmctl)
#                      with stage2-init.sh, the command, its environment and its cwd
#   /tmp, /dev/shm     tmpfs (Unix sockets do not work on 9p)
#   /proc /sys /dev /dev/pts /sys/fs/cgroup /sys/kernel/config
#   the caller's cwd   read-write 9p share (tag cwd) at the same path as on the host
# and brings up lo. All of this is done here, with busybox, because under TCG every exec
# of a dynamically linked host tool costs ~0.1-0.4 s, and a static busybox far less.
# Then: switch_root, and /run/vm-harness/stage2-init.sh runs as PID 1.
# Any failure ends the VM without an exit code, which the host reports as 125.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

log() {   # /proc moves into the new root near the end
  read -r up _ 2>/dev/null </proc/uptime || read -r up _ </newroot/proc/uptime
  echo "vm-harness[$up] stage1: $*"
}
fail() {
  log "$*"
  reboot -f; sleep 10   # QEMU runs with -no-reboot: a reboot ends it
}

while read -r m; do
  insmod "/modules/$m" || log "insmod $m failed"
done </modules/load-order

NINEP=trans=virtio,version=9p2000.L,msize=512000
# The virtio devices may still be probing right after insmod: retry for a few seconds.
tries=0
until mount -t 9p -o "ro,$NINEP,cache=loose" hostroot /lower 2>/dev/null; do
  tries=$((tries + 1))
  [ $tries -lt 50 ] || fail "cannot mount the host root (9p tag hostroot)"
  sleep 0.1
done

R=/newroot
mount -t tmpfs -o mode=755 tmpfs /upper
mkdir /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay $R ||
  fail "cannot mount the overlay root"
mount -t tmpfs -o mode=755 tmpfs $R/run || fail "cannot mount tmpfs on /run"
mkdir -p $R/run/vm-harness $R/run/lock $R/run/user $R/run/udev
mount -t 9p -o "$NINEP,cache=none" vmctl $R/run/vm-harness || fail "cannot mount the control share (9p tag vmctl)"
[ -x $R/bin/bash ] || fail "the host root has no /bin/bash"
[ -f $R/run/vm-harness/stage2-init.sh ] || fail "the control share has no stage2-init.sh"

mount --move /proc $R/proc
mount --move /sys $R/sys
mount --move /dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
ln -sfn /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup || log "cannot mount cgroup2"
mount -t configfs configfs $R/sys/kernel/config || log "cannot mount configfs"

# The cwd last, so that a cwd under /tmp lands on the guest's tmpfs rather than under it.
cwd=$(cat $R/run/vm-harness/cwd)
mkdir -p "$R$cwd"
mount -t 9p -o "$NINEP,cache=mmap" cwd "$R$cwd" || fail "cannot mount the cwd share at $cwd"

hostname vmedia-vm
ip link set lo up || log "cannot bring up lo"
log "root ready"
exec switch_root $R /bin/bash /run/vm-harness/stage2-init.sh
