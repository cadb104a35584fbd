"""Debian's knotd 3.2 as a TSIG secondary of anycst-primary (issue 4):
AXFR first, then NOTIFY + IXFR after every PATCH within 1 s, the zone knotd
serves equal to our export record for record over 100 random PATCHes; knotd
as a catalog consumer; a journal gap answered with the full zone."""
import random
import re
import time

import pytest

from anycst_e2e import (Knot, Primary, TmpDir, axfr_set, export_set, free_port, wait_until)

ZONE = "example.com."
KEY = "xfr-key."


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def count_xfr(knot, zone, kind):
    return len(re.findall(r"\[%s\] %s, incoming.*finished" % (re.escape(zone), kind),
                          knot.log()))


def random_patch(rng, zone, names):
    ops, seen = [], set()
    for _ in range(rng.randint(1, 3)):
        name = "%s.%s" % (rng.choice(names), zone)
        typ = rng.choice(["A", "AAAA", "TXT", "MX"])
        if (name, typ) in seen:
            continue
        seen.add((name, typ))
        if rng.random() < 0.2:
            ops.append({"name": name, "type": typ, "changetype": "DELETE"})
            continue
        n = rng.randint(1, 3)
        if typ == "A":
            recs = ["192.0.2.%d" % rng.randint(1, 254) for _ in range(n)]
        elif typ == "AAAA":
            recs = ["2001:db8::%x" % rng.randint(1, 65535) for _ in range(n)]
        elif typ == "TXT":
            recs = ['"v=%d %s"' % (rng.randint(0, 10**6), "x" * rng.randint(0, 40))
                    for _ in range(n)]
        else:
            recs = ["%d mail%d.%s" % (rng.randint(0, 50), rng.randint(0, 9), zone)
                    for _ in range(n)]
        ops.append({"name": name, "type": typ, "ttl": rng.choice([60, 300, 3600]),
                    "changetype": "REPLACE",
                    "records": [{"content": c, "disabled": False} for c in sorted(set(recs))]})
    return ops


def assert_equal_zones(p, k, zone):
    ours = export_set(p.export(zone), zone)
    theirs = axfr_set(k.port, zone)
    assert ours == theirs, "only ours: %s\nonly knotd's: %s" % (
        sorted(ours - theirs)[:10], sorted(theirs - ours)[:10])


def test_knotd_secondary_axfr_then_ixfr_100_patches(tmp):
    kport = free_port(also_udp=True)
    p = Primary(tmp, notify=["127.0.0.1:%d" % kport])
    k = None
    try:
        secret = p.add_key(KEY)
        p.add_zone(ZONE, keys=[KEY])
        k = Knot.secondary(tmp, p.xfr_port, KEY, secret, zones=[ZONE], port=kport)
        serial = p.serial(ZONE)
        wait_until(lambda: k.serial(ZONE) == serial, 10, what="knotd's first AXFR")
        assert count_xfr(k, ZONE, "AXFR") >= 1
        assert_equal_zones(p, k, ZONE)

        rng = random.Random(4)
        names = ["www", "mail", "api", "a.b", "_acme-challenge", "x%d" % 7, "deep.sub"]

        def one_change(i, limit):
            before = count_xfr(k, ZONE, "IXFR")
            p.api("PATCH", "/zones/" + ZONE, {"rrsets": random_patch(rng, ZONE, names)})
            t0 = time.monotonic()
            serial = p.serial(ZONE)
            wait_until(lambda: k.serial(ZONE) == serial, limit, step=0.005,
                       what="knotd at serial %d (patch %d)" % (serial, i))
            dt = time.monotonic() - t0
            wait_until(lambda: count_xfr(k, ZONE, "IXFR") > before, 2,
                       what="knotd logging an IXFR (patch %d)" % i)
            return serial, dt

        # 100 random changes back to back, each waiting only for knotd to
        # serve the previous one.  knotd runs a refresh asked for within the
        # second its previous refresh ended at its next one-second tick (its
        # log shows "notify, incoming" and "refresh" a second apart, while
        # our NOTIFY was answered at once), so back-to-back changes may take
        # up to about 2 s here: the 1 s bound is checked on spaced changes.
        worst = 0.0
        for i in range(100):
            serial, dt = one_change(i, 3)
            worst = max(worst, dt)
            if i % 25 == 24:
                assert_equal_zones(p, k, ZONE)
        assert worst < 2.5, worst
        # Changes a second apart (a busy reseller panel): each within 1 s.
        slow = []
        for i in range(8):
            time.sleep(1.05)
            serial, dt = one_change(100 + i, 3)
            if dt > 1.0:
                slow.append((i, dt, serial))
        if slow:
            s0 = slow[0][2]

            def around(log):
                lines = log.splitlines()
                idx = [j for j, l in enumerate(lines) if re.search(r"\b%d\b" % s0, l)]
                return "\n".join(lines[max(0, idx[0] - 10):idx[0] + 20]) if idx else ""
            raise AssertionError("changes slower than 1 s: %s\n--- primary:\n%s\n--- knotd:\n%s"
                                 % (slow, around(p.log()), around(k.log())))
        assert_equal_zones(p, k, ZONE)
        log = p.log()
        assert re.search(r"info: \[example\.com\.\] notify, outgoing, remote 127\.0\.0\.1@%d, "
                         r"serial \d+" % kport, log)
        assert re.search(r"info: \[example\.com\.\] zone transfer, outgoing IXFR over TCP to "
                         r"127\.0\.0\.1@\d+, serial \d+ -> \d+, \d+ messages, \d+ ms", log)
        # Propagation: knotd's address holds the current serial.
        prop = p.api("GET", "/zones/%s/propagation" % ZONE)
        t = [x for x in prop["targets"] if x["target"] == "127.0.0.1"]
        assert t and t[0]["serial"] == serial and t[0]["up_to_date"] is True
        assert t[0]["lag_ms"] is not None and 0 <= t[0]["lag_ms"] < 1000
        assert t[0]["notify"]["answered"] is True
        assert p.alive()
    finally:
        if k is not None:
            k.stop()
        p.stop()


