#!/bin/sh
# RRL on real traffic shapes (issue 12.6), beside Knot's mod-rrl: the same
# rate and slip, the same queries (tests/e2e/anycst_e2e/rrl_load.py) from loopback
# sources 127.0.1.x (one /24) and 127.0.2.x (another):
#   distinct  200 names of example.com from one /24 at 5x the rate
#   flood     one name from that /24 at 10x the rate ...
#   other     ... while the other /24 asks it at half the rate
# and prints the fraction answered in full (no TC) for each, side by side.
# The cost of RRL in QPS is measured by bench/edge.sh.
#
#   [RATE=50] [SECS=3] sh bench/rrl.sh   (environment, defaults shown)
set -u
cd "$(dirname "$0")/.."
RATE=${RATE:-50}
SECS=${SECS:-3}
. bench/lib.sh
bench_init rrl

[ -x bin/anycst-secondary ] || { echo "build first: make all"; exit 1; }
command -v knotd > /dev/null || { echo "rrl bench skipped: knotd missing"; exit 0; }

{
	printf '$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n'
	printf '@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.1\n'
	i=0
	while [ $i -lt 200 ]; do
		printf 'h%d A 192.0.2.%d\n' $i $((i % 250 + 1))
		i=$((i + 1))
	done
} > "$TMP/example.com.zone"

# knotd answers with mod-rrl and is also the primary our secondary transfers
# from (over TCP, which RRL leaves alone).
kp=$(free_port)
mkdir -p "$TMP/knot"
cat > "$TMP/knot/knot.conf" <<EOC
server:
    rundir: $TMP/knot
    listen: 127.0.0.1@$kp
    background-workers: 1
database:
    storage: $TMP/knot
log:
  - target: stderr
    any: error
acl:
  - id: xfr
    address: 127.0.0.1
    action: transfer
mod-rrl:
  - id: bench
    rate-limit: $RATE
    slip: 2
template:
  - id: default
    global-module: mod-rrl/bench
zone:
  - domain: example.com
    file: $TMP/example.com.zone
    zonefile-sync: -1
    journal-content: none
    acl: xfr
EOC
knotd -c "$TMP/knot/knot.conf" > "$TMP/knot.log" 2>&1 &
PIDS="$PIDS $!"
sp=$(free_port)
while [ "$sp" = "$kp" ]; do sp=$(free_port); done
bin/anycst-secondary --primary 127.0.0.1:$kp --transport tcp --zone example.com. \
	--listen 127.0.0.1:$sp --state-dir "$TMP/sec" --workers 2 --log-level warning \
	--rrl-rate "$RATE" --rrl-slip 2 > "$TMP/sec.log" 2>&1 &
PIDS="$PIDS $!"
wait_soa "$kp" example.com 300 || exit 1
wait_soa "$sp" example.com 300 || exit 1
sleep 1.1   # fresh RRL seconds after the SOA polls

/usr/bin/python3 tests/e2e/anycst_e2e/rrl_load.py "$sp" "$RATE" "$SECS" > "$TMP/ours.json" || exit 1
/usr/bin/python3 tests/e2e/anycst_e2e/rrl_load.py "$kp" "$RATE" "$SECS" > "$TMP/knot.json" || exit 1

/usr/bin/python3 - "$TMP/ours.json" "$TMP/knot.json" "$RATE" "$SECS" <<'EOP'
import json, sys
ours, knot = (json.load(open(p)) for p in sys.argv[1:3])
rate, secs = sys.argv[3], sys.argv[4]
def pct(d, g, k="full"):
    return "%.0f%%" % (100.0 * d[g][k] / max(1, d[g]["sent"]))
print("RRL, rate %s/s, slip 2, %s s per scenario; answered in full (truncated):" % (rate, secs))
for g, what in (("distinct", "200 distinct names from one /24 at 5x rate"),
                ("flood", "one name flooded from that /24 at 10x rate"),
                ("other", "same name from another /24 during the flood")):
    print("  %-46s ours %4s (%s TC)   knot %4s (%s TC)" % (
        what + ":", pct(ours, g), pct(ours, g, "tc"), pct(knot, g), pct(knot, g, "tc")))
print("distinct names from one /24: ours %s knot %s; flooded name: ours %s knot %s; "
      "other /24: ours %s knot %s" % (pct(ours, "distinct"), pct(knot, "distinct"),
                                      pct(ours, "flood"), pct(knot, "flood"),
                                      pct(ours, "other"), pct(knot, "other")))
EOP
