#!/usr/bin/env bash
# Idempotent set-up for `npm start` and `npm test` on a fresh Debian 12 machine:
# system packages (only those missing), node_modules (only when the lockfile changed), build.
#   scripts/setup.sh          runtime packages (what `npm start` needs)
#   scripts/setup.sh --test   runtime + test packages (real peers, VM, browser)
set -euo pipefail
cd "$(dirname "$0")/.."

runtime_pkgs=(nbdkit nbd-client dbus openssl curl xz-utils ca-certificates cifs-utils nfs-common)
test_pkgs=(libnbd-bin python3-libnbd qemu-utils socat python3-sushy python3-dbus python3-websockify chromium
           qemu-system-x86 linux-image-amd64 busybox-static kmod cpio udev systemd
           samba nfs-kernel-server openssh-server ovmf grub-pc-bin grub-efi-amd64-bin xorriso mtools
           python3-ironic dbus-broker pamtester postgresql
           cloud-init dosfstools docker-registry python3-prometheus-client iproute2)

pkgs=("${runtime_pkgs[@]}")
[ "${1:-}" = "--test" ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # the VM recipe installs with the same lock: serialize instead of failing on apt's lock
  exec 9>/var/lock/vmedia-vm-apt.lock; flock 9
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >&2
  exec 9>&-
fi

# node_modules: reinstall when package-lock.json or the dependency fixes in patches/ changed
# since the last install
mkdir -p .stamps
lock_sum=$(cat package-lock.json patches/*.patch | sha256sum | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat .stamps/npm-ci 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$lock_sum" > .stamps/npm-ci
fi
# D-Bus fd passing (credentials pipes) needs usocket's native module; without it dbus-next
# silently drops unix fds, so fail here instead of at the first Mount with credentials.
if ! node -e "require('usocket')" 2>/dev/null; then
  echo "setup: the native module usocket (needed for D-Bus unix fd passing) did not build; see npm ci output" >&2
  exit 1
fi

bash scripts/build.sh
