"""Bad input: 1,000,000 random and mutated packets at the secondary's UDP port
(bin/anycst-udpfuzz, bounded in time), with a TCP garbage phase: the daemon
stays up, keeps answering valid queries during and after the flood, and
logs refusals without flooding its log."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode

from anycst_e2e import TOOLS, Knot, Secondary, free_port, knot_zone, wait_until

ZONE = "example.com."


def test_secondary_fuzz_udp_million():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-fuzz-")
    knot = Knot(tmp, {ZONE: knot_zone(serial=5)}).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE], extra=["--log-level", "info"]).start()
    answered = []
    stop = threading.Event()

    def prober():
        # Valid queries during the flood; over TCP so a full UDP socket
        # buffer (drops are legitimate under a flood) does not count.
        while not stop.is_set():
            try:
                r = sec.query("www.example.com.", tcp=True, timeout=2)
                answered.append(r.rcode() == dns.rcode.NOERROR and
                                r.answer[0][0].to_text() == "192.0.2.1")
            except (dns.exception.Timeout, OSError):
                answered.append(False)
            time.sleep(0.05)

    try:
        wait_until(lambda: sec.serial(ZONE) == 5, 10, what="serial 5")
        t = threading.Thread(target=prober, daemon=True)
        t.start()
        out = subprocess.run([os.path.join(TOOLS, "anycst-udpfuzz"), "127.0.0.1:%d" % sec.port,
                              "1000000", "20261126", "200000", ZONE, "www.example.com.",
                              "nope.example.org."],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "sent 1000000 packets" in out.stdout
        # TCP garbage: bad lengths, truncated frames, a frame then a hang-up.
        for payload in (b"\x00", b"\xff\xff" + os.urandom(100), b"\x00\x05\x01\x02",
                        b"\x00\x00", os.urandom(3000)):
            s = socket.create_connection(("127.0.0.1", sec.port), timeout=2)
            s.sendall(payload)
            s.close()
        stop.set()
        t.join(5)
        assert sec.proc.poll() is None, "secondary died"
        # Still answering, over UDP and TCP.
        for tcp in (False, True):
            r = sec.query("www.example.com.", tcp=tcp)
            assert r.rcode() == dns.rcode.NOERROR
            assert r.answer[0][0].to_text() == "192.0.2.1"
        assert sec.query("nope.example.org.").rcode() == dns.rcode.REFUSED
        assert len(answered) > 5 and all(answered), answered.count(False)
        status, body = sec.http("/metrics")
        assert status == 200
        formerr = [l for l in body.splitlines()
                   if l.startswith('anycst_secondary_queries_total{pop="pop-test",rcode="FORMERR"}')]
        assert formerr and int(formerr[0].split()[-1]) > 1000   # the flood was parsed
        # Refusals are rate-limited: a handful of lines, not thousands.
        assert sec.logtext().count("refused") < 50
    finally:
        stop.set()
        rc = sec.stop()
        knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    assert rc == 0
