#!/bin/sh
# XoQ transport benchmark: a bulk transfer the size of a 100,000-record AXFR
# (80 messages of 60,000 bytes = 4.8 MB, every byte checked by the client)
# over QUIC (net/quic) beside TCP (2-byte framing, kernel TCP), between two
# network namespaces joined by veth with nftables dropping a random share of
# packets in each direction (0, 1, 5, 20 %).  Median of RUNS runs each; then
# the latency of a small request/response (an IXFR of one change) over an
# established connection, p50 and p99 of 200 requests.
# Needs root (ip netns, nft); prints "skipped" otherwise.
# Figures come from tools/anycst-doq-test, not yet from the daemons.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
TOOL=$BIN/anycst-doq-test
RUNS=${RUNS:-3}
N=${N:-80}
S=${S:-60000}
LOSSES=${LOSSES:-"0 1 5 20"}

if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
	echo "xoq: skipped (needs root, ip netns and nftables)"
	exit 0
fi
[ -x "$TOOL" ] || make -s "$TOOL" || exit 1

tag=$$
A=anyxa$tag
B=anyxb$tag
ADDR_A=10.78.$((tag % 200 + 20)).1
ADDR_B=10.78.$((tag % 200 + 20)).2
TMP=$(mktemp -d)
QPID=
TPID=

cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null
	[ -n "$TPID" ] && kill "$TPID" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

ip netns add "$A" && ip netns add "$B" &&
	ip link add "va$tag" type veth peer name "vb$tag" &&
	ip link set "va$tag" netns "$A" && ip link set "vb$tag" netns "$B" &&
	ip -n "$A" addr add "$ADDR_A/24" dev "va$tag" && ip -n "$B" addr add "$ADDR_B/24" dev "vb$tag" &&
	ip -n "$A" link set "va$tag" up && ip -n "$B" link set "vb$tag" up &&
	ip -n "$A" link set lo up && ip -n "$B" link set lo up || { echo "xoq: netns setup failed"; exit 1; }
# No TSO/GSO super-packets: nftables must see (and drop) wire-sized TCP segments too,
# or TCP would lose one 64 KB aggregate where QUIC loses one 1.2 KB datagram.
ip -n "$A" link set "va$tag" gso_max_segs 1 gso_max_size 1500 2>/dev/null
ip -n "$B" link set "vb$tag" gso_max_segs 1 gso_max_size 1500 2>/dev/null

set_loss() {
	for ns in "$A" "$B"; do
		ip netns exec "$ns" nft delete table inet loss 2>/dev/null
		if [ "$1" -gt 0 ]; then
			ip netns exec "$ns" nft add table inet loss
			ip netns exec "$ns" nft 'add chain inet loss out { type filter hook output priority 0; }'
			ip netns exec "$ns" nft add rule inet loss out numgen random mod 100 "<" "$1" drop
		fi
	done
}

ip netns exec "$A" "$TOOL" server --listen "$ADDR_A:8853" --key "$TMP/tls.key" >"$TMP/q.out" 2>"$TMP/q.err" &
QPID=$!
ip netns exec "$A" "$TOOL" tcp-server --listen "$ADDR_A:5300" >"$TMP/t.out" 2>&1 &
TPID=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
	grep -q ready "$TMP/q.out" 2>/dev/null && grep -q ready "$TMP/t.out" 2>/dev/null && break
	sleep 0.2
done
PIN=$(sed -n 's/.*pin=//p' "$TMP/q.out")

# Prints the median "ms" of $RUNS runs of the given client command, or "fail".
median_ms() {
	: >"$TMP/ms"
	r=0
	while [ "$r" -lt "$RUNS" ]; do
		line=$(timeout 120 ip netns exec "$B" "$TOOL" "$@" 2>/dev/null | tail -1)
		case "$line" in
		ok*) echo "$line" | sed -n 's/.* ms=\([0-9.]*\).*/\1/p' >>"$TMP/ms" ;;
		*) echo "fail"; return ;;
		esac
		r=$((r + 1))
	done
	sort -n "$TMP/ms" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "bulk transfer ${N}x${S} bytes, median of $RUNS runs (ms)"
printf '%-6s %10s %10s %10s\n' loss QUIC TCP QUIC/TCP
for loss in $LOSSES; do
	set_loss "$loss"
	q=$(median_ms get --remote "$ADDR_A:8853" --pin "$PIN" -n "$N" -s "$S" --timeout 110000)
	t=$(median_ms tcp-get --remote "$ADDR_A:5300" -n "$N" -s "$S" --timeout 110000)
	ratio=$(awk -v q="$q" -v t="$t" 'BEGIN { if (q + 0 > 0 && t + 0 > 0) printf "%.2f", q / t; else print "-" }')
	printf '%-6s %10s %10s %10s\n' "$loss%" "$q" "$t" "$ratio"
done

set_loss 0
echo "small request/response on an established connection, 200 requests (ms)"
ql=$(ip netns exec "$B" "$TOOL" get --remote "$ADDR_A:8853" --pin "$PIN" -n 1 -s 300 --repeat 200 2>/dev/null | tail -1)
tl=$(ip netns exec "$B" "$TOOL" tcp-get --remote "$ADDR_A:5300" -n 1 -s 300 --repeat 200 2>/dev/null | tail -1)
echo "QUIC: $(echo "$ql" | grep -o 'p50_ms=[0-9.]* p99_ms=[0-9.]*')"
echo "TCP:  $(echo "$tl" | grep -o 'p50_ms=[0-9.]* p99_ms=[0-9.]*')"
exit 0
