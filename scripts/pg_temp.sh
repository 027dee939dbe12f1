#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: initdb into a temporary directory, serve on
# 127.0.0.1:PORT with trust authentication (superuser `postgres`), and, given PARENT_PID,
# stop and delete everything once that process is gone, so a test binary that cannot run
# destructors (statics) never leaves a server behind. Without PARENT_PID it runs until
# interrupted.
#
# Usage: scripts/pg_temp.sh PORT [PARENT_PID]
# initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user.
set -euo pipefail
port=$1
parent=${2:-}
bindir=$(pg_config --bindir)
if [ ! -x "$bindir/initdb" ]; then
    # Debian's pg_config may name /usr/bin; the server binaries live in the versioned folder.
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
dir=$(mktemp -d /tmp/stampede-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as_owner=(runuser -u postgres --)
fi
cleanup() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
# fsync off: a test cluster is thrown away, and fsyncs on a shared disk only slow the tests.
# The settings go into the cluster's configuration, so a plain `pg_ctl start` after a stop
# (a test restarting PostgreSQL) serves the same port.
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
listen_addresses = '127.0.0.1'
max_connections = 300
fsync = off
CONF
pg_ctl=("${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -w -l "$dir/log")
"${pg_ctl[@]}" start >/dev/null
echo "postgres://postgres@127.0.0.1:$port/postgres"
# The second line: the command (words split on spaces) that takes a `stop`/`start` for this cluster.
echo "${pg_ctl[*]}"
while [ -z "$parent" ] || [ -d "/proc/$parent" ]; do sleep 0.5; done
