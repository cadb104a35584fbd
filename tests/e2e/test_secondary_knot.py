"""anycst-secondary as a secondary of Debian's knotd (TSIG, TCP): AXFR first,
IXFR after each change (knotd NOTIFYs us), and the zone we serve equals
knotd's record for record; NOTIFY from the wrong place is refused."""
import shutil
import socket
import tempfile
import time

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import pytest

from anycst_e2e import (KEY_NAME, KEYRING, Knot, Secondary, free_port, knot_zone, tsig_file_args,
                      wait_until)

ZONE = "example.com."


@pytest.fixture
def pair():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-knot-")
    sport = free_port()
    knot = Knot(tmp, {ZONE: knot_zone(serial=1)}, notify_to="127.0.0.1@%d" % sport).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=sport).start()
    yield knot, sec
    sec.stop()
    knot.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def assert_same_zone(knot, sec):
    want = knot.axfr(ZONE)
    got = sec.served(want.keys(), ZONE)
    assert got == want


def test_secondary_knot_axfr_then_ixfr(pair):
    knot, sec = pair
    wait_until(lambda: sec.serial(ZONE) == 1, 10, what="serial 1 served")
    log = sec.logtext()
    assert "info: [example.com.] zone transfer, incoming AXFR over TCP from 127.0.0.1" in log
    assert "info: [example.com.] zone transfer, completed successfully" in log
    assert_same_zone(knot, sec)

    # One change with several records: knotd NOTIFYs us and serves IXFR 1 -> 2.
    def change(u):
        u.replace("www", 300, "A", "192.0.2.99")
        u.add("new", 600, "TXT", '"added"')
        u.delete("mail", "A")
        u.add("mail", 300, "A", "192.0.2.98")
    knot.update(ZONE, change)
    t0 = time.monotonic()
    wait_until(lambda: sec.serial(ZONE) == 2, 5, what="serial 2 served")
    assert time.monotonic() - t0 < 3.5   # NOTIFY-driven (knotd waits ~1 s), not the 3600 s refresh
    log = sec.logtext()
    assert "info: [example.com.] notify, incoming, remote 127.0.0.1@" in log
    assert "info: [example.com.] zone transfer, incoming IXFR over TCP from 127.0.0.1" in log
    assert "zone transfer, completed successfully, serial 1 -> 2, IXFR" in log
    assert_same_zone(knot, sec)
    r = sec.query("www.example.com.")
    assert [rd.to_text() for rd in r.answer[0]] == ["192.0.2.99"]

    # Twenty more random-ish changes in a row, then equal again.
    for i in range(20):
        def more(u, i=i):
            u.replace("r%d" % (i % 7), 300, "A", "198.51.100.%d" % i)
            if i % 3 == 0:
                u.delete("r%d" % ((i + 1) % 7))
        knot.update(ZONE, more)
    wait_until(lambda: sec.serial(ZONE) == knot.serial(ZONE), 10, what="caught up")
    assert_same_zone(knot, sec)
    assert "IXFR rejected" not in sec.logtext()

    status, body = sec.http("/healthz")
    assert status == 200, body
    status, body = sec.http("/metrics")
    assert status == 200
    assert 'anycst_secondary_zone_serial{pop="pop-test",zone="example.com."} %d' % knot.serial(ZONE) in body
    assert 'anycst_secondary_transfers_total{pop="pop-test",zone="example.com.",type="ixfr"}' in body
    assert 'anycst_secondary_queries_total{pop="pop-test",rcode="NOERROR"}' in body


def notify_msg(zone=ZONE, serial=None):
    m = dns.message.make_query(zone, "SOA")
    m.set_opcode(dns.opcode.NOTIFY)
    m.flags |= dns.flags.AA
    return m


