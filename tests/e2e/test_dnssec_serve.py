"""anycst-secondary serves signed zones (issue 15, secondary half).

A zone signed by bin/anycst-signtest (NSEC or NSEC3, algorithm 13) is served
by Debian's knotd as the primary and transferred over TCP to
anycst-secondary.  BIND's `delv`, with the zone's KSK as its only trust
anchor and the secondary as its server, must fully validate every name, and
validate the denial for a missing name, a missing type, a name under the
wildcard and an empty non-terminal.  Referrals are checked with
`kdig +dnssec +norec`: DS with its RRSIG for a signed delegation, the NSEC
(or NSEC3) proof of no DS for an unsigned one."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from anycst_e2e import TOOLS, Knot, Secondary, free_port, wait_until

SIGNTEST = os.path.join(TOOLS, "anycst-signtest")
ORIGIN = "sign.test."

ZONE = """$ORIGIN sign.test.
$TTL 300
@        3600 IN SOA ns1.sign.test. hostmaster.sign.test. 2024010101 7200 3600 1209600 300
@        3600 IN NS ns1.sign.test.
@        3600 IN NS ns2.sign.test.
@        IN MX 10 mail.sign.test.
ns1      IN A 192.0.2.1
ns2      IN AAAA 2001:db8::2
www      IN A 192.0.2.10
www      IN A 192.0.2.11
mail     IN A 192.0.2.25
*.wild   IN TXT "wildcard"
*.wild   IN A 192.0.2.99
a.b.c.ent IN A 192.0.2.30
child    IN NS ns1.child.sign.test.
child    IN NS ns.elsewhere.example.
child    IN DS 12345 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17
ns1.child IN A 192.0.2.53
insecure IN NS ns.elsewhere.example.
alias    IN CNAME www
txt      IN TXT "Hello" "World"
"""

POSITIVE = [("sign.test.", "SOA"), ("sign.test.", "NS"), ("sign.test.", "MX"),
            ("sign.test.", "DNSKEY"), ("www.sign.test.", "A"), ("mail.sign.test.", "A"),
            ("ns2.sign.test.", "AAAA"), ("txt.sign.test.", "TXT"),
            ("alias.sign.test.", "A"), ("a.b.c.ent.sign.test.", "A"),
            ("x.wild.sign.test.", "A"), ("y.z.wild.sign.test.", "TXT")]

NEGATIVE = [("missing.sign.test.", "A"),          # NXDOMAIN
            ("zzz.sign.test.", "A"),              # NXDOMAIN after the last name
            ("www.sign.test.", "TXT"),            # NODATA
            ("sign.test.", "AAAA"),               # NODATA at the apex
            ("x.wild.sign.test.", "MX"),          # NODATA from the wildcard
            ("c.ent.sign.test.", "A"),            # empty non-terminal
            ("b.c.ent.sign.test.", "TXT")]        # empty non-terminal


def run(args, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(params=["nsec", "nsec3"])
def served(request):
    tmp = tempfile.mkdtemp(prefix="anycst-dnssec-serve-")
    src = os.path.join(tmp, "in.zone")
    with open(src, "w") as f:
        f.write(ZONE)
    out = os.path.join(tmp, "signed.zone")
    args = [SIGNTEST, "-a", "13", "-o", ORIGIN, "-i", src, "-w", out]
    if request.param == "nsec3":
        args.append("-3")
    r = run(args)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        signed = f.read()
    ksk = None
    for line in signed.splitlines():
        p = line.split()
        if len(p) > 6 and p[3] == "DNSKEY" and p[4] == "257":
            ksk = (p[4], p[5], p[6], "".join(p[7:]))
    assert ksk is not None
    anchor = os.path.join(tmp, "anchor.conf")
    with open(anchor, "w") as f:
        f.write('trust-anchors {\n  "%s" static-key %s %s %s "%s";\n};\n' % ((ORIGIN,) + ksk))
    sport = free_port()
    knot = Knot(tmp, {ORIGIN: "$ORIGIN sign.test.\n" + signed},
                notify_to="127.0.0.1@%d" % sport).start()
    sec = Secondary(tmp, knot.port, zones=[ORIGIN], port=sport).start()
    try:
        wait_until(lambda: sec.serial(ORIGIN) == 2024010101, 15, what="signed zone served")
        sec.signed = signed
        sec.knot = knot
        sec.tmp = tmp
        yield request.param, sec, anchor
    finally:
        sec.stop()
        knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def delv(sec, anchor, name, rdtype, tcp=False):
    args = ["delv", "@127.0.0.1", "-p", str(sec.port), "-a", anchor, "+root=" + ORIGIN,
            "+nocookie" if False else "+novtrace", name, rdtype]
    if tcp:
        args.insert(1, "+tcp")
    r = run(args)
    return r.stdout + r.stderr


@pytest.mark.parametrize("tcp", [False, True])
def test_delv_validates_answers_and_denials(served, tcp):
    kind, sec, anchor = served
    bad = []
    for name, rdtype in POSITIVE:
        out = delv(sec, anchor, name, rdtype, tcp)
        if "; fully validated" not in out:
            bad.append((name, rdtype, out))
    for name, rdtype in NEGATIVE:
        out = delv(sec, anchor, name, rdtype, tcp)
        if "; negative response, fully validated" not in out:
            bad.append((name, rdtype, out))
    assert not bad, "\n\n".join("%s %s:\n%s" % b for b in bad)


def kdig(sec, name, rdtype):
    r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", "+tcp",
             "+noall", "+authority", name, rdtype])
    assert r.returncode == 0, r.stderr
    return [l.split() for l in r.stdout.splitlines() if l and not l.startswith(";")]


def test_referrals_carry_ds_or_its_denial(served):
    kind, sec, anchor = served
    auth = kdig(sec, "host.child.sign.test.", "A")
    types = sorted(set((rr[0].lower(), rr[3]) for rr in auth))
    assert ("child.sign.test.", "NS") in types
    assert ("child.sign.test.", "DS") in types
    assert any(rr[0].lower() == "child.sign.test." and rr[3] == "RRSIG" and rr[4] == "DS"
               for rr in auth), auth
    auth = kdig(sec, "host.insecure.sign.test.", "A")
    assert any(rr[0].lower() == "insecure.sign.test." and rr[3] == "NS" for rr in auth), auth
    assert not any(rr[3] == "DS" for rr in auth), auth
    want = "NSEC3" if kind == "nsec3" else "NSEC"
    proof = [rr for rr in auth if rr[3] == want]
    sigs = [rr for rr in auth if rr[3] == "RRSIG" and rr[4] == want]
    assert proof and sigs, auth
    if kind == "nsec":
        assert proof[0][0].lower() == "insecure.sign.test."
        assert "DS" not in proof[0][5:] and "NS" in proof[0][5:]


def test_nsec3_owners_are_not_names(served):
    """RFC 5155 §7.2.9: a query for an NSEC3 owner is answered NXDOMAIN (with its proof)."""
    kind, sec, anchor = served
    if kind != "nsec3":
        pytest.skip("NSEC3 only")
    owner = next(l.split()[0] for l in sec.signed.splitlines()
                 if len(l.split()) > 3 and l.split()[3] == "NSEC3")
    r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", "+tcp", owner,
             "NSEC3"])
    assert "status: NXDOMAIN" in r.stdout, r.stdout
    out = delv(sec, anchor, owner, "A")
    assert "; negative response, fully validated" in out, out


def test_rrsigs_keep_their_own_ttls(served):
    """Signatures at one name are grouped by covered type, each with its TTL:
    the apex has RRSIG(SOA) at 3600 and RRSIG(MX) at 300."""
    kind, sec, anchor = served
    r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", "+tcp",
             "+noall", "+answer", ORIGIN, "MX"])
    sigs = [l.split() for l in r.stdout.splitlines() if len(l.split()) > 4 and l.split()[3] == "RRSIG"]
    assert sigs and all(s[4] == "MX" and s[1] == "300" for s in sigs), r.stdout
    r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", "+tcp",
             "+noall", "+answer", ORIGIN, "SOA"])
    sigs = [l.split() for l in r.stdout.splitlines() if len(l.split()) > 4 and l.split()[3] == "RRSIG"]
    assert sigs and all(s[4] == "SOA" and s[1] == "3600" for s in sigs), r.stdout


def test_truncated_when_signatures_do_not_fit(served):
    """RFC 4035 §3.1.1: an answer whose RRSIGs or proofs do not fit sets TC (never drops them)."""
    kind, sec, anchor = served
    # With EDNS 512 and DO, an NXDOMAIN proof (SOA + 2-3 NSEC(3) with
    # signatures, ~500 bytes) for a long name (its question ~200 bytes) does not fit.
    qname = ".".join(["n" * 60] * 3) + ".sign.test."
    r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", "+notcp",
             "+bufsize=512", "+ignore", qname, "A"])
    flags = re.search(r";; Flags: ([^;]*);", r.stdout)
    assert flags and "tc" in flags.group(1).split(), r.stdout
    # Over TCP the whole proof comes, without TC.
    r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", "+tcp", qname, "A"])
    flags = re.search(r";; Flags: ([^;]*);", r.stdout)
    assert flags and "tc" not in flags.group(1).split(), r.stdout
    assert "status: NXDOMAIN" in r.stdout


def test_rrsig_expiry_metrics_and_health_margin(served):
    """/metrics exports the earliest RRSIG expiry; a margin beyond it withdraws the POP."""
    kind, sec, anchor = served
    exps = [int(l.split()[8]) for l in sec.signed.splitlines()
            if len(l.split()) > 8 and l.split()[3] == "RRSIG"]
    earliest = min(exps)   # YYYYMMDDHHMMSS
    import calendar
    import time
    want = calendar.timegm(time.strptime(str(earliest), "%Y%m%d%H%M%S"))
    status, text = sec.http("/metrics")
    assert status == 200
    m = re.search(r'anycst_secondary_zone_rrsig_expire_timestamp_seconds\{[^}]*zone="sign.test."[^}]*\} (\d+)',
                  text)
    assert m and int(m.group(1)) == want, text[-3000:]
    left = re.search(r'anycst_secondary_zone_rrsig_expire_in_seconds\{[^}]*\} (-?\d+)', text)
    assert left and abs(int(left.group(1)) - (want - int(time.time()))) < 30
    status, text = sec.http("/healthz")
    assert status == 200, text
    # The signer's signatures last 14 days: a 20-day margin makes them too short-lived.
    sec2 = Secondary(sec.tmp, sec.knot.port, zones=[ORIGIN], name="sec2",
                     extra=["--rrsig-margin", str(20 * 86400)]).start()
    try:
        wait_until(lambda: sec2.serial(ORIGIN) == 2024010101, 15, what="second POP loads")
        status, text = sec2.http("/healthz")
        assert status != 200 and "zone sign.test. signatures expire in" in text, (status, text)
    finally:
        sec2.stop()
