#!/bin/sh
# DNS UPDATE (RFC 2136) throughput of anycst-primary beside knotd and named
# accepting UPDATE for the same 20,000-record zone: UPDATE_CLIENTS (8) TCP
# clients, each on one connection, send UPDATE_EACH (250) TSIG-signed UPDATEs
# in a row (one TXT record added per UPDATE); UPDATEs/s and p50/p99 latency.
# The clients are build/tools-bin/anycst-updload (C threads) when built, else
# dnspython threads (UPDATE_CLIENT=python forces those).  UPDATE_DUMP=DIR: the
# C client writes every UPDATE's send time and latency to DIR/<server>.lat.
# Needs: bin/anycst-primary (make all), knotd, named, /usr/bin/python3.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/update_bench.py "$@"
