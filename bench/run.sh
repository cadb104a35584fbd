#!/bin/sh
# `make bench`: runs every benchmark script in bench/ in turn.  Each prints
# its own figures and the ratios against the peer it names (Knot DNS, NSD,
# PowerDNS).  BENCH=name runs only bench/name.sh.
set -u
cd "$(dirname "$0")/.."
status=0
for s in bench/*.sh; do
	name=$(basename "$s" .sh)
	case $name in run | lib) continue ;; esac   # this runner, the scripts' shared functions
	if [ -n "${BENCH:-}" ] && [ "$BENCH" != "$name" ]; then
		continue
	fi
	echo "=== bench: $name"
	sh "$s" || { echo "bench $name failed"; status=1; }
done
exit $status
