#!/bin/sh
# A bulk change of 10,000 zones (one PATCH each): time until the anycst POP
# and knotd serve all of them, NOTIFY messages sent (issue 18).  Knobs in
# bench/bulk_bench.py (BULK_ZONES, BULK_CLIENTS, BULK_KNOT).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bulk_bench.py
