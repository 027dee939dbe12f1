#!/usr/bin/env bash
# Where the machine's time goes while wrk drives GET /healthz and then accepted orders
# against one fresh release server: per phase, the rate and its ratio to /healthz, the CPU µs
# per request of the server and of wrk (from /proc), the loopback network's softirq time per
# request (counted in /proc/stat, in neither process), the machine's idle and I/O-wait share,
# and each server thread's share of a core. Rates tell what a path achieves; this tells
# whether it is bound by CPU (no idle left), by one thread (a thread near 100 %) or by
# waiting (idle and iowait with no thread saturated). BENCHMARKS.md, "What bounds accepted
# orders", was written from it.
#
#   ./scripts/bench-machine-share.sh [EXTRA SERVER ARGS...]   # ROUNDS=2 SECONDS_PER_PHASE=6
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
SECS=${SECONDS_PER_PHASE:-6}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release --locked -p stampede >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/stampede
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

threads() { # "tid name jiffies" per server thread
  for t in /proc/"$pid"/task/*; do echo "${t##*/} $(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done
}

phase() { # name, url, extra wrk args...
  local name=$1 url=$2; shift 2
  local cpu0 cpu1 stat0 stat1 n
  cpu0=$(awk '{print $14 + $15}' /proc/"$pid"/stat)
  stat0=$(head -1 /proc/stat)
  threads >"$work/threads0"
  /usr/bin/time -f "%U %S" -o "$work/wrk-time" wrk -t2 -c256 -d"${SECS}s" --latency "$@" "$url" >"$work/wrk-out"
  cpu1=$(awk '{print $14 + $15}' /proc/"$pid"/stat)
  stat1=$(head -1 /proc/stat)
  threads >"$work/threads1"
  n=$(awk '/requests in/ {print $1}' "$work/wrk-out")
  rate=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk-out")
  [ "$name" = healthz ] && healthz=$rate
  # /proc/stat's first line: user nice system idle iowait irq softirq steal, in ticks.
  echo "$stat0 $stat1" | awk -v round="$round" -v name="$name" -v rate="$rate" -v base="$healthz" -v n="$n" \
    -v server="$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN {print (b - a) * 1e4 / n}')" \
    -v wrk="$(awk -v n="$n" '{print ($1 + $2) * 1e6 / n}' "$work/wrk-time")" \
    -v p99="$(awk '$1 == "99%" {print $2}' "$work/wrk-out")" \
    -v threads="$(awk -v s="$SECS" '
        NR == FNR { before[$1] = $3; next }    # threads0; a thread started since counts from 0
        { share[$2] += ($3 - before[$1]) / s } # jiffies are 10 ms: / s gives % of a core
        END { for (t in share) if (share[t] >= 1) printf "%s %.0f%%, ", t, share[t]; }' \
        "$work/threads0" "$work/threads1" | sed 's/, $//')" '
    { h = NF / 2; for (i = 2; i <= 9; i++) { d[i] = $(i + h) - $i; all += d[i] } }
    END {
      # A tick is 10 ms: d[8] (softirq) * 1e4 / n is µs per request.
      printf "| %d | %s | %.0f/s (%.2f) | %.1f | %.1f | %.1f | %.0f%% + %.0f%% | %s | %s |\n", round, name, rate, rate / base,
        server, wrk, d[8] * 1e4 / n, d[5] / all * 200, d[6] / all * 200, p99, threads
    }'
}

echo "| round | phase | rate (ratio to /healthz) | server µs/req | wrk µs/req | softirq µs/req | idle + iowait (of 200 %) | p99 | server threads (% of a core) |"
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
  rm -rf "$data"
done
echo
echo "wrk -t2 -c256, ${SECS} s per phase, commit $(git rev-parse --short HEAD), $(nproc) cores"
