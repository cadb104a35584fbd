"""Issue 18.2: the POP's state directory is one append-only pack of its small
zones (secondary/pack.h), not two files a zone.

- A damaged pack loses only what is damaged: a byte flipped in one zone's
  version, or the file torn off inside a record (a crash in an append), is
  logged with the file, offset and zone; every other zone is served from the
  state at once with the primary down; the damaged zone answers SERVFAIL
  until the primary is back, and is then transferred in full.
- A state directory of the layout before the pack (".zone" and ".timers" a
  zone) is served as it is and moved into the pack on the way; a zone too
  big for the pack keeps its own file.
- Two secondaries on one state directory: the second is refused.
"""
import os
import subprocess
import time

import dns.rcode
import pytest

from anycst_e2e import Knot, Secondary, TmpDir, free_port, soa_text, wait_until
from anycst_e2e import state as st

ZONES = ["a.test.", "b.test.", "c.test."]


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def zone_text(origin, serial, addr):
    # refresh 2 s, retry 1 s: the zones loaded from the state retry soon
    return ("$ORIGIN %s\n$TTL 300\n%s\n@ NS ns1\nns1 A 127.0.0.1\nwww A %s\n"
            "mail A 192.0.2.99\n@ MX 10 mail\n" % (origin, soa_text(serial, 2, 1), addr))


def www(zone):
    return "www." + zone


def served(sec, zone, addr):
    r = sec.query(www(zone))
    return r.rcode() == dns.rcode.NOERROR and r.answer and r.answer[0][0].to_text() == addr


ADDRS = {z: "192.0.2.%d" % (i + 1) for i, z in enumerate(ZONES)}


def follow_all(tmp):
    """Knot serving ZONES, a secondary following them until each is persisted."""
    knot = Knot(tmp, {z: zone_text(z, 10 + i, ADDRS[z]) for i, z in enumerate(ZONES)}).start()
    sport = free_port()
    sec = Secondary(tmp, knot.port, zones=ZONES, port=sport).start()
    try:
        for z in ZONES:
            wait_until(lambda z=z: st.zone_state(sec.state_dir, z) is not None, 15,
                       what="%s persisted" % z)
        assert sorted(os.listdir(sec.state_dir)) == [st.PACK]
    finally:
        assert sec.stop() == 0
    knot.stop()
    return knot, sec


@pytest.mark.parametrize("damage", ["flipped", "torn"])
def test_damaged_pack_loses_only_the_damaged_zone(tmp, damage):
    knot, sec = follow_all(tmp)
    path = os.path.join(sec.state_dir, st.PACK)
    recs = st.pack_records(sec.state_dir)
    zrec = [r for r in recs if r["kind"] == st.ZONE]
    if damage == "flipped":
        bad = zrec[1]            # one byte of its records
        st.flip_byte(path, bad["body_off"] + bad["name_len"] + 21)
        want = "zone record fails its checksum at offset %d" % bad["off"]
    else:
        bad = zrec[-1]           # a crash in the middle of its append: the tail is gone
        with open(path, "r+b") as f:
            f.truncate(bad["off"] + 24 + 20)
        want = "truncated zone record (44 of %d bytes) at offset %d" % (bad["size"], bad["off"])
    damaged = bad["zone"]

    sec = Secondary(tmp, knot.port, zones=ZONES, port=sec.port).start()
    try:
        # the primary is down: every other zone from the state, at once
        for z in ZONES:
            if z != damaged:
                assert served(sec, z, ADDRS[z]), z
        assert sec.query(www(damaged)).rcode() == dns.rcode.SERVFAIL
        log = sec.logtext()
        log = log[log.rindex("shutting down"):]
        assert "state pack %s: %s" % (path, want) in log, log
        if damage == "flipped":
            assert ("error: [%s] state rejected, its latest version in %s is damaged (%s), "
                    "zone will be transferred in full" % (damaged, path, want)) in log, log
        else:
            assert "state pack %s: cut at offset %d after its last good record" % (
                path, bad["off"]) in log, log
        for z in ZONES:
            if z != damaged:
                assert "[%s] zone loaded from state, serial" % z in log, log
        # the primary is back: the damaged zone comes in full, the others are up to date
        knot.start()
        wait_until(lambda: served(sec, damaged, ADDRS[damaged]), 20, what="damaged zone again")
        log = sec.logtext()
        log = log[log.rindex("shutting down"):]
        assert "info: [%s] zone transfer, incoming AXFR over TCP" % damaged in log, log
        for z in ZONES:
            if z != damaged:
                up = "[%s] refresh, remote 127.0.0.1@%d TCP, zone is up-to-date" % (z, knot.port)
                wait_until(lambda up=up: up in sec.logtext(), 10, what="%s up to date" % z)
        log = sec.logtext()
        log = log[log.rindex("shutting down"):]
        for z in ZONES:
            if z != damaged:
                assert "info: [%s] zone transfer, incoming" % z not in log, log
        wait_until(lambda: st.zone_state(sec.state_dir, damaged) is not None, 10,
                   what="damaged zone persisted again")
    finally:
        assert sec.stop() == 0
        knot.stop()
    # and the pack reads clean again
    sec = Secondary(tmp, knot.port, zones=ZONES, port=sec.port).start()
    try:
        for z in ZONES:
            assert served(sec, z, ADDRS[z]), z
        log = sec.logtext()
        assert "state pack" not in log[log.rindex("shutting down"):]
    finally:
        assert sec.stop() == 0


