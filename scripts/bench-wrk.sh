#!/usr/bin/env bash
# Hot paths measured with wrk, a load generator independent of `stampede loadtest`: each
# path's requests/s as a ratio to GET /healthz in the same round, median of ROUNDS rounds,
# printed as a Markdown table for BENCHMARKS.md. The server, wrk and the machine's other work
# share the cores, so only the ratios mean anything.
#
# Beside Stampede's paths, each round runs the flash-sale anchor: Redis 7 with a Lua
# check-and-DECR of one stock key and `appendfsync always` (every write fsynced before the
# reply, as every accepted order here is), driven by redis-benchmark at the same
# concurrency. Accepted orders are also given as a share of its rate.
#
# With PROFILE=1 (needs `perf`), the first round also samples the server's CPU during each
# phase and prints where it went: µs per request by part of the stack (kernel, HTTP, runtime,
# allocator, SQLite, JSON, crypto, Stampede's own code) and the top functions.
#
#   ./scripts/bench-wrk.sh            # ROUNDS=3 SECONDS_PER_PHASE=8 CONNECTIONS=256 by default
#   PROFILE=1 ./scripts/bench-wrk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_PHASE:-8}
CONNS=${CONNECTIONS:-256}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)"; exit 1; }
REDIS_REQUESTS=${REDIS_REQUESTS:-400000}
BACKLOG_SECS=${BACKLOG_SECONDS:-2}
cargo build --release --locked -p stampede >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/stampede
token="bench-$RANDOM$RANDOM"
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
declare -A rates p99s drains requests
phases=(healthz catalog catalog_gzip catalog_304 menu product join sold_out orders sold_out_backlog redis)

profiles=$(mktemp -d)
trap 'rm -rf "$profiles"' EXIT

