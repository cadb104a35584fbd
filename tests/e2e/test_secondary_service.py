"""The DNS service of anycst-secondary (RFC 7766 TCP, UDP on every --listen,
IPv4 and IPv6): several pipelined queries on one TCP connection answered in
order, the idle timeout, per-client connection limits, a stalled TCP client
that does not hold up UDP, and the --identity answers."""
import shutil
import socket
import struct
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from anycst_e2e import Knot, Secondary, free_port, knot_zone, wait_until

ZONE = "example.com."


@pytest.fixture(scope="module")
def served():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-svc-")
    knot = Knot(tmp, {ZONE: knot_zone(serial=9)}).start()
    v6 = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE],
                    extra=["--listen", "[::1]:%d" % v6, "--tcp-idle-timeout", "2",
                           "--tcp-max-per-client", "4"])
    # --listen given twice: the default 127.0.0.1 one comes from Secondary itself.
    sec.start()
    wait_until(lambda: sec.serial(ZONE) == 9, 10, what="serial 9")
    sec.v6port = v6
    yield sec
    sec.stop()
    knot.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def frame(m):
    w = m.to_wire()
    return struct.pack("!H", len(w)) + w


def read_frame(s):
    hdr = b""
    while len(hdr) < 2:
        c = s.recv(2 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack("!H", hdr)[0]
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            return None
        buf += c
    return dns.message.from_wire(buf)


def test_secondary_tcp_pipelined_in_order(served):
    names = ["www", "mail", "ns1", "sip", "nope", "txt"] * 5
    qs = [dns.message.make_query("%s.%s" % (n, ZONE), "A") for n in names]
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    s.sendall(b"".join(frame(q) for q in qs))   # all at once, one segment
    for q in qs:
        r = read_frame(s)
        assert r is not None and r.id == q.id
        assert r.question[0].name == q.question[0].name
    s.close()


def test_secondary_tcp_idle_timeout_and_limit(served):
    # Idle connections are closed after --tcp-idle-timeout (2 s).
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    t0 = time.monotonic()
    assert s.recv(10) == b""
    assert 1.5 < time.monotonic() - t0 < 4.5
    s.close()
    # At most 4 connections from one address: the fifth is closed at once.
    conns = [socket.create_connection(("127.0.0.1", served.port), timeout=5) for _ in range(4)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    extra.sendall(frame(dns.message.make_query("www." + ZONE, "A")))
    try:
        got = extra.recv(10)
    except ConnectionResetError:
        got = b""
    assert got == b""
    extra.close()
    # The first four still work.
    q = dns.message.make_query("www." + ZONE, "A")
    conns[0].sendall(frame(q))
    assert read_frame(conns[0]).id == q.id
    for c in conns:
        c.close()


def test_secondary_slow_tcp_client_does_not_stall_udp(served):
    # A client that sends half a frame and stops, and one that never reads.
    half = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    half.sendall(b"\x00\x40\x12")
    greedy = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    q = dns.message.make_query("long." + ZONE, "TXT")
    greedy.sendall(frame(q) * 2000)
    t0 = time.monotonic()
    for _ in range(50):
        r = served.query("www." + ZONE)
        assert r.rcode() == dns.rcode.NOERROR
    assert time.monotonic() - t0 < 2.0
    half.close()
    greedy.close()


def test_secondary_ipv6_and_identity(served):
    q = dns.message.make_query("www." + ZONE, "AAAA")
    r = dns.query.udp(q, "::1", port=served.v6port, timeout=2)
    assert [rd.to_text() for rd in r.answer[0]] == ["2001:db8::1"]
    r = dns.query.tcp(q, "::1", port=served.v6port, timeout=2)
    assert [rd.to_text() for rd in r.answer[0]] == ["2001:db8::1"]
    r = served.query("id.server.", "TXT", rdclass="CH")
    assert r.answer and r.answer[0][0].to_text() == '"pop-test"'
    # AXFR is not served by a secondary's DNS port.
    assert served.query(ZONE, "AXFR", tcp=True).rcode() == dns.rcode.REFUSED


def test_secondary_wildcard_listen_answers_from_the_asked_address():
    """On 0.0.0.0 / [::] the answer leaves from the address the query went to
    (IP_PKTINFO), as an anycast service address needs; dnspython checks the
    source of the reply."""
    tmp = tempfile.mkdtemp(prefix="anycst-sec-wild-")
    knot = Knot(tmp, {ZONE: knot_zone(serial=4)}).start()
    port = free_port()
    sec = Secondary(tmp, knot.port, zones=[ZONE], port=port,
                    extra=["--listen", "0.0.0.0:%d" % port, "--listen", "[::]:%d" % port])
    # Only the wildcard listeners: drop the 127.0.0.1 one Secondary adds.
    i = sec.args.index("127.0.0.1:%d" % port)
    del sec.args[i - 1:i + 1]
    try:
        sec.start()
        wait_until(lambda: sec.serial(ZONE) == 4, 10, what="serial 4")
        for dst in ("127.0.0.1", "127.0.0.2", "127.1.2.3", "::1"):
            q = dns.message.make_query("www." + ZONE, "A")
            r = dns.query.udp(q, dst, port=port, timeout=2)
            assert r.answer[0][0].to_text() == "192.0.2.1"
    finally:
        sec.stop()
        knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_secondary_tcp_total_connection_limit():
    """--tcp-max-clients bounds the connections from all addresses together."""
    tmp = tempfile.mkdtemp(prefix="anycst-sec-tcpmax-")
    knot = Knot(tmp, {ZONE: knot_zone(serial=2)}).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE],
                    extra=["--tcp-max-clients", "3", "--tcp-max-per-client", "10"])
    try:
        sec.start()
        wait_until(lambda: sec.serial(ZONE) == 2, 10, what="serial 2")
        held = []
        for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", sec.port))
            held.append(s)
        time.sleep(0.2)
        s = socket.socket()
        s.bind(("127.0.0.5", 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", sec.port))
        s.sendall(frame(dns.message.make_query("www." + ZONE, "A")))
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
        s.close()
        # Once one is released, a new client gets in.
        held.pop().close()
        time.sleep(0.2)
        q = dns.message.make_query("www." + ZONE, "A")
        assert dns.query.tcp(q, "127.0.0.1", port=sec.port, timeout=3).rcode() == 0
        status, body = sec.http("/metrics")
        assert 'anycst_secondary_tcp_connections_total{pop="pop-test",event="refused_limit"} 1' in body
        for h in held:
            h.close()
    finally:
        sec.stop()
        knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)
