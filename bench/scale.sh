#!/usr/bin/env bash
# Org-scoped requests at scale, on Postgres + Redis: each endpoint measured on a database seeded
# with 1k users and with 1M users (`castellan-bench seed`), with its baselines from the same run:
#   - the bare actix-web ceiling, driven by the same wrk script;
#   - Castellan's own get-session (has-permission and set-active are held to half of it);
#   - the Better Auth reference server (../shared/reference-server) on the same requests, on a
#     small database (it has no bulk import; its organization has only its owner);
#   - the argon2 bound for sign-in.
# Then the query plans of the hot endpoints at the largest size, through Postgres's auto_explain:
# any sequential scan of a large table is reported.
#
#   bench/scale.sh                       # SIZES="1000 1000000", 10 s x 3 runs per figure
#   SIZES="1000 100000" DURATION=5 bench/scale.sh
# Needs wrk. PG_URL and REDIS_URL override the local Postgres and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source "$ROOT/bench/lib.sh"
export DURATION=${DURATION:-10} RUNS=${RUNS:-3} CONNS=${CONNS:-50}
SIZES=${SIZES:-"1000 1000000"}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS_URL:-redis://127.0.0.1:6379}
REF_DIR=${REF_DIR:-$ROOT/../shared/reference-server}
PG_LOG=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
WORK=$(mktemp -d /tmp/castellan-scale.XXXXXX)
PIDS=()
DBS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${REF_STARTED:-}" ]; then PORT=3513 PID_FILE=$WORK/ref.pid "$REF_DIR/stop.sh" >/dev/null 2>&1 || true; fi
  for db in "${DBS[@]}"; do psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
echo "building release binaries..." >&2
cargo build --release -q -p castellan -p castellan-bench
BIN=$ROOT/target/release
LUA=$ROOT/bench/request.lua

