"""Announcement faults never stop the service (issue 8): a missing anycast
interface, a BIRD control socket that does not exist or refuses, and a BIRD
that dies.  Each time the secondary keeps answering, logs the fault once
(at most once a minute), and /healthz says 503 with the reason.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from anycst_e2e import edge as eu
from anycst_e2e import Knot, Secondary, knot_zone, wait_until

ZONE = "example.com."


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="anycst-edge-faults-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(tmp, extra):
    knot = Knot(tmp, {ZONE: knot_zone(serial=3)}).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE], extra=["--identity", "pop-x"] + extra)
    sec.start()
    wait_until(lambda: sec.serial(ZONE) == 3, 10, what="zone served")
    return knot, sec


def count(text, needle):
    return sum(1 for l in text.splitlines() if needle in l)


def test_edge_faults_missing_iface_and_bird(tmp):
    sock = os.path.join(tmp, "no-bird.ctl")
    knot, sec = start(tmp, ["--anycast-iface", "anycstnone0", "--bird-socket", sock])
    try:
        time.sleep(3.5)   # ~35 announce ticks and 3 BIRD probes
        r = sec.query("www.example.com.", "A")
        assert r.answer and r.answer[0][0].address == "192.0.2.1"
        code, body = sec.http("/healthz")
        assert code == 503, body
        assert "announce: interface anycstnone0 missing (No such device)" in body
        assert "announce: BIRD control socket %s, No such file or directory" % sock in body
        assert "zone" not in body   # the zone itself is fine
        log = sec.logtext()
        assert count(log, "error: announce, interface anycstnone0 missing") == 1, log
        assert count(log, "error: announce, BIRD control socket") == 1, log
        # The POP name starts every line and labels the metrics.
        assert all(l.startswith("[pop-x] ") for l in log.splitlines() if l), log
        code, m = sec.http("/metrics")
        assert 'anycst_secondary_info{pop="pop-x"} 1' in m
        assert 'anycst_secondary_healthy{pop="pop-x"} 1' in m     # zones are fine
        assert 'anycst_secondary_announced{pop="pop-x"} 0' in m
        assert sec.stop() == 0
    finally:
        knot.stop()


def test_edge_faults_bird_refuses(tmp):
    # A socket file nobody accepts on: connect() is refused.
    path = os.path.join(tmp, "bird.ctl")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    knot, sec = start(tmp, ["--bird-socket", path])
    try:
        wait_until(lambda: "Connection refused" in sec.logtext(), 5, what="fault logged")
        code, body = sec.http("/healthz")
        assert code == 503
        assert "announce: BIRD control socket %s, Connection refused" % path in body
        time.sleep(2.5)
        assert count(sec.logtext(), "error: announce, BIRD control socket") == 1
        assert sec.query("www.example.com.", "A").answer
        # BIRD comes back (greets, as BIRD does): the fault clears.
        s.close()
        os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(8)
        srv.settimeout(0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "recovered" not in sec.logtext():
            try:
                c, _ = srv.accept()
                c.sendall(b"0001 BIRD 2.0.12 ready.\n")
                c.close()
            except socket.timeout:
                pass
        srv.close()
        assert "notice: announce, recovered from: BIRD control socket" in sec.logtext()
        code, body = sec.http("/healthz")
        assert code == 200, body
        sec.stop()
    finally:
        s.close()
        knot.stop()


@pytest.mark.skipif(bool(eu.can_run() or eu.bird_missing()),
                    reason=str(eu.can_run() or eu.bird_missing()))
def test_edge_faults_real_bird_dies():
    """Real BIRD in a namespace: healthy and announced; BIRD killed: 503, still serving."""
    lab = eu.Lab(["p"])
    try:
        lab.anycast_iface("p")
        conf = os.path.join(lab.dir, "bird.conf")
        with open(conf, "w") as f:
            f.write('log stderr all;\nrouter id 10.0.0.9;\nprotocol device {}\n'
                    'protocol direct anycast { ipv4; interface "any0"; }\n')
        bird, sock = eu.start_bird(lab, "p", conf, "p")
        kc = eu.knot_conf(lab, ["127.0.0.1@5300"], "127.0.0.0/8")
        lab.spawn("p", ["knotd", "-c", kc], "knotd.log")
        lab.spawn("p", [os.path.join(eu.BIN, "anycst-secondary"), "--transport", "tcp",
                        "--primary", "127.0.0.1:5300", "--zone", "example.com",
                        "--listen", "127.0.0.1:53", "--http", "127.0.0.1:8053",
                        "--state-dir", os.path.join(lab.dir, "state"), "--identity", "pop-p",
                        "--anycast-iface", "any0", "--bird-socket", sock,
                        "--announce-holddown", "1"], "sec.log")

        def healthz():
            r = subprocess.run(["ip", "netns", "exec", lab.ns["p"], "curl", "-s", "-w",
                                " %{http_code}", "http://127.0.0.1:8053/healthz"],
                               stdout=subprocess.PIPE, text=True)
            return r.stdout

        eu.wait_until(lambda: "POP announced" in lab.log("sec.log"), 20, what="announced")
        assert healthz().endswith(" 200")
        routes = eu.sh("birdc", "-s", sock, "show", "route", ns=lab.ns["p"])
        assert "192.0.2.53/32" in routes, routes
        eu.stop_pid(bird)
        eu.wait_until(lambda: healthz().endswith(" 503"), 5, what="503 after BIRD died")
        assert "announce: BIRD control socket" in healthz()
        assert eu.probe(lab, "p", "id", "127.0.0.1") == ["pop-p"]
        time.sleep(2)
        assert count(lab.log("sec.log"), "error: announce, BIRD control socket") == 1
    finally:
        lab.close()


def test_edge_faults_lag_from_refresh(tmp):
    """The primary moves ahead but our transfers fail (--xfr-max-size 1 MiB):
    the serial learnt by the refresh's SOA check makes the POP unhealthy after
    --max-lag seconds, while the old version keeps being served."""
    import dns.flags
    import dns.message
    import dns.opcode
    import dns.tsig
    from anycst_e2e import KEY_NAME, KEYRING

    knot = Knot(tmp, {ZONE: knot_zone(serial=1)}).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE],
                    extra=["--identity", "pop-l", "--max-lag", "2", "--xfr-max-size", "1"])
    sec.start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 1, 10, what="serial 1 served")
        assert sec.http("/healthz")[0] == 200
        big = " ".join('"%s"' % ("z" * 250) for _ in range(4))

        for i in range(24):   # ~1.2 MB in 24 updates: serial 1 -> 25
            def fill(u, i=i):
                for k in range(60):
                    u.add("big%d-%d" % (i, k), 300, "TXT", big)
            knot.update(ZONE, fill)
        wait_until(lambda: knot.serial(ZONE) == 25, 10, what="primary at serial 25")
        # A NOTIFY without a serial: the lag can only be learnt by the refresh.
        m = dns.message.make_query(ZONE, "SOA")
        m.set_opcode(dns.opcode.NOTIFY)
        m.flags |= dns.flags.AA
        m.use_tsig(KEYRING, keyname=KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(m.to_wire(), ("127.0.0.1", sec.port))
        s.recvfrom(65535)
        s.close()
        wait_until(lambda: "transfer larger than" in sec.logtext(), 10, what="transfer refused")
        code, body = sec.http("/healthz")
        assert code == 200, body          # behind for less than --max-lag
        wait_until(lambda: sec.http("/healthz")[0] == 503, 6, what="lag fault")
        body = sec.http("/healthz")[1]
        assert "zone example.com. lags the primary: serial 1, primary 25, for " in body, body
        assert 'anycst_secondary_healthy{pop="pop-l"} 0' in sec.http("/metrics")[1]
        assert sec.serial(ZONE) == 1       # still serving the old version
        sec.stop()
    finally:
        knot.stop()
