#!/usr/bin/env bash
# npm's postinstall: applies the fixes in patches/ to node_modules (patch-package). usocket's
# native addon was compiled by its own install script before its source got the fix, so it is
# compiled again (npm's node-gyp, a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install patch-package
npm rebuild usocket --no-audit --no-fund
