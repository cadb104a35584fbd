"""`make run` as a newcomer uses it: scripts/run-demo.sh starts a primary and a
secondary with the demo zone, and the curl lines it prints work: a PATCH is
answered by the secondary, a new zone reaches it through the catalog, the
zone switched to DNSSEC gets a DS and its answers at the secondary come signed.

The demo listens on fixed ports (8081, 5300, 8853, 5353), so it runs in a
network namespace of this test (its own loopback), from a temporary directory
holding links to bin/ and scripts/; it is stopped by its PID with SIGINT, as
Ctrl-C does."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from anycst_e2e import BIN, wait_until

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API = "http://127.0.0.1:8081/api/v1/servers/localhost"


def _ns_run(ns, *argv, timeout=10):
    return subprocess.run(["ip", "netns", "exec", ns] + list(argv), capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                    reason="needs root for a network namespace")
def test_make_run_demo_serves_changes():
    ns = "anycst-demo-%d" % os.getpid()
    tmp = tempfile.mkdtemp(prefix="anycst-demo-")
    proc = None
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        os.symlink(os.path.abspath(BIN), os.path.join(tmp, "bin"))
        os.symlink(os.path.join(TOP, "scripts"), os.path.join(tmp, "scripts"))
        out = open(os.path.join(tmp, "demo.out"), "w")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "scripts/run-demo.sh"],
                                cwd=tmp, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        out.close()

        def said():
            with open(os.path.join(tmp, "demo.out")) as f:
                text = f.read()
            assert proc.poll() is None, text
            return "anycst is running" in text and "Press Ctrl-C" in text
        wait_until(said, 30, step=0.1, what="the demo's greeting")
        with open(os.path.join(tmp, "run", "api.key")) as f:
            key = f.read().strip()
        hdr = ["-H", "X-API-Key: " + key, "-H", "Content-Type: application/json"]

        def dig(name, rtype):
            r = _ns_run(ns, "dig", "+short", "+time=1", "+tries=1", "-p", "5353",
                        "@127.0.0.1", name, rtype)
            return r.stdout.strip()
        # the demo greets once its secondary answered; one lost or late UDP
        # answer on a loaded machine is not a failure
        wait_until(lambda: dig("www.example.com.", "A") == "192.0.2.80", 10, step=0.1,
                   what="the demo zone served by the demo secondary")
        # the PATCH line the demo prints
        body = {"rrsets": [{"name": "_acme-challenge.example.com.", "type": "TXT", "ttl": 60,
                            "changetype": "REPLACE",
                            "records": [{"content": "\"token-123\"", "disabled": False}]}]}
        r = _ns_run(ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH",
                    *hdr, API + "/zones/example.com.", "-d", json.dumps(body))
        assert r.stdout == "204", r
        wait_until(lambda: dig("_acme-challenge.example.com.", "TXT") == '"token-123"', 15,
                   step=0.1, what="the PATCH served by the demo secondary")
        # the POST line: a new zone reaches the secondary through the catalog
        body = {"name": "example.org.", "kind": "Native", "nameservers": ["ns1.example.org."],
                "master_tsig_key_ids": ["demo."]}
        r = _ns_run(ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                    *hdr, API + "/zones", "-d", json.dumps(body))
        assert r.stdout == "201", r
        wait_until(lambda: "hostmaster.example.org." in dig("example.org.", "SOA"), 15,
                   step=0.1, what="the new zone served by the demo secondary")
        # the DNSSEC lines: printed as the shell takes them (a continued line kept
        # continued), signed, a DS to hand the registrar, signed answers
        with open(os.path.join(tmp, "demo.out")) as f:
            text = f.read()
        assert "/zones/example.com. \\\n       -d '{\"dnssec\": true}'\n" in text, text
        r = _ns_run(ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                    *hdr, API + "/zones/example.com.", "-d", '{"dnssec": true}')
        assert r.stdout == "204", r
        r = _ns_run(ns, "curl", "-s", *hdr, API + "/zones/example.com./cryptokeys")
        keys = json.loads(r.stdout)
        assert any(k.get("ds") for k in keys), keys

        def signed():
            r = _ns_run(ns, "dig", "+dnssec", "+norec", "+time=1", "+tries=1", "-p", "5353",
                        "@127.0.0.1", "www.example.com.", "A")
            # the A rrset's signature: covered type, algorithm 13, 3 labels, TTL 300
            return "RRSIG A 13 3 300" in " ".join(r.stdout.split())
        wait_until(signed, 15, step=0.1, what="signed answers from the demo secondary")
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(tmp, ignore_errors=True)
