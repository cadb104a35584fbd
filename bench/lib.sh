# Shared by the shell benches (serve.sh, edge.sh, rrl.sh, xoq.sh): a temp
# directory and the PIDs stopped on exit, a free loopback port, the wait for
# a server's SOA.  Sourced from the repository's root: `. bench/lib.sh`.

# bench_init NAME: TMP (/tmp/anycst-bench-NAME.*) and PIDS, both cleaned on exit.
bench_init() {
	TMP=$(mktemp -d "/tmp/anycst-bench-$1.XXXXXX")
	PIDS=""
	trap bench_cleanup EXIT INT TERM
}

# Every process in PIDS stopped (TERM, then KILL), TMP removed.
bench_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_soa PORT [ZONE] [TRIES]: until 127.0.0.1@PORT answers ZONE's SOA
# (default bench.test), TRIES times 0.1 s (default 600); 1 and a line if not.
wait_soa() {
	i=0
	while [ $i -lt "${3:-600}" ]; do
		if dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "${2:-bench.test}" SOA 2>/dev/null |
			grep -q hostmaster; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "server on port $1 did not come up"
	return 1
}
