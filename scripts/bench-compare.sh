#!/usr/bin/env bash
# Two builds side by side: for ROUNDS rounds, each build in turn gets a fresh release server
# and wrk drives GET /healthz, sold-out refusals, waiting-room joins and accepted orders
# (scripts/wrk/new_customers.lua) for SECONDS_PER_PHASE each. Prints per round and build each
# path's rate, its ratio to /healthz, the server's CPU µs per request (from /proc) and, for
# accepted orders, the p99. Alternating the builds lets a shared machine's drift hit both
# alike; with one run each, a difference smaller than that drift cannot be told apart.
#
# A build from before waiting rooms (the first stage, `b95abfe`) is compared without the join
# phases: their cells say `—`. PHASES picks the phases (`/healthz`, the baseline, always runs
# first); `catalog` is `GET /api/products` (plain JSON), `menu` and `product` the storefront's
# menu page and a product page, `post404` the floor under a join: the same requests to a
# product that does not exist (the body read and parsed, the customer checked, a `404`
# problem written, no join), `rejoin` the join's requests from one customer (after the first,
# each is answered with the ticket held: its signature checked, nothing signed, recorded or
# written). Each cell also gives the CPU per request of the SQLite writer and checkpointer
# threads, part of the server's (`db`): what a join's durable write costs beside the request's
# own threads (the checkpointer runs on a timer, and a write-behind still running when wrk
# stops is counted in the next phase). A phase with answers other than 2xx (but the refusals
# `sold_out` and `post404` measure) or socket errors says how many in its cell: its rate is
# not the path's.
#
#   ./scripts/bench-compare.sh OLD_BINARY NEW_BINARY     # ROUNDS=3 SECONDS_PER_PHASE=5
#   PHASES="menu product" ./scripts/bench-compare.sh OLD_BINARY NEW_BINARY
#   ACCESS_LOG=true ./scripts/bench-compare.sh OLD_BINARY NEW_BINARY  # the access log on (off by default)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY"; exit 2; }
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_PHASE:-5}
ACCESS_LOG=${ACCESS_LOG:-false}
read -r -a phases <<<"healthz ${PHASES:-sold_out join orders}"

# A phase's column heading; an unknown phase stops the script before any server starts.
label() {
  case $1 in
    healthz) echo '`/healthz`' ;;
    sold_out) echo 'sold-out refusal' ;;
    join) echo 'join' ;;
    orders) echo 'accepted order' ;;
    catalog) echo 'catalog' ;;
    menu) echo 'menu page' ;;
    product) echo 'product page' ;;
    post404) echo 'POST answered `404`' ;;
    rejoin) echo 're-join' ;;
    *) echo "unknown phase $1 in PHASES (sold_out join rejoin orders catalog menu product post404)" >&2; exit 2 ;;
  esac
}
header="| round | build |"
for phase in "${phases[@]}"; do
  header+=" $(label "$phase") |" || exit 2
done
[[ " ${phases[*]} " == *" orders "* ]] && header+=" accepted p99 |"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh

# CPU ticks (10 ms) of the server's SQLite writer and checkpointer threads so far.
db_ticks() {
  server_threads | awk '$2 ~ /^stampede-(writer|checkp)/ {total += $3} END {print total + 0}'
}

