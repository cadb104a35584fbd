#!/bin/sh
# Loading a zone file of IMPORT_RECORDS (1,000,000) records into a running
# server: `anycstc zone import` (streamed through the primary's REST API,
# all-or-nothing) beside `knotc zone-reload` of knotd (Debian's) reading the
# same file and `pdnsutil load-zone` into PowerDNS's gsqlite3 database.
# Wall time and peak RSS of each side (the tool and, for the daemons, the
# daemon).  Needs: make all, knotd/knotc, pdnsutil with gsqlite3.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/import_bench.py "$@"
