#!/usr/bin/env bash
# run-in-vm.sh: run one command as root inside a throw-away QEMU VM that has what the
# kernel tests need and this machine lacks: /dev/nbd*, configfs, dummy USB UDCs.
#
#   bash test/vm/harness/run-in-vm.sh [--mem 2G] [--cpus N] [--timeout SECONDS] [-v] -- COMMAND [ARGS...]
#
# The VM boots the host's own Debian kernel with the host's / as its root (read-only 9p
# under a RAM overlay), so COMMAND and everything it runs are the host's binaries. COMMAND
# runs in the same cwd (shared read-write at the same path), with the host's environment
# minus host-only variables (TMPDIR, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS...), plus
# VMEDIA_IN_VM=1, with stdin from /dev/null. Its stdout and stderr stream to ours.
#
# Exit status: COMMAND's, or 124 when it ran longer than --timeout (default 600, 0 = no
# limit), or 125 when the VM itself failed (the tail of the guest console is printed).
#   --mem SIZE     guest RAM (QEMU syntax, default 2G)
#   --cpus N       guest CPUs (default: this machine's, nproc)
#   --timeout S    limit for COMMAND in seconds (default 600; 0: none)
#   -v             print the whole guest console and the timings at the end
# Environment knobs:
#   VMEDIA_VM_CONSOLE=FILE      also save the guest console to FILE
#   VMEDIA_VM_ACCEL=kvm|tcg     force the accelerator (default: kvm only if really usable)
#   VMEDIA_VM_UDCS=N            number of dummy UDCs (default 2: dummy_udc.0, dummy_udc.1)
#   VMEDIA_VM_UDEV_TRIGGER=1    give boot-time devices udev database entries (+1-2 s)
#   VMEDIA_VM_KERNEL_ARGS=...   extra kernel command line (e.g. loglevel=7 to debug a boot)
#
# The pieces: check-deps.sh (host tools present?), prepare-boot.sh (cached kernel and
# initramfs), stage1-init.sh (initramfs: mounts the root), stage2-init.sh (PID 1 in the
# real root: sets up, runs COMMAND, reports its exit code). See README.md.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "vm-harness: $*" >&2; }
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2; exit 2; }
t0=$EPOCHREALTIME

mem=2G; cpus=$(nproc); timeout=600; verbose=0
while [ $# -gt 0 ]; do
  case $1 in
    --mem) mem=${2:?--mem needs a size}; shift 2 ;;
    --cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    -v|--verbose) verbose=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) say "unknown option $1"; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
[[ $timeout =~ ^[0-9]+$ ]] || { say "--timeout wants whole seconds, not '$timeout'"; exit 2; }
[[ $cpus =~ ^[1-9][0-9]*$ ]] || { say "--cpus wants a positive number, not '$cpus'"; exit 2; }
[[ $mem =~ ^[1-9][0-9]*[MGmg]?$ ]] || { say "--mem wants a size like 2G or 1536M, not '$mem'"; exit 2; }
udcs=${VMEDIA_VM_UDCS:-2}
[[ $udcs =~ ^[1-9][0-9]*$ ]] || { say "VMEDIA_VM_UDCS wants a positive number"; exit 2; }
cwd=$PWD
[ "$cwd" != / ] || { say "will not share / read-write: cd into the project first"; exit 2; }

"$HERE/check-deps.sh" || exit 125
read -r kver kernel initramfs < <("$HERE/prepare-boot.sh") || true
[ -n "${initramfs:-}" ] || { say "could not prepare the kernel and initramfs"; exit 125; }

# --- the per-run control directory, the guest's /run/vm-harness
ctl=$(mktemp -d "${TMPDIR:-/tmp}/vm-harness.XXXXXX")
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$ctl"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# QEMU's -fsdev/-chardev options are comma-separated, and a comma in a path cannot be escaped there.
for p in "$cwd" "$ctl" "$kernel" "$initramfs"; do
  case $p in *,*) say "cannot hand QEMU a path containing a comma: $p"; exit 2 ;; esac
  case $p in *$'\n'*) say "cannot share a path containing a newline: $p"; exit 2 ;; esac
done

cp "$HERE/stage2-init.sh" "$ctl/stage2-init.sh"
host_tty=0; [ -t 1 ] && host_tty=1
printf 'TIMEOUT=%q\nCWD=%q\nHOST_TTY=%q\nUDCS=%q\nUDEV_TRIGGER=%q\n' \
  "$timeout" "$cwd" "$host_tty" "$udcs" "${VMEDIA_VM_UDEV_TRIGGER:-0}" >"$ctl/config"
printf '%s' "$cwd" >"$ctl/cwd"    # read by stage1-init.sh (busybox sh)
printf '%s\0' "$@" >"$ctl/argv"
# The environment, NUL-separated so any value survives, minus what only means something
# on this host (its temp dir, session bus, agents, terminal session, systemd unit...).
drop=()
for name in $(compgen -e); do
  case $name in
    TMPDIR|XDG_RUNTIME_DIR|XDG_SESSION_*|XDG_SEAT|XDG_VTNR|DBUS_SESSION_BUS_ADDRESS|DBUS_SYSTEM_BUS_ADDRESS|\
    DISPLAY|WAYLAND_DISPLAY|XAUTHORITY|SSH_*|GPG_AGENT_INFO|NOTIFY_SOCKET|LISTEN_*|INVOCATION_ID|\
    JOURNAL_STREAM|SYSTEMD_EXEC_PID|MANAGERPID|HOSTNAME|SHLVL|OLDPWD|_) drop+=(-u "$name") ;;
  esac
