#!/usr/bin/env bash
# Compile the service (tsc → dist/) and bundle the browser page (esbuild → dist/web/static/).
#   scripts/build.sh          everything (the gateway's page too: scripts/build-gateway-page.sh)
#   scripts/build.sh --page [DIR]   only the page (bundles + static files), for the browser tests;
#                                   into DIR instead of dist/web/static/ for scripts/bundle.ts
set -euo pipefail
cd "$(dirname "$0")/.."
page_dir="${2:-dist/web/static}"
[ "${1:-}" = "--page" ] || npx tsc -p tsconfig.json
if [ -f src/browser/main.ts ]; then
  npx esbuild src/browser/main.ts --bundle --platform=browser --format=esm --target=es2022 \
    --outfile="$page_dir/app.js" --log-level=warning
  # the NBD server runs in a classic worker (widest browser support), loaded by app.js
  npx esbuild src/browser/worker.ts --bundle --platform=browser --format=iife --target=es2022 \
    --outfile="$page_dir/worker.js" --log-level=warning
fi
if [ -d src/web/static ]; then
  mkdir -p "$page_dir" && cp -r src/web/static/. "$page_dir/"
fi
[ "${1:-}" = "--page" ] || bash scripts/build-gateway-page.sh
