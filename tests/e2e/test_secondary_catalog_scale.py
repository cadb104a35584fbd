"""Issue 18.2: an empty POP following a catalog of 2,000 zones (10 records
each, created through the API from 8 clients) over QUIC serves every member,
and restarted from its state directory with the primary gone it serves them
all again at once.  Before: every refresh decision scanned every zone and
every member was looked up in a list (45 zones/s at 20,000 members), each
first version cost 4 fsyncs, and a restart re-added the members one at a
time on one thread."""
import re
import time

import pytest

from anycst_e2e import Primary, TmpDir, free_port, wait_until
from anycst_e2e import xoq as xu

N = 2000


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def test_pop_follows_2000_zone_catalog_and_restarts_from_state(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    names = ["z%04d.scale.example." % i for i in range(N)]
    try:
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        xu.create_zones_parallel(p, names, 8)
        sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport, name="pop",
                                extra=["--log-level", "info"])
        sec.start()
        missing = [names]

        def all_served():
            got = xu.answering(sec.port, missing[0], timeout=20)
            missing[0] = [n for n in missing[0] if n not in got]
            return not missing[0]
        wait_until(all_served, 120, step=0.5, what="every member served")
        # every member is served with what the primary holds
        got = xu.served_a(sec.port, ["www." + n for n in names[::97]])
        assert all(v == {(300, "192.0.2.1"), (300, "192.0.2.2")} for v in got.values()), got
        # every transfer told: at info, or (beyond 20 a second) counted in a "busy"
        # line, which comes within a second or so after the burst
        told = [0]

        def all_told():
            log = sec.logtext()
            told[0] = len(re.findall(r"info: \[[a-z0-9.]+\] zone transfer, completed "
                                     r"successfully", log))
            return told[0] + xu.busy_counts(log).get("zone transfers", 0) >= N + 1
        wait_until(all_told, 15, what="every transfer logged or counted")
        assert told[0] < 200, told              # a burst: most lines at debug, counted
        m = xu.metrics(p)
        assert m["anycst_quic_conns_accepted_total"] == 1, m

        # Restart with the primary stopped: the members come from the state directory.
        sec.stop()
        p.stop()
        t0 = time.monotonic()
        sec.start()
        missing[0] = names
        wait_until(all_served, 60, step=0.2, what="every member served after the restart")
        took = time.monotonic() - t0
        assert took < 30, took
        log = sec.logtext()
        tail = log[log.rindex("shutting down"):]
        # one line for the members (each one's at debug), one for the catalog
        assert ("catalog loaded from state, %d member zones followed, %d loaded from state "
                "(0 of them expired)" % (N, N)) in tail, tail[-3000:]
        assert tail.count("zone loaded from state") == 1, tail[-3000:]
        assert "state rejected" not in tail and "not loaded" not in tail
    finally:
        if sec is not None and sec.proc is not None:
            sec.stop()
        if p.proc is not None:
            p.stop()
    xu.assert_clean(p)
