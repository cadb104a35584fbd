#!/bin/sh
# Many zones on one primary (issue 18): SCALE_ZONES (default 100000) zones of
# 10 records POSTed in a row by 8 clients: zones/s, the primary's RSS, the
# largest WAL seen, database size per zone, then GET /zones of all of them.
# Needs: bin/anycst-primary (make all), /usr/bin/python3.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/zones_bench.py "$@"