# One table row of where the server's CPU went during a phase: µs per request in all (from
# the sample count: 499 a second per busy core) and by part of the stack, from perf's flat
# profile, and the phase's top three functions.
PARTS=("kernel" "HTTP" "runtime" "allocator" "SQLite" "JSON" "crypto" "Stampede" "other")
profile_row() { # perf.data, phase name, requests
  local samples
  samples=$(perf script -i "$1" -F ip 2>/dev/null | wc -l)
  perf report -i "$1" --stdio --no-children --sort sym 2>/dev/null | awk -v phase="$(label "$2")" \
    -v us="$(awk -v s="$samples" -v n="$3" 'BEGIN {print s / 499 * 1e6 / n}')" -v order="${PARTS[*]}" '
    /^ *[0-9.]+%/ {
      pct = $1 + 0; sub(/^ *[0-9.]+% +/, ""); line = $0
      part = "other"
      if (line ~ /^\[k\]/) part = "kernel"
      else if (line ~ /sqlite3|btree|pager|vdbe|pcache|balance_|walIndex|wal[A-Z]/) part = "SQLite"
      else if (line ~ /serde|json/) part = "JSON"
      else if (line ~ /hyper|httparse|http::|axum|tower|h1::/) part = "HTTP"
      else if (line ~ /tokio|parking_lot|futures|crossbeam/) part = "runtime"
      else if (line ~ /malloc|free|realloc|memcpy|memmove|memset|mi_|_int_/) part = "allocator"
      else if (line ~ /sha2|hmac|Sha256|compress256|subtle/) part = "crypto"
      else if (line ~ /stampede/) part = "Stampede"
      parts[part] += pct
      if (n < 3) { name = substr(line, 5); gsub(/[|`]/, "", name); top[n++] = sprintf("%s %.0f%%", substr(name, 1, 48), pct) }
    }
    END {
      printf "| %s | %.1f |", phase, us
      split(order, o, " ")
      for (i = 1; i <= length(o); i++) printf " %.1f |", parts[o[i]] / 100 * us
      printf " %s; %s; %s |\n", top[0], top[1], top[2]
    }'
}

run_phase() { # name, url, extra wrk args...
  local name=$1 url=$2; shift 2
  local out perf_pid=""
  if [ "${PROFILE:-0}" = 1 ] && [ "$round" = 1 ]; then
    perf record -F 499 -p "$pid" -o "$profiles/$name.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$(WRK_RUN="$name-$round" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url")
  # Every answer of a phase must be the one it measures (a 2xx, or the 409 of a refusal).
  if grep -q 'Non-2xx' <<<"$out" && [[ $name != sold_out* ]]; then echo "$name: $(grep 'Non-2xx' <<<"$out")" >&2; fi
  rates[$name,$round]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  requests[$name,$round]=$(awk '/requests in/ {print $1}' <<<"$out")
  p99s[$name,$round]=$(awk '$1 == "99%" {print $2}' <<<"$out")
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
}

pending() { # outbox events not yet delivered
  curl -sf -H "Authorization: Bearer $token" "$base/api/admin/outbox?limit=1" | grep -o '"pending":[0-9]*' | cut -d: -f2
}

# Seconds from now until the outbox has nothing pending (the receipts of the orders phase).
wait_drained() {
  local start now
  start=$(date +%s.%N)
  while [ "$(pending)" != 0 ]; do sleep 0.1; done
  now=$(date +%s.%N)
  awk -v a="$start" -v b="$now" 'BEGIN {printf "%.1f", b - a}'
}

# The anchor: a Lua check-and-DECR on Redis with every write fsynced, at the same concurrency.
run_redis() {
  local dir port sha out up=""
  dir=$(mktemp -d)
  chmod 777 "$dir"
  # wrk's closed connections leave ports of Linux's ephemeral range (32768 up) in TIME_WAIT:
  # pick one below it. Ours only if it answers with our directory (not another Redis on that
  # port); otherwise stop it and try another port.
  for _ in 1 2 3; do
    port=$((20000 + RANDOM % 12000))
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always \
      --save '' --daemonize yes --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null
    for _ in $(seq 1 50); do
      if redis-cli -p "$port" CONFIG GET dir 2>/dev/null | grep -qxF "$dir"; then up=1; break; fi
      sleep 0.1
    done
    [ -n "$up" ] && break
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  done
  [ -n "$up" ] || { echo "Redis did not start:" >&2; cat "$dir/redis.log" >&2; rm -rf "$dir"; return 1; }
  sha=$(redis-cli -p "$port" SCRIPT LOAD "local s = tonumber(redis.call('GET', KEYS[1]) or '0') local q = tonumber(ARGV[1]) if s >= q then redis.call('DECRBY', KEYS[1], q) return 1 end return 0")
  redis-cli -p "$port" SET stock 1000000000000 >/dev/null
  out=$(redis-benchmark -p "$port" -c "$CONNS" -n "$REDIS_REQUESTS" --csv EVALSHA "$sha" 1 stock 1 | tail -1)
  rates[redis,$round]=$(cut -d, -f2 <<<"$out" | tr -d '"')
  p99s[redis,$round]="$(cut -d, -f7 <<<"$out" | tr -d '"')ms"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir"
}

for round in $(seq 1 "$ROUNDS"); do
  data=$(mktemp -d)
  # Every wrk connection comes from 127.0.0.1: the per-address join limit is off, as for orders.
  start_stampede "$bin" "$data" --admin-token "$token" --access-log false --order-rate-per-customer 0 \
    --join-rate-per-ip 0
  base="http://$addr"
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"id":"wrk-item","name":"Benchmark slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":4000000000}' \
    "$base/api/admin/products"
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"id":"wrk-gone","name":"Sold-out slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":0}' \
    "$base/api/admin/products"
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"id":"wrk-line","name":"Queued slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":1,"sale":{"waitingRoom":{"admissionMinutes":1,"admissionsPerMinute":1}}}' \
    "$base/api/admin/products"
  etag=$(curl -sI "$base/api/products" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
  wrk -t2 -c"$CONNS" -d2s "$base/healthz" >/dev/null # warm-up
  run_phase healthz "$base/healthz"
  run_phase catalog "$base/api/products"
  run_phase catalog_gzip "$base/api/products" -H 'Accept-Encoding: gzip, deflate, br, zstd'
  run_phase catalog_304 "$base/api/products" -H "If-None-Match: $etag"
  run_phase menu "$base/"
  run_phase product "$base/products/margherita"
  WRK_KIND=join run_phase join "$base/api/products/wrk-line/queue" -s scripts/wrk/new_customers.lua
  # Orders and refusals come from customers with an email, so every accepted order has a
  # receipt to deliver (to the dev mailbox: no mail server is set), as a real sale's do.
  export WRK_CUSTOMER=email
  WRK_PRODUCT=wrk-gone run_phase sold_out "$base/api/orders" -s scripts/wrk/new_customers.lua
  run_phase orders "$base/api/orders" -s scripts/wrk/new_customers.lua
  # Straight after the orders: refusals while their receipts are still going out. The phase
  # is kept short so the backlog outlasts it; the pending count at its start and end says so.
  backlog_start=$(pending)
  WRK_PRODUCT=wrk-gone SECS=$BACKLOG_SECS run_phase sold_out_backlog "$base/api/orders" -s scripts/wrk/new_customers.lua
  unset WRK_CUSTOMER
  backlog_end=$(pending)
  drains[$round]="$backlog_start → $backlog_end pending, then drained in $(wait_drained) s"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
  run_redis
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
label() {
  case $1 in
    healthz) echo 'baseline `GET /healthz`' ;;
    catalog) echo 'catalog `GET /api/products`' ;;
    catalog_gzip) echo 'catalog gzipped, as browsers ask (`Accept-Encoding: gzip, deflate, br, zstd`)' ;;
    catalog_304) echo 'catalog revalidated (`If-None-Match` → 304)' ;;
    menu) echo 'menu page `GET /`' ;;
    product) echo 'product page `GET /products/margherita`' ;;
    join) echo 'waiting-room joins `POST /api/products/{id}/queue` (a new customer each)' ;;
    sold_out) echo 'sold-out refusals on an idle server' ;;
    orders) echo 'accepted durable orders `POST /api/orders`' ;;
    sold_out_backlog) echo 'sold-out refusals while the receipts of those orders go out' ;;
    redis) echo 'anchor: Redis Lua check-and-DECR, `appendfsync always` (redis-benchmark)' ;;
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
os=(); for round in $(seq 1 "$ROUNDS"); do
  os+=("$(awk -v a="${rates[orders,$round]}" -v b="${rates[redis,$round]}" 'BEGIN {printf "%.2f", a / b}')")
done
echo
echo "Accepted orders as a share of the Redis anchor's rate (median of rounds): $(printf '%s\n' "${os[@]}" | median)."
for round in $(seq 1 "$ROUNDS"); do echo "Receipt backlog, round $round: ${drains[$round]}."; done
if [ "${PROFILE:-0}" = 1 ]; then
  echo
  echo "Where the server's CPU went in round 1: µs per request, in all and by part of the stack (perf, 499 samples/s per core):"
  echo
  echo "| phase | CPU µs/request | $(IFS='|'; sed 's/|/ | /g' <<<"${PARTS[*]}") | top functions |"
  echo "|---|---|$(printf -- '---|%.0s' "${PARTS[@]}")---|"
  for phase in "${phases[@]}"; do
    [ -f "$profiles/$phase.data" ] && profile_row "$profiles/$phase.data" "$phase" "${requests[$phase,1]}"
  done
fi
echo
echo "wrk -t2 -c$CONNS, ${SECS} s per phase (${BACKLOG_SECS} s while receipts go out), $ROUNDS rounds, redis-benchmark -c$CONNS -n$REDIS_REQUESTS, commit $(git rev-parse --short HEAD), $(nproc) cores"
