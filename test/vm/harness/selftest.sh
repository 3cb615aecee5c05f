#!/usr/bin/env bash
# selftest.sh: prove the VM harness end to end on this machine. Exits 0 only if every
# check passed; prints "ok - ..." / "FAIL - ..." lines and the time each boot took.
#
#   1. one boot running selftest-guest.sh (nbd, configfs, dummy UDCs, udevd, tmpfs /tmp,
#      environment, stdin, stdout/stderr apart, a writable cwd shared with the host);
#   2. two boots at once, which also exercises the cache lock: `exit 3` must give 3, and
#      `--timeout 5 -- sleep 60` must give 124 well before 60 s;
#   3. a boot that cannot find its init must give 125 and print the guest console.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run_vm=$HERE/run-in-vm.sh
failed=0
pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; failed=1; }
now() { echo "${EPOCHREALTIME/./}"; }
secs() { local us=$(( $(now) - $1 )); printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000)); }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vm-harness-selftest.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/cwd"
echo host-was-here >"$scratch/cwd/from-host"
token=$RANDOM-$RANDOM-$$

# --- 1. the guest's view
echo "# boot 1: checks inside the guest"
t=$(now)
(
  cd "$scratch/cwd" || exit 1
  export SELFTEST_TOKEN=$token SELFTEST_ODD=$'a b\n"c" \'d\' $e,f=g'
  export XDG_RUNTIME_DIR=/run/user/4242 DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent TMPDIR=${TMPDIR:-/tmp}
  bash "$run_vm" --timeout 120 -- bash "$HERE/selftest-guest.sh" >"$scratch/out" 2>"$scratch/err"
)
rc=$?
boot1=$(secs "$t")
sed 's/^/    /' "$scratch/out"
if [ $rc = 0 ]; then pass "in-guest checks all passed (exit 0, ${boot1}s)"; else fail "in-guest checks: exit $rc (${boot1}s)"; sed 's/^/    stderr: /' "$scratch/err"; fi
grep -qx "to stderr" "$scratch/err" && ! grep -q "to stderr" "$scratch/out" &&
  pass "stderr arrives apart from stdout" || fail "stderr did not arrive apart from stdout"
[ "$(cat "$scratch/cwd/from-guest" 2>/dev/null)" = "$token" ] &&
  pass "a file the guest wrote in its cwd is on the host afterwards" || fail "the guest's file is not on the host"

# --- 2. exit codes and the timeout, two VMs at once
echo "# boots 2 and 3, concurrently: exit 3, and --timeout 5 -- sleep 60"
t=$(now)
( cd "$scratch/cwd" && bash "$run_vm" --cpus 1 --timeout 60 -- sh -c 'exit 3' ) >"$scratch/out3" 2>&1 &
p3=$!
( cd "$scratch/cwd" && bash "$run_vm" --cpus 1 --timeout 5 -- sleep 60; echo "rc=$? after $(secs "$t")s" ) >"$scratch/out124" 2>&1 &
p124=$!
wait $p3; rc3=$?
wait $p124
[ $rc3 = 3 ] && pass "exit 3 propagates" || { fail "exit 3 came back as $rc3"; sed 's/^/    /' "$scratch/out3"; }
line=$(grep '^rc=' "$scratch/out124")
rc124=$(echo "$line" | sed 's/^rc=\([0-9]*\) .*/\1/')
took=$(echo "$line" | sed 's/.* after \([0-9]*\)\..*/\1/')
if [ "$rc124" = 124 ] && [ "${took:-99}" -lt 60 ]; then pass "--timeout 5 -- sleep 60 gives 124 (${took}s)"
else fail "--timeout 5 -- sleep 60: $line"; sed 's/^/    /' "$scratch/out124"; fi
# the 0 of boot 1 covered exit 0; check it once more the cheapest way
echo "# boot 4: true"
t=$(now)
( cd "$scratch/cwd" && bash "$run_vm" --timeout 60 -- true ) >"$scratch/out0" 2>&1
rc0=$?
[ $rc0 = 0 ] && pass "exit 0 propagates ($(secs "$t")s for a whole run of \`true\`)" || { fail "true came back as $rc0"; sed 's/^/    /' "$scratch/out0"; }

# --- 3. a VM that cannot start its init
echo "# boot 5: a kernel with no init"
( cd "$scratch/cwd" && VMEDIA_VM_KERNEL_ARGS="rdinit=/no-such-init" bash "$run_vm" --timeout 60 -- true ) >"$scratch/out125" 2>&1
rc125=$?
if [ $rc125 = 125 ] && grep -q "guest console" "$scratch/out125"; then pass "a failed VM gives 125 and shows the guest console"
else fail "a failed VM gave $rc125"; sed 's/^/    /' "$scratch/out125"; fi

if [ $failed = 0 ]; then echo "# selftest: all checks passed"; else echo "# selftest: FAILED"; fi
exit $failed
