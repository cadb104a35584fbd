#!/bin/sh
# XoQ benchmark with the real daemons: anycst-primary in one network
# namespace, the clients in another, joined by veth, nftables dropping a
# random share of packets in each direction (0, 1, 5, 20 %).
#   1. A 100,000-record AXFR (signed with TSIG, every message checked by
#      bin/anycst-xoq on a connection that has just asked for the SOA, as a
#      secondary does), QUIC beside TCP, median of RUNS runs each, and the
#      QUIC/TCP ratio; then the same transfer pulled by a fresh
#      anycst-secondary (handshake included: the "completed successfully ...
#      N ms" of its log), median of SEC_RUNS runs.
#   2. IXFR latency for a one-record change over an established connection
#      (REQS requests on one QUIC connection, then one TCP connection):
#      median and p99.
# Needs root (ip netns, nft); prints "skipped" otherwise.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
RUNS=${RUNS:-5}
REQS=${REQS:-200}
RECORDS=${RECORDS:-100000}
LOSSES=${LOSSES:-"0 1 5 20"}
SEC_RUNS=${SEC_RUNS:-3}

if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
	echo "xoq: skipped (needs root, ip netns and nftables)"
	exit 0
fi
TOOLBIN=${TOOLBIN:-build/tools-bin}
for b in anycst-primary anycst-secondary; do
	[ -x "$BIN/$b" ] || make -s "$BIN/$b" || exit 1
done
[ -x "$TOOLBIN/anycst-xoq" ] || make -s "$TOOLBIN/anycst-xoq" || exit 1

tag=$$
A=anyxa$tag
B=anyxb$tag
ADDR_A=10.78.$((tag % 200 + 20)).1
ADDR_B=10.78.$((tag % 200 + 20)).2
TMP=$(mktemp -d)
PPID_=
SPID=

cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -n "$PPID_" ] && kill "$PPID_" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

. bench/lib.sh   # free_port

# ---- the zone, made once through the API on loopback ----------------------------------
(umask 077 && echo "xoq-bench-key" >"$TMP/api.key")
APIPORT=$(free_port)
"$BIN/anycst-primary" --db "$TMP/anycst.db" --api "127.0.0.1:$APIPORT" \
	--api-key-file "$TMP/api.key" --xfr "127.0.0.1:$(free_port)" --quic "127.0.0.1:$(free_port)" \
	--tls-key "$TMP/tls.key" >"$TMP/prep.log" 2>&1 &
PPID_=$!
API="http://127.0.0.1:$APIPORT/api/v1/servers/localhost"
i=0
until curl -fs -o /dev/null -H "X-API-Key: xoq-bench-key" "$API"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "xoq: the primary did not start"; cat "$TMP/prep.log"; exit 1; }
	sleep 0.1
done
SECRET=$(head -c 32 /dev/urandom | base64)
curl -fs -H "X-API-Key: xoq-bench-key" -X POST "$API/tsigkeys" \
	-d "{\"name\": \"bench\", \"algorithm\": \"hmac-sha256\", \"key\": \"$SECRET\"}" >/dev/null
/usr/bin/python3 - "$RECORDS" >"$TMP/zone.json" <<'EOF'
import json, sys
n = int(sys.argv[1])
z = "big.test."
lines = ["%s 3600 IN SOA ns1.%s hostmaster.%s 1 3600 600 86400 300" % (z, z, z),
         "%s 3600 IN NS ns1.%s" % (z, z), "ns1.%s 3600 IN A 192.0.2.1" % z]
lines += ["r%d.%s 300 IN A 10.%d.%d.%d" % (i, z, i >> 16, (i >> 8) & 255, i & 255)
          for i in range(n - 3)]
print(json.dumps({"name": z, "kind": "Native", "zone": "\n".join(lines) + "\n",
                  "master_tsig_key_ids": ["bench."], "soa_edit_api": "INCREASE"}))
EOF
curl -fs -H "X-API-Key: xoq-bench-key" -X POST "$API/zones" --data-binary @"$TMP/zone.json" \
	>/dev/null || { echo "xoq: zone import failed"; exit 1; }
# one journal entry: the one-record change the IXFR measurement asks for
curl -fs -H "X-API-Key: xoq-bench-key" -X PATCH "$API/zones/big.test." -d '{"rrsets": [
	{"name": "r7.big.test.", "type": "A", "ttl": 300, "changetype": "REPLACE",
	 "records": [{"content": "198.51.100.7", "disabled": false}]}]}' >/dev/null
SERIAL=$(curl -fs -H "X-API-Key: xoq-bench-key" "$API/zones/big.test.?rrsets=false" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])')
PIN=$(curl -fs -H "X-API-Key: xoq-bench-key" "$API" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["quic_spki_pin"])')
kill "$PPID_"
wait "$PPID_" 2>/dev/null
PPID_=
KEY="bench.:hmac-sha256:$SECRET"      # anycst-xoq -y (a test client, like dig -y)
(umask 077 && echo "$KEY" >"$TMP/tsig.key")   # the secondary: never on its command line

# ---- two namespaces ---------------------------------------------------------------------
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

ip netns exec "$A" "$BIN/anycst-primary" --db "$TMP/anycst.db" --api "127.0.0.1:$APIPORT" \
	--api-key-file "$TMP/api.key" --xfr "$ADDR_A:5300" --quic "$ADDR_A:8853" \
	--tls-key "$TMP/tls.key" --log-level notice >"$TMP/primary.log" 2>&1 &
