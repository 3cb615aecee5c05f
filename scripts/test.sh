#!/usr/bin/env bash
# The test tiers (set-up is scripts/setup.sh's job; `npm test` runs it first):
#   scripts/test.sh            everything: lint, typecheck, every test on this machine, then the
#                              kernel tests inside one QEMU VM (test/vm/harness)
#   scripts/test.sh --unit     the fast tier: *.unit.test.ts (no outside services, < 1 min)
#   scripts/test.sh --long     the long runs: *.long.test.ts, soak sizes (VMEDIA_TEST_LONG=1) and
#                              1,000,000 NBD fuzz cases
#   scripts/test.sh FILES...   only these test files (while developing one part)
# Any part failing fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

# a test that hangs fails on its own instead of eating the CI budget
node_test=(node --import tsx --test --test-concurrency=2 --test-timeout=300000)

host_tests() { # $1: find -name pattern
  find test -name "$1" -not -path 'test/vm/*' | sort
}

run_files() {
  [ $# -gt 0 ] || { echo "test: no test files found" >&2; exit 1; }
  "${node_test[@]}" "$@"
}

case "${1:-}" in
  --unit)
    mapfile -t files < <(host_tests '*.unit.test.ts')
    run_files "${files[@]}"
    exit 0
    ;;
  --long)
    mapfile -t files < <(host_tests '*.long.test.ts')
    VMEDIA_TEST_LONG=1 run_files "${files[@]}"
    npx tsx scripts/fuzz-nbd.ts --cases 1000000
    exit 0
    ;;
  -*)
    echo "test: unknown option $1 (--unit, --long, or test files)" >&2
    exit 2
    ;;
  ?*)
    exec "${node_test[@]}" "$@"
    ;;
esac

npx eslint .
npx prettier --check --log-level warn .
bash scripts/typecheck.sh

mapfile -t files < <(find test -name '*.test.ts' -not -name '*.long.test.ts' -not -path 'test/vm/*' | sort)
run_files "${files[@]}"

mapfile -t vm_files < <(find test/vm -name '*.test.ts' -not -path 'test/vm/harness/*' | sort)
[ ${#vm_files[@]} -gt 0 ] || { echo "test: no kernel tests found under test/vm" >&2; exit 1; }
bash test/vm/harness/run-in-vm.sh --mem 2G --cpus 2 --timeout 2100 -- \
  node --import tsx --test --test-concurrency=1 --test-timeout=900000 "${vm_files[@]}"
