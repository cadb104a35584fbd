"""RRL keyed by client prefix AND response (issue 12.6), on loopback.

knotd is the primary of example.com (200 names h0..h199, www); one
anycst-secondary with --rrl-rate RATE --rrl-slip 2 answers on 127.0.0.1.
Queries leave from 127.0.1.x (one /24) and 127.0.2.x (another), see
rrl_load.py:
  - 200 distinct names from one /24 at 5x RATE: every one answered (a
    resolver behind one /24 is not throttled: this fails when buckets are
    keyed by the prefix alone);
  - one name flooded from that /24 at 10x RATE: limited to RATE a second,
    the limited answers alternately dropped and truncated (TC, slip 2);
  - the same name from the other /24 during the flood: every one answered;
  - a random-subdomain flood (NXDOMAIN) shares one bucket: limited too.
"""
import os
import random
import shutil
import subprocess
import tempfile

import pytest

from anycst_e2e import rrl_load
import anycst_e2e as su

RATE = 50
SECS = 3.0


def zone_text():
    return (su.knot_zone() + "".join("h%d A 192.0.2.%d\n" % (i, i % 250 + 1)
                                     for i in range(200)))


@pytest.fixture
def sec():
    tmp = tempfile.mkdtemp(prefix="anycst-rrl-")
    knot = sec_ = None
    try:
        knot = su.Knot(tmp, {"example.com.": zone_text()}).start()
        sec_ = su.Secondary(tmp, knot.port, zones=["example.com."],
                            extra=["--rrl-rate", str(RATE), "--rrl-slip", "2"]).start()
        su.wait_until(lambda: sec_.serial("example.com.") == 1, 15, what="zone transferred")
        yield sec_
    finally:
        if sec_ is not None:
            sec_.stop()
        if knot is not None:
            knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_rrl_distinct_names_from_one_prefix_all_answered(sec):
    st = rrl_load.run(sec.port, rrl_load.scenarios(RATE, SECS)["distinct"])["distinct"]
    print("\ndistinct names from one /24 at 5x the rate:", st)
    assert st["sent"] == int(5 * RATE * SECS)
    assert st["full"] == st["sent"], st
    assert st["tc"] == 0 and st["lost"] == 0


def test_rrl_flooded_name_limited_other_prefix_unaffected(sec):
    st = rrl_load.run(sec.port, rrl_load.scenarios(RATE, SECS)["flood"])
    fl, other = st["flood"], st["other"]
    print("\nflooded name:", fl, "other /24:", other)
    # Limited to the rate in each second the flood spans (+1 partial second each end).
    assert fl["full"] <= RATE * (SECS + 2), fl
    assert fl["full"] >= RATE * SECS * 0.5, fl          # limited, not blocked
    # Slip 2: every other limited answer leaves truncated, the rest are dropped.
    limited = fl["sent"] - fl["full"]
    assert fl["tc"] >= limited / 2 * 0.8, fl
    assert fl["tc"] <= limited / 2 + SECS + 2, fl
    assert fl["lost"] == limited - fl["tc"]
    # The other /24 asks the same name during the flood: not affected at all.
    assert other["full"] == other["sent"] and other["sent"] == int(RATE / 2 * SECS), other
    m = sec.http("/metrics")[1]
    assert 'anycst_secondary_rrl_responses_total{pop="pop-test",action="slipped"} %d' \
        % fl["tc"] in m
    log = sec.logtext()
    assert "RRL on, %d responses/s per prefix, slip 2, 0 whitelisted, prefixes /24 and /56" \
        % RATE in log


def test_rrl_random_subdomains_share_the_zone_bucket(sec):
    # NXDOMAIN for random names of one zone: one bucket (the zone), not one per name.
    rnd = random.Random(12)
    n = int(10 * RATE * 2)
    sched = [(i / (10.0 * RATE), rrl_load.HOSTS_A[i % 20],
              "r%08x.example.com." % rnd.getrandbits(32), "nx") for i in range(n)]
    st = rrl_load.run(sec.port, sched)["nx"]
    print("\nrandom-subdomain flood:", st)
    assert st["full"] <= RATE * 4, st
    assert st["full"] >= RATE, st
    assert st["tc"] > 0


def test_rrl_prefix_flags(sec, tmp_path):
    # --rrl-ipv4-prefix 32: each host of the /24 has its own buckets.
    s2 = su.Secondary(str(tmp_path), int(sec.args[sec.args.index("--primary") + 1].split(":")[1]),
                      zones=["example.com."], name="sec2",
                      extra=["--rrl-rate", "5", "--rrl-ipv4-prefix", "32",
                             "--rrl-ipv6-prefix", "64"])
    s2.start()
    try:
        su.wait_until(lambda: s2.serial("example.com.") == 1, 15, what="zone transferred")
        sched = [(i / 100.0, rrl_load.HOSTS_A[i % 20], "www.example.com.", "w")
                 for i in range(100)]
        st = rrl_load.run(s2.port, sched)["w"]
        assert st["full"] == 100, st     # 20 hosts x 5 answers each, in one second
        assert "prefixes /32 and /64" in s2.logtext()
    finally:
        s2.stop()
    for bad in (["--rrl-ipv4-prefix", "33"], ["--rrl-ipv6-prefix", "0"]):
        p = subprocess.run([os.path.join(su.BIN, "anycst-secondary"), "--primary",
                            "127.0.0.1:1", "--transport", "tcp", "--zone", "example.com",
                            "--listen",
                            "127.0.0.1:%d" % su.free_port(), "--state-dir", str(tmp_path),
                            "--rrl-rate", "5"] + bad, capture_output=True, text=True, timeout=10)
        assert p.returncode != 0
        assert bad[0] in p.stderr and "is not a number in" in p.stderr, p.stderr
