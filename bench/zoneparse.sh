#!/bin/sh
# Zone text parsing speed: a generated 1,000,000-record zone parsed by
# anycst-zonecheck -q and by Knot DNS's kzonecheck (Debian's knot-dnssecutils),
# wall time of the whole process (read + parse + checks), best of RUNS runs.
# Run from the repository root after `make`:  sh bench/zoneparse.sh
# Environment: RECORDS (default 1000000), RUNS (default 3), BIN (default ./bin).
set -eu

RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-3}
BIN=${BIN:-./bin}
ZC="$BIN/anycst-zonecheck"
ORIGIN=bench.test.

[ -x "$ZC" ] || { echo "zoneparse: $ZC missing, run make first" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
zone="$dir/bench.test.zone"

# The mix of a hosting zone: A, AAAA, MX, TXT and CNAME in turn, relative and
# absolute names, a few TTL forms, blank owners.
awk -v n="$RECORDS" 'BEGIN {
	print "$ORIGIN bench.test."
	print "$TTL 1h"
	print "@ IN SOA ns1 hostmaster ( 2024112601 2h 30m 2w 5m )"
	print "  IN NS ns1.bench.test."
	print "ns1 IN A 10.255.255.1"
	for (i = 0; i < n - 3; i++) {
		h = int(i / 5)
		k = i % 5
		if (k == 0)
			printf "host%d 3600 IN A 10.%d.%d.%d\n", h, int(h / 65536) % 256, int(h / 256) % 256, h % 256
		else if (k == 1)
			printf "\tIN AAAA 2001:db8:%x::%x\n", int(h / 65536), h % 65536
		else if (k == 2)
			printf "\tMX 10 mail%d.bench.test.\n", h % 1000
		else if (k == 3)
			printf "\t1h30m TXT \"v=spf1 ip4:10.%d.%d.0/24 -all\" \"id=%d\"\n", int(h / 256) % 256, h % 256, h
		else
			printf "www%d IN CNAME host%d\n", h, h
	}
}' > "$zone"
lines=$(wc -l < "$zone")
size=$(wc -c < "$zone")
cat "$zone" > /dev/null   # page cache warm for both

now() { date +%s.%N; }
best() {   # best wall time of RUNS runs of "$@"
	b=""
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		t0=$(now)
		"$@" > "$dir/out" 2> "$dir/err" || { echo "zoneparse: $* failed:" >&2; cat "$dir/err" >&2; exit 1; }
		t1=$(now)
		t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
		if [ -z "$b" ] || [ "$(awk -v a="$t" -v b="$b" 'BEGIN { print (a < b) }')" = 1 ]; then
			b=$t
		fi
		i=$((i + 1))
	done
	echo "$b"
}

echo "zoneparse: $RECORDS records, $lines lines, $size bytes; best of $RUNS runs (wall time)"
ta=$(best "$ZC" -q -o "$ORIGIN" "$zone")
cat "$dir/out"
grep -q "^$RECORDS records" "$dir/out" || { echo "zoneparse: anycst-zonecheck did not count $RECORDS records" >&2; exit 1; }
awk -v n="$RECORDS" -v t="$ta" 'BEGIN { printf "anycst-zonecheck  %8.3f s  %10.0f records/s\n", t, n / t }'

if command -v kzonecheck > /dev/null 2>&1; then
	tk=$(best kzonecheck -o "$ORIGIN" "$zone")
	awk -v n="$RECORDS" -v t="$tk" 'BEGIN { printf "kzonecheck        %8.3f s  %10.0f records/s\n", t, n / t }'
	awk -v a="$ta" -v k="$tk" 'BEGIN { printf "ratio anycst/knot: %.2fx the records/s of kzonecheck\n", k / a }'
else
	echo "kzonecheck not found (Debian package knot-dnssecutils): no comparison"
fi
