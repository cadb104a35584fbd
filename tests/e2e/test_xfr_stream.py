"""First AXFR of a large zone streams (issue 18, item 4): the primary reads the
version through a cursor as it sends, so serving the first AXFR of a zone of
300,000 records grows the primary's RSS far less than the zone's size on the
wire (the materialised copy it used to build).  The answer is complete, in
order, TSIG-signed on every message and verified by dig (RFC 8945 multi-message);
the second transfer of the same version copies it into the cache and the third
is served from there, with the same records."""
import os
import re
import subprocess

import pytest

from anycst_e2e import Primary, TmpDir
from anycst_e2e import xoq as xu

N = 300000
ZONE = "stream.test."


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))


def axfr(p, secret):
    """dig AXFR with TSIG: (records, TSIG RRs seen, dig's complaints)."""
    out = subprocess.run(["dig", "-p", str(p.xfr_port), "@127.0.0.1", "-y",
                          "hmac-sha256:%s:%s" % (xu.KEY, secret), ZONE, "AXFR", "+nocmd",
                          "+nocomments", "+nostats", "+onesoa", "+tries=1", "+time=60"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln and not ln.startswith(";")]
    tsigs = [ln for ln in lines if ln.split()[3] == "TSIG"]
    rrs = [ln for ln in lines if ln.split()[3] != "TSIG"]
    bad = [ln for ln in out.stdout.splitlines() + out.stderr.splitlines()
           if "verify" in ln.lower() or "failed" in ln.lower()]
    return rrs, len(tsigs), bad


def test_first_axfr_streams_with_flat_memory(tmp):
    p = Primary(tmp, extra=["--api-max-body", "200000000", "--api-max-records", "10000000",
                            "--api-max-rrsets", "10000000"])
    try:
        p.timeout = 300
        secret = p.add_key(xu.KEY)
        xu.create_zone_text(p, ZONE, xu.big_zone_text(ZONE, N))
        exported = p.export(ZONE)
        wire = sum(len(ln.split()[0]) + 2 + 10 + 4 for ln in exported.splitlines()
                   if " A " in ln or "\tA\t" in ln)
        assert wire > 8 << 20   # the materialised body would take more than 8 MiB
        # Settle, then measure the peak while the first AXFR is served.
        pid = p.proc.pid
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")        # resets VmHWM to the current RSS
        base = rss_kib(pid)
        lines, ntsig, bad = axfr(p, secret)
        grew = (hwm_kib(pid) - base) * 1024
        print("first AXFR: %d records, RSS growth %.1f MiB, materialised body %.1f MiB"
              % (len(lines), grew / 2**20, wire / 2**20))
        assert len(lines) == N           # +onesoa: the closing SOA is not shown
        assert not bad, bad
        m = re.search(r"outgoing AXFR over TCP to [^,]+, serial \d+, (\d+) messages", p.log())
        assert m and int(m.group(1)) > 100
        assert ntsig == int(m.group(1))  # every message signed, dig verified each
        assert grew < wire // 3, (grew, wire)
        # The second transfer copies the version into the cache, the third uses it:
        # the same records every time.
        second, _, bad2 = axfr(p, secret)
        third, _, bad3 = axfr(p, secret)
        assert not bad2 and not bad3
        assert second == lines and third == lines
        assert (hwm_kib(pid) - base) * 1024 > wire // 2   # now it is cached
    finally:
        p.stop()
