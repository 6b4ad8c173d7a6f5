#!/usr/bin/env bash
# Install the deps idempotently (npm ci against the lockfile), then run the SSO scenarios.
#   BASE_URL=http://127.0.0.1:3000 OIDC_ISSUER=... SAML_BASE_URL=... DNS_PORT=... tests/sso-conformance/run.sh
set -euo pipefail
cd "$(dirname "$0")"
STAMP=node_modules/.harness-lock-stamp
if [ ! -f "$STAMP" ] || ! cmp -s package-lock.json "$STAMP"; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$STAMP"
fi
exec node run.mjs "$@"
