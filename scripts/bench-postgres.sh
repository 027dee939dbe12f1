#!/usr/bin/env bash
# The PostgreSQL figures of BENCHMARKS.md (issue #18): `stampede loadtest flash-sale` against
# one and two `stampede serve --store postgres` instances on one throwaway PostgreSQL
# (scripts/pg_temp.sh, with fsync and synchronous_commit on as in production), beside the same
# sale on SQLite, each as ratios to the same instances' /healthz; the database's own CPU per
# order; where the database's backends wait (sampled from pg_stat_activity); WAL flushes and
# commits per order (pg_stat_wal, pg_stat_database); the stock split over 1 and 8 counters,
# synchronous_commit off as a diagnostic, and pool sizes; and how late a second instance's
# live stock learns of a sell-out on the first. Writes its own marked block into the report.
#
#   ./scripts/bench-postgres.sh             # REPORT=BENCHMARKS.md RUNS=1 by default
#
# Load generator, instances and PostgreSQL share the machine's cores: the absolute rates are
# what is left after each other's cost; ratios within one run are what carry.
set -euo pipefail
cd "$(dirname "$0")/.."
REPORT=${REPORT:-BENCHMARKS.md}
RUNS=${RUNS:-1}
SALE=(--stock 2000 --buyers 2400 --quantity 1 --per-customer-limit 2 --retry-percent 10 --greedy-percent 5
  --sold-out-requests 3000 --baseline-requests 6000 --concurrency 64 --runs "$RUNS")
