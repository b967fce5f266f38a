#!/bin/sh
# A small stand-in for the official postgres image's entrypoint, for machines with
# no image registry. Honours POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and PGDATA,
# initialises an empty data dir once, listens on every interface inside the
# container, and execs `postgres ...` arguments like the official image does.
# FZ_TEST_INIT_PAUSE=<seconds> (tests only) pauses the first start after initdb.
set -eu

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export PATH="$PGBIN:$PATH"
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA

if [ "${1:-}" = "postgres" ] && [ "$(id -u)" = "0" ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown -R postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = "postgres" ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "error: POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
        --encoding=UTF8 --locale=C.UTF-8 \
        --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    # Test hook: hold the first start here, where the official image's is most fragile
    # (a cluster, no host line yet), so a test can kill it at this point every time.
    if [ -n "${FZ_TEST_INIT_PAUSE:-}" ]; then
        echo "fz-test: pausing ${FZ_TEST_INIT_PAUSE} s after initdb, before the host lines of pg_hba.conf"
        sleep "$FZ_TEST_INIT_PAUSE"
    fi
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    # Like the official image: a temporary server on the socket only, for setup.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$POSTGRES_DB" != "postgres" ]; then
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
fi

if [ "${1:-}" = "postgres" ]; then
    shift
    exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
