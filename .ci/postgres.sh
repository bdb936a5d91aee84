#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for the server's tests and benchmarks.
#   .ci/postgres.sh start DIR PORT   initialise DIR and start; prints the server URL (postgres://phr@127.0.0.1:PORT)
#   .ci/postgres.sh stop DIR         stop it (DIR can then be removed)
# DIR's parent directories must be traversable by the postgres user when run as root.
# Installs PostgreSQL from Debian's packages if it is missing. As root, the cluster runs as the
# postgres user (PostgreSQL refuses to run as root). Authentication is "trust" on loopback only.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?a directory}
port=${3:-55432}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ]; then
    echo "installing PostgreSQL from Debian's packages…" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
start)
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_owner "$bindir/initdb" -D "$dir/data" -A trust -U phr > "$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=200" start > /dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://phr@127.0.0.1:$port"
    ;;
stop)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null 2>&1 || true
    ;;
*)
    echo "usage: .ci/postgres.sh start|stop DIR [PORT]" >&2
    exit 64
    ;;
esac