def send_notify(sec, m, src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(2)
    s.sendto(m.to_wire(), ("127.0.0.1", sec.port))
    data, _ = s.recvfrom(65535)
    s.close()
    return dns.message.from_wire(data, keyring=KEYRING, ignore_trailing=True,
                                 request_mac=m.mac if m.had_tsig else b"")


def test_secondary_knot_notify_acl(pair):
    knot, sec = pair
    wait_until(lambda: sec.serial(ZONE) == 1, 10, what="serial 1 served")
    # From the right address, signed: NOERROR, AA, question echoed, signed back.
    m = notify_msg()
    m.use_tsig(KEYRING, keyname=KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
    r = send_notify(sec, m)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.opcode() == dns.opcode.NOTIFY
    assert r.flags & dns.flags.AA and r.flags & dns.flags.QR
    assert r.question[0].name.to_text() == ZONE and r.had_tsig
    # From another address: REFUSED, and logged.
    m = notify_msg()
    m.use_tsig(KEYRING, keyname=KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
    r = send_notify(sec, m, src="127.0.0.2")
    assert r.rcode() == dns.rcode.REFUSED
    wait_until(lambda: "remote 127.0.0.2@" in sec.logtext(), 2, what="refusal logged")
    assert "refused (not the primary's address)" in sec.logtext()
    # Unsigned while --tsig is set: REFUSED.
    r = send_notify(sec, notify_msg())
    assert r.rcode() == dns.rcode.REFUSED
    # Signed with an unknown key: NOTAUTH.
    other = dns.tsigkeyring.from_text({"other-key": ("hmac-sha256", "b3RoZXIta2V5LXNlY3JldA==")})
    m = notify_msg()
    m.use_tsig(other, keyname="other-key", algorithm=dns.tsig.HMAC_SHA256)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(m.to_wire(), ("127.0.0.1", sec.port))
    data, _ = s.recvfrom(65535)
    s.close()
    assert (data[3] & 0x0f) == dns.rcode.NOTAUTH
    # A zone we do not serve: NOTAUTH.
    m = notify_msg("example.org.")
    m.use_tsig(KEYRING, keyname=KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
    r = send_notify(sec, m)
    assert r.rcode() == dns.rcode.NOTAUTH
    # Still serving, and the refusals are counted.
    assert sec.serial(ZONE) == 1
    status, body = sec.http("/metrics")
    refused = [l for l in body.splitlines()
               if l.startswith('anycst_secondary_notify_total{pop="pop-test",result="refused"}')]
    assert refused and int(refused[0].split()[-1]) >= 4


def test_secondary_knot_refused_by_wrong_key():
    """A secondary with the wrong TSIG secret never publishes anything (a zone it
    does not hold yet is asked for by AXFR at once: the AXFR is refused)."""
    tmp = tempfile.mkdtemp(prefix="anycst-sec-badkey-")
    try:
        knot = Knot(tmp, {ZONE: knot_zone(serial=1)}).start()
        sec = Secondary(tmp, knot.port, zones=[ZONE], tsig=False,
                        extra=tsig_file_args(tmp, KEY_NAME, "d3Jvbmctc2VjcmV0LXdyb25n")
                        ).start()
        try:
            want = ("warning: [example.com.] refresh, remote 127.0.0.1@%d TCP, failed "
                    "(primary answered the AXFR with TSIG BADSIG, wrong secret), "
                    "retry in 2 s" % knot.port)
            wait_until(lambda: want in sec.logtext(), 10, what="refresh failure logged")
            r = sec.query(ZONE, "SOA")
            assert r.rcode() == dns.rcode.SERVFAIL   # added but never loaded
            status, body = sec.http("/healthz")
            assert status == 503 and "not loaded" in body
        finally:
            sec.stop()
            knot.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_secondary_knot_primary_down_log():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-down-")
    try:
        dead = free_port()
        sec = Secondary(tmp, dead, zones=[ZONE]).start()
        try:
            want = ("warning: [example.com.] refresh, remote 127.0.0.1@%d TCP, failed "
                    "(connection refused), retry in 2 s" % dead)
            wait_until(lambda: want in sec.logtext(), 5, what="refresh failure line")
        finally:
            assert sec.stop() == 0   # graceful SIGTERM
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
