#!/bin/sh
# DNSSEC signing beside Debian's knotd (issue 15), on a 100,000-record zone:
#   - the raw GnuTLS signing limit of this machine (bench/signlimit.c), one core
#     alone and every core at once, measured again after each of our signings;
#   - first signing, ECDSA P-256 (13) and Ed25519 (15), NSEC, CSK: wall and CPU
#     seconds of anycst-primary from PUT dnssec:true until the zone is signed
#     (SIGN_ROUNDS times, the median ratio: the raw limit here moves by a
#     tenth or more from one minute to the next),
#     beside `knotc -b zone-sign` (knotd, signing-threads = cores);
#   - one-record change on the signed zone: PATCH p50/p99 beside knotc
#     zone-commit (after zone-begin/zone-set/zone-unset) on Knot's signed copy;
#   - UDP QPS with DO=1: anycst-secondary (its copy transferred from the
#     primary) beside knotd, each on core 0 with one UDP worker, the load
#     generator (bench/dnsblast.c -D) on core 1.
#
#   [VAR=VALUE ...] sh bench/sign.sh, from the environment (defaults shown):
#     SIGN_NAMES=100000 SIGN_PATCHES=1000 SIGN_KNOT_COMMITS=40 SECS=5 ROUNDS=3
#     SIGN_ROUNDS=3 (first signings of each algorithm, each on a new primary)
#     SIGN_DUMP=FILE (each PATCH's index and latency in ms, one a line; unset: none)
# Needs: bin/ (make all), knotd, knotc, gnutls headers, /usr/bin/python3.
set -eu
cd "$(dirname "$0")/.."
[ -x bin/anycst-primary ] || { echo "build first: make all"; exit 1; }
[ $# -eq 0 ] || { echo "bench/sign.sh takes no arguments: set $1 in the environment" >&2; exit 2; }
exec /usr/bin/python3 bench/sign_bench.py
