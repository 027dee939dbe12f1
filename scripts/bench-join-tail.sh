#!/usr/bin/env bash
# Joins' tail latency as one waiting-room line grows: RUNS wrk runs of SECONDS_PER_RUN each,
# one after the other against one release server and one line, every join a new customer
# (scripts/wrk/new_customers.lua). Each run adds a few hundred thousand people to the line;
# a pause that grows with the line (a map doubling under the line's lock) shows as a p99 that
# climbs from run to run (BENCHMARKS.md, "Hot paths with wrk").
#
#   ./scripts/bench-join-tail.sh            # RUNS=3 SECONDS_PER_RUN=6 CONNECTIONS=256
#   STAMPEDE_BIN=/tmp/stampede-before ./scripts/bench-join-tail.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECS=${SECONDS_PER_RUN:-6}
CONNS=${CONNECTIONS:-256}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
if [ -z "${STAMPEDE_BIN:-}" ]; then cargo build --release --locked -p stampede >/dev/null; fi
bin=${STAMPEDE_BIN:-${CARGO_TARGET_DIR:-target}/release/stampede}
token="tail-$RANDOM$RANDOM"
data=$(mktemp -d)
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
trap 'kill "${pid:-}" 2>/dev/null; wait "${pid:-}" 2>/dev/null; rm -rf "$data"' EXIT
start_stampede "$bin" "$data" --admin-token "$token" --access-log false --join-rate-per-ip 0
base="http://$addr"
curl -sSf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"id":"wrk-line","name":"Queued slice","category":"pizza","price":{"amount":500,"currency":"USD"},"stock":1,"sale":{"waitingRoom":{"admissionMinutes":1,"admissionsPerMinute":1}}}' \
  "$base/api/admin/products"
wrk -t2 -c"$CONNS" -d1s "$base/healthz" >/dev/null # warm-up
echo "| run | joins/s | people in line after the run | p50 | p90 | p99 | timed out |"
echo "|---|---|---|---|---|---|---|"
people=0
for run in $(seq 1 "$RUNS"); do
  # A 10 s timeout: wrk leaves requests slower than its default 2 s out of the percentiles.
  out=$(WRK_RUN="tail-$run-$RANDOM" WRK_KIND=join wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency \
    -s scripts/wrk/new_customers.lua "$base/api/products/wrk-line/queue")
  # Joins pushed back (503) hand out no ticket: not in line.
  refused=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  people=$((people + $(awk '/requests in/ {print $1}' <<<"$out") - ${refused:-0}))
  echo "| $run | $(awk '/^Requests\/sec/ {printf "%d", $2}' <<<"$out") | $people |" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out") | $(awk '$1 == "90%" {print $2}' <<<"$out") |" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out") | $(awk '/Socket errors/ {n = $NF} END {print n + 0}' <<<"$out") |"
done
echo
echo "wrk -t2 -c$CONNS, ${SECS} s per run, one line, $bin, $(nproc) cores"
