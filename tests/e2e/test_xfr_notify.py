"""NOTIFY from the primary (RFC 1996, issue 4): sent from the --xfr address
and port, TSIG-signed with the zone's key, retried with back-off until
answered (bounded), bursts coalesced per (zone, target), PUT .../notify sends
at once.  The target here is a small UDP listener that records and
optionally answers."""
import concurrent.futures
import os
import re
import socket
import struct
import threading
import time

import dns.message
import dns.opcode
import dns.rcode
import dns.tsig
import pytest

from anycst_e2e import Primary, TmpDir, keyring, wait_until

ZONE = "example.com."

# Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS): the kernel stamps each datagram
# as it arrives, so a receiver thread starved by a busy machine still records
# when the primary sent it (loopback delivery happens inside sendto).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def notify_constants():
    """NOTIFY_TRIES and NOTIFY_RETRY_MS as primary/notify.h defines them."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "primary",
                        "notify.h")
    text = open(path).read()
    get = lambda name: int(re.search(r"#define %s (\d+)" % name, text).group(1))
    return get("NOTIFY_TRIES"), get("NOTIFY_RETRY_MS") / 1000.0


class Target:
    def __init__(self, answer=True, ring=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.answer = answer
        self.ring = ring
        self.got = []           # (kernel arrival time, source, zone, serial, signed)
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                data, anc, _, src = self.sock.recvmsg(65535, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            at = time.time()
            for level, kind, raw in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = struct.unpack("@qq", raw[:16])
                    at = sec + nsec / 1e9
            try:
                m = dns.message.from_wire(data, keyring=self.ring)
            except Exception as e:      # unverifiable: record as unsigned garbage
                self.got.append((at, src, None, None, repr(e)))
                continue
            serial = m.answer[0][0].serial if m.answer else None
            self.got.append((at, src, m.question[0].name.to_text(), serial, m.had_tsig))
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
        p.add_zone(ZONE, keys=["xfr-key."])
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
        tries, first = notify_constants()
        p.add_zone(ZONE)                      # no key: unsigned NOTIFY
        wait_until(lambda: len(t.for_zone()) >= tries, 15, what="%d NOTIFY tries" % tries)
        # The give-up comes one more (doubled) step after the last try.
        wait_until(lambda: "no answer after %d tries" % tries in p.log(),
                   first * 2 ** (tries - 1) + 5, what="give-up")
        time.sleep(0.5)
        got = t.for_zone()
        assert len(got) == tries, got
        # Kernel arrival times: each wait is at least its back-off step (the
        # primary counts it from the send; 2 ms for its whole-millisecond
        # clock), and late by less than another step even on a busy machine.
        gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
        steps = [first * 2 ** i for i in range(tries - 1)]
        assert all(g >= s - 0.002 for g, s in zip(gaps, steps)), (gaps, steps)
        assert all(g < 2 * s + 0.5 for g, s in zip(gaps, steps)), (gaps, steps)
        assert all(g[4] is False for g in got)
    finally:
        p.stop()
        t.close()


def test_put_notify_sends_at_once(tmp):
    t = Target()
    p = Primary(tmp, notify=["127.0.0.1:%d" % t.port])
    try:
        p.add_zone(ZONE)
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