json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# sign_in BASE EMAIL PASSWORD COUNT -> COUNT session cookies, space-separated
sign_in() {
  local base=$1 email=$2 password=$3 count=$4 out=()
  for _ in $(seq 1 "$count"); do
    out+=("$(curl -fsS -D - -o /dev/null "$base/api/auth/sign-in/email" -H 'content-type: application/json' \
      -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
      tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(better-auth\.session_token=[^;]*\).*/\1/p' | head -1)")
  done
  echo "${out[*]}"
}

# hit NAME BASE METHOD PATH BODY COOKIES -> sets NAME_rps and NAME_p99. Each request takes the
# next of COOKIES, so load spreads over many sessions as it does in production.
hit() {
  local name=$1 base=$2 method=$3 path=$4 body=$5 cookies=$6 rps p99
  read -r rps p99 < <(METHOD=$method BODY=$body COOKIES=$cookies measure "$base/api/auth$path" -s "$LUA" \
    -H "Origin: $base")
  printf -v "${name}_rps" '%s' "$rps"; printf -v "${name}_p99" '%s' "$p99"
  echo "  $name: $rps req/s, p99 $p99 ms" >&2
}

# endpoints PREFIX BASE SMALL_ORG BIG_ORG COOKIES_SMALL COOKIES_BIG EMAIL PASSWORD: the measured set
endpoints() {
  local p=$1 base=$2 small=$3 big=$4 cs=$5 cb=$6 email=$7 password=$8
  hit "${p}_gs" "$base" GET /get-session "" "$cs"
  hit "${p}_hp" "$base" POST /organization/has-permission \
    "{\"organizationId\":\"$small\",\"permissions\":{\"member\":[\"create\"]}}" "$cs"
  hit "${p}_sa" "$base" POST /organization/set-active "{\"organizationId\":\"$small\"}" "$cs"
  hit "${p}_lm" "$base" GET "/organization/list-members?organizationId=$small&limit=100" "" "$cs"
  if [ -n "$big" ]; then
    hit "${p}_lmfirst" "$base" GET "/organization/list-members?organizationId=$big&limit=100" "" "$cb"
    hit "${p}_lmbig" "$base" GET "/organization/list-members?organizationId=$big&limit=100&offset=5000" "" "$cb"
  fi
  hit "${p}_gfo" "$base" GET "/organization/get-full-organization?organizationId=$small" "" "$cs"
  hit "${p}_lui" "$base" GET /organization/list-user-invitations "" "$cs"
  local rps p99
  read -r rps p99 < <(CONNS=16 BENCH_EMAIL=$email BENCH_PASSWORD=$password measure "$base/api/auth/sign-in/email" \
    -s "$ROOT/bench/sign_in.lua")
  printf -v "${p}_si_rps" '%s' "$rps"; printf -v "${p}_si_p99" '%s' "$p99"
  echo "  ${p}_si: $rps req/s" >&2
}

common=(HOST=127.0.0.1 RATE_LIMIT=0 CASTELLAN_SECRET=bench-secret-0123456789abcdef EMAIL_VERIFICATION_ON_SIGN_UP=0
  RUST_LOG=warn RUN_MIGRATIONS=1 MAIL_LOG=$WORK/mail.jsonl)

start_castellan() { # DB PORT LOG
  env "${common[@]}" PORT="$2" BASE_URL="http://127.0.0.1:$2" DATABASE_URL="$PG_URL/$1" REDIS_URL="$REDIS" \
    REDIS_PREFIX="scale$RANDOM:" "$BIN/castellan" >"$3" 2>&1 & PIDS+=($!)
  wait_up "http://127.0.0.1:$2/api/auth/ok"
}

echo "baseline: argon2 bound" >&2
argon_bound=$("$BIN/castellan-bench" argon2 | sed -n 's/.*bound_per_s=\([0-9.]*\).*/\1/p')

echo "baseline: bare actix-web, through the same wrk script" >&2
"$BIN/castellan-bench" bare 3410 & PIDS+=($!)
wait_up http://127.0.0.1:3410/api/auth/ok
read -r bare_rps bare_p99 < <(METHOD=GET COOKIES="better-auth.session_token=x" measure http://127.0.0.1:3410/api/auth/ok -s "$LUA")
kill "${PIDS[-1]}"
echo "  bare: $bare_rps req/s, p99 $bare_p99 ms" >&2

largest=""
for size in $SIZES; do
  db=castellan_scale_$size
  DBS+=("$db")
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  psql "$PG_URL/postgres" -qc "CREATE DATABASE $db" >/dev/null
  echo "seeding $size users" >&2
  summary=$("$BIN/castellan-bench" seed "$PG_URL/$db" --users "$size")
  small=$(json smallOrg <<<"$summary"); big=$(json bigOrg <<<"$summary")
  small_owner=$(json smallOwner <<<"$summary"); big_owner=$(json bigOwner <<<"$summary")
  password=$(json password <<<"$summary"); big_members=$(json bigOrgMembers <<<"$summary")
  printf -v "s${size}_small_members" '%s' "$(json smallOrgMembers <<<"$summary")"
  printf -v "s${size}_big_members" '%s' "$big_members"
  start_castellan "$db" 3511 "$WORK/castellan-$size.log"
  base=http://127.0.0.1:3511
  cs=$(sign_in "$base" "$small_owner" "$password" 50)
  cb=$(sign_in "$base" "$big_owner" "$password" 50)
  # The 10k-member page is measured where such an organization exists.
  [ "$big_members" -ge 10000 ] || big=""
  echo "castellan, $size users" >&2
  endpoints "s$size" "$base" "$small" "$big" "$cs" "$cb" "$small_owner" "$password"
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  largest=$size; largest_small=$small; largest_big=$big; largest_small_owner=$small_owner; largest_big_owner=$big_owner
  largest_password=$password
done

ref_state=skipped
if [ -x "$REF_DIR/start.sh" ] && command -v node >/dev/null; then
  echo "Better Auth reference server" >&2
  if PORT=3513 RATE_LIMIT=0 FRESH=1 DATA_DIR=$WORK/ref PID_FILE=$WORK/ref.pid "$REF_DIR/start.sh" >"$WORK/ref-start.log" 2>&1; then
    REF_STARTED=1
    rbase=http://127.0.0.1:3513
    remail=bench-owner@bench.test
    curl -fsS -o /dev/null "$rbase/api/auth/sign-up/email" -H 'content-type: application/json' -H "Origin: $rbase" \
      -d "{\"email\":\"$remail\",\"password\":\"$largest_password\",\"name\":\"Owner\"}"
    rcs=$(sign_in "$rbase" "$remail" "$largest_password" 50)
    rorg=$(curl -fsS "$rbase/api/auth/organization/create" -H 'content-type: application/json' -H "Origin: $rbase" \
      -H "Cookie: ${rcs%% *}" -d '{"name":"Bench","slug":"bench-org"}' | json id)
    endpoints ref "$rbase" "$rorg" "" "$rcs" "" "$remail" "$largest_password"
    ref_state=ok
  fi
fi

# Query plans at the largest size: auto_explain logs the plan of every statement Castellan
# runs while each endpoint is called a few times; a sequential scan of a big table is a finding.
explain_state=skipped
if [ -n "$largest" ] && [ -r "$PG_LOG" ]; then
  echo "query plans at $largest users (auto_explain)" >&2
  db=castellan_scale_$largest
  psql "$PG_URL/postgres" -qc "ALTER DATABASE $db SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE $db SET auto_explain.log_min_duration = 0" >/dev/null
  log_from=$(stat -c %s "$PG_LOG")
  start_castellan "$db" 3512 "$WORK/castellan-explain.log"
  ebase=http://127.0.0.1:3512
  ecs=$(sign_in "$ebase" "$largest_small_owner" "$largest_password" 1)
  ecb=$(sign_in "$ebase" "$largest_big_owner" "$largest_password" 1)
  call() { curl -fsS -o /dev/null -X "$1" "$ebase/api/auth$2" -H "Origin: $ebase" -H "Cookie: $3" \
    ${4:+-H 'content-type: application/json' -d "$4"} || echo "warning: $1 $2 failed" >&2; }
  for _ in 1 2 3; do
    call GET /get-session "$ecs"
    call POST /organization/has-permission "$ecs" "{\"organizationId\":\"$largest_small\",\"permissions\":{\"member\":[\"create\"]}}"
    call POST /organization/set-active "$ecs" "{\"organizationId\":\"$largest_small\"}"
    call GET "/organization/list-members?organizationId=$largest_small&limit=100" "$ecs"
    [ -z "$largest_big" ] || call GET "/organization/list-members?organizationId=$largest_big&limit=100&offset=5000" "$ecb"
    call GET "/organization/get-full-organization?organizationId=$largest_small" "$ecs"
    call GET /organization/list-user-invitations "$ecs"
  done
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  tail -c +"$((log_from + 1))" "$PG_LOG" >"$WORK/plans.log"
  plans=$(grep -c 'Query Text:' "$WORK/plans.log" || true)
  # Tables of more than 10k rows; a sequential scan of a small one is the planner's right call.
  large=$(psql "$PG_URL/$db" -Atc "SELECT string_agg(relname, '|') FROM pg_class WHERE relkind = 'r' AND reltuples > 10000")
  seq_scans=$(grep -oE "Seq Scan on \"?($large)\"? " "$WORK/plans.log" | sort | uniq -c || true)
  explain_state=ok
fi

row() { # LABEL NAME_rps NAME_p99 [1k counterpart]
  local label=$1 rps=${!2:-} p99=${!3:-} small=${4:-}
  [ -n "$rps" ] || return 0
  local growth=""
  [ -n "$small" ] && [ -n "${!small:-}" ] && growth="$(ratio "$rps" "${!small}")x"
  echo "| $label | $rps | $p99 ms | $(ratio "$rps" "$bare_rps")x | $growth |"
}

echo
echo "## Org-scoped requests at scale ($(nproc) cores, Postgres + Redis, median of $RUNS runs of ${DURATION}s, wrk -t1 -c$CONNS through bench/request.lua, $(date -u +%F))"
echo
echo "Bare actix-web ceiling through the same script: $bare_rps req/s, p99 $bare_p99 ms. Argon2 bound: $argon_bound sign-ins/s."
echo
first=${SIZES%% *}
for size in $SIZES; do
  s="s$size"
  sm="s${size}_small_members"; bm="s${size}_big_members"
  echo "### $size users (small organization: ${!sm} members; largest: ${!bm})"
  echo
  echo "| endpoint | req/s | p99 | vs bare actix | vs $first users |"
  echo "|---|---:|---:|---:|---:|"
  for e in gs:get-session hp:has-permission sa:set-active lm:"list-members (small org, 100-row page)" \
           lmfirst:"list-members (largest org, first 100 rows)" \
           lmbig:"list-members (largest org, 100 rows at offset 5000)" gfo:get-full-organization \
           lui:list-user-invitations; do
    key=${e%%:*}; label=${e#*:}
    counterpart=""; [ "$size" != "$first" ] && counterpart="s${first}_${key}_rps"
    row "$label" "${s}_${key}_rps" "${s}_${key}_p99" "$counterpart"
  done
  gs="${s}_gs_rps"; hp="${s}_hp_rps"; sa="${s}_sa_rps"
  echo "| has-permission, share of get-session's throughput | $(pct "${!hp}" "${!gs}") | | | |"
  echo "| set-active, share of get-session's throughput | $(pct "${!sa}" "${!gs}") | | | |"
  si="${s}_si_rps"
  echo "| sign-in (16 connections) | ${!si} | | $(pct "${!si}" "$argon_bound") of the argon2 bound | |"
  echo
done
if [ "$ref_state" = ok ]; then
  echo "### Better Auth reference server (SQLite, 1 user, a 1-member organization)"
  echo
  echo "| endpoint | Better Auth req/s | p99 | Castellan at $largest users, vs Better Auth |"
  echo "|---|---:|---:|---:|"
  for e in gs:get-session hp:has-permission sa:set-active lm:list-members gfo:get-full-organization lui:list-user-invitations si:sign-in; do
    key=${e%%:*}; label=${e#*:}; r="ref_${key}_rps"; rp="ref_${key}_p99"; c="s${largest}_${key}_rps"
    echo "| $label | ${!r} | ${!rp:-} ms | $(ratio "${!c}" "${!r}")x |"
  done
  echo
fi
if [ "$explain_state" = ok ]; then
  echo "### Query plans at $largest users"
  echo
  echo "$plans plans logged by auto_explain while the endpoints above ran three times each (with the"
  echo "background workers' polls). Tables of more than 10k rows: ${large//|/, }."
  if [ -n "$seq_scans" ]; then echo "Sequential scans of them:"; echo '```'; echo "$seq_scans"; echo '```'; else echo "No sequential scan of any of them."; fi
fi
