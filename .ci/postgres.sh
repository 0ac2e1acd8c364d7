# A throwaway PostgreSQL server for the tests, the concurrency run and the benchmark.
#
#     source .ci/postgres.sh
#     postgres_start            # exports CAREPLAN_LINK_TEST_POSTGRES=postgresql://…
#     trap postgres_stop EXIT
#     …
#     postgres_stop
#
# Installs Debian's `postgresql` package when no initdb is found, makes a new cluster in a
# temporary folder (initdb), and starts it on a free loopback port with its socket in that
# folder; `postgres_stop` stops it and removes the folder. PostgreSQL refuses to run as root:
# run as root, the cluster belongs to the `postgres` user (created by the package) and every
# server command runs through `runuser -u postgres`. Authentication is `trust`, on 127.0.0.1
# only: a CI machine's own throwaway server, not a deployment (docs/hub-operations.md).

_postgres_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
        return 0
    fi
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

_postgres_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

postgres_start() {
    local bindir port
    bindir=$(_postgres_bindir || true)
    if [ -z "$bindir" ]; then
        echo "postgres.sh: installing Debian's postgresql package" >&2
        if [ "$(id -u)" = 0 ]; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
        else
            (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
        fi
        bindir=$(_postgres_bindir)
    fi
    POSTGRES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/careplan-pg.XXXXXX")
    chmod 755 "$POSTGRES_DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$POSTGRES_DIR"
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    _postgres_as_owner "$bindir/initdb" -D "$POSTGRES_DIR/data" -U postgres -A trust \
        -E UTF8 --locale=C.UTF-8 >"$POSTGRES_DIR/initdb.log" 2>&1 \
        || { cat "$POSTGRES_DIR/initdb.log" >&2; return 1; }
    _postgres_as_owner "$bindir/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$POSTGRES_DIR -c max_connections=200" \
        start >/dev/null || { cat "$POSTGRES_DIR/server.log" >&2; return 1; }
    POSTGRES_BINDIR=$bindir
    _postgres_as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres careplan_link_test
    export POSTGRES_DIR POSTGRES_BINDIR
    export CAREPLAN_LINK_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/careplan_link_test"
    echo "CAREPLAN_LINK_TEST_POSTGRES=$CAREPLAN_LINK_TEST_POSTGRES"
}

postgres_stop() {
    if [ -n "${POSTGRES_DIR:-}" ] && [ -d "$POSTGRES_DIR/data" ]; then
        _postgres_as_owner "$POSTGRES_BINDIR/pg_ctl" -D "$POSTGRES_DIR/data" -m fast -w stop \
            >/dev/null 2>&1 || true
    fi
    if [ -n "${POSTGRES_DIR:-}" ]; then
        rm -rf "$POSTGRES_DIR"
    fi
    unset POSTGRES_DIR CAREPLAN_LINK_TEST_POSTGRES
}
