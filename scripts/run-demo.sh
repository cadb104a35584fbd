#!/bin/sh
# `make run`: starts a primary and a secondary on loopback with a demo zone,
# prints the curl lines to try, and stops both on Ctrl-C.
# State lives in ./run/ (delete it to start afresh).
set -eu
top=$(pwd)
dir="$top/run"
mkdir -p "$dir"
API=127.0.0.1:8081
XFR=127.0.0.1:5300
QUIC=127.0.0.1:8853
DNS=127.0.0.1:5353

for port in 8081 5300 5353; do
	if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
		echo "make run: port $port is in use (another 'make run'?); stop it first" >&2
		exit 1
	fi
done
if [ -n "$(ss -Hlun "sport = :8853" 2>/dev/null)" ]; then
	echo "make run: UDP port 8853 (QUIC) is in use (another 'make run'?); stop it first" >&2
	exit 1
fi

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# --dnssec-key-file: the secret sealing DNSSEC private keys (created, 0600)
"$top/bin/anycst-primary" --db "$dir/anycst.db" --api "$API" --xfr "$XFR" --quic "$QUIC" \
	--notify "$DNS" --dnssec-key-file "$dir/dnssec.key" >"$dir/primary.log" 2>&1 &
pids="$pids $!"

i=0
while [ ! -s "$dir/api.key" ] || ! curl -fs -o /dev/null -H "X-API-Key: $(cat "$dir/api.key" 2>/dev/null)" \
	"http://$API/api/v1/servers/localhost"; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "make run: the primary did not start; its log:" >&2
		cat "$dir/primary.log" >&2
		exit 1
	fi
	sleep 0.1
done
KEY=$(cat "$dir/api.key")
api() {
	curl -fsS -H "X-API-Key: $KEY" -H 'Content-Type: application/json' "$@"
}

# A TSIG key for the secondary, and the demo zone it may transfer.
if ! api "http://$API/api/v1/servers/localhost/tsigkeys/demo." >/dev/null 2>&1; then
	api -X POST -d '{"name": "demo", "algorithm": "hmac-sha256"}' \
		"http://$API/api/v1/servers/localhost/tsigkeys" >/dev/null
fi
# The catalog lists every zone: only POP keys and the keys the admin allows on
# it may transfer it.  The demo secondary follows it with the demo key.
api -X PUT -d '{"master_tsig_key_ids": ["demo."]}' \
	"http://$API/api/v1/servers/localhost/zones/catalog.anycst.invalid." >/dev/null
SECRET=$(api "http://$API/api/v1/servers/localhost/tsigkeys/demo." |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
if ! api "http://$API/api/v1/servers/localhost/zones/example.com." >/dev/null 2>&1; then
	api -X POST "http://$API/api/v1/servers/localhost/zones" -d '{
	  "name": "example.com.", "kind": "Native", "master_tsig_key_ids": ["demo."],
	  "nameservers": ["ns1.example.com."],
	  "rrsets": [
	    {"name": "ns1.example.com.", "type": "A", "ttl": 3600,
	     "records": [{"content": "192.0.2.53", "disabled": false}]},
	    {"name": "www.example.com.", "type": "A", "ttl": 300,
	     "records": [{"content": "192.0.2.80", "disabled": false}]}
	  ]}' >/dev/null
fi

# The secondary pulls over QUIC (its default transport), pinned to the key the
# primary serves as quic_spki_pin (also printed in its log at start).
PIN=$(api "http://$API/api/v1/servers/localhost" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["quic_spki_pin"])')
# The TSIG secret goes into a file only we can read, never on the command line.
(umask 077 && echo "demo.:hmac-sha256:$SECRET" >"$dir/demo.tsig")
"$top/bin/anycst-secondary" --primary "$QUIC" --pin "$PIN" --listen "$DNS" \
	--tsig-file "$dir/demo.tsig" --state-dir "$dir/secondary-state" \
	>"$dir/secondary.log" 2>&1 &
pids="$pids $!"

i=0
until dig +short +time=1 +tries=1 -p 5353 @127.0.0.1 www.example.com. A 2>/dev/null | grep -q .; do
	i=$((i + 1))
	if [ $i -gt 50 ]; then
		echo "make run: the secondary does not answer yet; its log:" >&2
		tail -20 "$dir/secondary.log" >&2
		break
	fi
	sleep 0.2
done

cat <<MSG

anycst is running: primary API on http://$API, transfers on $XFR (TCP) and $QUIC (QUIC),
a secondary answering DNS on $DNS that pulls over QUIC, pinned to $PIN.
Logs: run/primary.log, run/secondary.log ("incoming IXFR over QUIC" after each change).

Try, in another terminal:

  KEY=\$(cat run/api.key)
  curl -s -H "X-API-Key: \$KEY" http://$API/api/v1/servers/localhost/zones
  curl -s -X PATCH -H "X-API-Key: \$KEY" http://$API/api/v1/servers/localhost/zones/example.com. \\
       -d '{"rrsets": [{"name": "_acme-challenge.example.com.", "type": "TXT", "ttl": 60,
            "changetype": "REPLACE", "records": [{"content": "\\"token-123\\"", "disabled": false}]}]}'
  dig +short -p 5353 @127.0.0.1 _acme-challenge.example.com. TXT
  curl -s -H "X-API-Key: \$KEY" http://$API/api/v1/servers/localhost/zones/example.com./export
  curl -s -H "X-API-Key: \$KEY" "http://$API/api/v1/servers/localhost/zones/example.com./journal?since=0"
  curl -s -X POST -H "X-API-Key: \$KEY" http://$API/api/v1/servers/localhost/zones \\
       -d '{"name": "example.org.", "kind": "Native", "nameservers": ["ns1.example.org."], "master_tsig_key_ids": ["demo."]}'
  dig +short -p 5353 @127.0.0.1 example.org. SOA

DNSSEC: sign the zone, read the DS for its registrar, see the signatures at the secondary:

  curl -s -X PUT -H "X-API-Key: \$KEY" http://$API/api/v1/servers/localhost/zones/example.com. \\
       -d '{"dnssec": true}'
  curl -s -H "X-API-Key: \$KEY" http://$API/api/v1/servers/localhost/zones/example.com./cryptokeys
  dig +dnssec +norec -p 5353 @127.0.0.1 www.example.com. A

Press Ctrl-C to stop both daemons.
MSG
wait
