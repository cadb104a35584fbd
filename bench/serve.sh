#!/bin/sh
# Serving benchmark (issue 5): UDP queries per second of our answer path
# (build/tools-bin/anycst-answer-server: answer_build over the zone database, one thread;
# and the POP daemon bin/anycst-secondary --workers 1, its zone transferred
# from a knotd primary that is then stopped) beside Debian's knotd 3.2 and
# NSD 4.6 on the same zone and the same query mix; every server on core 0, the load generator (bench/dnsblast.c, from
# /work/shared/bench-tools: sendmmsg/recvmmsg, see BENCH.md) on core 1.
# Then RSS with a 1,000,000-record zone loaded, and the time to apply and
# publish a one-record IXFR on a 1,000,000-record zone (bench/ixfr_apply.c).
#
#   [NAMES=100000] [SECS=5] [ROUNDS=3] [RSS_NAMES=1000000] sh bench/serve.sh
#   (environment, defaults shown)
# Quote the ratios (the machine is shared and noisy: ±10% between runs).
set -u
cd "$(dirname "$0")/.."
NAMES=${NAMES:-100000}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
RSS_NAMES=${RSS_NAMES:-1000000}
CC=${CC:-cc}
. bench/lib.sh
bench_init serve

[ -x build/tools-bin/anycst-answer-server ] || { echo "build first: make all"; exit 1; }
$CC -O2 -o "$TMP/dnsblast" bench/dnsblast.c || exit 1
$CC -O2 -g -std=c11 -D_GNU_SOURCE -I. $(pkg-config --cflags liburcu-qsbr) \
	-o "$TMP/ixfr_apply" bench/ixfr_apply.c build/libsecondary.a build/libanycst.a \
	$(pkg-config --libs liburcu-qsbr) -lpthread || exit 1

# zone NAME COUNT FILE: one A per name plus a few apex records.
mkzone() {
	awk -v n="$2" -v z="$1" 'BEGIN {
		printf "$ORIGIN %s.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n", z
		printf "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n@ MX 10 mail\nmail A 192.0.2.25\n"
		for (i = 0; i < n; i++)
			printf "h%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
	}' > "$3"
}

rss_mb() {   # pid...: sum of VmRSS
	t=0
	for p in "$@"; do
		r=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null)
		t=$((t + ${r:-0}))
	done
	echo $((t / 1024))
}

start_ours() {   # zonefile port
	taskset -c 0 build/tools-bin/anycst-answer-server --listen 127.0.0.1:$2 \
		--zone "bench.test.:$1" > "$TMP/ours.out" 2>&1 &
	OURS=$!
	PIDS="$PIDS $OURS"
	wait_soa "$2"
}

start_knot() {   # zonefile port
	mkdir -p "$TMP/knot/db"
	cat > "$TMP/knot/knot.conf" <<EOF
server:
    rundir: $TMP/knot
    listen: 127.0.0.1@$2
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $TMP/knot/db
log:
  - target: stderr
    any: error
zone:
  - domain: bench.test
    file: $1
    journal-content: none
    zonefile-sync: -1
EOF
	taskset -c 0 knotd -c "$TMP/knot/knot.conf" > /dev/null 2>&1 &
	KNOT=$!
	PIDS="$PIDS $KNOT"
	wait_soa "$2"
}

start_nsd() {   # zonefile port
	mkdir -p "$TMP/nsd"
	cat > "$TMP/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$2
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$TMP/nsd"
    pidfile: "$TMP/nsd/nsd.pid"
    database: ""
    zonelistfile: "$TMP/nsd/zone.list"
    xfrdfile: "$TMP/nsd/xfrd.state"
    xfrdir: "$TMP/nsd"
    rrl-ratelimit: 0
    verbosity: 0
    tcp-count: 10
remote-control:
    control-enable: no
zone:
    name: bench.test
    zonefile: "$1"
EOF
	taskset -c 0 nsd -d -c "$TMP/nsd/nsd.conf" > "$TMP/nsd/log" 2>&1 &
	NSD=$!
	PIDS="$PIDS $NSD"
	wait_soa "$2"
}

start_secondary() {   # zonefile port: bin/anycst-secondary fed once by a knotd primary
	kp=$(free_port)
	mkdir -p "$TMP/prim/db" "$TMP/sst"
	cat > "$TMP/prim/knot.conf" <<EOF
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
    file: $1
    journal-content: none
    zonefile-sync: -1
    acl: xfr
EOF
	knotd -c "$TMP/prim/knot.conf" > /dev/null 2>&1 &
	PRIM=$!
	PIDS="$PIDS $PRIM"
	taskset -c 0 bin/anycst-secondary --primary 127.0.0.1:$kp --transport tcp \
		--zone bench.test. --listen 127.0.0.1:$2 --state-dir "$TMP/sst" --workers 1 \
		--log-level warning > "$TMP/sec.log" 2>&1 &
	SEC=$!
	PIDS="$PIDS $SEC"
	wait_soa "$2" || return 1
	stop "$PRIM"   # the secondary keeps serving what it transferred
}

stop() {   # pid
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

blast() {   # port -> qps
	taskset -c 1 "$TMP/dnsblast" -s 127.0.0.1 -p "$1" -d "$TMP/queries" -l "$SECS" -q 200 \
		> "$TMP/blast.out" 2>&1
	awk '/Queries per second/ {printf "%d", $4}' "$TMP/blast.out"
}

tree() {   # pid: it and all its descendants (NSD serves from a grandchild)
	echo "$1"
	for c in $(pgrep -P "$1" 2>/dev/null); do tree "$c"; done
}

cpu_ticks() {   # pid...: utime+stime of the processes
	t=0
	for p in "$@"; do
		# utime + stime; the name field may hold spaces ("nsd: server 1"), so cut it off.
		v=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | awk '{print $12 + $13}')
		t=$((t + ${v:-0}))
	done
	echo $t
}

