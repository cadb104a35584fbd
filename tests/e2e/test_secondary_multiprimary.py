"""A POP following several primaries (--primary A,B; issue 19 item 4): two
anycst-primary processes on 127.0.0.1 and 127.0.0.2 hold the same zone at
different serials.  The POP transfers from the one with the highest serial,
accepts NOTIFY from either, refuses it from an unlisted address, and when
the higher primary stops it keeps serving its serial: the lower primary's
serial is refused (never applied backwards)."""
import os
import subprocess
import socket
import time

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.tsig
import pytest

from anycst_e2e import (KEY_NAME, KEY_SECRET, KEYRING, Primary, Secondary, TmpDir, free_port,
                        wait_until)

ZONE = "example.com."


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def txt(p, value):
    p.patch(ZONE, [{"name": "v." + ZONE, "type": "TXT", "ttl": 300, "changetype": "REPLACE",
                    "records": [{"content": '"%s"' % value, "disabled": False}]}])


def served_txt(sec):
    r = sec.query("v." + ZONE, "TXT", tcp=True)
    return [rd.to_text() for rr in r.answer for rd in rr]


def notify_from(sec, source):
    """A TSIG-signed NOTIFY for ZONE sent from `source`; the answer's rcode."""
    m = dns.message.make_query(ZONE, "SOA")
    m.set_opcode(dns.opcode.NOTIFY)
    m.flags |= dns.flags.AA
    m.use_tsig(KEYRING, keyname=KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        s.settimeout(3)
        s.sendto(m.to_wire(), ("127.0.0.1", sec.port))
        data, _ = s.recvfrom(65535)
    finally:
        s.close()
    return dns.message.from_wire(data, keyring=KEYRING, request_mac=m.mac).rcode()


def start_primary(tmp, name, host, sport):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    p = Primary(d, host=host, notify=["127.0.0.1:%d" % sport])
    p.api("POST", "/tsigkeys", {"name": KEY_NAME, "algorithm": "hmac-sha256", "key": KEY_SECRET})
    p.add_zone(ZONE, keys=[KEY_NAME])
    return p


def test_secondary_multiprimary(tmp):
    sport = free_port()
    p1 = p2 = sec = None
    try:
        p1 = start_primary(tmp, "p1", "127.0.0.1", sport)
        p2 = start_primary(tmp, "p2", "127.0.0.2", sport)
        txt(p1, "p1-a")
        for v in ("p2-a", "p2-b", "p2-c"):
            txt(p2, v)
        s1, s2 = p1.serial(ZONE), p2.serial(ZONE)
        assert s2 > s1, (s1, s2)
        sec = Secondary(tmp, p1.xfr_port, zones=[ZONE], port=sport)
        i = sec.args.index("--primary")
        sec.args[i + 1] = "%s, %s" % (p1.xfr_addr, p2.xfr_addr)
        sec.start()
        wait_until(lambda: sec.serial(ZONE) == s2, 10, what="the higher primary's serial")
        assert served_txt(sec) == ['"p2-c"']
        log = sec.logtext()
        assert "following static zones from 127.0.0.1@%d, 127.0.0.2@%d over TCP" % (
            p1.xfr_port, p2.xfr_port) in log, log
        assert "[example.com.] zone transfer, incoming AXFR over TCP from 127.0.0.2" in log
        assert "incoming AXFR over TCP from 127.0.0.1" not in log

        # NOTIFY from the lower primary: accepted, nothing lower applied.
        txt(p1, "p1-b")
        s1 = p1.serial(ZONE)
        assert s1 < s2
        assert notify_from(sec, "127.0.0.1") == dns.rcode.NOERROR
        wait_until(lambda: "notify, incoming, remote 127.0.0.1@" in sec.logtext(), 10,
                   what="NOTIFY from primary 1 accepted")
        n = sec.logtext().count("zone is up-to-date")
        wait_until(lambda: sec.logtext().count("zone is up-to-date") > n or
                   "refresh, remote 127.0.0.2" in sec.logtext(), 10, what="refresh done")
        assert sec.serial(ZONE) == s2

        # NOTIFY from the higher primary: IXFR from it.
        txt(p2, "p2-d")
        s2 = p2.serial(ZONE)
        wait_until(lambda: sec.serial(ZONE) == s2, 10, what="NOTIFY from primary 2 applied")
        assert "notify, incoming, remote 127.0.0.2@" in sec.logtext()
        assert "incoming IXFR over TCP from 127.0.0.2" in sec.logtext()
        assert served_txt(sec) == ['"p2-d"']

        # An unlisted address is refused, even with the right key.
        assert notify_from(sec, "127.0.0.3") == dns.rcode.REFUSED
        assert "not the primary's address" in sec.logtext()
        # A listed one (any port) is accepted.
        assert notify_from(sec, "127.0.0.2") == dns.rcode.NOERROR

        # The higher primary stops: the POP keeps its serial, refusing the lower one.
        p2.stop()
        txt(p1, "p1-c")
        s1 = p1.serial(ZONE)
        assert s1 < s2
        t0 = time.monotonic()
        refused = "IXFR rejected, serial %d -> %d moves backwards (RFC 1982)" % (s2, s1)
        wait_until(lambda: refused in sec.logtext(), 10, what="lower serial refused")
        assert time.monotonic() - t0 < 5   # the dead primary does not hold the refresh up
        log = sec.logtext()
        # connection refused, or closed while it stopped
        assert "primary 127.0.0.2@%d TCP, SOA query failed (" % p2.xfr_port in log, log[-3000:]
        assert "), skipped for 30 s" in log
        assert sec.serial(ZONE) == s2
        assert served_txt(sec) == ['"p2-d"']
        # More NOTIFYs from the lower primary change nothing.
        assert notify_from(sec, "127.0.0.1") == dns.rcode.NOERROR
        time.sleep(1)
        assert sec.serial(ZONE) == s2
        sec.stop()
        sec = None
    finally:
        if sec is not None:
            sec.stop()
        for p in (p1, p2):
            if p is not None:
                p.stop()


def quic_pop(tmp, name, primaries, pins, port=None):
    sec = Secondary(tmp, 0, zones=[ZONE], port=port, name=name)
    i = sec.args.index("--transport")
    del sec.args[i:i + 2]                       # the default transport: QUIC
    i = sec.args.index("--primary")
    sec.args[i + 1] = ",".join(p.quic_addr for p in primaries)
    sec.args += ["--pin", ",".join(pins)]
    return sec


def test_secondary_multiprimary_quic_pins(tmp):
    """Over QUIC each primary has its own pin: a primary whose key does not
    match its pin is skipped (the other one serves), with the right pins the
    higher serial comes from its primary.  A pin count that does not match
    the primaries is refused at start."""
    from anycst_e2e.xoq import pin_of, random_pin
    p1 = p2 = sec = None
    try:
        p1 = start_primary(tmp, "p1", "127.0.0.1", free_port())
        p2 = start_primary(tmp, "p2", "127.0.0.2", free_port())
        for v in ("p2-a", "p2-b"):
            txt(p2, v)
        s1, s2 = p1.serial(ZONE), p2.serial(ZONE)
        assert s2 > s1
        pin1, pin2 = pin_of(p1), pin_of(p2)

        bad = quic_pop(tmp, "bad", [p1, p2], [pin1, pin1, pin2])
        out = subprocess.run(bad.args, capture_output=True, text=True, timeout=10)
        assert out.returncode != 0
        assert "--pin: 3 pins for 2 primaries" in out.stdout + out.stderr

        sec = quic_pop(tmp, "wrongpin", [p1, p2], [pin1, random_pin()]).start()
        wait_until(lambda: sec.serial(ZONE) == s1, 15, what="the primary whose pin matches")
        log = sec.logtext()
        assert "incoming AXFR over QUIC from 127.0.0.1" in log
        assert "primary 127.0.0.2@%d QUIC, SOA query failed" % p2.quic_port in log, log[-3000:]
        sec.stop()

        sec = quic_pop(tmp, "rightpins", [p1, p2], [pin1, pin2]).start()
        wait_until(lambda: sec.serial(ZONE) == s2, 15, what="the higher primary's serial")
        assert "incoming AXFR over QUIC from 127.0.0.2" in sec.logtext()
        assert served_txt(sec) == ['"p2-b"']
        sec.stop()
        sec = None
    finally:
        if sec is not None and sec.proc is not None:
            sec.stop()
        for p in (p1, p2):
            if p is not None:
                p.stop()
