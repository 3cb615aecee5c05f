#!/usr/bin/env bash
# The three TypeScript projects: Node code with its tests and benches, the isomorphic NBD
# module (no DOM, no Node types) and the browser page (DOM, no Node types).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.test.json
npx tsc -p src/nbd/tsconfig.json
npx tsc -p src/browser/tsconfig.json
