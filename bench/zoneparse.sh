#!/bin/sh
# Zone text parsing speed: a generated 1,000,000-record zone parsed by
# anycst-zonecheck -q and by Knot DNS's kzonecheck (Debian's knot-dnssecutils),
# wall time of the whole process (read + parse + checks), best of RUNS runs.
# Run from the repository root after `make`:  sh bench/zoneparse.sh
# Environment: RECORDS (default 1000000), RUNS (default 3), TOOLBIN (default ./build/tools-bin).
set -eu

RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-3}
TOOLBIN=${TOOLBIN:-./build/tools-bin}
ZC="$TOOLBIN/anycst-zonecheck"
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

# best() runs "$@" RUNS times and prints "WALL CPU": the best wall time and
# the best user+sys CPU time, in seconds.  CPU time survives a noisy shared
# machine better than wall time (shared/BENCH.md).
best() {
	bw=""
	bc=""
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		/usr/bin/time -f "%e %U %S" -o "$dir/time" "$@" > "$dir/out" 2> "$dir/err" ||
			{ echo "zoneparse: $* failed:" >&2; cat "$dir/err" >&2; exit 1; }
		read -r w u s < "$dir/time"
		c=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
		if [ -z "$bw" ] || [ "$(awk -v a="$w" -v b="$bw" 'BEGIN { print (a < b) }')" = 1 ]; then
			bw=$w
		fi
		if [ -z "$bc" ] || [ "$(awk -v a="$c" -v b="$bc" 'BEGIN { print (a < b) }')" = 1 ]; then
			bc=$c
		fi
		i=$((i + 1))
	done
	echo "$bw $bc"
}
report() {   # NAME "WALL CPU"
	echo "$2" | awk -v name="$1" -v n="$RECORDS" '{
		w = $1 > 0 ? $1 : 0.001; c = $2 > 0 ? $2 : 0.001
		printf "%-17s wall %7.3f s %10.0f records/s   cpu %7.3f s %10.0f records/s\n", name, $1, n / w, $2, n / c }'
}

[ -x /usr/bin/time ] || { echo "zoneparse: /usr/bin/time missing (Debian package time)" >&2; exit 1; }
echo "zoneparse: $RECORDS records, $lines lines, $size bytes; best of $RUNS runs, wall and user+sys CPU time"
ta=$(best "$ZC" -q -o "$ORIGIN" "$zone")
grep -q "^$RECORDS records" "$dir/out" || { echo "zoneparse: anycst-zonecheck did not count $RECORDS records" >&2; exit 1; }
report anycst-zonecheck "$ta"

if command -v kzonecheck > /dev/null 2>&1; then
	tk=$(best kzonecheck -o "$ORIGIN" "$zone")
	report kzonecheck "$tk"
	echo "$ta $tk" | awk '{ printf "ratio anycst/knot (records/s): wall %.2fx, cpu %.2fx\n", $3 / $1, $4 / $2 }'
else
	echo "kzonecheck not found (Debian package knot-dnssecutils): no comparison"
fi