PPID_=$!
i=0
until grep -q "QUIC listening on $ADDR_A:8853" "$TMP/primary.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "xoq: the primary did not start in $A"; cat "$TMP/primary.log"; exit 1; }
	sleep 0.1
done

# Median of $RUNS runs of bin/anycst-xoq in namespace B with the given arguments (ms), with
# "/Nf" appended when N runs failed (a TCP transfer at 20% loss can stall past the primary's
# 20 s write timeout), or "fail" when all did.
median_xoq() {
	: >"$TMP/ms"
	r=0
	nf=0
	while [ "$r" -lt "$RUNS" ]; do
		line=$(timeout 150 ip netns exec "$B" "$TOOLBIN/anycst-xoq" --timeout 140000 "$@" 2>/dev/null |
			tail -1)
		case "$line" in
		ok*records=$RECORDS*|ok*records=$((RECORDS + 1))*)
			echo "$line" | sed -n 's/.* ms=\([0-9.]*\).*/\1/p' >>"$TMP/ms" ;;
		*) nf=$((nf + 1)) ;;
		esac
		r=$((r + 1))
	done
	[ -s "$TMP/ms" ] || { echo "fail"; return; }
	sort -n "$TMP/ms" | awk -v nf="$nf" '{ v[NR] = $1 }
		END { printf "%.1f%s", v[int((NR + 1) / 2)], (nf > 0 ? "/" nf "f" : "") }'
}

# Median over $SEC_RUNS fresh anycst-secondary processes in namespace B of the AXFR time its
# log reports ("completed successfully, serial N, AXFR, ..., T ms"), or "fail".
median_secondary() {
	if [ "$1" = quic ]; then
		targs="--primary $ADDR_A:8853 --pin $PIN"
	else
		targs="--primary $ADDR_A:5300 --transport tcp"
	fi
	: >"$TMP/sms"
	r=0
	while [ "$r" -lt "$SEC_RUNS" ]; do
		rm -rf "$TMP/state"
		: >"$TMP/sec.log"
		# shellcheck disable=SC2086 # $targs is split on purpose (no spaces inside a word)
		ip netns exec "$B" "$BIN/anycst-secondary" $targs --tsig-file "$TMP/tsig.key" --zone big.test. \
			--listen "$ADDR_B:5353" --state-dir "$TMP/state" --workers 1 >"$TMP/sec.log" 2>&1 &
		SPID=$!
		i=0
		until grep -q "big.test.\] zone transfer, completed successfully" "$TMP/sec.log"; do
			i=$((i + 1))
			[ $i -gt 1500 ] && break
			sleep 0.1
		done
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		SPID=
		ms=$(sed -n 's/.*completed successfully, serial [0-9]*, AXFR, .* \([0-9][0-9]*\) ms,.*/\1/p' \
			"$TMP/sec.log" | head -1)
		if [ -z "$ms" ]; then
			echo "xoq: anycst-secondary over $1 did not finish; its log:" >&2
			tail -5 "$TMP/sec.log" >&2
			echo "fail"
			return
		fi
		echo "$ms" >>"$TMP/sms"
		r=$((r + 1))
	done
	sort -n "$TMP/sms" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ratio() {
	awk -v q="$1" -v t="$2" 'BEGIN { if (q + 0 > 0 && t + 0 > 0) printf (q / t < 0.1 ? "%.3f" : "%.2f"), q / t; else print "-" }'
}

echo "AXFR of $RECORDS records (TSIG), anycst-primary in one namespace, the client in another,"
echo "random loss each way; median of $RUNS runs (ms).  anycst-xoq: the AXFR on a connection"
echo "that has just asked for the SOA; secondary: a fresh anycst-secondary's own AXFR time"
printf '%-6s %10s %10s %9s   %14s %14s %9s\n' loss "QUIC" "TCP" "QUIC/TCP" \
	"secondary QUIC" "secondary TCP" "QUIC/TCP"
for loss in $LOSSES; do
	set_loss "$loss"
	q=$(median_xoq --warm --remote "$ADDR_A:8853" --pin "$PIN" -y "$KEY" big.test. AXFR)
	t=$(median_xoq --warm --tcp --remote "$ADDR_A:5300" -y "$KEY" big.test. AXFR)
	sq=$(median_secondary quic)
	st=$(median_secondary tcp)
	printf '%-6s %10s %10s %9s   %14s %14s %9s\n' "$loss%" "$q" "$t" "$(ratio "$q" "$t")" \
		"$sq" "$st" "$(ratio "$sq" "$st")"
done

set_loss 0
echo "IXFR of a one-record change, $REQS requests over one established connection (ms)"
ql=$(ip netns exec "$B" "$TOOLBIN/anycst-xoq" --remote "$ADDR_A:8853" --pin "$PIN" -y "$KEY" \
	--serial $((SERIAL - 1)) --repeat "$REQS" big.test. IXFR 2>/dev/null | tail -1)
tl=$(ip netns exec "$B" "$TOOLBIN/anycst-xoq" --tcp --remote "$ADDR_A:5300" -y "$KEY" \
	--serial $((SERIAL - 1)) --repeat "$REQS" big.test. IXFR 2>/dev/null | tail -1)
echo "QUIC: $(echo "$ql" | grep -o 'records=[0-9]* .*p50_ms=[0-9.]* p99_ms=[0-9.]*' |
	sed 's/ bytes=.*p50/ p50/')"
echo "TCP:  $(echo "$tl" | grep -o 'records=[0-9]* .*p50_ms=[0-9.]* p99_ms=[0-9.]*' |
	sed 's/ bytes=.*p50/ p50/')"
exit 0
