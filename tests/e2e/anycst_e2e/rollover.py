"""What the DNSSEC rollover tests share: a small zone with a short TTL and a
delv loop that validates a few names against a POP throughout a rollover
(test_dnssec_rollover.py: ZSK; test_dnssec_ksk_rollover.py: KSK/CSK)."""
import subprocess

TTL = 3


def rr(name, typ, *contents, ttl=TTL):
    return {"name": name, "type": typ, "ttl": ttl, "changetype": "REPLACE",
            "records": [{"content": c, "disabled": False} for c in contents]}


def zone_rrsets(zone, hosts):
    """SOA, NS, the NS's address and `hosts` A records h00..h<hosts-1>."""
    return [rr(zone, "SOA", "ns1.%s hostmaster.%s 1 3600 600 86400 %d" % (zone, zone, TTL)),
            rr(zone, "NS", "ns1." + zone),
            rr("ns1." + zone, "A", "192.0.2.1")] + \
           [rr("h%02d.%s" % (i, zone), "A", "192.0.2.%d" % (10 + i)) for i in range(hosts)]


def queries(zone):
    """(name, type, what delv must print): a name, the apex SOA, a missing name."""
    return [("h07." + zone, "A", "; fully validated"), (zone, "SOA", "; fully validated"),
            ("missing." + zone, "A", "; negative response, fully validated")]


def delv_loop(zone, port, anchor, stop, results):
    """delv against the POP at `port` with the trust anchors in file `anchor`,
    round the queries, every 0.1 s until `stop`: (name, type, ok, output)
    appended to `results`."""
    qs = queries(zone)
    i = 0
    while not stop.is_set():
        name, rdtype, want = qs[i % len(qs)]
        r = subprocess.run(["delv", "@127.0.0.1", "-p", str(port), "-a", anchor,
                            "+root=" + zone, "+novtrace", name, rdtype],
                           capture_output=True, text=True, timeout=20)
        out = r.stdout + r.stderr
        results.append((name, rdtype, want in out, out))
        i += 1
        stop.wait(0.1)
