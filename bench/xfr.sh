#!/bin/sh
# Zone transfer speed of anycst-primary beside knotd as a primary for the
# same zone: AXFR of a large zone over TCP (dig +stats, TSIG on both), and
# IXFR of a one-record change.  XFR_RECORDS (default 1000000) sets the size,
# XFR_RUNS (default 3) the runs per figure (median reported).
# Needs: bin/anycst-primary (make all), knotd, knotc, dig, /usr/bin/python3.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/xfr_bench.py "$@"
