#!/usr/bin/env bash
# Heap allocations per request on each hot path: a count, not a timing, so it does not move
# with the machine's load the way requests/s and CPU µs do (BENCHMARKS.md). Uprobes on the
# allocator count every allocation the server makes while wrk drives one path; background
# work a path causes (the join write-behind, receipts sent for accepted orders) is counted
# with it. Rust's heap is mimalloc (the `mi_*_aligned` entry points the global allocator
# calls); SQLite allocates through libc's `malloc`, counted apart.
#
# Needs root and `perf` with uprobes (linux-perf); wrk.
#   ./scripts/bench-allocs.sh            # SECONDS_PER_PHASE=3 CONNECTIONS=16
#   STAMPEDE_BIN=/tmp/stampede-before ./scripts/bench-allocs.sh   # another build, to compare
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECONDS_PER_PHASE:-3}
CONNS=${CONNECTIONS:-16}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)"; exit 1; }
if [ -z "${STAMPEDE_BIN:-}" ]; then cargo build --release --locked -p stampede >/dev/null 2>&1; fi
bin=$(realpath "${STAMPEDE_BIN:-${CARGO_TARGET_DIR:-target}/release/stampede}")
libc=$(ldd "$bin" | awk '/libc.so/ {print $3}')
group=stampede_allocs
perf probe -q -d "$group:*" 2>/dev/null || true
for f in mi_malloc_aligned mi_zalloc_aligned mi_realloc_aligned; do perf probe -q -x "$bin" -a "$group:$f=$f"; done
perf probe -q -x "$libc" -a "$group:libc_malloc=malloc"
token="allocs-$RANDOM$RANDOM"
data=$(mktemp -d)
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
trap 'kill "$pid" 2>/dev/null; perf probe -q -d "$group:*" 2>/dev/null; rm -rf "$data"' EXIT
start_stampede "$bin" "$data" --admin-token "$token" --access-log false --order-rate-per-customer 0 --join-rate-per-ip 0
base="http://$addr"
product() {
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' -d "$1" "$base/api/admin/products"
}
product '{"id":"wrk-item","name":"Benchmark slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":4000000000}'
product '{"id":"wrk-gone","name":"Sold-out slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":0}'
product '{"id":"wrk-line","name":"Queued slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":1,"sale":{"waitingRoom":{"admissionMinutes":1,"admissionsPerMinute":1}}}'
wrk -t1 -c"$CONNS" -d1s "$base/healthz" >/dev/null # warm-up

echo "| path | Rust allocations per request | beyond \`/healthz\` | libc (SQLite) allocations per request |"
echo "|---|---|---|---|"
baseline=""
phase() { # label, url, extra wrk args...
  local label=$1 url=$2 counts out n rust c
  shift 2
  counts=$(mktemp)
  perf stat -x, -e "$group:mi_malloc_aligned,$group:mi_zalloc_aligned,$group:mi_realloc_aligned,$group:libc_malloc" \
    -p "$pid" -o "$counts" &
  local stat=$!
  sleep 0.2
  out=$(WRK_RUN="allocs-$RANDOM" wrk -t1 -c"$CONNS" -d"${SECS}s" "$@" "$url")
  sleep 0.2 # what the requests set going (write-behind, receipts) finishes its batch
  kill -INT "$stat"; wait "$stat" || true
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rust=$(awk -F, -v n="$n" '/mi_/ {s += $1} END {printf "%.1f", s / n}' "$counts")
  c=$(awk -F, -v n="$n" '/libc_malloc/ {printf "%.1f", $1 / n}' "$counts")
  rm -f "$counts"
  [ -z "$baseline" ] && baseline=$rust
  echo "| $label | $rust | $(awk -v a="$rust" -v b="$baseline" 'BEGIN {printf "%+.1f", a - b}') | $c |"
}
phase 'baseline `GET /healthz`' "$base/healthz"
phase 'catalog `GET /api/products`' "$base/api/products"
phase 'menu page `GET /`' "$base/"
phase 'product page `GET /products/margherita`' "$base/products/margherita"
WRK_KIND=join phase 'waiting-room join (a new customer each)' "$base/api/products/wrk-line/queue" -s scripts/wrk/new_customers.lua
WRK_PRODUCT=wrk-gone phase 'sold-out refusal' "$base/api/orders" -s scripts/wrk/new_customers.lua
phase 'accepted durable order (with its receipt sent as it goes)' "$base/api/orders" -s scripts/wrk/new_customers.lua
echo
echo "wrk -t1 -c$CONNS, ${SECS} s per phase, uprobes on mimalloc's and libc's allocation entry points, ${STAMPEDE_BIN:+build $bin, }commit $(git rev-parse --short HEAD)"
