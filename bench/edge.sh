#!/bin/sh
# Anycast edge benchmark (issue 8):
#  1. UDP QPS of bin/anycst-secondary with RRL off beside RRL on, the rate far
#     above the load (--rrl-rate 10000000: every answer is judged, none is
#     limited), so the difference is the cost of the bucket check; one worker
#     pinned to core 0, bench/dnsblast on core 1, the two daemons measured in
#     turn, ROUNDS rounds of SECS seconds each; medians and their ratio.
#     Also the server's CPU per answered query (survives noise better than
#     QPS), the share of the server's CPU samples in rrl_* (perf, steadier
#     still) and bench/rrl_check.c: the hook's own cost in ns per call.
#  2. Failover: POP A's secondary killed under a steady query stream in the
#     BIRD lab of tests/e2e/anycst_e2e/edge.py: time to withdraw, time to the first
#     answer from POP B, lost queries; median over RUNS runs (root and bird).
#     Then POP A made unhealthy instead (its zone expires, the daemon runs on):
#     time from the fault to the withdrawal, lost queries (issue 13).
#
#   [NAMES=100000] [SECS=5] [ROUNDS=10] [RUNS=10] sh bench/edge.sh   (environment, defaults shown)
set -u
cd "$(dirname "$0")/.."
NAMES=${NAMES:-100000}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-10}
RUNS=${RUNS:-10}
CC=${CC:-cc}
. bench/lib.sh
bench_init edge

[ -x bin/anycst-secondary ] || { echo "build first: make all"; exit 1; }
$CC -O2 -o "$TMP/dnsblast" bench/dnsblast.c || exit 1
$CC -O2 -std=c11 -D_GNU_SOURCE -I. -o "$TMP/rrl_check" bench/rrl_check.c build/libsecondary.a \
	build/libanycst.a -lpthread || exit 1

awk -v n="$NAMES" 'BEGIN {
	printf "$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 864000 300\n"
	printf "@ NS ns1\nns1 A 192.0.2.1\n"
	for (i = 0; i < n; i++)
		printf "h%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
}' > "$TMP/bench.zone"
awk -v n="$NAMES" 'BEGIN {
	srand(7)
	for (i = 0; i < 200000; i++) {
		r = rand()
		if (r < 0.9) printf "h%d.bench.test A\n", int(rand() * n)
		else printf "nx%d.bench.test A\n", i
	}
}' > "$TMP/queries"

# One knotd primary feeds both secondaries once, then stops.
kp=$(free_port)
mkdir -p "$TMP/prim/db"
cat > "$TMP/prim/knot.conf" <<EOC
server:
    rundir: $TMP/prim
    listen: 127.0.0.1@$kp
database:
    storage: $TMP/prim/db
log:
  - target: stderr
    any: error
acl:
  - id: xfr
    address: 127.0.0.1
    action: transfer
zone:
  - domain: bench.test
    file: $TMP/bench.zone
    journal-content: none
    zonefile-sync: -1
    acl: xfr
EOC
knotd -c "$TMP/prim/knot.conf" > /dev/null 2>&1 &
PRIM=$!
PIDS="$PIDS $PRIM"

start_sec() {   # name port extra...
	n=$1; p=$2; shift 2
	mkdir -p "$TMP/$n"
	taskset -c 0 bin/anycst-secondary --primary 127.0.0.1:$kp --transport tcp \
		--zone bench.test. --listen 127.0.0.1:$p --state-dir "$TMP/$n" --workers 1 \
		--log-level warning "$@" > "$TMP/$n.log" 2>&1 &
	PIDS="$PIDS $!"
	LAST=$!
}
POFF=$(free_port)
start_sec off "$POFF"
SOFF=$LAST
PON=$(free_port)
while [ "$PON" = "$POFF" ]; do PON=$(free_port); done
start_sec on "$PON" --rrl-rate 10000000 --rrl-slip 2
SON=$LAST
wait_soa "$POFF" || exit 1
wait_soa "$PON" || exit 1
kill "$PRIM" 2>/dev/null

cpu_ticks() {   # pid: utime+stime in clock ticks
	sed 's/.*) //' /proc/$1/stat 2>/dev/null | awk '{print $12 + $13}'
}

blast() {   # port pid -> "qps cpu_ns_per_query" (server CPU per answered query)
	c0=$(cpu_ticks "$2")
	taskset -c 1 "$TMP/dnsblast" -s 127.0.0.1 -p "$1" -d "$TMP/queries" -l "$SECS" -q 200 \
		> "$TMP/blast.out" 2>&1
	c1=$(cpu_ticks "$2")
	hz=$(getconf CLK_TCK)
	awk -v c="$((c1 - c0))" -v hz="$hz" '/Queries completed/ {n = $3}
		/Queries per second/ {q = $4}
		END {printf "%d %d", q, (n > 0 ? c * 1e9 / hz / n : 0)}' "$TMP/blast.out"
}

median() {   # numbers on stdin
	sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

echo "RRL cost: $NAMES names, 90% existing A, 10% NXDOMAIN; $ROUNDS rounds of $SECS s, alternating"
: > "$TMP/off.qps"
: > "$TMP/on.qps"
: > "$TMP/off.cpu"
: > "$TMP/on.cpu"
r=1
while [ $r -le "$ROUNDS" ]; do
	set -- $(blast "$POFF" "$SOFF"); a=$1; ac=$2
	set -- $(blast "$PON" "$SON"); b=$1; bc=$2
	echo "$a" >> "$TMP/off.qps"; echo "$b" >> "$TMP/on.qps"
	echo "$ac" >> "$TMP/off.cpu"; echo "$bc" >> "$TMP/on.cpu"
	echo "  round $r: RRL off ${a} QPS (${ac} ns CPU/query), RRL on ${b} QPS (${bc} ns CPU/query)"
	r=$((r + 1))
done
off=$(median < "$TMP/off.qps")
on=$(median < "$TMP/on.qps")
offc=$(median < "$TMP/off.cpu")
onc=$(median < "$TMP/on.cpu")
echo "median QPS: RRL off $off, RRL on $on, on/off = $(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a / b}') (cost $(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.1f", (1 - a / b) * 100}')%, aim < 5%)"
echo "median server CPU per query: RRL off $offc ns, RRL on $onc ns (cost $(awk -v a="$onc" -v b="$offc" 'BEGIN {printf "%.1f", (a / b - 1) * 100}')%; steadier than QPS on a shared machine)"
# The share of the server's CPU samples spent in the RRL functions: a ratio
# taken within one run, so it holds on a loaded machine where QPS does not.
if command -v perf > /dev/null; then
	taskset -c 1 "$TMP/dnsblast" -s 127.0.0.1 -p "$PON" -d "$TMP/queries" -l $((SECS + 2)) \
		-q 200 > /dev/null 2>&1 &
	BL=$!
	sleep 1
	perf record -q -o "$TMP/perf.data" -p "$SON" -- sleep "$SECS" > /dev/null 2>&1
	wait $BL
	perf report -i "$TMP/perf.data" --stdio --sort symbol 2>/dev/null | awk '
		/\[\.\] rrl_/ {sub("%", "", $1); s += $1}
		END {printf "RRL functions (rrl_*): %.1f%% of the server'"'"'s CPU samples (perf, RRL on; aim < 5%%)\n", s}'
fi
taskset -c 0 "$TMP/rrl_check"

echo
echo "Failover through BIRD, POP A killed and then made unhealthy (median over $RUNS runs):"
/usr/bin/python3 bench/edge_failover.py "$RUNS" 5
