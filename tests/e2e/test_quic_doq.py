"""XoQ on loopback with real processes (tools/anycst-doq-test): answers of 1,
100 and 10 MB of messages, parallel streams on one connection, pins, ALPN,
message ids and --strict, framing errors, 1,000 handshakes that never finish,
and the per-address connection limit.  Our own peers are checked against
RFC 9250 itself (bookworm's kdig +quic is UDP and knotd does QUIC only with
XDP)."""
import time

from anycst_e2e import quic as qu


def remote(srv):
    return "127.0.0.1:%d" % srv.port


def test_doq_answers_and_streams():
    srv = qu.Server()
    try:
        for n, s in ((1, 300), (100, 1000), (200, 50000)):
            ok, vals, line = qu.get(remote(srv), "--pin", srv.pin, "-n", str(n), "-s", str(s))
            assert ok, line
            assert int(vals["messages"]) == n
            assert int(vals["bytes"]) == n * s
        ok, vals, line = qu.get(remote(srv), "--pin", srv.pin, "-n", "10", "-s", "3000",
                                "--parallel", "100", "--repeat", "2")
        assert ok, line
        assert vals["messages"] == "2000"
        assert vals["connections"] == "1"      # 200 requests, one connection
    finally:
        stats = srv.stop()
    assert stats["conns_accepted"] == 4
    assert stats["streams"] == 3 + 200
    assert stats["stream_errors"] == 0
    assert stats["bytes_tx"] > 10_000_000


def test_doq_pin_and_alpn():
    srv = qu.Server()
    try:
        other = qu.Server()
        wrong = other.pin
        other.stop()
        ok, _, line = qu.get(remote(srv), "--pin", wrong)
        assert not ok and "refused" in line.lower(), line
        ok, _, line = qu.get(remote(srv), "--insecure")
        assert ok, line
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "--alpn", "dot")
        assert not ok, line
        r = qu.run([qu.TOOL, "get", "--remote", remote(srv)])
        assert r.returncode != 0 and "neither --pin nor --insecure" in r.stdout
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin)
        assert ok, line
    finally:
        stats = srv.stop()
    assert stats["handshake_failures"] == 2      # wrong pin, wrong ALPN
    assert stats["handshakes"] == 2


def test_doq_message_id_echo_and_strict():
    srv = qu.Server()
    try:
        ok, vals, line = qu.get(remote(srv), "--pin", srv.pin, "--id", "4660", "-n", "5")
        assert ok, line                          # every answer carries id 4660
    finally:
        srv.stop()
    srv = qu.Server(extra=["--strict"])
    try:
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "--id", "0", "-n", "2")
        assert ok, line
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "--id", "4660")
        assert not ok and "Protocol error" in line, line
        assert "DOQ_PROTOCOL_ERROR" in srv.log()
    finally:
        srv.stop()


def test_doq_framing_errors_keep_serving():
    srv = qu.Server()
    try:
        for mode, want in (("good", "ok answered"), ("noprefix", "closed DOQ_PROTOCOL_ERROR"),
                           ("extra", "closed DOQ_PROTOCOL_ERROR"),
                           ("truncated", "closed DOQ_PROTOCOL_ERROR")):
            r = qu.run([qu.TOOL, "raw", "--remote", remote(srv), "--insecure", "--mode", mode])
            assert r.stdout.strip() == want, (mode, r.stdout, r.stderr)
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "-n", "3")
        assert ok, line
        assert "missing length prefix" in srv.log()
    finally:
        stats = srv.stop()
    assert stats["stream_errors"] == 3


def test_doq_half_open_flood():
    srv = qu.Server(extra=["--handshake-timeout", "1000"])
    try:
        r = qu.run([qu.TOOL, "flood", "--remote", remote(srv), "--count", "1000"])
        assert r.stdout.strip() == "ok sent=1000", r.stdout
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "-n", "20", "-s", "2000")
        assert ok, line
        time.sleep(2.5)                          # handshake timeout reclaims the rest
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin)
        assert ok, line
        assert srv.alive()
    finally:
        stats = srv.stop()
    assert stats["retries"] >= 900               # no state for most of them
    assert stats["handshake_failures"] >= 60
    assert stats["conns_open"] == 0


def test_doq_connection_limit_per_address():
    srv = qu.Server(extra=["--per-addr", "1"])
    try:
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "-n", "2")
        assert ok, line
        # the first connection is gone once its client exits: a new one fits
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "-n", "2")
        assert ok, line
    finally:
        srv.stop()


def test_doq_garbled_packets():
    """Random datagrams, Initial-looking garbage and truncated headers: dropped,
    no crash, no state left, and good clients are served."""
    import os
    import socket
    import struct
    srv = qu.Server()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rnd = os.urandom
        for i in range(3000):
            kind = i % 4
            if kind == 0:
                pkt = rnd(1 + i % 1400)
            elif kind == 1:     # long header, QUIC v1 Initial, random rest, padded
                pkt = bytes([0xc0 | (i & 3)]) + struct.pack(">I", 1) + bytes([8]) + rnd(8) + \
                      bytes([8]) + rnd(8) + rnd(1180)
            elif kind == 2:     # unknown version: version negotiation
                pkt = bytes([0xc0]) + struct.pack(">I", 0x1a2a3a4a) + bytes([8]) + rnd(8) + \
                      bytes([8]) + rnd(8) + rnd(1180)
            else:               # truncated long header
                pkt = bytes([0xc0]) + struct.pack(">I", 1) + bytes([20])
            s.sendto(pkt, ("127.0.0.1", srv.port))
        s.close()
        ok, _, line = qu.get(remote(srv), "--pin", srv.pin, "-n", "5", "-s", "1000")
        assert ok, line
        assert srv.alive()
    finally:
        stats = srv.stop()
    assert stats["conns_open"] == 0
    assert stats["handshakes"] == 1


def test_doq_pin_matches_openssl():
    """The pin is base64(SHA-256(SubjectPublicKeyInfo)) (Knot's cert-key form):
    checked against openssl for our generated key (mode 0600) and for
    ECDSA P-256 and Ed25519 keys made by openssl."""
    import base64
    import hashlib
    import os
    import shutil
    import stat
    import subprocess
    import tempfile
    import pytest
    if shutil.which("openssl") is None:
        pytest.skip("no openssl")

    def ossl_pin(path):
        der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                             stdout=subprocess.PIPE, check=True).stdout
        return base64.b64encode(hashlib.sha256(der).digest()).decode()

    srv = qu.Server()
    try:
        key = os.path.join(srv.dir, "tls.key")
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert srv.pin == ossl_pin(key)
    finally:
        srv.stop()
    d = tempfile.mkdtemp(prefix="anycst-quic-key-")
    try:
        for gen in (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                    ["-algorithm", "ED25519"]):
            key = os.path.join(d, "k.pem")
            subprocess.run(["openssl", "genpkey"] + gen + ["-out", key], check=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            cmd = [qu.TOOL, "server", "--listen", "127.0.0.1:0", "--key", key]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                line = p.stdout.readline()
                assert line.startswith("ready "), (gen, line)
                port = int(line.split()[1].split("=")[1])
                pin = line.split()[2].split("=", 1)[1]
                assert pin == ossl_pin(key), gen
                ok, _, out = qu.get("127.0.0.1:%d" % port, "--pin", pin)
                assert ok, out
            finally:
                p.terminate()
                p.wait(timeout=10)
            os.unlink(key)
    finally:
        shutil.rmtree(d, ignore_errors=True)
