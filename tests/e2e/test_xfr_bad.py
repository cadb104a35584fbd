"""Bad input on the transfer port (issue 4): garbage and truncated length
prefixes, a client sending one byte per second, 500 idle connections, a
query with QDCOUNT 2, an IXFR without its SOA: the primary stays up, answers
the rest, and frees the connections."""
import socket
import struct
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest

from anycst_e2e import Primary, TmpDir, wait_until

ZONE = "example.com."


@pytest.fixture(scope="module")
def primary():
    with TmpDir() as d:
        p = Primary(d)
        try:
            p.secret = p.add_key("xfr-key.")
            p.add_zone(ZONE, keys=["xfr-key."])
            yield p
        finally:
            p.stop()


def soa_ok(p):
    q = dns.message.make_query(ZONE, "SOA")
    r = dns.query.tcp(q, "127.0.0.1", port=p.xfr_port, timeout=3)
    return r.rcode() == 0 and r.answer and r.answer[0].rdtype == dns.rdatatype.SOA


def conn(p):
    return socket.create_connection(("127.0.0.1", p.xfr_port), timeout=5)


def read_msg(s):
    hdr = b""
    while len(hdr) < 2:
        c = s.recv(2 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack("!H", hdr)[0]
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None
        body += c
    return body


def closed_by_peer(s, timeout):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_garbage_and_truncated_prefixes(primary):
    # Random bytes with a plausible length: answered (FORMERR) or closed.
    s = conn(primary)
    s.sendall(struct.pack("!H", 40) + bytes(range(7, 47)))
    m = read_msg(s)
    assert m is None or (len(m) >= 12 and (m[3] & 0xF) == 1)
    s.close()
    # A length shorter than a header: closed at once.
    s = conn(primary)
    s.sendall(struct.pack("!H", 3) + b"abc")
    assert closed_by_peer(s, 3)
    s.close()
    # Half a length prefix, then nothing: closed by the request timeout.
    s = conn(primary)
    s.sendall(b"\x00")
    assert closed_by_peer(s, 10)
    s.close()
    # A length of 300 followed by 10 bytes and a close: nothing breaks.
    s = conn(primary)
    s.sendall(struct.pack("!H", 300) + b"0123456789")
    s.close()
    assert soa_ok(primary)


def test_qdcount_two_and_ixfr_without_soa(primary):
    q = dns.message.make_query(ZONE, "SOA")
    wire = bytearray(q.to_wire())
    qd = wire[12:]
    wire[4:6] = struct.pack("!H", 2)
    wire += qd
    s = conn(primary)
    s.sendall(struct.pack("!H", len(wire)) + wire)
    r = read_msg(s)
    assert r is not None and (r[3] & 0xF) == 1      # FORMERR
    # Same connection, next request: IXFR with no SOA in authority.
    q = dns.message.make_query(ZONE, "IXFR")
    w = q.to_wire()
    s.sendall(struct.pack("!H", len(w)) + w)
    r = read_msg(s)
    assert r is not None and (r[3] & 0xF) in (1, 5)  # FORMERR (REFUSED if unsigned first)
    # And the connection still serves a good request (RFC 7766 §6.2.1).
    q = dns.message.make_query(ZONE, "SOA")
    w = q.to_wire()
    s.sendall(struct.pack("!H", len(w)) + w)
    r = dns.message.from_wire(read_msg(s))
    assert r.rcode() == 0 and r.answer
    s.close()
    assert primary.alive()


def test_slow_client_does_not_block_others(primary):
    q = dns.message.make_query(ZONE, "SOA").to_wire()
    data = struct.pack("!H", len(q)) + q
    s = conn(primary)
    t0 = time.monotonic()
    closed = False
    for b in data:
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        assert soa_ok(primary)            # others are answered meanwhile
        if closed_by_peer(s, 1.0):
            closed = True
            break
        if time.monotonic() - t0 > 20:
            break
    assert closed, "a one-byte-per-second request was never cut off"
    s.close()


def test_500_idle_connections(primary):
    socks = [conn(primary) for _ in range(500)]
    try:
        # Everyone else is still served while they sit there.
        assert soa_ok(primary)
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(primary.xfr_port), "-y",
                              "hmac-sha256:xfr-key:" + primary.secret, ZONE, "AXFR"],
                             capture_output=True, text=True, timeout=30).stdout
        assert "XFR size" in out, out
        # And the idle ones are closed by the server's idle timeout.
        deadline = time.monotonic() + 20
        for s in socks:
            assert closed_by_peer(s, max(0.1, deadline - time.monotonic()))
    finally:
        for s in socks:
            s.close()
    assert soa_ok(primary)
    assert primary.alive()
