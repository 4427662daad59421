#!/bin/sh
# Entrypoint for stackgen's PostgreSQL 15 image, following the contract of the
# official postgres image:
#   POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD  superuser password (init only)
#   POSTGRES_USER   superuser name (default: postgres)
#   POSTGRES_DB     database to create (default: $POSTGRES_USER)
#   PGDATA          data directory (default: /var/lib/postgresql/data)
#   /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz  run once, in name order
# Initialisation happens only when $PGDATA holds no cluster (no PG_VERSION); on later
# starts the POSTGRES_* variables are ignored: users and passwords live in the volume.
#
# Runs as the postgres user from the start (never root: nothing here needs to chown),
# on a read-only root filesystem; it writes only to $PGDATA, the unix socket directory
# (/var/run/postgresql) and /dev/shm. The password is never printed.
set -eu

log() {
    echo "docker-entrypoint: $*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# Only `postgres ...` (or bare options for it) goes through init; any other command,
# e.g. `bash` or `psql`, runs as is.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi
shift

[ "$(id -u)" != 0 ] || die "must not run as root; run as the postgres user (USER in the image)"

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
export POSTGRES_USER POSTGRES_DB

psql_run() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" "$@"
}

run_initdb_scripts() {
    for f in /docker-entrypoint-initdb.d/*; do
        [ -e "$f" ] || continue  # empty directory: the glob stays unexpanded
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    log "running $f"
                    "$f"
                else
                    log "sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql)
                log "running $f"
                psql_run --dbname "$POSTGRES_DB" -f "$f"
                ;;
            *.sql.gz)
                log "running $f"
                # POSIX sh has no pipefail: check the archive first.
                gzip -t "$f" || die "$f is not a valid gzip file"
                gzip -dc "$f" | psql_run --dbname "$POSTGRES_DB"
                ;;
            *)
                log "ignoring $f"
                ;;
        esac
    done
}

init_cluster() {
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then
        die "set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD, not both"
    fi
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        [ -r "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE is not readable"
        [ -s "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE is empty"
    elif [ -z "${POSTGRES_PASSWORD:-}" ]; then
        die "the database is uninitialised and no superuser password is set: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)"
    fi

    log "initialising a new cluster in $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
    # If anything below fails, the half-made cluster stays in the volume and the next
    # start would skip init: say so.
    trap 'log "error: initialisation failed; $PGDATA is incomplete: remove the volume before retrying"' EXIT

    # initdb takes the password from the first line of --pwfile (trailing newline
    # stripped); with POSTGRES_PASSWORD it reads a pipe, so the password is never in
    # a file or on a command line (printf is a shell builtin).
    # Local (unix socket) connections are trusted, as in the official image: only
    # processes inside the container can reach the socket. TCP needs scram-sha-256.
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        initdb --username="$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" \
            --auth-host=scram-sha-256 --auth-local=trust
    else
        printf '%s\n' "$POSTGRES_PASSWORD" \
            | initdb --username="$POSTGRES_USER" --pwfile=/dev/stdin \
                --auth-host=scram-sha-256 --auth-local=trust
    fi
    printf '\n# Added by docker-entrypoint.sh: password logins over TCP from anywhere.\nhost all all all scram-sha-256\n' \
        >> "$PGDATA/pg_hba.conf"

    # Temporary server on the unix socket only: a TCP health check
    # (pg_isready -h 127.0.0.1) cannot pass before init has finished.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start

    if [ "$POSTGRES_DB" != postgres ]; then
        log "creating database $POSTGRES_DB"
        # psql's :"var" quotes the name as an identifier.
        printf 'CREATE DATABASE :"db";\n' \
            | psql_run --dbname postgres --set db="$POSTGRES_DB"
    fi

    run_initdb_scripts

    pg_ctl -D "$PGDATA" -m fast -w stop
    trap - EXIT
    log "initialisation complete"
}

socket_dir=/var/run/postgresql
if [ ! -w "$socket_dir" ]; then
    log "warning: $socket_dir (the unix socket directory) is not writable by $(id -un);" \
        "the server cannot start unless it is (e.g. a tmpfs with mode 1777) or" \
        "unix_socket_directories points elsewhere"
fi

if [ ! -d "$PGDATA" ]; then
    (umask 077 && mkdir -p "$PGDATA") || die "cannot create $PGDATA as $(id -un)"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    [ -w "$PGDATA" ] || die "$PGDATA is not writable by $(id -un) (uid $(id -u)); a new named volume gets the right owner, a bind mount must be owned by uid $(id -u)"
    init_cluster
else
    log "$PGDATA already holds a PostgreSQL $(cat "$PGDATA/PG_VERSION") cluster; skipping initialisation"
fi

# Never leave the password in the server's environment.
unset POSTGRES_PASSWORD

exec postgres -c listen_addresses='*' "$@"
