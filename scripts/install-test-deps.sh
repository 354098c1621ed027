#!/bin/sh
# Install the system programs the tests talk to, when missing, and get them ready:
# - DCMTK (echoscu, storescu, storescp, findscu, getscu, movescu, dcmqrscp);
# - a PostgreSQL server (Debian's `postgresql` package), running, with the
#   tests' role and database: role dicomqr (password dicomqr), database
#   dicomqr_test owned by it, on 127.0.0.1:5432. The fixtures in
#   tests/conftest.py connect there (or to $DICOMQR_TEST_PG_URL).
# Python packages (pynetdicom, pytest, psycopg, ...) come from `pip install -e .[test]`.
#
# Idempotent: when everything is there and the test database answers, it
# does nothing (two quick checks). Runs as root (CI) or as a user with sudo.
# Environment:
#   DICOMQR_TEST_PG_URL  the tests use that server: leave PostgreSQL alone here
#   DICOMQR_TEST_NO_PG=1 no PostgreSQL at all (its tests are skipped)
set -eu

PG_HOST=127.0.0.1
PG_PORT=5432
PG_ROLE=dicomqr
PG_PASSWORD=dicomqr
PG_DB=dicomqr_test

want_pg=yes
if [ "${DICOMQR_TEST_NO_PG:-}" = "1" ] || [ -n "${DICOMQR_TEST_PG_URL:-}" ]; then
    want_pg=""
fi

SUDO=""
need_root() {
    # $1: what for. Sets SUDO ("" as root, "sudo" otherwise) or exits.
    if [ "$(id -u)" = "0" ]; then SUDO=""; return; fi
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; return; fi
    echo "install-test-deps: need root (or sudo) to $1" >&2
    exit 1
}

pg_encoding=""
pg_test_db_ok() {
    # The tests' own check: log in as the test role over TCP, and find the
    # database in UTF-8 (the tests store names in many scripts).
    command -v psql >/dev/null 2>&1 || return 1
    pg_encoding=$(PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$PG_HOST" \
        -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -tAc "SHOW server_encoding" 2>/dev/null) \
        || return 1
    [ "$pg_encoding" = "UTF8" ]
}

pg_server_installed() {
    # Debian's layout: /usr/lib/postgresql/<major>/bin/postgres, managed by postgresql-common.
    command -v pg_ctlcluster >/dev/null 2>&1 || return 1
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$bin" ] && return 0
    done
    return 1
}

pg_ok=""
if [ -n "$want_pg" ] && pg_test_db_ok; then pg_ok=yes; fi

need_apt=""
[ -x /usr/bin/storescu ] || need_apt="$need_apt dcmtk"
if [ -n "$want_pg" ] && [ -z "$pg_ok" ] && ! pg_server_installed; then
    need_apt="$need_apt postgresql"
fi

if [ -n "$need_apt" ]; then
    need_root "install:$need_apt"
    echo "install-test-deps: installing$need_apt"
    $SUDO apt-get update -qq
    # LANG: the cluster that installing postgresql creates takes its encoding
    # from the locale (SQL_ASCII under an unset one).
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get install -y -q $need_apt \
        >/dev/null
fi

if [ -z "$want_pg" ] || [ -n "$pg_ok" ]; then
    exit 0
fi

# -- PostgreSQL: a cluster on $PG_PORT, started, with the tests' role and database --

as_postgres() {
    # Run "$@" as the postgres system user (peer authentication over the
    # Unix socket), from / so that it never complains about our cwd.
    if [ "$(id -u)" = "0" ]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@")
        else
            # su takes one command line: the arguments here are plain words.
            (cd / && su postgres -s /bin/sh -c "$*")
        fi
    else
        (cd / && sudo -u postgres "$@")
    fi
}

# Debian may hold several majors; the newest one wins unless a cluster
# already has our port.
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
cluster=$(pg_lsclusters -h | awk -v port="$PG_PORT" '$3 == port { print $1, $2, $4; exit }')
if [ -z "$cluster" ]; then
    # No cluster on our port (a package installed with create_main_cluster =
    # false, or main moved elsewhere): make one.
    need_root "create a PostgreSQL cluster"
    name=main
    if pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" { f = 1 } END { exit !f }'
    then
        name=dicomqr
    fi
    echo "install-test-deps: creating PostgreSQL $pg_version cluster '$name' on port $PG_PORT"
    $SUDO pg_createcluster --locale C.UTF-8 -p "$PG_PORT" "$pg_version" "$name" >/dev/null
    cluster="$pg_version $name down"
fi
# shellcheck disable=SC2086 # split "version name status" on purpose
set -- $cluster
pg_version=$1 pg_cluster=$2 pg_status=$3

case "$pg_status" in
    online*) ;;
    *)
        # No systemd in containers, and policy-rc.d keeps apt from starting
        # it: start the cluster directly (pg_ctlcluster hands over to
        # systemd itself where systemd runs).
        need_root "start PostgreSQL"
        echo "install-test-deps: starting PostgreSQL $pg_version/$pg_cluster on port $PG_PORT"
        $SUDO pg_ctlcluster "$pg_version" "$pg_cluster" start
        ;;
esac

tries=0
until pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
        echo "install-test-deps: PostgreSQL $pg_version/$pg_cluster does not answer on" \
             "$PG_HOST:$PG_PORT; see /var/log/postgresql/postgresql-$pg_version-$pg_cluster.log" >&2
        exit 1
    fi
    sleep 1
done

if [ "$(id -u)" != "0" ]; then need_root "create the PostgreSQL test role"; fi
echo "install-test-deps: PostgreSQL role $PG_ROLE and database $PG_DB"
# Create or repair: the role may exist with another password, the database
# with another owner. \gexec runs the CREATE DATABASE only when it is missing
# (it cannot run inside a DO block); from template0, in UTF-8 whatever the
# cluster's own encoding and locale (SQL_ASCII and C when made without one).
as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL
DO \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
        ALTER ROLE $PG_ROLE WITH LOGIN PASSWORD '$PG_PASSWORD';
    ELSE
        CREATE ROLE $PG_ROLE WITH LOGIN PASSWORD '$PG_PASSWORD';
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE TEMPLATE template0 ENCODING ''UTF8'''
       || ' LC_COLLATE ''C.UTF-8'' LC_CTYPE ''C.UTF-8'''
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
ALTER DATABASE $PG_DB OWNER TO $PG_ROLE;
SQL

if ! pg_test_db_ok; then
    if [ -n "$pg_encoding" ]; then
        echo "install-test-deps: database $PG_DB is in $pg_encoding, the tests need UTF8:" \
             "drop it (dropdb $PG_DB, as postgres) and run this again" >&2
    else
        echo "install-test-deps: cannot log in as $PG_ROLE to $PG_DB on $PG_HOST:$PG_PORT" \
             "(check pg_hba.conf of PostgreSQL $pg_version/$pg_cluster)" >&2
    fi
    exit 1
fi
