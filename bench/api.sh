#!/bin/sh
# REST API beside PowerDNS 4.7 (gsqlite3): PATCH/s and latency with 8 clients
# on a 100,000-record zone, zones created per second, GET /zones with 100,000
# zones.  See bench/api.py for the knobs (API_ARGS passes them through).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/api.py ${API_ARGS:-}