one_build() { # binary, label
  local token="cmp-$RANDOM$RANDOM" data base line c0 c1 d0 d1 out n rate healthz="" p99="" rooms=() products=()
  data=$(mktemp -d)
  products=(
    '{"id":"wrk-item","name":"Benchmark slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":4000000000}'
    '{"id":"wrk-gone","name":"Sold-out slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":0}'
  )
  # Waiting rooms (#14) came with --join-rate-per-ip: a build without it has no join phase.
  if grep -q -- --join-rate-per-ip <<<"$("$1" serve --help)"; then
    rooms=(--join-rate-per-ip 0 --join-rate-per-customer 0)
    products+=('{"id":"wrk-line","name":"Queued slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":1,"sale":{"waitingRoom":{"admissionMinutes":1,"admissionsPerMinute":1}}}')
  fi
  start_stampede "$1" "$data" --admin-token "$token" --access-log "$ACCESS_LOG" --order-rate-per-customer 0 \
    ${rooms[@]+"${rooms[@]}"}
  base="http://$addr"
  for body in "${products[@]}"; do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' -d "$body" \
      "$base/api/admin/products"
  done
  wrk -t2 -c256 -d2s "$base/healthz" >/dev/null # warm-up
  line="| $round | $2 |"
  for phase in "${phases[@]}"; do
    if [[ $phase == *join ]] && [ ${#rooms[@]} = 0 ]; then
      line+=" — |"
      continue
    fi
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    d0=$(db_ticks)
    case $phase in
      healthz) out=$(wrk -t2 -c256 -d"${SECS}s" "$base/healthz") ;;
      sold_out) out=$(WRK_RUN="s$RANDOM" WRK_PRODUCT=wrk-gone wrk -t2 -c256 -d"${SECS}s" \
        -s scripts/wrk/new_customers.lua "$base/api/orders") ;;
      join) out=$(WRK_RUN="j$RANDOM" WRK_KIND=join wrk -t2 -c256 -d"${SECS}s" \
        -s scripts/wrk/new_customers.lua "$base/api/products/wrk-line/queue") ;;
      rejoin) out=$(WRK_RUN="r$RANDOM" WRK_KIND=rejoin wrk -t2 -c256 -d"${SECS}s" \
        -s scripts/wrk/new_customers.lua "$base/api/products/wrk-line/queue") ;;
      orders) out=$(WRK_RUN="o$RANDOM" wrk -t2 -c256 -d"${SECS}s" --latency \
        -s scripts/wrk/new_customers.lua "$base/api/orders") ;;
      catalog) out=$(wrk -t2 -c256 -d"${SECS}s" "$base/api/products") ;;
      menu) out=$(wrk -t2 -c256 -d"${SECS}s" "$base/") ;;
      product) out=$(wrk -t2 -c256 -d"${SECS}s" "$base/products/margherita") ;;
      post404) out=$(WRK_RUN="n$RANDOM" WRK_KIND=join WRK_PRODUCT=nope wrk -t2 -c256 -d"${SECS}s" \
        -s scripts/wrk/new_customers.lua "$base/api/products/nope/queue") ;;
    esac
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    d1=$(db_ticks)
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rate=$(awk '/^Requests\/sec/ {printf "%d", $2}' <<<"$out")
    [ -z "$healthz" ] && healthz=$rate
    [ "$phase" = orders ] && p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    # /proc counts CPU in clock ticks of 10 ms.
    line+=" $rate/s ($(awk -v r="$rate" -v h="$healthz" 'BEGIN {printf "%.2f", r / h}'), $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.0f", (b - a) * 10000 / n}') µs, db $(awk -v a="$d0" -v b="$d1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 10000 / n}'))"
    # Refusals are what the sold-out and post404 phases measure: only other phases' are counted.
    case $phase in
      sold_out | post404) ;;
      *) line+=$(awk '/Non-2xx/ {printf "; %s not 2xx", $NF}' <<<"$out") ;;
    esac
    line+=$(awk '/Socket errors/ {printf "; socket errors: %s", substr($0, index($0, ":") + 2)}' <<<"$out")
    line+=" |"
  done
  [[ " ${phases[*]} " == *" orders "* ]] && line+=" ${p99:-—} |"
  echo "$line"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

echo "$header"
echo "$header" | sed 's/[^|]*|/---|/g; s/^---|/|/'

for round in $(seq 1 "$ROUNDS"); do
  one_build "$1" old
  one_build "$2" new
done
echo
echo "each cell: rate (ratio to /healthz in the same server), server CPU per request and the SQLite writer's and checkpointer's part of it (db); wrk -t2 -c256, ${SECS} s per phase, --access-log $ACCESS_LOG, old $1, new $2"
