# Sourced by tools/test: make sure the local PostgreSQL cluster runs, holds the `test` database
# and lets the `postgres` role in with a password we control (so the DSN works under trust or
# scram), then export it as EVENTSVC_TEST_POSTGRES_DSN. Best effort: a machine without
# PostgreSQL still runs every other test.
pg_password="${EVENTSVC_TEST_POSTGRES_PASSWORD:-eventsvc-test}"
pg_dsn="postgresql://postgres:${pg_password}@127.0.0.1:5432/test"

_pg_as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pg_prepare() {
    command -v pg_lsclusters >/dev/null 2>&1 || { echo "PostgreSQL is not installed" >&2; return 1; }
    local version
    version="$(pg_lsclusters --no-header 2>/dev/null | awk '$2 == "main" {print $1; exit}')"
    [ -n "$version" ] || { echo "no PostgreSQL 'main' cluster" >&2; return 1; }
    if ! pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q online; then
        echo "starting PostgreSQL $version" >&2
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || return 1
    fi
    _pg_as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres \
        -c "ALTER ROLE postgres PASSWORD '${pg_password}'" >/dev/null || return 1
    if [ "$(_pg_as_postgres psql -Atq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
        _pg_as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE test" || return 1
    fi
}

if _pg_prepare; then
    export EVENTSVC_TEST_POSTGRES_DSN="$pg_dsn"
    # The local server is on loopback: no TLS negotiation. asyncpg's default (prefer) asks for
    # TLS first, and a connect cancelled during that exchange (a store closing while its pool
    # grows) leaves a future whose exception nobody reads, which the test runner then raises.
    export PGSSLMODE=disable
else
    echo "warning: PostgreSQL is not ready; tests that need it will say so" >&2
fi
