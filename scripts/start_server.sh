# Sourced by the scripts that drive a real server (schemathesis, wrk): starts `stampede
# serve` on a free loopback port over DATA_DIR with the extra arguments, and sets `pid` and
# `addr` once it says where it listens. The log goes to DATA_DIR/server.log.
start_stampede() {
  local bin=$1 data=$2
  shift 2
  "$bin" serve --addr 127.0.0.1:0 --data-dir "$data" --log-format json "$@" 2>"$data/server.log" &
  pid=$!
  addr=""
  for _ in $(seq 1 100); do
    addr=$(grep -o '"addr":"[^"]*"' "$data/server.log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "server did not start"
  cat "$data/server.log"
  return 1
}

# "tid name ticks" per thread of the server `start_stampede` started: its CPU so far (user +
# system, in 10 ms ticks), by thread. A thread that ends meanwhile is left out.
server_threads() {
  local t
  for t in /proc/"$pid"/task/*; do
    echo "${t##*/} $(cat "$t/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
  done | awk 'NF == 3'
}