def test_old_layout_is_served_and_moved_into_the_pack(tmp):
    sd = os.path.join(tmp, "sec-state")
    now = int(time.time())
    for z in ZONES:
        st.write_old_zone(sd, z, 7, [
            (z, 300, "SOA", "ns1.%s h.%s 7 3600 600 86400 300" % (z, z)),
            (z, 300, "NS", "ns1." + z),
            (www(z), 300, "A", ADDRS[z])], last_refresh=now - 60)
    big = "big.test."
    st.write_old_zone(sd, big, 3, [(big, 300, "SOA", "ns1.big.test. h.big.test. 3 3600 600 86400 300"),
                                   (big, 300, "NS", "ns1.big.test.")] +
                      [("h%d.big.test." % i, 300, "TXT", '"%s"' % ("x" * 60)) for i in range(1500)],
                      last_refresh=now - 60)
    sec = Secondary(tmp, free_port(), zones=ZONES + [big]).start()   # no primary there
    try:
        for z in ZONES:
            assert served(sec, z, ADDRS[z]), z
        assert sec.query("h1499.big.test.", "TXT").rcode() == dns.rcode.NOERROR
        moved = "state directory %s: 4 zones moved from their own files into zones.pack" % sd
        wait_until(lambda: moved in sec.logtext(), 5, what="zones moved")
        assert "refresh time not known" not in sec.logtext()
        # the small zones live in the pack only (their files go once it is
        # flushed, after the start); the big one keeps its file
        wait_until(lambda: sorted(os.listdir(sd)) == ["big.test.zone", st.PACK], 10,
                   what="old files removed")
        kinds = {(r["zone"], r["kind"]) for r in st.pack_records(sd)}
        assert {(z, st.ZONE) for z in ZONES} <= kinds and (big, st.FILE) in kinds
        assert {(z, st.TIMERS) for z in ZONES + [big]} <= kinds
    finally:
        assert sec.stop() == 0
    # the next start reads the pack (and the big zone's file)
    sec = Secondary(tmp, free_port(), zones=ZONES + [big], port=sec.port).start()
    try:
        for z in ZONES:
            assert served(sec, z, ADDRS[z]), z
        assert sec.query("h0.big.test.", "TXT").rcode() == dns.rcode.NOERROR
        log = sec.logtext()
        tail = log[log.rindex("shutting down"):]
        assert "moved from their own files" not in tail and "state rejected" not in tail
        assert tail.count("zone loaded from state, serial") == 4, tail
    finally:
        assert sec.stop() == 0


def test_second_process_on_one_state_dir_is_refused(tmp):
    sec = Secondary(tmp, free_port(), zones=["a.test."]).start()
    try:
        other = Secondary(tmp, free_port(), zones=["a.test."])
        r = subprocess.run(other.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        assert r.returncode != 0
        assert "state directory %s is in use by another process" % sec.state_dir in r.stdout, \
            r.stdout
    finally:
        assert sec.stop() == 0
