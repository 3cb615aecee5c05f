#!/usr/bin/env bash
# Everything `npm test` runs after set-up: typecheck, the tests on this machine, then the
# kernel tests inside one QEMU VM (../shared/vm). Any part failing fails the run.
#   scripts/test.sh [FILES...]   run only these test files (on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
  # while developing one part: only these files, no typecheck of parts others are editing
  exec node --import tsx --test --test-concurrency=2 "$@"
fi

npx tsc -p tsconfig.test.json
npx tsc -p src/nbd/tsconfig.json  # src/nbd is isomorphic: no DOM, no Node types
npx tsc -p src/browser/tsconfig.json

mapfile -t files < <(find test -name '*.test.ts' -not -path 'test/vm/*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "test: no test files found" >&2; exit 1; }
node --import tsx --test --test-concurrency=2 "${files[@]}"

mapfile -t vm_files < <(find test/vm -name '*.test.ts' 2>/dev/null | sort)
if [ ${#vm_files[@]} -gt 0 ]; then
  vm=../shared/vm/run-in-vm.sh
  [ -f "$vm" ] || { echo "test: $vm is missing: the kernel tests cannot run" >&2; exit 1; }
  bash "$vm" --mem 2G --cpus 2 --timeout 1500 -- node --import tsx --test --test-concurrency=1 "${vm_files[@]}"
fi
