#!/bin/sh
# Reseller scale (issue 18): SCALE_ZONES zones (default 100,000) x 10 records
# created through the API from 8 clients (time, primary RSS, database size,
# largest WAL seen); an empty POP following the catalog over QUIC beside
# Debian's knotd following it over TCP (time until every zone answers, RSS);
# the POP restarted from its state directory (time until every zone
# answers).  See bench/scale_bench.py for the knobs.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/scale_bench.py
