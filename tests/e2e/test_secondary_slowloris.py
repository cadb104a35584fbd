"""Issue 12.5: the secondary's DNS over TCP under hostile clients.

- A client trickling one byte a second is closed at the per-message deadline
  (RFC 7766 §6.2.3: default 5 s from the first byte of a message), even with a
  long idle timeout: bytes no longer restart the idle timer.
- 600 connections trickling from 127.0.0.2 do not starve a client on
  127.0.0.1: every TCP answer it gets during the attack is < 1 s.

The secondary serves no zone here (its primary is a closed port): the answers
used are id.server. CH TXT, which it always gives.
"""
import select
import shutil
import socket
import struct
import tempfile
import time

import dns.message
import dns.query
import pytest

from anycst_e2e import Secondary, free_port
from anycst_e2e.slowloris import Trickler, raise_nofile


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="anycst-slowtcp-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def framed_query():
    wire = dns.message.make_query("id.server.", "TXT", "CH").to_wire()
    return struct.pack("!H", len(wire)) + wire


def tcp_id_server(port, timeout=5):
    t0 = time.monotonic()
    q = dns.message.make_query("id.server.", "TXT", "CH")
    r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout)
    return r, time.monotonic() - t0


def test_trickling_client_closed_at_message_deadline(tmp):
    sec = Secondary(tmp, free_port(), tsig=False, http=False,
                    extra=["--tcp-idle-timeout", "30"]).start()
    try:
        s = socket.create_connection(("127.0.0.1", sec.port))
        msg = framed_query()
        t0 = time.monotonic()
        closed = False
        i = 0
        while time.monotonic() - t0 < 20:
            try:
                s.send(msg[i % len(msg):i % len(msg) + 1] if i < len(msg) - 1 else b"")
            except OSError:
                closed = True
                break
            i += 1
            r, _, _ = select.select([s], [], [], 1.0)
            if r:
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if not d:
                    closed = True
                    break
        dt = time.monotonic() - t0
        s.close()
        assert closed, "a query trickled at 1 byte/s is still open after %.1f s" % dt
        assert 4 <= dt <= 9, dt
        # a well-behaved client is still served
        r, _ = tcp_id_server(sec.port)
        assert r.answer
    finally:
        sec.stop()


def test_slowloris_from_one_address_does_not_starve_others(tmp):
    raise_nofile()
    sec = Secondary(tmp, free_port(), tsig=False, http=False).start()
    t = Trickler(sec.port, 600, framed_query(), hold_last=True)
    t.start()
    try:
        deadline = time.monotonic() + 20
        while t.opened < 600 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert t.opened >= 600, t.opened
        times = []
        end = time.monotonic() + 12
        while time.monotonic() < end:
            r, dt = tcp_id_server(sec.port)
            assert r.answer, r
            times.append(dt)
            time.sleep(0.05)
        print("during the attack: %d TCP queries, slowest %.3f s, attacker connections %d"
              % (len(times), max(times), t.opened))
        assert len(times) >= 20
        assert max(times) < 1.0, sorted(times)[-5:]
    finally:
        t.stop.set()
        t.join(10)
    assert sec.proc.poll() is None
    sec.stop()
