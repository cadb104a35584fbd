"""A bulk change (issue 18): BULK_ZONES zones (default 10,000) of 10 records
created through the API, an anycst POP following the catalog over QUIC and
knotd following it over TCP (BULK_KNOT=1, the default), both NOTIFY targets
of the primary; then one change in every zone (www.<zone> A replaced, from 8
clients, as a reseller's mass edit would): the time from the first PATCH
until every zone answers the new address at each POP, and the NOTIFY
messages the primary sent for it (anycst_notify_sent_total), beside the
zone count: coalesced and paced, NOTIFYs stay near one per zone per target.

Knobs (environment): BULK_ZONES, BULK_CLIENTS (8), BULK_TIMEOUT (600 s a
phase), BULK_KNOT (1).
"""
import os
import random
import select
import shutil
import socket
import sys
import tempfile
import threading
import time

import dns.message
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))

from anycst_e2e import ApiClient, Knot, Primary, free_port  # noqa: E402
from anycst_e2e import xoq as xu  # noqa: E402

ZONES = int(os.environ.get("BULK_ZONES", "10000"))
CLIENTS = int(os.environ.get("BULK_CLIENTS", "8"))
TIMEOUT = float(os.environ.get("BULK_TIMEOUT", "600"))
WITH_KNOT = os.environ.get("BULK_KNOT", "1") == "1" and shutil.which("knotd") is not None
CATALOG = "catalog.anycst.invalid."
NEW = "198.51.100.7"


def zone_name(i):
    return "b%05d.bulk.example." % i


def serving(port, names, want, window=256, timeout=30.0):
    """The zones among `names` whose www.<zone> A is exactly `want` (or, for
    want None, any NOERROR answer), by pipelined UDP queries."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect(("127.0.0.1", port))
    ok, todo, pending, nxt = set(), list(names), {}, 0
    deadline = time.monotonic() + timeout
    try:
        while (nxt < len(todo) or pending) and time.monotonic() < deadline:
            while nxt < len(todo) and len(pending) < window:
                q = dns.message.make_query("www." + todo[nxt], "A")
                q.id = random.randrange(65536)
                while q.id in pending:
                    q.id = random.randrange(65536)
                pending[q.id] = (todo[nxt], time.monotonic())
                try:
                    s.send(q.to_wire())
                except ConnectionRefusedError:
                    return ok
                nxt += 1
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                now = time.monotonic()
                for k, (_, t0) in list(pending.items()):
                    if now - t0 > 1.0:
                        del pending[k]
                continue
            try:
                m = dns.message.from_wire(s.recv(65535))
            except (ConnectionRefusedError, dns.exception.DNSException):
                continue
            if m.id not in pending:
                continue
            name, _ = pending.pop(m.id)
            addrs = {rd.to_text() for rr in m.answer if rr.rdtype == dns.rdatatype.A for rd in rr}
            if m.rcode() == 0 and addrs and (want is None or addrs == {want}):
                ok.add(name)
    finally:
        s.close()
    return ok


def wait_serving(port, names, want, t0, what):
    missing = list(names)
    last = 0.0
    while missing:
        if time.monotonic() - t0 > TIMEOUT:
            raise RuntimeError("%s: %d zones not serving after %.0f s" % (what, len(missing),
                                                                          TIMEOUT))
        got = serving(port, missing, want)
        missing = [n for n in missing if n not in got]
        if missing:
            if time.monotonic() - last > 10:
                print("  %s: %d of %d zones left after %.0f s" % (what, len(missing), len(names),
                                                                 time.monotonic() - t0),
                      flush=True)
                last = time.monotonic()
            time.sleep(0.1)
    return time.monotonic() - t0


def notify_sent(p):
    for line in p.metrics_text().splitlines():
        if line.startswith("anycst_notify_sent_total "):
            return int(line.split()[1])
    raise RuntimeError("anycst_notify_sent_total missing from /metrics")


def bulk_change(p, names):
    errors = []

    def run(k):
        c = ApiClient("127.0.0.1", p.api_port, p.key)
        for i in range(k, len(names), CLIENTS):
            st, _, body = c.call("PATCH", "/zones/" + names[i], {"rrsets": [{
                "name": "www." + names[i], "type": "A", "ttl": 300, "changetype": "REPLACE",
                "records": [{"content": NEW, "disabled": False}]}]})
            if st != 204:
                errors.append((names[i], st, body[:200]))
                return
    ths = [threading.Thread(target=run, args=(k,)) for k in range(CLIENTS)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errors:
        raise RuntimeError("bulk change: %s" % (errors[:3],))


def main():
    tmp = tempfile.mkdtemp(prefix="anycst-bulk-")
    names = [zone_name(i) for i in range(ZONES)]
    p = sec = knot = None
    sport, kport = free_port(), free_port()
    try:
        targets = ["127.0.0.1:%d" % sport] + (["127.0.0.1:%d" % kport] if WITH_KNOT else [])
        p = Primary(tmp, notify=targets)
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        p.allow_catalog(xu.KEY)
        secs, _ = xu.create_zones_parallel(p, names, CLIENTS)
        print("bulk: %d zones x 10 records created in %.1f s" % (ZONES, secs), flush=True)
        sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport, name="pop")
        sec.start()
        pops = [("anycst POP (XoQ)", sec.port)]
        if WITH_KNOT:
            knot = Knot.secondary(tmp, p.xfr_port, xu.KEY, secret, catalog=CATALOG,
                                  name="knotbulk", port=kport)
            pops.append(("knotd (TCP)", knot.port))
        for what, port in pops:
            t = wait_serving(port, names, None, time.monotonic(), what + " initial")
            print("bulk: %s serves all %d zones (%.1f s)" % (what, ZONES, t), flush=True)
        time.sleep(2)    # let the last NOTIFYs of the creation go out
        n0 = notify_sent(p)
        t0 = time.monotonic()
        bulk_change(p, names)
        api_s = time.monotonic() - t0
        print("bulk: %d PATCHes (one per zone) acknowledged in %.1f s (%.0f/s)"
              % (ZONES, api_s, ZONES / api_s), flush=True)
        done = {}
        for what, port in pops:
            done[what] = wait_serving(port, names, NEW, t0, what)
        time.sleep(1)
        sent = notify_sent(p) - n0
        for what, t in done.items():
            print("bulk: %s serves the change in all %d zones %.1f s after the first PATCH "
                  "(%.1f s after the last acknowledgement)" % (what, ZONES, t, t - api_s),
                  flush=True)
        print("bulk: NOTIFY messages sent for the change: %d to %d targets (%.2f per zone and "
              "target)" % (sent, len(targets), sent / float(ZONES * len(targets))), flush=True)
    finally:
        if knot is not None:
            knot.stop()
        if sec is not None and sec.proc is not None:
            sec.stop()
        if p is not None:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