STALENESS_TRIALS=${STALENESS_TRIALS:-10}
command -v psql >/dev/null || { echo "psql is not installed (apt-get install postgresql)"; exit 1; }
cargo build --release --locked -p stampede --features postgres >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/stampede
# shellcheck source=scripts/start_server.sh
. scripts/start_server.sh
work=$(mktemp -d)
servers=()
stop_servers() {
  for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${servers[@]}"; do wait "$p" 2>/dev/null || true; done
  servers=()
}
trap 'stop_servers; [ -n "${pg_pid:-}" ] && kill "$pg_pid" 2>/dev/null; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/pg_temp.sh "$port" $$ >"$work/pg" &
pg_pid=$!
for _ in $(seq 1 300); do [ "$(wc -l <"$work/pg")" -ge 2 ] && break; sleep 0.1; done
server_url=$(sed -n 1p "$work/pg")
data_dir=$(sed -n 2p "$work/pg" | grep -o -- '-D [^ ]*' | cut -d' ' -f2)
postmaster=$(head -1 "$data_dir/postmaster.pid")
sql() { psql -XAtq "$server_url" -c "$1"; }
# Durable commits, as a production server has them (pg_temp.sh turns fsync off for tests);
# WAL timing for pg_stat_wal.
sql "ALTER SYSTEM SET fsync = on" >/dev/null
sql "ALTER SYSTEM SET track_wal_io_timing = on" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
pg_version=$(sql "SHOW server_version" | cut -d' ' -f1)
# What one WAL flush costs on this disk, alone (PostgreSQL's own tool, one second per method).
bindir=$(pg_config --bindir)
[ -x "$bindir/pg_test_fsync" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fsync_rate=$("$bindir/pg_test_fsync" -s 1 -f "$work/fsync.test" | awk '/fdatasync/ && /ops\/sec/ {print $2; exit}')
token="bench-$RANDOM$RANDOM"
rows="$work/rows.jsonl"

# Where the backends of database $1 are, every 0.1 s, into file $3 while process $2 runs: one
# psql session (\watch), so sampling costs the database one backend, not a connection per sample.
sample_waits() {
  local db=$1 watched=$2 out=$3
  psql -XAtq "$server_url" >"$out" 2>/dev/null < <(printf '%s\n' \
    "SELECT state || ':' || coalesce(wait_event_type || ':' || wait_event, 'running') FROM pg_stat_activity
     WHERE datname = '$db' AND state <> 'idle' AND pid <> pg_backend_pid()" '\watch 0.1') &
  local psql_pid=$!
  while kill -0 "$watched" 2>/dev/null; do sleep 0.2; done
  kill "$psql_pid" 2>/dev/null || true
}

# One set-up: label, instances, pool size per instance, stockShards, synchronous_commit.
run_postgres() {
  local label=$1 instances=$2 pool=$3 shards=$4 sync=$5
  local db="bench_$RANDOM$RANDOM" targets=() pids=()
  sql "CREATE DATABASE $db" >/dev/null
  sql "ALTER SYSTEM SET synchronous_commit = $sync" >/dev/null
  sql "SELECT pg_reload_conf()" >/dev/null
  local url="${server_url%/*}/$db"
  "$bin" migrate --database-url "$url" >/dev/null
  for i in $(seq 1 "$instances"); do
    mkdir -p "$work/$db-$i"
    start_stampede "$bin" "$work/$db-$i" --store postgres --database-url "$url" --database-pool-size "$pool" \
      --secret-key "bench-secret" --admin-token "$token" --no-seed --order-rate-per-ip 0
    servers+=("$pid")
    targets+=(--target "http://$addr")
    pids+=(--target-pid "$pid")
  done
  sql "SELECT pg_stat_reset_shared('wal')" >/dev/null
  local commits_before
  commits_before=$(sql "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  local extra=()
  [ "$label" = "two instances" ] && extra=(--staleness-trials "$STALENESS_TRIALS")
  echo "== PostgreSQL: $label ($instances instance(s), pool $pool, stockShards $shards, synchronous_commit $sync)" >&2
  "$bin" loadtest flash-sale "${SALE[@]}" "${targets[@]}" "${pids[@]}" --admin-token "$token" \
    --database-pid "$postmaster" --stock-shards "$shards" --summary "$work/summary-$db.jsonl" "${extra[@]}" &
  local loadtest=$!
  sample_waits "$db" "$loadtest" "$work/waits-$db" &
  local sampler=$!
  local status=0
  wait "$loadtest" || status=$?
  wait "$sampler" || true
  stop_servers
  sleep 1 # backends that ended have reported their statistics
  local wal commits
  wal=$(sql "SELECT json_build_object('walSync', wal_sync, 'walSyncMs', wal_sync_time, 'walWrite', wal_write)
             FROM pg_stat_wal")
  commits=$(sql "SELECT xact_commit - $commits_before FROM pg_stat_database WHERE datname = '$db'")
  local waits
  waits=$(jq -R -s -c 'split("\n") | map(select(test("^(active|idle in transaction)"))) | group_by(.) | map({wait: .[0], n: length})' "$work/waits-$db")
  head -1 "$work/summary-$db.jsonl" | jq -c --arg name "$label" --argjson pool "$pool" --arg sync "$sync" \
    --argjson wal "$wal" --argjson commits "$commits" --argjson waits "$waits" --argjson status "$status" \
    '. + {label: $name, pool: $pool, synchronousCommit: $sync, commits: $commits, waits: $waits, exit: $status} + $wal' \
    >>"$rows"
  sed -n '2,$p' "$work/summary-$db.jsonl" >>"$work/staleness.jsonl"
  sql "ALTER SYSTEM RESET synchronous_commit" >/dev/null
  sql "SELECT pg_reload_conf()" >/dev/null
}

echo "== SQLite (one server, the same sale)" >&2
"$bin" loadtest flash-sale "${SALE[@]}" --no-notifications --summary "$work/sqlite.jsonl" ||
  echo "the SQLite sale failed its audit" >&2
jq -c '. + {label: "SQLite", pool: null}' "$work/sqlite.jsonl" >>"$rows"
run_postgres "one instance" 1 16 8 on
run_postgres "two instances" 2 16 8 on
run_postgres "two instances, one counter row" 2 16 1 on
run_postgres "two instances, synchronous_commit off" 2 16 8 off
run_postgres "two instances, pool 4" 2 4 8 on
run_postgres "two instances, pool 48" 2 48 8 on

block="$work/block.md"
{
  echo "## PostgreSQL: one and two instances on one database"
  echo
  echo "Produced by \`scripts/bench-postgres.sh\` at commit \`$(git rev-parse --short HEAD)\` on $(nproc) cores shared with other work:"
  echo "\`stampede loadtest flash-sale ${SALE[*]}\` with one \`--target\` per \`stampede serve --store postgres\` instance"
  echo "(requests spread round-robin, a buyer's retry and greedy second order sent to the next instance), against"
  echo "PostgreSQL $pg_version on the same machine (a throwaway cluster from \`scripts/pg_temp.sh\` with \`fsync\` and"
  echo "\`synchronous_commit\` on), and the same sale against a fresh SQLite server (\`--no-notifications\`: neither"
  echo "side has a webhook; the relay settles every event through the dev mailbox). Load generator, instances and"
  echo "database share the cores, so each rate is what the others left: compare ratios within a row, not rates"
  echo "across reports. Runs: $RUNS per set-up (medians)."
  echo
  echo "This disk takes ${fsync_rate:-an unmeasured number of} \`fdatasync\` calls per second when nothing else flushes (\`pg_test_fsync\`, one 8 kB write)."
  echo
  echo "| set-up | stockShards | pool | /healthz req/s | accepted orders/s | ratio | sold-out refusals/s | ratio | accepted p50 / p99 (ms) | server CPU per sale request (µs) | database CPU per accepted order (µs) | database CPU per refusal (µs) | commits per order | WAL flushes per order | invariants |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  jq -r '
    def f(d): if . == null then "" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
    "| \(.label) | \(if .label == "SQLite" then "" else .stockShards end) | \(.pool // "") | \(.baselineRps | f(0)) | \(.acceptedRps | f(0)) | \(.acceptedRatio | f(2)) | \(.soldOutRps | f(0)) | \(.soldOutRatio | f(2)) | \(.acceptedP50Ms | f(1)) / \(.acceptedP99Ms | f(1)) | \(.serverCpuSaleUs | f(0)) | \(.databaseCpuPerOrderUs | f(0)) | \(.databaseCpuPerRefusalUs | f(0)) | \(if .commits then (.commits / .orders | f(2)) else "" end) | \(if .walSync then (.walSync / .orders | f(2)) else "" end) | \(.invariants) |"
  ' "$rows"
  echo
  echo "*Commits per order* and *WAL flushes per order* divide the database's commits (\`pg_stat_database.xact_commit\`,"
  echo "read-only statements outside a transaction included: the relay's polls, the audit's reads of every order) and"
  echo "WAL fsyncs (\`pg_stat_wal.wal_sync\`) over the whole run by the orders taken. Fewer flushes than writing commits"
  echo "is PostgreSQL's own group commit: a backend that finds its commit record already flushed by another's fsync"
  echo "does not flush again."
  echo
  echo "### Where the database's backends were"
  echo
  echo "Samples of \`pg_stat_activity\` (every backend of the shop's database not idle, every 0.1 s over the whole run):"
  echo "*running* is on a CPU or ready to be; *row lock* waits for another transaction's row (\`Lock\`); *WAL* waits for"
  echo "the WAL to be written or flushed (\`IO:WAL*\`, \`LWLock:WALWrite\`); *idle in transaction* waits for the instance's"
  echo "next statement (the instance's CPU share and the round trip)."
  echo
  echo "| set-up | samples | running | row lock | WAL | idle in transaction | other |"
  echo "|---|---|---|---|---|---|---|"
  jq -r 'select(.waits) |
    def pct(s): if s == 0 then "0%" else "\(((.waits | map(select(.wait | test(s))) | map(.n) | add // 0) * 100 / (.waits | map(.n) | add)) | round)%" end;
    (.waits | map(.n) | add // 0) as $total |
    "| \(.label) | \($total) | \(if $total == 0 then "" else pct("^active:running$") end) | \(if $total == 0 then "" else pct("^active:Lock:") end) | \(if $total == 0 then "" else pct("^active:(IO:WAL|LWLock:WAL)") end) | \(if $total == 0 then "" else pct("^idle in transaction") end) | \(if $total == 0 then "" else pct("^active:(?!running$|Lock:|IO:WAL|LWLock:WAL)") end) |"
  ' "$rows"
  echo
  echo "### How late another instance learns of a sell-out"
  echo
  jq -r 'select(.staleness) | .staleness |
    "Over \(.trials) trials (`--staleness-trials`): a product with one unit bought on the first instance at a random moment; the second instance'"'"'s live-stock stream (`GET /api/stock/events`, which also drives its cached menu and catalog) reported it sold out after \(.medianSeconds * 1000 | round) ms (median), \(.maxSeconds * 1000 | round) ms at most: the second instance polls the stock levels once a second, and a stream sends at most one event per 250 ms. An order on the second instance right after the sale was refused as sold out in \(.refusedAtOnce) of \(.trials) trials: the database refuses it until the instance'"'"'s poll shows the product sold out, and the instance refuses from memory after that; it never accepts from what it last polled."' \
    "$work/staleness.jsonl"
} >"$block"
start='<!-- PostgreSQL report: written by `scripts/bench-postgres.sh` -->'
end='<!-- end of PostgreSQL report -->'
touch "$REPORT"
if grep -qF "$start" "$REPORT"; then
  awk -v start="$start" -v end="$end" -v block="$block" '
    $0 == start { print; while ((getline line < block) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip' "$REPORT" >"$work/report" && cp "$work/report" "$REPORT"
else
  { echo; echo "$start"; cat "$block"; echo "$end"; } >>"$REPORT"
fi
cat "$block"
echo "report written to $REPORT" >&2
if jq -e 'select(.invariants != "PASS" or (.exit // 0) != 0)' "$rows" >/dev/null; then
  echo "some set-up failed its audit: see above" >&2
  exit 1
fi
