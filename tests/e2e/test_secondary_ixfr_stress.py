"""1,000 changes in a row at knotd (DNS UPDATE), each one IXFR difference
that changes records at two names together, while a client keeps querying
the secondary: no query is lost, and no answer mixes two versions.

Invariants checked on every answer:
  - pair.example.com. TXT holds exactly "a=N" and "b=N" with the same N;
  - alias.example.com. A is the chain alias CNAME tN -> tN A 10.0.N/256.N%256,
    one consistent N, never a dangling CNAME;
  - N never goes backwards from one answer to the next (versions only move
    forward)."""
import re
import shutil
import tempfile
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from anycst_e2e import Knot, Secondary, free_port, knot_zone, wait_until
from anycst_e2e import xoq as xu

ZONE = "example.com."
N_UPDATES = 1000


def addr(i):
    return "10.0.%d.%d" % (i // 256, i % 256)


class Client(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.sent = self.lost = 0
        self.errors = []
        self.last = 0
        self.max_seen = 0

    def check_pair(self, r):
        txt = [rrset for rrset in r.answer if rrset.rdtype == dns.rdatatype.TXT]
        vals = sorted(b"".join(rd.strings).decode() for rd in txt[0]) if txt else []
        m = [re.fullmatch(r"([ab])=(\d+)", v) for v in vals]
        if len(vals) != 2 or not all(m) or m[0].group(1) != "a" or m[1].group(1) != "b" \
                or m[0].group(2) != m[1].group(2):
            return None, "pair mixed: %r" % vals
        return int(m[0].group(2)), None

    def check_alias(self, r):
        cname = [x for x in r.answer if x.rdtype == dns.rdatatype.CNAME]
        a = [x for x in r.answer if x.rdtype == dns.rdatatype.A]
        if len(cname) != 1 or len(a) != 1:
            return None, "alias chain broken: %s" % [x.to_text() for x in r.answer]
        target = cname[0][0].target.to_text()
        m = re.fullmatch(r"t(\d+)\.example\.com\.", target)
        if not m or a[0].name.to_text() != target or len(a[0]) != 1:
            return None, "alias chain mixed: %s" % [x.to_text() for x in r.answer]
        n = int(m.group(1))
        if a[0][0].address != addr(n):
            return None, "alias target mixed: %s -> %s" % (target, a[0][0].address)
        return n, None

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            name = "pair.example.com." if i % 2 else "alias.example.com."
            q = dns.message.make_query(name, "TXT" if i % 2 else "A")
            self.sent += 1
            try:
                r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=1.0)
            except dns.exception.Timeout:
                self.lost += 1
                continue
            if r.rcode() != dns.rcode.NOERROR:
                self.errors.append("rcode %s for %s" % (dns.rcode.to_text(r.rcode()), name))
                continue
            n, err = self.check_pair(r) if i % 2 else self.check_alias(r)
            if err:
                self.errors.append(err)
                continue
            if n < self.last:
                self.errors.append("went back from %d to %d" % (self.last, n))
            self.last = n
            self.max_seen = max(self.max_seen, n)


def test_secondary_ixfr_stress_consistent():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-stress-")
    sport = free_port()
    extra = 'pair TXT "a=0"\npair TXT "b=0"\nalias2 A 192.0.2.9\n'
    zone = knot_zone(serial=1, extra=extra).replace("alias CNAME www\n", "alias CNAME t0\n")
    zone += "t0 A %s\n" % addr(0)
    knot = Knot(tmp, {ZONE: zone}, notify_to="127.0.0.1@%d" % sport).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport,
                    extra=["--log-level", "info"]).start()
    client = None
    try:
        wait_until(lambda: sec.serial(ZONE) == 1, 10, what="serial 1")
        client = Client(sport)
        client.start()
        t0 = time.monotonic()
        for i in range(1, N_UPDATES + 1):
            def change(u, i=i):
                u.delete("pair", "TXT")
                u.add("pair", 300, "TXT", '"a=%d"' % i)
                u.add("pair", 300, "TXT", '"b=%d"' % i)
                u.delete("alias", "CNAME")
                u.add("alias", 300, "CNAME", "t%d" % i)
                u.delete("t%d" % (i - 1), "A")
                u.add("t%d" % i, 300, "A", addr(i))
            knot.update(ZONE, change)
        final = knot.serial(ZONE)
        wait_until(lambda: sec.serial(ZONE) == final, 20, what="secondary at %d" % final)
        wait_until(lambda: client.max_seen == N_UPDATES, 5, what="client sees the last version")
        elapsed = time.monotonic() - t0
    finally:
        if client:
            client.stop.set()
            client.join(5)
        sec.stop()
        knot.stop()
    log = sec.logtext()
    shutil.rmtree(tmp, ignore_errors=True)
    assert client.errors == [], client.errors[:10]
    assert client.lost == 0, "%d of %d queries lost" % (client.lost, client.sent)
    assert client.sent > 500
    # each IXFR logged at info, or beyond 20 a second counted in a "busy" line
    ixfrs = log.count("zone transfer, incoming IXFR over TCP")
    ixfrs += xu.busy_counts(log).get("zone transfers", 0)
    assert ixfrs >= 10, ixfrs
    assert log.count("incoming AXFR") == 1          # only the first load
    assert "rejected" not in log
    print("%d updates in %.1f s, %d IXFR transfers, %d queries checked"
          % (N_UPDATES, elapsed, ixfrs, client.sent))