done
env "${drop[@]}" -0 >"$ctl/environ"

# --- accelerator. Hardware KVM needs vmx/svm; the /dev/kvm of some sandboxes is the
# kvm_pvm software backend, on which the unmodified Debian kernel hangs in early boot.
accel=${VMEDIA_VM_ACCEL:-}
if [ -z "$accel" ]; then
  accel=tcg
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -d /sys/module/kvm_pvm ]; then accel=kvm; fi
  [ $accel = kvm ] || [ "$verbose" = 0 ] || say "no usable hardware KVM: TCG emulation (slower)"
fi
case $accel in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
  *) say "VMEDIA_VM_ACCEL must be kvm or tcg"; exit 2 ;;
esac

# --- guest ttyS1/ttyS2 -> FIFOs -> our stdout/stderr. We hold each FIFO open read-write,
# so neither QEMU's open nor the relay's blocks, and the relay sees EOF only once we let go
# after QEMU has exited. If our stdout goes away, the relay keeps draining so QEMU never
# blocks on a full FIFO.
mkfifo "$ctl/stdout" "$ctl/stderr"
exec 7<>"$ctl/stdout" 8<>"$ctl/stderr"
{ cat || exec cat >/dev/null; } <"$ctl/stdout" 7>&- 8>&- &
out_relay=$!
{ cat >&2 || exec cat >/dev/null; } <"$ctl/stderr" 7>&- 8>&- &
err_relay=$!

# Kernel command line: panic=-1 turns a stage-2 death into a reboot, i.e. QEMU's exit
# (-no-reboot). mitigations=off: page-table isolation makes every syscall flush the TLB,
# which costs a lot under TCG. The rest skips probes that only cost time in a VM.
append="console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off pci=noacpi tsc=reliable no_timer_check i8042.noaux i8042.nokbd ${VMEDIA_VM_KERNEL_ARGS:-}"
# The VM's own watchdog: COMMAND's --timeout runs in the guest; this catches a guest
# that hangs around it (boot, power-off). Generous, since boot under TCG varies with load.
watchdog=()
[ "$timeout" = 0 ] || watchdog=(timeout -k 10 $((timeout + 300)))
"${watchdog[@]}" qemu-system-x86_64 -nodefaults -no-user-config -machine pc "${accel_args[@]}" \
  -smp "$cpus" -m "$mem" -display none -vga none -no-reboot \
  -kernel "$kernel" -initrd "$initramfs" -append "$append" \
  -chardev "file,id=console,path=$ctl/console.log" -serial chardev:console \
  -chardev "file,id=stdout,path=$ctl/stdout" -serial chardev:stdout \
  -chardev "file,id=stderr,path=$ctl/stderr" -serial chardev:stderr \
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=vmctl,path=$ctl,security_model=none" \
  -device virtio-9p-pci,fsdev=vmctl,mount_tag=vmctl \
  -fsdev "local,id=cwd,path=$cwd,security_model=none,multidevs=remap" \
  -device virtio-9p-pci,fsdev=cwd,mount_tag=cwd \
  -device virtio-rng-pci \
  </dev/null >"$ctl/qemu.log" 2>&1 7>&- 8>&- &
qemu_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
exec 7>&- 8>&-
wait "$out_relay" "$err_relay" 2>/dev/null || true

# --- the outcome
[ -z "${VMEDIA_VM_CONSOLE:-}" ] || cp "$ctl/console.log" "$VMEDIA_VM_CONSOLE" 2>/dev/null || say "cannot save the console to $VMEDIA_VM_CONSOLE"
rc=""
[ ! -s "$ctl/rc" ] || rc=$(tr -dc 0-9 <"$ctl/rc")
total=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
boot=$(sed -n 's/^boot_to_command=//p' "$ctl/timings" 2>/dev/null || true)
ran=$(sed -n 's/^command=//p' "$ctl/timings" 2>/dev/null || true)
if [ "$verbose" = 1 ]; then
  { echo "---- vm-harness: guest console (kernel $kver, $accel) ----"; cat "$ctl/console.log" 2>/dev/null
    echo "---- vm-harness: qemu exit $qemu_rc ----"; cat "$ctl/qemu.log"; } >&2
  say "boot to command ${boot:-?}s (guest clock), command ${ran:-?}s, total ${total}s wall"
fi
console_tail() {
  [ "$verbose" = 1 ] && return
  { echo "---- vm-harness: last lines of the guest console (kernel $kver, $accel) ----"
    tail -n 40 "$ctl/console.log" 2>/dev/null
    echo "---- vm-harness: qemu exit $qemu_rc ----"; tail -n 20 "$ctl/qemu.log"; } >&2
}
if [ -z "$rc" ]; then
  if [ -n "${watchdog[*]}" ] && { [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; }; then
    console_tail
    say "the VM did not finish within --timeout $timeout + 300 s; killed it"
    exit 124
  fi
  console_tail
  say "the VM failed: no exit code from the guest"
  exit 125
fi
case $rc in
  124) [ "$timeout" = 0 ] || say "the command timed out after ${timeout}s" ;;
  125) console_tail; say "the guest could not run the command" ;;
esac
exit "$rc"
