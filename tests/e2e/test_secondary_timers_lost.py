"""Issue 13.5: a zone's refresh times lost or garbled must not bring an
expired zone back to life.  They are TIMERS records of the state pack
(secondary/pack.h), one per successful refresh: without a good one newer
than the version, the last successful refresh is taken from the version's
own time (the refresh that brought it), and a warning names the zone.  In
the layout before the pack (".timers" beside ".zone") the zone file's time
stands in, as it did."""
import os
import shutil
import tempfile
import time

import dns.rcode
import pytest

from anycst_e2e import Knot, Secondary, free_port, knot_zone, wait_until
from anycst_e2e import state as st

ZONE = "example.com."


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="anycst-sec-timers-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def rewrite_without(state_dir, drop):
    """The pack without the records for which drop(record) is true."""
    path = os.path.join(state_dir, st.PACK)
    with open(path, "rb") as f:
        data = f.read()
    out = data[:16]
    for r in st.pack_records(state_dir):
        if not drop(r):
            out += data[r["off"]:r["off"] + ((r["size"] + 7) & ~7)]
    with open(path, "wb") as f:
        f.write(out)


def timers_of(state_dir):
    return [r for r in st.pack_records(state_dir) if r["kind"] == st.TIMERS]


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated"])
def test_expired_zone_stays_expired_without_timers(tmp, damage):
    # expire 4 s: long enough that a zone counted as "refreshed at restart"
    # is still answered when we ask right after the restart.
    knot = Knot(tmp, {ZONE: knot_zone(serial=9, refresh=1, retry=1, expire=4)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 9, 10, what="serial 9")
        wait_until(lambda: len(timers_of(sec.state_dir)) >= 2, 5, what="refresh times")
        # a few up-to-date refreshes, then the primary goes away for good
        time.sleep(1.5)
        knot.stop()
        wait_until(lambda: sec.query("www.example.com.").rcode() == dns.rcode.SERVFAIL, 15,
                   step=0.2, what="zone expired with the primary down")
    finally:
        assert sec.stop() == 0
    path = os.path.join(sec.state_dir, st.PACK)
    timers = timers_of(sec.state_dir)
    if damage == "deleted":
        rewrite_without(sec.state_dir, lambda r: r["kind"] == st.TIMERS)
    elif damage == "garbage":
        for r in timers:
            st.flip_byte(path, r["body_off"] + r["name_len"] + 3)
    else:
        with open(path, "r+b") as f:
            f.truncate(timers[-1]["off"] + 30)

    # Restart with no primary: still expired, at once, and the log says why.
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        r = sec.query("www.example.com.")
        assert r.rcode() == dns.rcode.SERVFAIL, dns.rcode.to_text(r.rcode())
        assert sec.query(ZONE, "SOA").rcode() == dns.rcode.SERVFAIL
        log = sec.logtext()
        log = log[log.rindex("shutting down"):]
        if damage == "truncated":
            # the last refresh time is torn off; the one before still counts
            assert "state pack %s: truncated timers record (30 of %d bytes) at offset %d" % (
                path, timers[-1]["size"], timers[-1]["off"]) in log, log
            assert "state pack %s: cut at offset %d after its last good record" % (
                path, timers[-1]["off"]) in log, log
        else:
            if damage == "garbage":
                assert "error: [example.com.] state pack %s: timers record fails its checksum " \
                       "at offset %d (%d bytes skipped)" % (
                           path, timers[0]["off"], (timers[0]["size"] + 7) & ~7) in log, log
            assert ("warning: [example.com.] refresh time not known (timers record missing), "
                    "counted from the version's time") in log, log
        assert "[example.com.] zone loaded from state, serial 9" in log
        assert "expired" in log
        status, body = sec.http("/metrics")
        assert 'anycst_secondary_zone_expired{pop="pop-test",zone="example.com."} 1' in body
    finally:
        assert sec.stop() == 0


def test_lost_timers_of_fresh_zone_still_served(tmp):
    """The fallback is the last good refresh time, not "refreshed now" nor the
    first transfer: a zone whose latest refresh time is garbled falls back to
    the one before it, and keeps being served."""
    knot = Knot(tmp, {ZONE: knot_zone(serial=5, refresh=1, retry=1, expire=6)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 5, 10, what="serial 5")
        # version written once; refreshes (up to date) go on past the expire
        wait_until(lambda: sec.logtext().count("zone is up-to-date") >= 8, 20, step=0.2,
                   what="refreshes past the expire")
    finally:
        assert sec.stop() == 0
        knot.stop()
    timers = timers_of(sec.state_dir)
    st.flip_byte(os.path.join(sec.state_dir, st.PACK), timers[-1]["body_off"] + 2)
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        assert sec.query("www.example.com.").rcode() == dns.rcode.NOERROR
        log = sec.logtext()
        assert "timers record fails its checksum at offset %d" % timers[-1]["off"] in log, log
        assert "refresh time not known" not in log[log.rindex("shutting down"):]
    finally:
        assert sec.stop() == 0


def test_old_layout_without_timers_file_counts_from_the_file_time(tmp):
    """A state directory of the layout before the pack, its .timers file lost:
    the zone file's time counts (an hour ago: past the expire, so SERVFAIL),
    and the zone is moved into the pack on the way."""
    sd = os.path.join(tmp, "sec-state")
    recs = [("example.com.", 300, "SOA", "ns1.example.com. h.example.com. 9 1 1 60 300"),
            ("example.com.", 300, "NS", "ns1.example.com."),
            ("www.example.com.", 300, "A", "192.0.2.1")]
    st.write_old_zone(sd, ZONE, 9, recs, mtime=int(time.time()) - 3600)
    sec = Secondary(tmp, free_port(), zones=[ZONE]).start()
    try:
        assert sec.query("www.example.com.").rcode() == dns.rcode.SERVFAIL
        log = sec.logtext()
        assert ("warning: [example.com.] refresh time not known (timers file missing), "
                "counted from the state file's time, 36") in log, log
        assert "zone loaded from state, serial 9, 3 records, expired" in log
        wait_until(lambda: not os.path.exists(os.path.join(sd, "example.com.zone")), 10,
                   what="old file removed")
        assert st.zone_state(sd, ZONE) == (9, {
            ("example.com.", 300, "SOA", "ns1.example.com. h.example.com. 9 1 1 60 300"),
            ("example.com.", 300, "NS", "ns1.example.com."),
            ("www.example.com.", 300, "A", "192.0.2.1")})
    finally:
        assert sec.stop() == 0
