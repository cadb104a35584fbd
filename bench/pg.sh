#!/bin/sh
# The PostgreSQL store beside PowerDNS 4.7 with gpgsql on the same server:
# PATCH/s and latency with 8 clients on a 20,000-record zone (issue 19).
# See bench/pg_bench.py for the knobs (PG_ARGS passes them through).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/pg_bench.py ${PG_ARGS:-}
