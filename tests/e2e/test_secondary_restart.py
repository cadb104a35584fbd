"""Persistence and expiry: a restarted secondary answers from its state
directory at once, with the primary down; past the SOA expire without a
successful refresh it answers SERVFAIL (and /healthz says 503); a corrupt
state file is refused with a clear log line and the zone is transferred in
full."""
import os
import shutil
import subprocess
import tempfile
import time

import dns.rcode
import pytest

from anycst_e2e import Knot, Secondary, free_port, knot_zone, wait_until
from anycst_e2e import state as st

ZONE = "example.com."


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="anycst-sec-restart-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_secondary_restart_serves_persisted_then_expires(tmp):
    # refresh 1 s, retry 1 s, expire 8 s
    knot = Knot(tmp, {ZONE: knot_zone(serial=41, refresh=1, retry=1, expire=8)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 41, 10, what="serial 41")
        wait_until(lambda: st.zone_state(sec.state_dir, ZONE) is not None, 5,
                   what="zone persisted")
    finally:
        assert sec.stop() == 0
    knot.stop()
    t_down = time.monotonic()

    # Primary down: the restarted secondary answers from its state at once.
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport)
    t0 = time.monotonic()
    sec.start()
    try:
        assert sec.serial(ZONE) == 41
        assert time.monotonic() - t0 < 3.0
        r = sec.query("www.example.com.")
        assert r.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in r.answer[0]] == ["192.0.2.1"]
        log = sec.logtext()
        assert "info: [example.com.] zone loaded from state, serial 41" in log
        want = ("warning: [example.com.] refresh, remote 127.0.0.1@%d TCP, failed "
                "(connection refused), retry in 1 s" % knot.port)
        wait_until(lambda: want in sec.logtext(), 3, what="refresh failure logged")
        status, _ = sec.http("/healthz")
        assert status == 200
        # Past the expire (counted from the last successful refresh, across the restart).
        wait_until(lambda: sec.query("www.example.com.").rcode() == dns.rcode.SERVFAIL, 15,
                   step=0.2, what="SERVFAIL after expire")
        assert time.monotonic() - t_down < 8.0 + 5.0
        assert sec.query(ZONE, "SOA").rcode() == dns.rcode.SERVFAIL
        assert "zone expired" in sec.logtext()
        status, body = sec.http("/healthz")
        assert status == 503 and "example.com. expired" in body
        status, body = sec.http("/metrics")
        assert 'anycst_secondary_zone_expired{pop="pop-test",zone="example.com."} 1' in body
        assert 'anycst_secondary_queries_total{pop="pop-test",rcode="SERVFAIL"}' in body
        # The primary comes back: the next retry refreshes and the zone serves again.
        knot.start()
        wait_until(lambda: sec.serial(ZONE) == 41, 10, what="served again")
        assert "zone is no longer expired" in sec.logtext()
        status, _ = sec.http("/healthz")
        assert status == 200
    finally:
        sec.stop()
        knot.stop()


def test_secondary_restart_expired_state_is_servfail_at_start(tmp):
    knot = Knot(tmp, {ZONE: knot_zone(serial=7, refresh=1, retry=1, expire=2)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 7, 10, what="serial 7")
    finally:
        sec.stop()
        knot.stop()
    time.sleep(2.5)
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        assert sec.query("www.example.com.").rcode() == dns.rcode.SERVFAIL
        assert "zone loaded from state, serial 7" in sec.logtext()
        assert "expired" in sec.logtext()
    finally:
        sec.stop()


def test_secondary_corrupt_state_refused_then_axfr(tmp):
    knot = Knot(tmp, {ZONE: knot_zone(serial=3)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 3, 10, what="serial 3")
    finally:
        sec.stop()
    # one byte of the version's records flipped (past the name and the fixed fields)
    path = os.path.join(sec.state_dir, st.PACK)
    rec = [r for r in st.pack_records(sec.state_dir) if r["kind"] == st.ZONE][-1]
    st.flip_byte(path, rec["body_off"] + rec["name_len"] + 20)
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 3, 10, what="serial 3 again")
        log = sec.logtext()
        damage = "zone record fails its checksum at offset %d" % rec["off"]
        assert "error: [example.com.] state pack %s: %s (%d bytes skipped), the zone will be " \
               "transferred in full" % (path, damage, (rec["size"] + 7) & ~7) in log, log
        assert "error: [example.com.] state rejected, its latest version in %s is damaged " \
               "(%s), zone will be transferred in full" % (path, damage) in log, log
        tail = log[log.rindex("state rejected"):]
        assert "zone transfer, incoming AXFR over TCP from 127.0.0.1" in tail
    finally:
        sec.stop()
        knot.stop()


def test_secondary_quic_without_pin_refuses_to_start(tmp):
    """With the default transport (QUIC) and no --pin/--insecure, no transfer
    could ever succeed: the daemon refuses to start, naming --pin (issue 13.6),
    and leaves its state directory alone."""
    knot = Knot(tmp, {ZONE: knot_zone(serial=12)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 12, 10, what="serial 12")
    finally:
        sec.stop()
        knot.stop()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport, name="sec")
    i = sec.args.index("--transport")
    del sec.args[i:i + 2]            # default: quic
    r = subprocess.run(sec.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert "--pin: missing" in r.stdout and "--insecure" in r.stdout, r.stdout
    assert "--primary" not in r.stdout, r.stdout
    assert st.zone_state(sec.state_dir, ZONE)[0] == 12
