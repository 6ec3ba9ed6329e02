#!/usr/bin/env bash
# A private PostgreSQL for tests and benchmarks: installs Debian's server if missing,
# starts (or reuses) a cluster on a free loopback port and prints its URL.
#
#   eval "$(build/pg.sh)"      # exports PM_FAST_PG_URL=postgresql://...
#   build/pg.sh --stop         # stops the private cluster
#
# Idempotent: a running cluster in $PM_FAST_PG_DIR is reused. Every wait is bounded.
# The cluster trusts loopback connections only (it is a throw-away test server); the
# database named $PM_FAST_PG_DB (default pmfast) is created if missing.
# Runs as root (CI) by handing the server to the `postgres` system user, or as any
# other user directly.
set -euo pipefail

PGDIR="${PM_FAST_PG_DIR:-${TMPDIR:-/tmp}/pm-fast-pg}"
DBNAME="${PM_FAST_PG_DB:-pmfast}"
DATA="$PGDIR/data"
SOCK="$PGDIR/sock"
PORT_FILE="$PGDIR/port"
LOG="$PGDIR/server.log"

say() { echo "pg.sh: $*" >&2; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "PostgreSQL is not installed and this is not root: apt-get install -y postgresql"
        exit 1
    fi
    say "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q >&2
    timeout 900 apt-get install -y -q postgresql >&2
    BINDIR="$(find_bindir)"
fi

# Root cannot run the server: the `postgres` system user (created by the package) does.
if [ "$(id -u)" -eq 0 ]; then
    RUNAS=(runuser -u postgres --)
    OWNER=postgres
else
    RUNAS=()
    OWNER="$(id -un)"
fi
as_owner() { "${RUNAS[@]}" "$@"; }

pg_ctl_() { as_owner "$BINDIR/pg_ctl" -D "$DATA" "$@"; }

if [ "${1:-}" = "--stop" ]; then
    if [ -f "$DATA/postmaster.pid" ]; then
        pg_ctl_ stop -m fast -w -t 30 >&2 || true
    fi
    exit 0
fi

mkdir -p "$PGDIR"
chmod 755 "$PGDIR"
if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA" "$SOCK"
    mkdir -p "$DATA" "$SOCK"
    chown "$OWNER" "$DATA" "$SOCK"
    chmod 700 "$DATA"
    say "initdb $DATA"
    as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >/dev/null 2>"$PGDIR/initdb.err" \
        || as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C >/dev/null
fi

running() { pg_ctl_ status >/dev/null 2>&1; }
answers() { psql "postgresql://postgres@127.0.0.1:$PORT/postgres" -XAtqc "SELECT 1" >/dev/null 2>&1; }
# Bounded: a server just started may still be in recovery for a moment.
wait_answer() {
    local _
    for _ in $(seq 1 "${1:-100}"); do answers && return 0; sleep 0.1; done
    return 1
}

PORT="$(cat "$PORT_FILE" 2>/dev/null || true)"
if running && [ -n "$PORT" ] && wait_answer 50; then
    :  # reuse the running cluster
else
    if running; then
        say "cluster in $DATA does not answer on port ${PORT:-?}: restarting it"
        pg_ctl_ stop -m immediate -w -t 30 >&2 || true
    fi
    if running; then say "cannot stop the cluster in $DATA"; exit 1; fi
    rm -f "$DATA/postmaster.pid"  # stale (its process is gone)
    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "$PORT" > "$PORT_FILE"
    touch "$LOG"
    chown "$OWNER" "$LOG"
    # Loopback only; enough connections for several pm-fast processes with their pools.
    # fsync stays on: the numbers measured on this cluster are those of a durable server.
    pg_ctl_ start -w -t 60 -l "$LOG" -o "-c listen_addresses=127.0.0.1 -c port=$PORT \
        -c unix_socket_directories=$SOCK -c max_connections=300 \
        -c shared_buffers=128MB" >&2 || { say "server did not start:"; tail -20 "$LOG" >&2; exit 1; }
    if ! wait_answer 100; then
        say "server on port $PORT does not answer"; tail -20 "$LOG" >&2; exit 1
    fi
fi

URL_BASE="postgresql://postgres@127.0.0.1:$PORT"
if [ "$(psql "$URL_BASE/postgres" -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != "1" ]; then
    psql "$URL_BASE/postgres" -XAtqc "CREATE DATABASE \"$DBNAME\"" >/dev/null
fi
echo "export PM_FAST_PG_URL=$URL_BASE/$DBNAME"
