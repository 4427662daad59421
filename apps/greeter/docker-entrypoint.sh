#!/bin/sh
# Turns the database password secret into a libpq password file, then runs the
# command. This is a deployment concern, so it lives in the image, not in app.py.
#
# The secret arrives as a bind mount (compose file secret) at $DB_PASSWORD_FILE,
# readable by this user but mode 0644; libpq ignores a PGPASSFILE that is group-
# or world-readable, so copy it into a 0600 file on the /tmp tmpfs.
set -eu

if [ -n "${DB_PASSWORD_FILE:-}" ]; then
    if [ ! -r "$DB_PASSWORD_FILE" ]; then
        echo "docker-entrypoint: DB_PASSWORD_FILE=$DB_PASSWORD_FILE is not readable" >&2
        exit 1
    fi
    # First line only, without the trailing newline. The password is alphanumeric,
    # so it needs no escaping of ':' or '\' in the pgpass format.
    password=
    IFS= read -r password < "$DB_PASSWORD_FILE" || true  # no final newline is fine
    if [ -z "$password" ]; then
        echo "docker-entrypoint: $DB_PASSWORD_FILE is empty" >&2
        exit 1
    fi
    pgpass=/tmp/pgpass
    (
        umask 077
        rm -f "$pgpass"
        # printf is a shell builtin: the password never shows up in a process list.
        printf '*:*:*:*:%s\n' "$password" > "$pgpass"
    )
    unset password
    PGPASSFILE=$pgpass
    export PGPASSFILE
fi

exec "$@"
