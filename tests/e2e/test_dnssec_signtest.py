"""DNSSEC primitives (dns/dnssec.c, issue 15) against Debian's real verifiers.

bin/anycst-signtest signs a small zone completely with our primitives — apex
DNSKEY (KSK + ZSK), an NSEC chain or an NSEC3 chain (0 iterations, empty
salt, RFC 9276), a delegation with DS and glue, an insecure delegation, a
wildcard, an empty non-terminal, mixed case and a duplicate record — and
the output must pass BIND's `dnssec-verify`, ldns' `ldns-verify-zone` and
Knot's `kzonecheck -d on`, for algorithms 13 and 15.  The DS it prints must
equal `dnssec-dsfromkey`'s, the NSEC3 owners dnspython's hashes.  One flipped
byte in one signature must make all three verifiers fail (the check can
fail).  This signer is the oracle for the later in-transaction signer."""
import os
import re
import shutil
import subprocess

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.zone
import pytest

from anycst_e2e import TOOLS

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
WWW      IN A 192.0.2.10
mail     IN A 192.0.2.25
*.wild   IN TXT "wildcard"
*.wild   IN A 192.0.2.99
a.b.c.ent IN A 192.0.2.30
child    IN NS ns1.child.sign.test.
child    IN NS ns.elsewhere.example.
child    IN DS 12345 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17
ns1.child IN A 192.0.2.53
deep.ns1.child IN AAAA 2001:db8::53
insecure IN NS ns.elsewhere.example.
alias    IN CNAME www
txt      IN TXT "Hello" "World"
srv      IN SRV 0 5 5060 SIP.sign.test.
"""

# Authoritative names and empty non-terminals: what an NSEC3 chain must cover
# (glue below child. is not in it).
NSEC3_NAMES = ["sign.test.", "ns1.sign.test.", "ns2.sign.test.", "www.sign.test.",
               "mail.sign.test.", "*.wild.sign.test.", "wild.sign.test.",
               "a.b.c.ent.sign.test.", "b.c.ent.sign.test.", "c.ent.sign.test.",
               "ent.sign.test.", "child.sign.test.", "insecure.sign.test.",
               "alias.sign.test.", "txt.sign.test.", "srv.sign.test."]


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def sign(tmp_path, alg, nsec3, corrupt=False):
    src = tmp_path / "in.zone"
    src.write_text(ZONE)
    out = tmp_path / "signed.zone"
    args = [SIGNTEST, "-a", str(alg), "-o", ORIGIN, "-i", str(src), "-w", str(out)]
    if nsec3:
        args.append("-3")
    if corrupt:
        args.append("-C")
    r = run(args)
    assert r.returncode == 0, r.stderr
    return out, r.stdout, r.stderr


def verifiers(path):
    """(name, returncode, output) of the three verifiers."""
    res = []
    r = run(["dnssec-verify", "-o", ORIGIN, str(path)])
    res.append(("dnssec-verify", r.returncode, r.stdout + r.stderr))
    r = run(["ldns-verify-zone", str(path)])
    res.append(("ldns-verify-zone", r.returncode, r.stdout + r.stderr))
    r = run(["kzonecheck", "-o", ORIGIN, "-d", "on", str(path)])
    res.append(("kzonecheck", r.returncode, r.stdout + r.stderr))
    return res


@pytest.fixture(autouse=True)
def tools_present():
    for t in ("dnssec-verify", "ldns-verify-zone", "kzonecheck", "dnssec-dsfromkey"):
        assert shutil.which(t), "%s missing: run scripts/deps.sh" % t


@pytest.mark.parametrize("alg", [13, 15])
@pytest.mark.parametrize("nsec3", [False, True], ids=["nsec", "nsec3"])
def test_signed_zone_passes_verifiers(tmp_path, alg, nsec3):
    path, ds_out, _ = sign(tmp_path, alg, nsec3)
    for name, rc, out in verifiers(path):
        assert rc == 0, "%s failed:\n%s" % (name, out)
        if name == "dnssec-verify":
            assert "Zone fully signed" in out, out
        if name == "ldns-verify-zone":
            assert "Zone is verified and complete" in out, out

    z = dns.zone.from_file(str(path), origin=ORIGIN, relativize=False)
    origin = dns.name.from_text(ORIGIN)
    keys = z.find_rdataset(origin, "DNSKEY")
    assert sorted(k.flags for k in keys) == [256, 257] and {k.algorithm for k in keys} == {alg}
    # the DS we print is BIND's, for SHA-256 and SHA-384
    for dig, num in (("SHA-256", 2), ("SHA-384", 4)):
        r = run(["dnssec-dsfromkey", "-a", dig, "-f", str(path), ORIGIN])
        assert r.returncode == 0, r.stderr
        bind_ds = r.stdout.split()
        ours = [ln.split() for ln in ds_out.splitlines() if ln.split()[6] == str(num)]
        assert len(ours) == 1
        assert ours[0][4:7] == bind_ds[3:6]
        assert "".join(ours[0][7:]).upper() == "".join(bind_ds[6:]).upper()
    # glue and the insecure delegation's NS are not signed; the delegation's DS is
    signed = {(str(n), rr.type_covered) for n, node in z.nodes.items()
              for rds in node.rdatasets if rds.rdtype == dns.rdatatype.RRSIG for rr in rds}
    assert ("child.sign.test.", dns.rdatatype.DS) in signed
    assert ("child.sign.test.", dns.rdatatype.NS) not in signed
    assert ("ns1.child.sign.test.", dns.rdatatype.A) not in signed
    assert ("insecure.sign.test.", dns.rdatatype.NS) not in signed
    assert ("*.wild.sign.test.", dns.rdatatype.TXT) in signed
    if nsec3:
        want = sorted(dns.dnssec.nsec3_hash(n, salt=None, iterations=0, algorithm=1).lower()
                      for n in NSEC3_NAMES)
        got = sorted(str(n).split(".")[0] for n, node in z.nodes.items()
                     if node.get_rdataset(1, dns.rdatatype.NSEC3))
        assert got == want
        assert str(z.find_rdataset(origin, "NSEC3PARAM")[0]) == "1 0 0 -"
    else:
        owners = sorted(str(n) for n, node in z.nodes.items()
                        if node.get_rdataset(1, dns.rdatatype.NSEC))
        assert owners == sorted(n for n in NSEC3_NAMES if not n.startswith(("wild", "b.c",
                                                                             "c.ent", "ent")))


@pytest.mark.parametrize("nsec3", [False, True], ids=["nsec", "nsec3"])
def test_corrupted_signature_is_caught(tmp_path, nsec3):
    path, _, err = sign(tmp_path, 13, nsec3, corrupt=True)
    m = re.search(r"corrupted the RRSIG of (\S+) A", err)
    assert m, err
    owner = m.group(1)
    for name, rc, out in verifiers(path):
        assert rc != 0, "%s accepted a corrupted signature:\n%s" % (name, out)
    res = {name: out for name, _, out in verifiers(path)}
    assert owner in res["ldns-verify-zone"] and "Bogus" in res["ldns-verify-zone"]
    assert "no valid signature" in res["kzonecheck"]
    assert "failed" in res["dnssec-verify"]


def test_signtest_refuses_signed_input(tmp_path):
    src = tmp_path / "in.zone"
    src.write_text(ZONE + "@ IN NSEC3PARAM 1 0 0 -\n")
    r = run([SIGNTEST, "-o", ORIGIN, "-i", str(src), "-w", str(tmp_path / "o.zone")])
    assert r.returncode == 1 and "must be unsigned (has NSEC3PARAM)" in r.stderr


def test_bench_prints_rate():
    r = run([SIGNTEST, "-b", "-n", "300"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    for ln in lines:
        assert re.search(r"\d+ signatures/s per core", ln), ln