def test_knotd_catalog_consumer_adds_and_drops(tmp):
    kport = free_port(also_udp=True)
    p = Primary(tmp, notify=["127.0.0.1:%d" % kport])
    k = None
    try:
        cat = "catalog.anycst.invalid."
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone("first.test.", keys=[KEY])
        k = Knot.secondary(tmp, p.xfr_port, KEY, secret, catalog=cat, port=kport)
        wait_until(lambda: k.serial("first.test.") == p.serial("first.test."), 10,
                   what="knotd serving the first member")
        for i in range(3):
            p.add_zone("z%d.test." % i, keys=[KEY])
        for i in range(3):
            z = "z%d.test." % i
            try:
                wait_until(lambda: k.serial(z) == p.serial(z), 10, what="knotd serving " + z)
            except AssertionError:
                raise AssertionError("%s not served\n%s\n%s" % (z, p.log()[-5000:],
                                                                  k.log()[-5000:]))
        assert_equal_zones(p, k, "z1.test.")
        p.api("DELETE", "/zones/z1.test.")
        wait_until(lambda: k.serial("z1.test.") is None, 10, what="knotd dropping z1.test.")
        # the other members stay (a query may time out on a loaded machine)
        wait_until(lambda: k.serial("z0.test.") == p.serial("z0.test."), 10,
                   what="knotd still serving z0.test.")
        assert k.proc.poll() is None   # never restarted
        assert p.alive()
    finally:
        if k is not None:
            k.stop()
        p.stop()


def test_journal_gap_full_zone(tmp):
    """With a journal of 3 entries, knotd stopped across 10 changes asks IXFR
    from a serial the journal no longer holds and gets the whole zone."""
    import signal
    kport = free_port(also_udp=True)
    p = Primary(tmp, notify=["127.0.0.1:%d" % kport], extra=["--journal-keep", "3"])
    k = None
    try:
        secret = p.add_key(KEY)
        p.add_zone(ZONE, keys=[KEY])
        k = Knot.secondary(tmp, p.xfr_port, KEY, secret, zones=[ZONE], port=kport)
        old = p.serial(ZONE)
        wait_until(lambda: k.serial(ZONE) == old, 10, what="knotd's first AXFR")
        k.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(10):
                p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
                    {"name": "gap%d.%s" % (i, ZONE), "type": "A", "ttl": 60,
                     "changetype": "REPLACE",
                     "records": [{"content": "198.51.100.%d" % i, "disabled": False}]}]})
        finally:
            k.proc.send_signal(signal.SIGCONT)
        new = p.serial(ZONE)
        wait_until(lambda: k.serial(ZONE) == new, 10, what="knotd catching up")
        assert_equal_zones(p, k, ZONE)
        assert re.search(r"\[example\.com\.\] zone transfer, outgoing IXFR over TCP to 127\.0\.0\.1@\d+, "
                         r"serial %d -> %d, \d+ messages, \d+ ms, \d+ bytes, full zone "
                         r"\(journal does not reach back\)" % (old, new), p.log()), p.log()[-3000:]
    finally:
        if k is not None:
            k.stop()
        p.stop()
