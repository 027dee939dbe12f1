#!/usr/bin/env bash
# Hot paths measured with wrk, a load generator independent of `stampede loadtest`: each
# path's requests/s as a ratio to GET /healthz in the same round, median of ROUNDS rounds,
# printed as a Markdown table for BENCHMARKS.md. The server, wrk and the machine's other work
# share the cores, so only the ratios mean anything.
#
#   ./scripts/bench-wrk.sh            # ROUNDS=3 SECONDS_PER_PHASE=8 CONNECTIONS=256 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_PHASE:-8}
CONNS=${CONNECTIONS:-256}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release --locked -p stampede >/dev/null
bin=target/release/stampede
token="bench-$RANDOM$RANDOM"
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
declare -A rates p99s
phases=(healthz catalog catalog_304 menu product orders)

run_phase() { # name, url, extra wrk args...
  local name=$1 url=$2; shift 2
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url")
  rates[$name,$round]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99s[$name,$round]=$(awk '$1 == "99%" {print $2}' <<<"$out")
}

for round in $(seq 1 "$ROUNDS"); do
  data=$(mktemp -d)
  start_stampede "$bin" "$data" --admin-token "$token" --access-log false --order-rate-per-customer 0
  base="http://$addr"
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"id":"wrk-item","name":"Benchmark slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":4000000000}' \
    "$base/api/admin/products"
  etag=$(curl -sI "$base/api/products" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
  wrk -t2 -c"$CONNS" -d2s "$base/healthz" >/dev/null # warm-up
  run_phase healthz "$base/healthz"
  run_phase catalog "$base/api/products"
  run_phase catalog_304 "$base/api/products" -H "If-None-Match: $etag"
  run_phase menu "$base/"
  run_phase product "$base/products/margherita"
  run_phase orders "$base/api/orders" -s scripts/wrk/orders.lua
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
label() {
  case $1 in
    healthz) echo 'baseline `GET /healthz`' ;;
    catalog) echo 'catalog `GET /api/products`' ;;
    catalog_304) echo 'catalog revalidated (`If-None-Match` → 304)' ;;
    menu) echo 'menu page `GET /`' ;;
    product) echo 'product page `GET /products/margherita`' ;;
    orders) echo 'accepted durable orders `POST /api/orders`' ;;
  esac
}
echo "| path | req/s (median) | ratio to /healthz (median of rounds) | p99 (median) |"
echo "|---|---|---|---|"
for phase in "${phases[@]}"; do
  rs=(); ratios=(); ps=()
  for round in $(seq 1 "$ROUNDS"); do
    rs+=("${rates[$phase,$round]}")
    ratios+=("$(awk -v a="${rates[$phase,$round]}" -v b="${rates[healthz,$round]}" 'BEGIN {printf "%.2f", a / b}')")
    ps+=("${p99s[$phase,$round]}")
  done
  printf '| %s | %.0f | %s | %s |\n' "$(label "$phase")" "$(printf '%s\n' "${rs[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)" "$(printf '%s\n' "${ps[@]}" | sort -V | sed -n "$(( (ROUNDS + 1) / 2 ))p")"
done
echo
echo "wrk -t2 -c$CONNS, ${SECS} s per phase, $ROUNDS rounds, commit $(git rev-parse --short HEAD), $(nproc) cores"
