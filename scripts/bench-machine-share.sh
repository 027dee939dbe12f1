#!/usr/bin/env bash
# Where the machine's time goes while wrk drives GET /healthz and then accepted orders
# against a fresh release server each round: per phase, the rate and its ratio to /healthz,
# the CPU µs per request of the server (from /proc) and of wrk (from GNU time), the whole
# machine's busy µs per request and its idle and I/O-wait share (from /proc/stat), the p99,
# and each server thread's share of a core. Rates tell what a path achieves; this tells
# whether it is bound by CPU (no idle left) or by one thread: one near 100 % of a core, or one
# that is busy all the phase partly waiting for I/O, which shows as I/O wait beside a thread
# well under 100 % (the order writer's case). A phase with answers other than 2xx, or socket
# errors, stops the script: its rate would not be the path's. BENCHMARKS.md, "What bounds
# accepted orders", was written from it.
#
#   ./scripts/bench-machine-share.sh [EXTRA SERVER ARGS...]   # ROUNDS=2 SECONDS_PER_PHASE=6
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
SECS=${SECONDS_PER_PHASE:-6}
# Every online CPU, as /proc/stat's "cpu" line sums them (nproc follows the affinity mask).
CORES=$(grep -c '^cpu[0-9]' /proc/stat)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
/usr/bin/time --version 2>&1 | grep -q GNU || { echo "GNU time is not installed (apt-get install time)"; exit 1; }
cargo build --release --locked -p stampede >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/stampede
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
work=$(mktemp -d)
pid="" data=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work" "$data"' EXIT

# Each thread's share of a core over the phase, busiest first; threads under 1 % left out.
thread_shares() {
  awk -v s="$SECS" '
    NR == FNR { before[$1] = $3; next }    # the first file; a thread started since counts from 0
    { pct = ($3 - before[$1]) / s; if (pct >= 1) printf "%.0f %s\n", pct, $2 }
  ' "$work/threads0" "$work/threads1" | sort -rn | awk '{printf "%s%s %s%%", (NR > 1 ? ", " : ""), $2, $1}'
}

phase() { # name, url, extra wrk args...
  local name=$1 url=$2; shift 2
  local cpu0 cpu1 stat0 stat1 n rate
  cpu0=$(awk '{print $14 + $15}' /proc/"$pid"/stat)
  stat0=$(head -1 /proc/stat)
  server_threads >"$work/threads0"
  /usr/bin/time -f "%U %S" -o "$work/wrk-time" wrk -t2 -c256 -d"${SECS}s" --latency "$@" "$url" >"$work/wrk-out"
  cpu1=$(awk '{print $14 + $15}' /proc/"$pid"/stat)
  stat1=$(head -1 /proc/stat)
  server_threads >"$work/threads1"
  # Every answer must be the one the phase measures: a 2xx.
  if grep -qE 'Non-2xx|Socket errors' "$work/wrk-out"; then
    echo "$name: $(grep -E 'Non-2xx|Socket errors' "$work/wrk-out")" >&2
    exit 1
  fi
  n=$(awk '/requests in/ {print $1}' "$work/wrk-out")
  rate=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk-out")
  if [ "$name" = healthz ]; then healthz=$rate; fi
  # /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ..., in 10 ms
  # ticks over all cores. Busy is everything but idle and iowait; a tick is 1e4 µs.
  echo "$stat0 $stat1" | awk -v round="$round" -v name="$name" -v rate="$rate" -v base="$healthz" -v n="$n" \
    -v cores="$CORES" -v p99="$(awk '$1 == "99%" {print $2}' "$work/wrk-out")" -v threads="$(thread_shares)" \
    -v server="$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN {print (b - a) * 1e4 / n}')" \
    -v wrk="$(awk -v n="$n" '{print ($1 + $2) * 1e6 / n}' "$work/wrk-time")" '
    { h = NF / 2; for (i = 2; i <= 9; i++) { d[i] = $(i + h) - $i; all += d[i] } }
    END {
      printf "| %d | %s | %.0f/s (%.2f) | %.1f | %.1f | %.1f | %.0f%% + %.0f%% | %s | %s |\n", round, name, rate,
        rate / base, server, wrk, (all - d[5] - d[6]) * 1e4 / n, d[5] / all * 100 * cores,
        d[6] / all * 100 * cores, p99, threads
    }'
}

echo "| round | phase | rate (ratio to /healthz) | server µs/req | wrk µs/req | machine busy µs/req | idle + I/O wait (of $((CORES * 100)) %) | p99 | server threads (% of a core) |"
echo "|---|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  data=$(mktemp -d)
  token="share-$RANDOM$RANDOM"
  start_stampede "$bin" "$data" --admin-token "$token" --access-log false --order-rate-per-customer 0 "$@"
  base="http://$addr"
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"id":"wrk-item","name":"Benchmark slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":4000000000}' \
    "$base/api/admin/products"
  wrk -t2 -c256 -d2s "$base/healthz" >/dev/null # warm-up
  phase healthz "$base/healthz"
  WRK_RUN="share-$round" phase orders "$base/api/orders" -s scripts/wrk/new_customers.lua
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  rm -rf "$data"
done
echo
echo "wrk -t2 -c256, ${SECS} s per phase, commit $(git rev-parse --short HEAD), $CORES cores"
