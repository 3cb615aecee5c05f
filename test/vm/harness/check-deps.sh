#!/usr/bin/env bash
# check-deps.sh: verify that this machine has every host tool the VM harness uses.
#
# Why: the VM boots the host's own kernel and uses the host's / as its root, so the
# programs the tests run inside the VM (nbd-client, nbdkit, udevd...) come from the host
# too. Nothing is installed here: scripts/setup.sh --test installs the Debian packages.
# This script only names the missing ones, all at once, and exits 1; silent (exit 0) when
# everything is present.
set -uo pipefail

missing=()   # Debian package names, one entry per missing package
need() {     # need PACKAGE WHAT...: WHAT is a command name or an absolute path
  local pkg=$1; shift
  local what
  for what in "$@"; do
    if [[ $what == /* ]]; then [ -x "$what" ] && continue
    else command -v "$what" >/dev/null 2>&1 && continue; fi
    echo "vm-harness: missing $what (Debian package $pkg)" >&2
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    return
  done
}

need qemu-system-x86 qemu-system-x86_64
need cpio cpio
need kmod modprobe
need util-linux flock
need coreutils timeout sha256sum
need xz-utils xz                       # the Debian kernel image is XZ-compressed
need udev udevadm
need systemd busctl
need nbd-client nbd-client
need nbdkit nbdkit
need libnbd-bin nbdinfo
need dbus dbus-daemon

# The initramfs runs busybox before any library is reachable: it must be the static one.
if [ ! -x /bin/busybox ]; then
  echo "vm-harness: missing /bin/busybox (Debian package busybox-static)" >&2
  missing+=(busybox-static)
elif ldd /bin/busybox >/dev/null 2>&1; then
  echo "vm-harness: /bin/busybox is dynamically linked; the initramfs needs busybox-static" >&2
  missing+=(busybox-static)
fi

# systemd-udevd is not on PATH; Debian 12 keeps it in /lib/systemd.
if [ ! -x /lib/systemd/systemd-udevd ] && [ ! -x /usr/lib/systemd/systemd-udevd ]; then
  echo "vm-harness: missing systemd-udevd (Debian package udev)" >&2
  [[ " ${missing[*]} " == *" udev "* ]] || missing+=(udev)
fi

# A kernel image with its modules (the 9p module stands for "the modules we load").
kernel_ok=0
for img in /boot/vmlinuz-*; do
  [ -f "$img" ] || continue
  v=${img#/boot/vmlinuz-}
  if [ -f "/lib/modules/$v/modules.dep" ] && compgen -G "/lib/modules/$v/kernel/fs/9p/9p.ko*" >/dev/null; then
    kernel_ok=1
  fi
done
if [ $kernel_ok = 0 ]; then
  echo "vm-harness: no /boot/vmlinuz-* with its /lib/modules (Debian package linux-image-amd64)" >&2
  missing+=(linux-image-amd64)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "vm-harness: cannot run the VM; install the missing packages with:" >&2
  echo "    sudo scripts/setup.sh --test     (or: apt-get install ${missing[*]})" >&2
  exit 1
fi
exit 0
