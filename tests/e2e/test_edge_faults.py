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

import edge_util as eu
from sec_util import Knot, Secondary, knot_zone, wait_until

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
        eu.stop(bird)
        eu.wait_until(lambda: healthz().endswith(" 503"), 5, what="503 after BIRD died")
        assert "announce: BIRD control socket" in healthz()
        assert eu.probe(lab, "p", "id", "127.0.0.1") == ["pop-p"]
        time.sleep(2)
        assert count(lab.log("sec.log"), "error: announce, BIRD control socket") == 1
    finally:
        lab.close()
