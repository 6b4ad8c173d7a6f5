#!/usr/bin/env bash
# Castellan's benchmark, on loopback, with every baseline measured in the same run:
#   - a bare actix-web endpoint (the machine's HTTP ceiling),
#   - the argon2 bound (cores / one argon2id verification),
#   - the Better Auth reference server (../shared/reference-server), when Node is available.
# It measures get-session throughput and p99 at 50 connections (SQLite, then Postgres + Redis)
# and sign-in throughput, and prints each figure with its ratio to the baselines.
#
#   bench/run.sh                 # 10 s per measurement
#   DURATION=20 bench/run.sh
# Needs wrk (apt-get install wrk). Postgres/Redis default to 127.0.0.1; PG_URL and REDIS_URL override.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS_URL:-redis://127.0.0.1:6379}
REF_DIR=${REF_DIR:-$ROOT/../shared/reference-server}
WORK=$(mktemp -d /tmp/castellan-bench.XXXXXX)
PASSWORD="Bench-password-123"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${REF_STARTED:-}" ]; then PORT=3503 PID_FILE=$WORK/ref.pid "$REF_DIR/stop.sh" >/dev/null 2>&1 || true; fi
  psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS castellan_bench WITH (FORCE)' >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
echo "building release binaries..." >&2
cargo build --release -q -p castellan -p castellan-bench
BIN=$ROOT/target/release

source "$ROOT/bench/lib.sh"

# session_cookie BASE -> signs up a fresh user and prints "email cookie"
session_cookie() {
  local base=$1 email="bench-$RANDOM$RANDOM@bench.test"
  local cookie
  cookie=$(curl -fsS -D - -o /dev/null "$base/api/auth/sign-up/email" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"name\":\"Bench\"}" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(better-auth\.session_token=[^;]*\).*/\1/p' | head -1)
  echo "$email $cookie"
}

# bench_server NAME BASE -> sets NAME_gs_rps NAME_gs_p99 NAME_si_rps
bench_server() {
  local name=$1 base=$2
  read -r email cookie < <(session_cookie "$base")
  read -r rps p99 < <(measure "$base/api/auth/get-session" -H "Cookie: $cookie")
  printf -v "${name}_gs_rps" '%s' "$rps"; printf -v "${name}_gs_p99" '%s' "$p99"
  read -r srps _ < <(CONNS=16 BENCH_EMAIL=$email BENCH_PASSWORD=$PASSWORD measure "$base/api/auth/sign-in/email" -s "$ROOT/bench/sign_in.lua")
  printf -v "${name}_si_rps" '%s' "$srps"
}

echo "baseline: bare actix-web" >&2
"$BIN/castellan-bench" bare 3400 & PIDS+=($!)
wait_up http://127.0.0.1:3400/api/auth/ok
read -r bare_rps bare_p99 < <(measure http://127.0.0.1:3400/api/auth/ok)
kill "${PIDS[-1]}"

echo "baseline: argon2 bound" >&2
argon=$("$BIN/castellan-bench" argon2)
verify_ms=$(sed -n 's/.*verify_ms=\([0-9.]*\).*/\1/p' <<<"$argon")
argon_bound=$(sed -n 's/.*bound_per_s=\([0-9.]*\).*/\1/p' <<<"$argon")

common=(HOST=127.0.0.1 RATE_LIMIT=0 CASTELLAN_SECRET=bench-secret-0123456789abcdef EMAIL_VERIFICATION_ON_SIGN_UP=0 RUST_LOG=warn)

echo "castellan on SQLite" >&2
env "${common[@]}" PORT=3501 BASE_URL=http://127.0.0.1:3501 DATABASE_URL="sqlite://$WORK/castellan.db?mode=rwc" \
  MAIL_LOG=$WORK/mail.jsonl "$BIN/castellan" >"$WORK/sqlite.log" 2>&1 & PIDS+=($!)
wait_up http://127.0.0.1:3501/api/auth/ok
bench_server sqlite http://127.0.0.1:3501
kill "${PIDS[-1]}"

pg_state="skipped"
if psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS castellan_bench WITH (FORCE)' >/dev/null 2>&1 &&
   psql "$PG_URL/postgres" -qc 'CREATE DATABASE castellan_bench' >/dev/null 2>&1; then
  echo "castellan on Postgres + Redis" >&2
  env "${common[@]}" PORT=3502 BASE_URL=http://127.0.0.1:3502 DATABASE_URL="$PG_URL/castellan_bench" \
    REDIS_URL="$REDIS" REDIS_PREFIX="bench$RANDOM:" MAIL_LOG=$WORK/mail.jsonl "$BIN/castellan" >"$WORK/pg.log" 2>&1 & PIDS+=($!)
  wait_up http://127.0.0.1:3502/api/auth/ok
  bench_server pg http://127.0.0.1:3502
  kill "${PIDS[-1]}"
  pg_state="ok"
fi

ref_state="skipped"
if [ -x "$REF_DIR/start.sh" ] && command -v node >/dev/null; then
  echo "Better Auth reference server" >&2
  if PORT=3503 RATE_LIMIT=0 FRESH=1 DATA_DIR=$WORK/ref PID_FILE=$WORK/ref.pid "$REF_DIR/start.sh" >"$WORK/ref-start.log" 2>&1; then
    REF_STARTED=1
    bench_server ref http://127.0.0.1:3503
    ref_state="ok"
  fi
fi

echo "authorization benchmark (100k organizations, 1M memberships)" >&2
authz_out=$("$BIN/castellan-bench" authz "sqlite://$WORK/authz.db?mode=rwc")


echo
echo "## Benchmark ($(nproc) cores, median of ${RUNS:-3} runs of ${DURATION}s, wrk -t1 -c$CONNS on the same machine, $(date -u +%F))"
echo
echo "| measurement | req/s | p99 | vs bare actix | vs Better Auth |"
echo "|---|---:|---:|---:|---:|"
echo "| bare actix-web endpoint (ceiling) | $bare_rps | ${bare_p99} ms | 1.0x | |"
if [ "$ref_state" = ok ]; then
  echo "| Better Auth get-session | $ref_gs_rps | ${ref_gs_p99} ms | $(ratio "$ref_gs_rps" "$bare_rps")x | 1.0x |"
fi
echo "| Castellan get-session, SQLite | $sqlite_gs_rps | ${sqlite_gs_p99} ms | $(ratio "$sqlite_gs_rps" "$bare_rps")x | $(ratio "$sqlite_gs_rps" "${ref_gs_rps:-0}")x |"
if [ "$pg_state" = ok ]; then
  echo "| Castellan get-session, Postgres + Redis | $pg_gs_rps | ${pg_gs_p99} ms | $(ratio "$pg_gs_rps" "$bare_rps")x | $(ratio "$pg_gs_rps" "${ref_gs_rps:-0}")x |"
fi
echo
echo "| sign-in (16 connections) | req/s | vs argon2 bound ($argon_bound/s with $(nproc) cores verifying; ${verify_ms} ms per verification on an idle core) |"
echo "|---|---:|---:|"
echo "| Castellan, SQLite | $sqlite_si_rps | $(pct "$sqlite_si_rps" "$argon_bound") |"
[ "$pg_state" = ok ] && echo "| Castellan, Postgres + Redis | $pg_si_rps | $(pct "$pg_si_rps" "$argon_bound") |"
[ "$ref_state" = ok ] && echo "| Better Auth (scrypt) | $ref_si_rps | |"
echo
echo "### Authorization (casbin, SQLite, 100k organizations and 1M memberships; working set of 5k organizations)"
echo
echo '```'
echo "$authz_out"
echo '```'
exit 0
