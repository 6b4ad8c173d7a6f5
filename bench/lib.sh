# Shared by bench/run.sh and bench/scale.sh: waiting for a server, and wrk measurements taken
# as the median of RUNS runs. Sourced, not run.

wait_up() { for _ in $(seq 1 600); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }

# to_ms "1.23ms" -> 1.23
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure URL [extra wrk args...] -> "rps p99_ms": the median of RUNS runs. wrk runs one
# thread, so on a small machine the load generator leaves the server a core of its own.
measure() {
  local url=$1; shift
  local rpss=() p99s=() out
  # A second of warm-up, not counted: caches fill and connections open.
  wrk -t1 -c"${CONNS:-50}" -d1s "$@" "$url" >/dev/null
  for _ in $(seq 1 "${RUNS:-3}"); do
    out=$(wrk -t1 -c"${CONNS:-50}" -d"${DURATION:-10}s" --latency "$@" "$url")
    if grep -q Non-2xx <<<"$out"; then echo "warning: non-2xx answers from $url" >&2; fi
    rpss+=("$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")")
    p99s+=("$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")")
  done
  echo "$(median "${rpss[@]}") $(median "${p99s[@]}")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
