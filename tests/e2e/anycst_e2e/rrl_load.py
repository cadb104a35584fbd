"""UDP traffic for the RRL tests and bench (issue 12.6), sent from many
loopback source addresses (127.0.1.x is one /24, 127.0.2.x another) to a
DNS server on 127.0.0.1, at scheduled times, counting per group of queries
what came back: full answers, truncated answers (TC=1, the slip), nothing.

Used by tests/e2e/test_edge_rrl_keys.py and bench/rrl.sh:

  /usr/bin/python3 tests/e2e/anycst_e2e/rrl_load.py PORT RATE [SECONDS=3]

runs both scenarios of scenarios() against 127.0.0.1@PORT and prints one
JSON object {group: {"sent", "full", "tc", "lost"}}.
"""
import json
import os
import selectors
import socket
import struct
import sys
import time

HOSTS_A = ["127.0.1.%d" % i for i in range(1, 21)]    # one /24 ...
HOSTS_B = ["127.0.2.%d" % i for i in range(1, 6)]     # ... and another


def wire_query(qid, name, qtype=1):
    """A plain query (RD clear, no EDNS) for `name` (text, absolute)."""
    out = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0" + struct.pack("!HH", qtype, 1)


def scenarios(rate, seconds=3.0, zone="example.com."):
    """Two schedules of (time offset, source address, qname, group):
    'distinct': 200 names of `zone` asked from one /24 at 5x `rate` for
    `seconds`; 'flood': one name asked from that /24 at 10x `rate` while
    another /24 asks the same name at half the rate ('other')."""
    distinct = []
    n = int(5 * rate * seconds)
    for i in range(n):
        distinct.append((i / (5.0 * rate), HOSTS_A[i % len(HOSTS_A)],
                         "h%d.%s" % (i % 200, zone), "distinct"))
    flood = []
    n = int(10 * rate * seconds)
    for i in range(n):
        flood.append((i / (10.0 * rate), HOSTS_A[i % len(HOSTS_A)], "www." + zone, "flood"))
    n = int(rate / 2 * seconds)
    for i in range(n):
        flood.append((i / (rate / 2.0), HOSTS_B[i % len(HOSTS_B)], "www." + zone, "other"))
    flood.sort()
    return {"distinct": distinct, "flood": flood}


def run(port, schedule, server="127.0.0.1", grace=1.5):
    """Sends `schedule` (see scenarios) and counts the answers per group."""
    socks = {}
    sel = selectors.DefaultSelector()
    for _, src, _, _ in schedule:
        if src not in socks:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((src, 0))
            s.setblocking(False)
            socks[src] = s
            sel.register(s, selectors.EVENT_READ, src)
    # Prebuilt queries, ids unique per source.
    ids = {src: 0 for src in socks}
    plan = []
    pending = {}
    stats = {}
    for t, src, name, group in schedule:
        ids[src] = (ids[src] + 1) & 0xffff
        plan.append((t, src, ids[src], wire_query(ids[src], name), group))
        stats.setdefault(group, {"sent": 0, "full": 0, "tc": 0, "lost": 0})
    t0 = time.monotonic()
    i = 0
    end = None
    try:
        while True:
            now = time.monotonic() - t0
            while i < len(plan) and plan[i][0] <= now:
                _, src, qid, wire, group = plan[i]
                try:
                    socks[src].sendto(wire, (server, port))
                    pending[(src, qid)] = group
                    stats[group]["sent"] += 1
                except BlockingIOError:
                    stats[group]["lost"] += 1
                i += 1
            if i == len(plan) and end is None:
                end = now + grace
            if end is not None and (now >= end or not pending):
                break
            wait = (plan[i][0] - now) if i < len(plan) else (end - now)
            for key, _ in sel.select(max(0.0, min(wait, 0.05))):
                src = key.data
                while True:
                    try:
                        data = key.fileobj.recv(4096)
                    except BlockingIOError:
                        break
                    if len(data) < 12:
                        continue
                    qid, flags = struct.unpack("!HH", data[:4])
                    group = pending.pop((src, qid), None)
                    if group is None:
                        continue
                    if flags & 0x0200:
                        stats[group]["tc"] += 1
                    else:
                        stats[group]["full"] += 1   # any rcode: NXDOMAIN counts
    finally:
        for s in socks.values():
            sel.unregister(s)
            s.close()
    for group in pending.values():
        stats[group]["lost"] += 1
    return stats


def main():
    port = int(sys.argv[1])
    rate = int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    out = {}
    sc = scenarios(rate, seconds)
    out.update(run(port, sc["distinct"]))
    time.sleep(1.1)   # a fresh second for the flood
    out.update(run(port, sc["flood"]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
