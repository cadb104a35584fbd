"""NOTIFY from the primary (RFC 1996, issue 4): sent from the --xfr address
and port, TSIG-signed with the zone's key, retried with back-off until
answered (bounded), bursts coalesced per (zone, target), PUT .../notify sends
at once.  The target here is a small UDP listener that records and
optionally answers."""
import concurrent.futures
import socket
import threading
import time

import dns.message
import dns.opcode
import dns.rcode
import dns.tsig
import pytest

from xfr_util import Primary, TmpDir, keyring, wait_until

ZONE = "example.com."


class Target:
    def __init__(self, answer=True, ring=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.answer = answer
        self.ring = ring
        self.got = []           # (time, source, zone, serial, signed)
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            try:
                m = dns.message.from_wire(data, keyring=self.ring)
            except Exception as e:      # unverifiable: record as unsigned garbage
                self.got.append((time.monotonic(), src, None, None, repr(e)))
                continue
            serial = m.answer[0][0].serial if m.answer else None
            self.got.append((time.monotonic(), src, m.question[0].name.to_text(), serial,
                             m.had_tsig))
            if self.answer and m.opcode() == dns.opcode.NOTIFY:
                r = dns.message.make_response(m)
                self.sock.sendto(r.to_wire(), src)

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()

    def for_zone(self, zone=ZONE):
        return [g for g in self.got if g[2] == zone]


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def patch(p, i):
    p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
        {"name": "n%d.%s" % (i, ZONE), "type": "TXT", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": '"%d"' % i, "disabled": False}]}]})


def test_notify_signed_from_xfr_port_and_coalesced(tmp):
    t = Target()
    p = Primary(tmp, notify=["127.0.0.1:%d" % t.port])
    try:
        secret = p.add_key("xfr-key.")
        t.ring = keyring("xfr-key.", secret)
        p.create_zone(ZONE, keys=["xfr-key."])
        first = p.serial(ZONE)
        wait_until(lambda: any(g[3] == first for g in t.for_zone()), 5, what="first NOTIFY")
        g = t.for_zone()[-1]
        assert g[1] == ("127.0.0.1", p.xfr_port)      # from the transfer address and port
        assert g[4] is True                           # TSIG-signed, verified with the key
        n0 = len(t.for_zone())
        # 100 commits as fast as the API takes them, from 8 clients.
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: patch(p, i), range(100)))
        elapsed = time.monotonic() - t0
        last = p.serial(ZONE)
        wait_until(lambda: any(g[3] == last for g in t.for_zone()), 5, what="final NOTIFY")
        time.sleep(0.2)
        sent = len(t.for_zone()) - n0
        print("100 commits in %.3f s -> %d NOTIFYs" % (elapsed, sent))
        # One NOTIFY per 20 ms window at most, plus the one that opens a burst.
        assert sent <= int(elapsed / 0.020) + 2, (sent, elapsed)
        assert sent < 100
        assert t.for_zone()[-1][3] == last
        # The primary records the answers.
        prop = p.api("GET", "/zones/%s/propagation" % ZONE)
        n = [x for x in prop["targets"] if x["target"] == "127.0.0.1"][0]["notify"]
        assert n["answered"] is True and n["serial"] == last
    finally:
        p.stop()
        t.close()


def test_notify_retried_with_backoff_then_given_up(tmp):
    t = Target(answer=False)
    p = Primary(tmp, notify=["127.0.0.1:%d" % t.port])
    try:
        p.create_zone(ZONE)                      # no key: unsigned NOTIFY
        wait_until(lambda: len(t.for_zone()) >= 5, 15, what="5 NOTIFY tries")
        time.sleep(5)                            # well past the last back-off step
        got = t.for_zone()
        assert len(got) == 5, got
        gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
        assert all(b > a * 1.5 for a, b in zip(gaps, gaps[1:])), gaps   # growing
        assert all(g[4] is False for g in got)
        assert "no answer after 5 tries" in p.log()
    finally:
        p.stop()
        t.close()


def test_put_notify_sends_at_once(tmp):
    t = Target()
    p = Primary(tmp, notify=["127.0.0.1:%d" % t.port])
    try:
        p.create_zone(ZONE)
        wait_until(lambda: len(t.for_zone()) >= 1, 5, what="NOTIFY after create")
        time.sleep(0.1)
        n = len(t.for_zone())
        t0 = time.monotonic()
        p.api("PUT", "/zones/%s/notify" % ZONE)
        wait_until(lambda: len(t.for_zone()) > n, 2, step=0.005, what="NOTIFY after PUT")
        assert time.monotonic() - t0 < 0.5
        assert t.for_zone()[-1][3] == p.serial(ZONE)
    finally:
        p.stop()
        t.close()
