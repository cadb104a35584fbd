"""1,000 IXFR transfers in a row from anycst-primary, one per API change (each
PATCH waits until the secondary serves its serial, so none are coalesced),
while a client queries the secondary: no query lost, no answer from a mix of
two versions (the invariants of test_secondary_ixfr_stress)."""
import time

import pytest

from anycst_e2e import Primary, Secondary, TmpDir, free_port, tsig_file_args, wait_until
from anycst_e2e import xoq as xu
from test_secondary_ixfr_stress import Client, addr

ZONE = "example.com."
KEY = "stress-key."
N = 1000


def rrset(name, typ, contents, ttl=300):
    return {"name": name, "type": typ, "ttl": ttl, "changetype": "REPLACE",
            "records": [{"content": c, "disabled": False} for c in contents]}


def test_secondary_thousand_ixfr_from_anycst_primary():
    with TmpDir() as tmp:
        sport = free_port()
        p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
        sec = None
        client = None
        try:
            secret = p.add_key(KEY)
            p.allow_catalog(KEY)
            p.add_zone(ZONE, keys=[KEY], records=[
                rrset("pair." + ZONE, "TXT", ['"a=0"', '"b=0"']),
                rrset("alias." + ZONE, "CNAME", ["t0." + ZONE]),
                rrset("t0." + ZONE, "A", [addr(0)])])
            sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(tmp, KEY, secret) +
                            ["--log-level", "info"]).start()
            wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 10, what="first version")
            client = Client(sport)
            client.start()
            t0 = time.monotonic()
            for i in range(1, N + 1):
                p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
                    rrset("pair." + ZONE, "TXT", ['"a=%d"' % i, '"b=%d"' % i]),
                    rrset("alias." + ZONE, "CNAME", ["t%d.%s" % (i, ZONE)]),
                    {"name": "t%d.%s" % (i - 1, ZONE), "type": "A", "changetype": "DELETE"},
                    rrset("t%d.%s" % (i, ZONE), "A", [addr(i)])]})
                target = p.serial(ZONE)
                wait_until(lambda: sec.serial(ZONE) == target, 5, step=0.002,
                           what="serial %d" % target)
            elapsed = time.monotonic() - t0
            wait_until(lambda: client.max_seen == N, 5, what="client sees the last version")
        finally:
            if client:
                client.stop.set()
                client.join(5)
            if sec:
                sec.stop()
            p.stop()
        log = sec.logtext()
        assert client.errors == [], client.errors[:10]
        assert client.lost == 0, "%d of %d queries lost" % (client.lost, client.sent)
        # each IXFR logged at info, or beyond 20 a second counted in a "busy" line
        ixfrs = log.count("zone transfer, incoming IXFR over TCP")
        ixfrs += xu.busy_counts(log).get("zone transfers", 0)
        assert ixfrs >= N, ixfrs
        assert "rejected" not in log
        print("%d IXFR transfers in %.1f s, %d queries checked" % (ixfrs, elapsed, client.sent))
