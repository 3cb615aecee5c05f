#!/usr/bin/env bash
# Bundle the gateway's page (esbuild): app.js, its sha256 worker, the BMC page's app.css it builds
# on, and its own static files, into DIR (default dist/gateway/page/static/, where
# `vmedia gateway` serves it from; scripts/bundle.ts passes the bundle's).
#   scripts/build-gateway-page.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/gateway/page/static}"
npx esbuild src/browser/gateway/main.ts --bundle --platform=browser --format=esm --target=es2022 \
  --outfile="$out/app.js" --log-level=warning
# a classic worker, as the BMC page's (widest browser support)
npx esbuild src/browser/gateway/hash-worker.ts --bundle --platform=browser --format=iife --target=es2022 \
  --outfile="$out/hash-worker.js" --log-level=warning
cp src/web/static/app.css "$out/app.css"
cp -r src/gateway/page/static/. "$out/"
