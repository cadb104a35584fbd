#!/bin/sh
# An empty POP following a catalog of POPF_ZONES zones (default 20,000),
# binary against binary (issue 18): wall time, the POP's CPU seconds per
# 1,000 zones and its system calls and context switches per zone, beside
# the primary's CPU seconds; POPF_BINS lists the bin directories to compare
# (default this tree's bin/).  See bench/pop_follow.py for the knobs.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/pop_follow.py
