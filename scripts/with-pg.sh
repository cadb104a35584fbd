#!/bin/sh
# Runs a command beside a throwaway PostgreSQL 15: initdb in a fresh temp
# directory (as the postgres user via runuser when run as root, else as the
# current user), the server listening only on a unix socket in that
# directory, trust authentication.  The command sees the server's URL in
# ANYCST_TEST_PG (postgresql:///anycst?host=DIR&user=...); the server is
# stopped by its PID and the directory removed afterwards, whatever the
# command's result, which is this script's exit status.
#   scripts/with-pg.sh build/tests/test_store
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/postgres" ] || { echo "with-pg: no $PGBIN/postgres (make deps)" >&2; exit 2; }
dir=$(mktemp -d /tmp/anycst-pg.XXXXXX)
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$dir"
	as() { runuser -u postgres -- "$@"; }
	user=postgres
else
	as() { "$@"; }
	user=$(id -un)
fi
pid=""
cleanup() {
	# the server's own PID (runuser forks it), from its pid file
	if [ -f "$dir/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$dir/data/postmaster.pid")
	fi
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
as "$PGBIN/initdb" -D "$dir/data" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 \
	>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 2; }
as "$PGBIN/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= -c fsync=off \
	-c max_connections=200 -c shared_buffers=32MB >"$dir/postgres.log" 2>&1 &
pid=$!
i=0
until as "$PGBIN/pg_isready" -q -h "$dir" -U "$user"; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "with-pg: PostgreSQL did not start:" >&2
		cat "$dir/postgres.log" >&2
		exit 2
	fi
	sleep 0.1
done
as "$PGBIN/createdb" -h "$dir" -U "$user" anycst
export ANYCST_TEST_PG="postgresql:///anycst?host=$dir&user=$user"
export ANYCST_TEST_PG_DIR="$dir"
export ANYCST_TEST_PG_USER="$user"
rc=0
"$@" || rc=$?
exit $rc
