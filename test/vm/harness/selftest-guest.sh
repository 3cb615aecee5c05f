#!/usr/bin/env bash
# selftest-guest.sh: the in-VM half of selftest.sh; run by it through run-in-vm.sh, from
# a scratch directory on the host. Checks that the VM offers what the kernel tests rely on,
# prints "ok - ..." or "FAIL - ..." per check, and exits 0 only if every check passed.
# selftest.sh passes SELFTEST_TOKEN and SELFTEST_ODD in the environment and checks the
# file this script writes in the cwd afterwards, from the host.
set -u
failed=0
check() {   # check DESCRIPTION COMMAND...: runs COMMAND, reports its outcome
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "ok - $what"; else echo "FAIL - $what"; failed=1; fi
}
mounted_as() { [ "$(stat -f -c %T "$1")" = "$2" ]; }
has_udcs() { [ "$(ls /sys/class/udc | tr '\n' ' ')" = "dummy_udc.0 dummy_udc.1 " ]; }
udevd_running() { pidof systemd-udevd && udevadm control --ping; }
lo_up() { [ $(( $(cat /sys/class/net/lo/flags) & 1 )) = 1 ]; }   # IFF_UP

check "running as root" test "$(id -u)" = 0
check "VMEDIA_IN_VM=1" test "${VMEDIA_IN_VM:-}" = 1
check "nbd module loaded" test -d /sys/module/nbd
check "/dev/nbd0 is a block device" test -b /dev/nbd0
check "nbds_max=16: /dev/nbd15 exists, /dev/nbd16 does not" eval 'test -b /dev/nbd15 && ! test -e /dev/nbd16'
check "configfs mounted at /sys/kernel/config" mounted_as /sys/kernel/config configfs
check "libcomposite loaded: /sys/kernel/config/usb_gadget exists" test -d /sys/kernel/config/usb_gadget
check "ls /sys/class/udc shows dummy_udc.0 and dummy_udc.1" has_udcs
for m in usb_f_mass_storage usb_storage uas sd_mod sr_mod loop; do
  check "module $m loaded" test -d /sys/module/$m
done
check "systemd-udevd running and answering" udevd_running
check "/tmp is tmpfs" mounted_as /tmp tmpfs
check "/run is tmpfs" mounted_as /run tmpfs
check "/ is a (RAM) overlay" mounted_as / overlayfs
check "lo is up" lo_up
check "stdin is /dev/null" test "$(readlink /proc/self/fd/0)" = /dev/null
check "host-only TMPDIR, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS dropped" \
  test -z "${TMPDIR+x}${XDG_RUNTIME_DIR+x}${DBUS_SESSION_BUS_ADDRESS+x}"
check "an odd environment value arrives intact" test "${SELFTEST_ODD:-}" = $'a b\n"c" \'d\' $e,f=g'
check "the cwd is the host's (the file the host put there is readable)" grep -qx host-was-here from-host
check "the cwd is writable" eval 'echo "$SELFTEST_TOKEN" >from-guest && sync'
echo "to stderr" >&2

exit $failed
