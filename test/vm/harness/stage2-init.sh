#!/bin/bash
# stage2-init.sh: PID 1 of the VM once stage1-init.sh has built the filesystem tree and
# switched into it (the host's / read-only under a RAM overlay). run-in-vm.sh copies this
# script into the per-run control share, mounted here at /run/vm-harness, next to:
#   config    shell assignments: TIMEOUT CWD HOST_TTY UDCS UDEV_TRIGGER
#   argv      the command, NUL-separated
#   environ   the host environment to run it with (host-only variables removed), NUL-separated
# It loads the kernel modules the tests need, starts udevd, runs the command with
# stdout/stderr on ttyS1/ttyS2 (FIFOs on the host), writes the command's exit code to
# /run/vm-harness/rc and reboots, which ends QEMU (-no-reboot).
# If this script dies, the kernel panics and reboots: no rc file, the host says 125.
#
# Under TCG each exec of a dynamically linked tool costs 0.1-0.4 s, so this script sticks
# to bash builtins and the static busybox ($bb) where it can.
set -u
CTL=/run/vm-harness
bb=/bin/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Our own messages (and the helpers') go to ttyS0, the console log on the host.
exec </dev/null >/dev/ttyS0 2>&1

uptime_s() { local up _; read -r up _ </proc/uptime; echo "$up"; }
log() { echo "vm-harness[$(uptime_s)] stage2: $*"; }
finish() {   # finish CODE: report CODE to the host and end the VM
  echo "$1" >"$CTL/rc"
  log "exit code $1"
  sync
  echo b >/proc/sysrq-trigger   # immediate reboot, which QEMU turns into its exit
  sleep 60
}

# shellcheck source=/dev/null
. "$CTL/config"
log "started"

# --- kernel modules, from the host's /lib/modules (through the 9p root). The root is a
# RAM overlay, so this modprobe.d file lives only as long as the VM.
printf 'options nbd nbds_max=16\noptions dummy_hcd num=%s\n' "$UDCS" >/etc/modprobe.d/vm-harness.conf
modules=(nbd loop libcomposite dummy_hcd usb_f_mass_storage usb_storage uas sd_mod sr_mod virtio_rng)
if ! modprobe -a "${modules[@]}"; then
  for m in "${modules[@]}"; do [ -d "/sys/module/$m" ] || log "module $m did not load"; done
fi
log "modules loaded"

# --- udevd, so tests can watch uevents (udevadm monitor) and get /dev/disk/by-* links
udevd=/lib/systemd/systemd-udevd
[ -x $udevd ] || udevd=/usr/lib/systemd/systemd-udevd
$udevd --daemon --resolve-names=never || log "systemd-udevd did not start"
if [ "$UDEV_TRIGGER" = 1 ]; then
  # udev database entries for the devices that appeared before udevd (nbd*, loop*, UDCs)
  udevadm trigger --action=add --subsystem-match=block --subsystem-match=udc --subsystem-match=usb
fi
udevadm settle -t 10 || log "udevadm settle timed out"
log "udevd running"

# --- the command
mapfile -d '' -t argv <"$CTL/argv"
mapfile -d '' -t environ <"$CTL/environ"
run_command() {
  cd -- "$CWD" || exit 126
  # exactly the host's environment (minus host-only variables), plus VMEDIA_IN_VM=1
  local name entry
  for name in $(compgen -e); do unset "$name"; done
  for entry in "${environ[@]}"; do export -- "$entry" 2>/dev/null || log "cannot pass ${entry%%=*} on"; done
  export VMEDIA_IN_VM=1
  if [ "$TIMEOUT" -gt 0 ]; then exec timeout -k 5 "$TIMEOUT" "${argv[@]}"; fi
  exec "${argv[@]}"
}

$bb stty -F /dev/ttyS1 raw -echo
$bb stty -F /dev/ttyS2 raw -echo
started=$(uptime_s)
echo "boot_to_command=$started" >"$CTL/timings"
log "running ${argv[*]} in $CWD"
t0=${EPOCHREALTIME/./}
if [ "$HOST_TTY" = 1 ]; then
  # The host's stdout is a terminal: let the command see one as well.
  ( run_command ) >/dev/ttyS1 2>/dev/ttyS2
  rc=$?
else
  # Otherwise pipes, as the command would get in CI; cat relays them to the UARTs.
  $bb mkfifo /run/harness-stdout /run/harness-stderr
  $bb cat /run/harness-stdout >/dev/ttyS1 & out_relay=$!
  $bb cat /run/harness-stderr >/dev/ttyS2 & err_relay=$!
  ( run_command ) >/run/harness-stdout 2>/run/harness-stderr
  rc=$?
  # The relays end when the last writer closes; a daemon the command left behind may
  # keep the pipes open, so give them 5 s and then cut them off.
  for _ in {1..50}; do
    kill -0 $out_relay 2>/dev/null || kill -0 $err_relay 2>/dev/null || break
    $bb sleep 0.1
  done
  kill $out_relay $err_relay 2>/dev/null
  wait $out_relay $err_relay 2>/dev/null
fi
elapsed_ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
printf 'command=%d.%d\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100)) >>"$CTL/timings"

# timeout exits 124, or 137 when the command ignored SIGTERM and needed the SIGKILL
if [ "$TIMEOUT" -gt 0 ] && { [ $rc = 124 ] || [ $rc = 137 ]; } && [ $elapsed_ms -ge $((TIMEOUT * 1000)) ]; then
  log "the command timed out after ${TIMEOUT}s"
  rc=124
fi
finish $rc