echo "zone: $NAMES names; query mix: 80% existing A, 10% NXDOMAIN, 5% NODATA, 5% MX at the apex"
mkzone bench.test "$NAMES" "$TMP/bench.zone"
awk -v n="$NAMES" 'BEGIN {
	srand(7)
	for (i = 0; i < 200000; i++) {
		r = rand()
		if (r < 0.80) printf "h%d.bench.test A\n", int(rand() * n)
		else if (r < 0.90) printf "nx%d.bench.test A\n", int(rand() * n)
		else if (r < 0.95) printf "h%d.bench.test AAAA\n", int(rand() * n)
		else printf "bench.test MX\n"
	}
}' > "$TMP/queries"

HZ=$(getconf CLK_TCK)
# All servers run at once, idle but for the one under load; the rounds go
# round-robin over them so that a change in the machine's load hits all alike.
LABELS=""
start_all() {   # label startfn pid-var
	port=$(free_port)
	$2 "$TMP/bench.zone" "$port" || return 1
	pid=$(eval echo \$$3)
	eval "PORT_$1=$port PID_$1=$pid BEST_$1=0 US_$1=999"
	eval "TREE_$1=\"$(tree "$pid" | tr '\n' ' ')\""
	LABELS="$LABELS $1"
}

echo "UDP queries per second (servers on core 0, dnsblast on core 1, $SECS s a run," \
	"best of $ROUNDS rounds):"
start_all ours start_ours OURS
if [ -x bin/anycst-secondary ]; then
	start_all secondary start_secondary SEC
fi
start_all knotd start_knot KNOT
if command -v nsd > /dev/null; then
	start_all nsd start_nsd NSD
fi
r=0
while [ $r -lt "$ROUNDS" ]; do
	for l in $LABELS; do
		port=$(eval echo \$PORT_$l)
		pids=$(eval echo \$TREE_$l)
		c0=$(cpu_ticks $pids)
		qps=$(blast "$port")
		c1=$(cpu_ticks $pids)
		us=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v q="$qps" -v s="$SECS" \
			'BEGIN { if (q > 0) printf "%.2f", c / hz * 1e6 / (q * s); else print "999" }')
		best=$(eval echo \$BEST_$l)
		[ "${qps:-0}" -gt "$best" ] && eval "BEST_$l=$qps"
		eval "US_$l=$(awk -v a="$us" -v b="$(eval echo \$US_$l)" 'BEGIN { print (a < b) ? a : b }')"
		eval "LOST_$l=\"$(awk '/Queries lost/ {print $3, $4}' "$TMP/blast.out")\""
	done
	r=$((r + 1))
done
for l in $LABELS; do
	echo "  $l: $(eval echo \$BEST_$l) qps, $(eval echo \$US_$l) us CPU/query," \
		"lost $(eval echo \$LOST_$l) in its last run"
	stop "$(eval echo \$PID_$l)"
done
awk -v o="${BEST_ours:-0}" -v s="${BEST_secondary:-0}" -v k="${BEST_knotd:-0}" \
	-v n="${BEST_nsd:-0}" -v uo="${US_ours:-0}" -v us="${US_secondary:-0}" \
	-v uk="${US_knotd:-0}" -v un="${US_nsd:-0}" 'BEGIN {
	if (k > 0) printf "  qps ratio ours/knotd: %.2f, secondary/knotd: %.2f\n", o / k, s / k
	if (n > 0) printf "  qps ratio ours/nsd:   %.2f, secondary/nsd:   %.2f\n", o / n, s / n
	if (uo > 0) printf "  CPU per query, knotd/ours: %.2f, nsd/ours: %.2f, knotd/secondary: %.2f\n",
		uk / uo, un / uo, (us > 0 ? uk / us : 0)
}'

echo "RSS with a $RSS_NAMES-record zone loaded from a zone file:"
mkzone bench.test "$((RSS_NAMES - 7))" "$TMP/big.zone"
port=$(free_port)
start_ours "$TMP/big.zone" "$port" && { R_OURS=$(rss_mb $OURS); echo "  ours:  $R_OURS MB"; stop $OURS; }
port=$(free_port)
start_knot "$TMP/big.zone" "$port" && { R_KNOT=$(rss_mb $KNOT); echo "  knotd: $R_KNOT MB"; stop $KNOT; }
if command -v nsd > /dev/null; then
	port=$(free_port)
	if start_nsd "$TMP/big.zone" "$port"; then
		R_NSD=$(rss_mb $(tree $NSD | tr '\n' ' '))
		echo "  nsd:   $R_NSD MB (all its processes)"
		stop $NSD
	fi
fi
awk -v o="${R_OURS:-0}" -v k="${R_KNOT:-0}" -v n="${R_NSD:-0}" 'BEGIN {
	if (k > 0) printf "  ratio ours/knotd: %.2f\n", o / k
	if (n > 0) printf "  ratio ours/nsd:   %.2f\n", o / n
}'

echo "IXFR apply + publish (in memory, bench/ixfr_apply.c):"
"$TMP/ixfr_apply" "$RSS_NAMES" 1000 | sed 's/^/  /'
