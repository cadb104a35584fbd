"""A POP that was offline catches up (issue 18, item 3): while anycst-secondary
is stopped, 200 changes land on 20 zones; restarted from its state dir it
brings every zone up to date, by IXFR where the primary's journal still
reaches back to its serial and by AXFR (IXFR answered with the full zone)
where --journal-keep had trimmed it.  --journal-keep-age drops entries by age."""
import json
import re
import time

import pytest

from anycst_e2e import Primary, Secondary, TmpDir, free_port, tsig_file_args, wait_until

KEY = "pop-key."
KEEP = 6
HELD = ["held%d.test." % i for i in range(10)]        # 5 changes each: journal holds them
TRIMMED = ["trimmed%d.test." % i for i in range(10)]  # 15 changes each: journal trimmed


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def change(p, zone, i):
    p.api("PATCH", "/zones/" + zone, {"rrsets": [
        {"name": "c%d.%s" % (i, zone), "type": "A", "ttl": 300, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.%d" % (i + 1), "disabled": False}]}]})


def outgoing(log, zone, since):
    """The primary's outgoing IXFR/AXFR lines for `zone` after offset `since`."""
    return [ln for ln in log[since:].splitlines()
            if "[%s] zone transfer, outgoing" % zone in ln]


def test_pop_offline_catches_up_by_ixfr_where_journal_holds(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport], extra=["--journal-keep", str(KEEP)])
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        # 60 records a zone: a few changes' diff is smaller than the zone
        for z in HELD + TRIMMED:
            p.add_zone(z, keys=[KEY], records=[
                {"name": "www." + z, "type": "A", "ttl": 300,
                 "records": [{"content": "10.0.0.%d" % i, "disabled": False}
                             for i in range(1, 61)]}])
        args = dict(port=sport, tsig=False, extra=tsig_file_args(tmp, KEY, secret))
        sec = Secondary(tmp, p.xfr_port, **args).start()
        for z in HELD + TRIMMED:
            wait_until(lambda: sec.serial(z) == p.serial(z), 30, what="%s at the POP" % z)
        assert sec.stop() == 0
        sec = None

        mark = len(p.log())
        n = 0
        for z in HELD:
            for i in range(5):
                change(p, z, i)
                n += 1
        for z in TRIMMED:
            for i in range(15):
                change(p, z, i)
                n += 1
        assert n == 200
        want = {z: p.serial(z) for z in HELD + TRIMMED}

        t0 = time.monotonic()
        sec = Secondary(tmp, p.xfr_port, **args).start()
        wait_until(lambda: all(sec.serial(z) == s for z, s in want.items()), 60,
                   what="every zone caught up")
        took = time.monotonic() - t0
        log = p.log()
        ixfr = axfr = 0
        for z in HELD:
            lines = outgoing(log, z, mark)
            assert lines and all("outgoing IXFR" in ln and "full zone" not in ln
                                 for ln in lines), lines
            ixfr += 1
        for z in TRIMMED:
            lines = outgoing(log, z, mark)
            assert any("full zone (journal does not reach back)" in ln for ln in lines), lines
            axfr += 1
        print("caught up 20 zones after 200 changes in %.2f s: %d by IXFR, %d in full"
              % (took, ixfr, axfr))
    finally:
        if sec is not None:
            sec.stop()
        p.stop()


def test_journal_keep_age_drops_old_entries(tmp):
    p = Primary(tmp, extra=["--journal-keep-age", "2"])
    try:
        p.add_zone("age.test.")
        s0 = p.serial("age.test.")
        change(p, "age.test.", 0)
        st, _, body = p.journal("age.test.", since=s0)
        assert st == 200, body
        time.sleep(3.2)
        change(p, "age.test.", 1)        # the write trims what is older than 2 s
        st, _, body = p.journal("age.test.", since=s0)
        assert st != 200 or s0 not in [e.get("serial_from") for e in
                                       json.loads(body).get("entries", [])], body
        s1 = p.serial("age.test.")
        st, _, body = p.journal("age.test.", since=s1 - 1)
        assert st == 200, body
    finally:
        p.stop()
