#!/usr/bin/env bash
# Install playwright-core from the lockfile (idempotent), then run one browser scenario against a
# started Castellan:  API=http://127.0.0.1:PORT/api/auth PAGE_PORT=... tests/browser/run.sh cors.mjs
set -euo pipefail
cd "$(dirname "$0")"
STAMP=node_modules/.harness-lock-stamp
if [ ! -f "$STAMP" ] || ! cmp -s package-lock.json "$STAMP"; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$STAMP"
fi
exec node "$@"
