#!/bin/bash
t() { local s=$(date +%s.%N); "$@" > /run/out.txt 2>&1; local rc=$?; echo "rc=$rc $(echo "$(date +%s.%N) - $s" | bc) s: $*"; tail -2 /run/out.txt | cut -c1-200; }
t timeout 120 node dist/cli/main.js --help
t timeout 120 node -e "await import('express'); await import('pino'); await import('dbus-next'); await import('ajv'); console.log('ok')" --input-type=module
t timeout 120 node --import tsx -e "console.log('ok')"
t timeout 120 node --import tsx -e "await import('./src/cli/daemon.ts'); console.log('ok')"
t timeout 120 node --import tsx -e "await import('./src/cli/daemon.ts'); console.log('ok')"
