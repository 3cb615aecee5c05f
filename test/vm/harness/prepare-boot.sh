#!/usr/bin/env bash
# prepare-boot.sh: produce (or reuse from the cache) what QEMU boots: the host's kernel as
# an uncompressed ELF vmlinux, and a tiny uncompressed initramfs. Prints one line:
#   KERNEL_VERSION  KERNEL_FILE  INITRAMFS_FILE
#
# Why these shapes (all of it runs under TCG emulation, where every guest cycle is costly):
# - vmlinux, not vmlinuz: QEMU boots an ELF kernel through its PVH entry point, which skips
#   the guest-side XZ decompression (seconds under TCG). If extraction fails we fall back
#   to the bzImage, which is slower but boots the same kernel.
# - The initramfs is an uncompressed cpio holding only busybox-static, the virtio-pci, 9p,
#   overlay and configfs modules (with dependencies) and stage1-init.sh; every other module is
#   loaded later from the host's /lib/modules through the 9p root.
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/vmedia-vm-harness/<kver>-<key>/, where key hashes
# this script, stage1-init.sh and the kernel image's size and mtime, so editing either
# script or upgrading the kernel rebuilds. A flock on the cache dir keeps concurrent runs
# from building over each other; entries unused for a day are pruned.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "vm-harness: $*" >&2; }

# The newest kernel that has its modules installed.
kver=""
while read -r img; do
  v=${img#/boot/vmlinuz-}
  if [ -f "/lib/modules/$v/modules.dep" ] && compgen -G "/lib/modules/$v/kernel/fs/9p/9p.ko*" >/dev/null; then
    kver=$v
  fi
done < <(compgen -G '/boot/vmlinuz-*' | sort -V)
[ -n "$kver" ] || { say "no /boot/vmlinuz-* with its /lib/modules (Debian package linux-image-amd64)"; exit 1; }
bzimage=/boot/vmlinuz-$kver

key=$( { cat "$HERE/prepare-boot.sh" "$HERE/stage1-init.sh"; stat -c '%s %Y' "$bzimage"; } | sha256sum | cut -c1-16)
cache_root=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/vmedia-vm-harness
entry=$cache_root/$kver-$key
mkdir -p "$cache_root"

# Pull the compressed payload out of the bzImage, using the offsets its setup header
# records (Linux boot protocol >= 2.08), and decompress it into an ELF vmlinux.
extract_vmlinux() {   # extract_vmlinux BZIMAGE OUT
  local bz=$1 out=$2
  u() { od -An -t "u$2" -j "$1" -N "$2" "$bz" | tr -d ' '; }
  [ "$(od -An -c -j $((0x202)) -N 4 "$bz" | tr -d ' ')" = HdrS ] || return 1
  [ "$(u $((0x206)) 2)" -ge $((0x208)) ] || return 1
  local setup_sects payload_off payload_len start magic
  setup_sects=$(u $((0x1f1)) 1); [ "$setup_sects" != 0 ] || setup_sects=4
  payload_off=$(u $((0x248)) 4); payload_len=$(u $((0x24c)) 4)
  start=$(( (setup_sects + 1) * 512 + payload_off ))
  magic=$(od -An -tx1 -j "$start" -N 4 "$bz" | tr -d ' ')
  local unpack
  case $magic in
    fd377a58) unpack=(xz -dc --single-stream) ;;
    28b52ffd) unpack=(zstd -qdc) ;;
    1f8b08*)  unpack=(gzip -dc) ;;
    *) return 1 ;;
  esac
  command -v "${unpack[0]}" >/dev/null || return 1
  # The kernel appends the decompressed size after the stream; decompressors may complain
  # about it after writing everything, so judge by the result, not the exit status.
  tail -c +$((start + 1)) "$bz" | head -c "$payload_len" | "${unpack[@]}" >"$out" 2>/dev/null || true
  [ "$(od -An -tx1 -N 4 "$out" | tr -d ' ')" = 7f454c46 ]
}

build_initramfs() {   # build_initramfs OUT
  local out=$1 tree mod ko name
  tree=$(mktemp -d "$cache_root/tree.XXXXXX")
  mkdir -p "$tree"/{bin,dev,proc,sys,lower,upper,newroot,modules}
  cp /bin/busybox "$tree/bin/busybox"
  # one modprobe call per module: extra words would be taken as module parameters
  for mod in virtio_pci 9pnet_virtio 9p overlay configfs; do
    modprobe -S "$kver" --show-depends "$mod" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r ko; do
    name=$(basename "$ko"); name=${name%.xz}; name=${name%.zst}; name=${name%.gz}
    case $ko in
      *.xz)  xz -dc "$ko" ;;
      *.zst) zstd -qdc "$ko" ;;
      *.gz)  gzip -dc "$ko" ;;
      *)     cat "$ko" ;;
    esac >"$tree/modules/$name"
    echo "$name" >>"$tree/modules/load-order"
  done
  install -m 755 "$HERE/stage1-init.sh" "$tree/init"
  (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out"
  rm -rf "$tree"
}

exec 9>"$cache_root/.lock"
flock 9
if [ ! -s "$entry/initramfs.cpio" ] || [ ! -e "$entry/kernel" ]; then
  say "building kernel + initramfs for $kver into $entry"
  rm -rf "$entry.new"; mkdir -p "$entry.new"
  if extract_vmlinux "$bzimage" "$entry.new/vmlinux"; then
    ln -s vmlinux "$entry.new/kernel"
  else
    say "could not extract an ELF vmlinux from $bzimage; booting the bzImage (slower)"
    rm -f "$entry.new/vmlinux"; ln -s "$bzimage" "$entry.new/kernel"
  fi
  build_initramfs "$entry.new/initramfs.cpio"
  rm -rf "$entry"; mv "$entry.new" "$entry"
fi
touch "$entry"
# Old entries (other kernels, older scripts) that no run has used for a day. A run that
# is still booting one of them keeps its open files; a day is far beyond any boot.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -path "$entry" -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
flock -u 9

echo "$kver $(readlink -f "$entry/kernel") $entry/initramfs.cpio"
