#!/usr/bin/env bash
# schemathesis (PyPI) against the OpenAPI document of a started Castellan: every operation gets
# a bounded number of generated requests, signed in as a real user (Bearer), and the run fails
# on any 5xx, any response that violates the document, or any request that hangs (timeout).
#   tests/schemathesis/run.sh [path/to/castellan]     (default: target/debug/castellan)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/debug/castellan}"
venv=target/schemathesis-venv
version=4.32.5
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
origin="http://127.0.0.1:$port"
# A social provider is configured (on a closed port) so its routes are fuzzed past "no such
# provider"; rate limiting is off because every request comes from one address.
PORT=$port BASE_URL=$origin DATABASE_URL="sqlite://$work/c.db?mode=rwc" MAIL_LOG="$work/mail.jsonl" \
  CASTELLAN_SECRET=schemathesis-secret-0123456789abcdef RATE_LIMIT=0 RUST_LOG=warn \
  GITHUB_CLIENT_ID=fuzz GITHUB_CLIENT_SECRET=fuzz GITHUB_URL=http://127.0.0.1:9 GITHUB_API_URL=http://127.0.0.1:9 \
  "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "$origin/api/auth/ok" >/dev/null && break; sleep 0.1; done
token=$(curl -sf -H 'content-type: application/json' "$origin/api/auth/sign-up/email" \
  -d '{"email":"fuzz@schemathesis.test","password":"Fuzz-password-123","name":"Fuzz"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$venv/bin/schemathesis" run "$origin/api/auth/open-api/generate-schema" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --request-timeout 10 --workers 2 --seed 1 \
  -H "Authorization: Bearer $token"
# The server survived the run.
curl -sf "$origin/api/auth/ok" >/dev/null
