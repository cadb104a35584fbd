"""Response rate limiting under a spoofed flood (issue 8).

Two namespaces joined by veth: the server s (10.0.9.1: knotd on loopback as
primary, anycst-secondary with --rrl-rate/--rrl-slip) and the client c
(10.0.9.2).  From c, a raw socket sends 50,000 queries for a large TXT answer
with sources spoofed in 198.51.100.0/24 (the server routes that prefix back
to c), while a legitimate client at 10.0.9.2 sends 1,000 queries.  A packet
socket in c counts what comes back to the spoofed prefix.
"""
import os
import re
import subprocess
import time
import urllib.request

import pytest

from anycst_e2e import edge as eu

RATE = 400
SLIP = 2
FLOOD_N = 50000
FLOOD_SECS = 3.0
LEGIT_N = 1000
LEGIT_QPS = 250          # below RATE: the legitimate client is never limited

pytestmark = pytest.mark.skipif(bool(eu.can_run()), reason=str(eu.can_run()))


@pytest.fixture
def lab():
    lab = eu.Lab(["s", "c"])
    try:
        lab.link("s", "sc0", "10.0.9.1/24", "c", "cs0", "10.0.9.2/24")
        eu.sh("ip", "-n", lab.ns["s"], "route", "add", "198.51.100.0/24", "via", "10.0.9.2")
        kc = eu.knot_conf(lab, ["127.0.0.1@5300"], "127.0.0.0/8")
        lab.spawn("s", ["knotd", "-c", kc], "knotd.log")
        yield lab
    finally:
        lab.close()


def metrics(lab):
    out = eu.sh("curl", "-s", "http://127.0.0.1:8053/metrics", ns=lab.ns["s"])
    vals = {}
    for line in out.splitlines():
        m = re.match(r'anycst_secondary_rrl_(\w+)_total\{pop="pop-s"(?:,action="(\w+)")?\} (\d+)',
                     line)
        if m:
            vals[m.group(2) or m.group(1)] = int(m.group(3))
    return vals


def test_edge_rrl_spoofed_flood(lab):
    sec = lab.spawn("s", [os.path.join(eu.BIN, "anycst-secondary"), "--transport", "tcp",
                          "--primary", "127.0.0.1:5300", "--zone", "example.com",
                          "--listen", "10.0.9.1:53", "--http", "127.0.0.1:8053",
                          "--state-dir", os.path.join(lab.dir, "state"), "--identity", "pop-s",
                          "--workers", "2", "--rrl-rate", str(RATE), "--rrl-slip", str(SLIP),
                          "--rrl-whitelist", "127.0.0.0/8"], "sec.log")
    eu.wait_until(lambda: "zone transfer, completed" in lab.log("sec.log") or sec.poll(), 15,
                  what="zone transferred")
    assert sec.poll() is None, lab.log("sec.log")

    ns_c = lab.ns["c"]
    sniff = subprocess.Popen(["ip", "netns", "exec", ns_c, eu.PY, eu.PROBE, "sniff", "cs0",
                              str(FLOOD_SECS + 5), "198.51.100"], stdout=subprocess.PIPE,
                             text=True)
    lab.procs.append(sniff)
    assert sniff.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    flood = subprocess.Popen(["ip", "netns", "exec", ns_c, eu.PY, eu.PROBE, "flood", "10.0.9.1",
                              str(FLOOD_N), str(FLOOD_SECS), "198.51.100"],
                             stdout=subprocess.PIPE, text=True)
    lab.procs.append(flood)
    legit = eu.sh(eu.PY, eu.PROBE, "legit", "10.0.9.1", str(LEGIT_N), str(LEGIT_QPS), ns=ns_c,
                  timeout=60)
    fout, _ = flood.communicate(timeout=60)
    elapsed = time.monotonic() - t0
    sout, _ = sniff.communicate(timeout=30)
    sent_n, sent_bytes = map(int, re.match(r"sent (\d+) bytes (\d+)", fout).groups())
    pkts, rbytes, tc = map(int, re.search(r"pkts (\d+) bytes (\d+) tc (\d+)", sout).groups())
    full = pkts - tc
    m = metrics(lab)
    print("\nflood: %d queries, %d bytes in %.1f s; back to 198.51.100.0/24: %d answers "
          "(%d full, %d truncated), %d bytes; legit: %s; metrics %s"
          % (sent_n, sent_bytes, elapsed, pkts, full, tc, rbytes, legit.strip(), m))

    # The legitimate client, in its own prefix, gets every answer, none truncated.
    assert legit.strip() == "answered %d truncated 0 lost 0" % LEGIT_N
    assert sent_n == FLOOD_N
    # At most RATE full answers in each second the flood spanned (+1 partial second).
    seconds = int(elapsed) + 2
    assert full <= RATE * seconds, (full, seconds)
    assert full >= RATE // 2                 # it is limited, not blocked
    # Limited answers: every SLIP-th leaves truncated, the rest are dropped.
    limited = FLOOD_N - full
    assert tc <= limited // SLIP + seconds
    assert tc >= limited // SLIP * 0.9
    # No amplification: fewer bytes back than the flood sent.
    assert rbytes < sent_bytes, (rbytes, sent_bytes)
    # The counters agree (the legitimate client's answers are passed too).
    assert m["limited"] == m["slipped"] + m["dropped"]
    assert m["slipped"] == tc
    assert m["passed"] >= full + LEGIT_N
    log = lab.log("sec.log")
    assert "RRL on, %d responses/s per prefix, slip %d, 1 whitelisted" % (RATE, SLIP) in log
    # Never one log line per query.
    assert len(log.splitlines()) < 50


def test_edge_rrl_off_by_default(lab):
    sec = lab.spawn("s", [os.path.join(eu.BIN, "anycst-secondary"), "--transport", "tcp",
                          "--primary", "127.0.0.1:5300", "--zone", "example.com",
                          "--listen", "10.0.9.1:53", "--http", "127.0.0.1:8053",
                          "--state-dir", os.path.join(lab.dir, "state"), "--identity", "pop-s",
                          "--workers", "1"], "sec.log")
    eu.wait_until(lambda: "zone transfer, completed" in lab.log("sec.log") or sec.poll(), 15,
                  what="zone transferred")
    out = eu.sh(eu.PY, eu.PROBE, "legit", "10.0.9.1", "2000", "100000", ns=lab.ns["c"],
                timeout=60)
    assert out.strip() == "answered 2000 truncated 0 lost 0"
    m = metrics(lab)
    assert m["limited"] == 0 and m["passed"] == 0
    assert "RRL on" not in lab.log("sec.log")
