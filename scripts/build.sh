#!/usr/bin/env bash
# Compile the service (tsc → dist/) and bundle the browser page (esbuild → dist/web/static/).
#   scripts/build.sh          everything
#   scripts/build.sh --page   only the page (bundles + static files), for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--page" ] || npx tsc -p tsconfig.json
if [ -f src/browser/main.ts ]; then
  npx esbuild src/browser/main.ts --bundle --platform=browser --format=esm --target=es2022 \
    --outfile=dist/web/static/app.js --log-level=warning
  # the NBD server runs in a classic worker (widest browser support), loaded by app.js
  npx esbuild src/browser/worker.ts --bundle --platform=browser --format=iife --target=es2022 \
    --outfile=dist/web/static/worker.js --log-level=warning
fi
if [ -d src/web/static ]; then
  mkdir -p dist/web/static && cp -r src/web/static/. dist/web/static/
fi
