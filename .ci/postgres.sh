# A throwaway PostgreSQL server for the test suite. Source it, then:
#   pg_start   install PostgreSQL from Debian's packages if missing, start a
#              server on 127.0.0.1 (a free port, a temporary data directory),
#              create a database and export TEST_POSTGRES_DSN
#   pg_stop    stop that server and delete its data directory (safe to call twice)
# Root cannot run postgres, so as root the server runs as the `postgres` user.

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

pg_install() {
    if pg_bindir >/dev/null; then
        return 0
    fi
    echo "postgres: installing PostgreSQL from Debian's packages" >&2
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    pg_bindir >/dev/null || { echo "postgres: no initdb after installing postgresql" >&2; return 1; }
}

_pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
    pg_install || return 1
    local bin port
    PG_PORT=""
    bin=$(pg_bindir)
    if [ "$(id -u)" = 0 ]; then
        # In /tmp: the postgres user must reach it, whatever TMPDIR is.
        PG_TMP=$(mktemp -d /tmp/ci-postgres.XXXXXX)
        chown postgres: "$PG_TMP"
    else
        PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ci-postgres.XXXXXX")
    fi
    export PG_TMP PG_BIN="$bin"
    _pg_as_owner "$bin/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
        >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; return 1; }
    # A free port can be taken between the probe and the start: try a few.
    local attempt
    for attempt in 1 2 3 4 5; do
        port=$(_pg_free_port)
        if _pg_as_owner "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null; then
            PG_PORT=$port
            break
        fi
        echo "postgres: start on port $port failed (attempt $attempt)" >&2
        tail -n 5 "$PG_TMP/server.log" >&2 || true
    done
    if [ -z "${PG_PORT:-}" ]; then
        return 1
    fi
    export PG_PORT
    "$bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE bot_test" >/dev/null
    export TEST_POSTGRES_DSN="postgresql://postgres@127.0.0.1:$PG_PORT/bot_test"
    echo "postgres: test server on 127.0.0.1:$PG_PORT (TEST_POSTGRES_DSN=$TEST_POSTGRES_DSN)" >&2
}

pg_stop() {
    if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ]; then
        if [ -f "$PG_TMP/data/postmaster.pid" ]; then
            _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMP"
    fi
    PG_TMP=""
}
