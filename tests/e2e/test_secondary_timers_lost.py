"""Issue 13.5: a zone's `.timers` file lost or garbled must not bring an
expired zone back to life.  Without it the last successful refresh is taken
from the zone file's own time (which every refresh sets), and a warning
names the zone."""
import os
import shutil
import tempfile
import time

import dns.rcode
import pytest

from anycst_e2e import Knot, Secondary, free_port, knot_zone, wait_until

ZONE = "example.com."


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="anycst-sec-timers-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated"])
def test_expired_zone_stays_expired_without_timers(tmp, damage):
    # expire 4 s: long enough that a zone counted as "refreshed at restart"
    # is still answered when we ask right after the restart.
    knot = Knot(tmp, {ZONE: knot_zone(serial=9, refresh=1, retry=1, expire=4)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 9, 10, what="serial 9")
        timers = os.path.join(sec.state_dir, "example.com.timers")
        wait_until(lambda: os.path.exists(timers), 5, what="timers file")
        # a few up-to-date refreshes, then the primary goes away for good
        time.sleep(1.5)
        knot.stop()
        wait_until(lambda: sec.query("www.example.com.").rcode() == dns.rcode.SERVFAIL, 15,
                   step=0.2, what="zone expired with the primary down")
    finally:
        assert sec.stop() == 0
    if damage == "deleted":
        os.unlink(timers)
    elif damage == "garbage":
        with open(timers, "wb") as f:
            f.write(os.urandom(40))
    else:
        with open(timers, "r+b") as f:
            f.truncate(17)

    # Restart with no primary: still expired, at once, and the log says why.
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        r = sec.query("www.example.com.")
        assert r.rcode() == dns.rcode.SERVFAIL, dns.rcode.to_text(r.rcode())
        assert sec.query(ZONE, "SOA").rcode() == dns.rcode.SERVFAIL
        log = sec.logtext()
        log = log[log.rindex("zone loaded from state") - 400:]
        want = {"deleted": "missing", "garbage": "corrupt", "truncated": "corrupt"}[damage]
        assert ("warning: [example.com.] refresh time not known (timers file %s), counted "
                "from the state file's time" % want) in log, log
        assert "[example.com.] zone loaded from state, serial 9" in log
        assert "expired" in log
        status, body = sec.http("/metrics")
        assert 'anycst_secondary_zone_expired{pop="pop-test",zone="example.com."} 1' in body
    finally:
        assert sec.stop() == 0


def test_lost_timers_of_fresh_zone_still_served(tmp):
    """The fallback is the last refresh, not the first transfer: a zone that
    refreshed recently keeps being served when its timers are lost."""
    knot = Knot(tmp, {ZONE: knot_zone(serial=5, refresh=1, retry=1, expire=6)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 5, 10, what="serial 5")
        # zone file written once; refreshes (up to date) go on past the expire
        wait_until(lambda: sec.logtext().count("zone is up-to-date") >= 8, 20, step=0.2,
                   what="refreshes past the expire")
    finally:
        assert sec.stop() == 0
        knot.stop()
    os.unlink(os.path.join(sec.state_dir, "example.com.timers"))
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        assert sec.query("www.example.com.").rcode() == dns.rcode.NOERROR
        assert "refresh time not known (timers file missing)" in sec.logtext()
    finally:
        assert sec.stop() == 0
