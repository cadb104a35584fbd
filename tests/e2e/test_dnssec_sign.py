"""The primary signs (issue 15): a zone created through the API with
`"dnssec": true` (NSEC, and NSEC3 with `"nsec3param": "1 0 0 -"`) is signed in
the creating transaction; five PATCHes (replace, add a name, delete a name,
add a wildcard, add a delegation with DS) are each one serial and one journal
entry that holds its own signatures and chain records.  The AXFR from the
primary and the POP's copy (anycst-secondary's state file, reached by NOTIFY +
IXFR) are identical and each passes BIND's `dnssec-verify`, ldns'
`ldns-verify-zone` and Knot's `kzonecheck -d on`; a corrupted signature is
caught by each (the checks can fail).  `delv`, with the zone's key from
/cryptokeys as its only trust anchor and the POP as its server, fully
validates every name and the denials (missing name, missing type, name under
the wildcard, empty non-terminal); referrals are checked with
`kdig +dnssec +norec`.  RRSIGs, NSEC* and DNSKEY stay out of the rrset GETs
and the export."""
import os
import subprocess

import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

from anycst_e2e import (Primary, Secondary, TmpDir, axfr_set, free_port, keyring,
                        tsig_file_args, wait_until)
from anycst_e2e.state import zone_state

Z = "sign.test."
KEY = "pop-key."


def rr(name, typ, ttl, *contents, changetype="REPLACE"):
    return {"name": name, "type": typ, "ttl": ttl, "changetype": changetype,
            "records": [{"content": c, "disabled": False} for c in contents]}


CREATE = [
    rr(Z, "NS", 3600, "ns1." + Z, "ns2." + Z),
    rr(Z, "MX", 300, "10 mail." + Z),
    rr("ns1." + Z, "A", 300, "192.0.2.1"),
    rr("ns2." + Z, "AAAA", 300, "2001:db8::2"),
    rr("www." + Z, "A", 300, "192.0.2.10", "192.0.2.11"),
    rr("mail." + Z, "A", 300, "192.0.2.25"),
    rr("txt." + Z, "TXT", 300, '"Hello" "World"'),
    rr("a.b.c.ent." + Z, "A", 300, "192.0.2.30"),
    rr("insecure." + Z, "NS", 300, "ns.elsewhere.example."),
    rr("alias." + Z, "CNAME", 300, "www." + Z),
    rr("old." + Z, "A", 300, "192.0.2.40"),
]

PATCHES = [
    ("replace", [rr("www." + Z, "A", 300, "192.0.2.12")]),
    ("add a name", [rr("new." + Z, "A", 300, "192.0.2.50")]),
    ("delete a name", [{"name": "old." + Z, "type": "A", "changetype": "DELETE"}]),
    ("add a wildcard", [rr("*.wild." + Z, "TXT", 300, '"wildcard"'),
                        rr("*.wild." + Z, "A", 300, "192.0.2.99")]),
    ("add a delegation with DS", [
        rr("child." + Z, "NS", 300, "ns1.child." + Z, "ns.elsewhere.example."),
        rr("child." + Z, "DS", 300, "12345 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1"
                                    "e2770ce6d6e37df61d17"),
        rr("ns1.child." + Z, "A", 300, "192.0.2.53")]),
]

POSITIVE = [(Z, "SOA"), (Z, "NS"), (Z, "MX"), (Z, "DNSKEY"), ("www." + Z, "A"),
            ("mail." + Z, "A"), ("ns2." + Z, "AAAA"), ("txt." + Z, "TXT"),
            ("alias." + Z, "A"), ("a.b.c.ent." + Z, "A"), ("new." + Z, "A"),
            ("x.wild." + Z, "A"), ("y.z.wild." + Z, "TXT")]

NEGATIVE = [("missing." + Z, "A"),          # NXDOMAIN
            ("old." + Z, "A"),              # deleted: NXDOMAIN
            ("zzz." + Z, "A"),              # after the last name
            ("www." + Z, "TXT"),            # NODATA
            (Z, "AAAA"),                    # NODATA at the apex
            ("x.wild." + Z, "MX"),          # NODATA from the wildcard
            ("c.ent." + Z, "A"),            # empty non-terminal
            ("b.c.ent." + Z, "TXT")]        # empty non-terminal


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def pop_copy(state_dir, zone=Z):
    """The records of `zone` as an anycst-secondary persisted it in `state_dir`
    (anycst_e2e.state) as axfr_set's tuples, and its serial; (None, set())
    before it is persisted."""
    got = zone_state(state_dir, zone)
    return got if got is not None else (None, set())


def axfr_recs(port, secret):
    """The primary's AXFR as pop_copy's tuples (rdata text as it is: base64 keeps its case)."""
    out = []
    for m in dns.query.xfr("127.0.0.1", Z, port=port, keyring=keyring(KEY, secret),
                           keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20,
                           relativize=False):
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.to_text().lower(), rrset.ttl,
                            dns.rdatatype.to_text(rd.rdtype), rd.to_text()))
    assert out[0][2] == "SOA" and out[-1][2] == "SOA"
    return set(out[:-1])


def lowered(recs):
    return {(n, t, ty, d.lower()) for n, t, ty, d in recs}


def zone_file(path, recs):
    # the SOA first, as a zone file wants it
    recs = sorted(recs, key=lambda r: (r[2] != "SOA", r))
    with open(path, "w") as f:
        for name, ttl, typ, text in recs:
            f.write("%s %d IN %s %s\n" % (name, ttl, typ, text))


def verifiers(path):
    """(tool, returncode, output) of each verifier on zone file `path`."""
    # -z: a CSK (flags 257) signs everything, so the KSK flag is not a role
    out = []
    for args in (["dnssec-verify", "-z", "-o", Z, path],
                 ["ldns-verify-zone", path],
                 ["kzonecheck", "-o", Z, "-d", "on", path]):
        r = run(args)
        out.append((args[0], r.returncode, r.stdout + r.stderr))
    return out


@pytest.fixture(scope="module", params=["nsec", "nsec3"])
def signed(request):
    with TmpDir() as d:
        sport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % sport],
                    extra=["--dnssec-key-file", os.path.join(d, "dnssec.key")])
        sec = None
        try:
            secret = p.add_key(KEY)
            p.allow_catalog(KEY)
            fields = {"dnssec": True, "master_tsig_key_ids": [KEY]}
            if request.param == "nsec3":
                fields["nsec3param"] = "1 0 0 -"
            z = p.create_zone(Z, rrsets=CREATE, nameservers=(), **fields)
            assert z["dnssec"] is True
            assert z["nsec3param"] == ("1 0 0 -" if request.param == "nsec3" else "")
            sec = Secondary(d, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(d, KEY, secret)).start()
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="signed zone at the POP")
            entries = []
            for what, change in PATCHES:
                before = p.serial(Z)
                p.patch(Z, change)
                after = p.serial(Z)
                st, _, body = p.journal(Z, since=before)
                assert st == 200, body
                entries.append((what, before, after, __import__("json").loads(body)["entries"]))
                wait_until(lambda: sec.serial(Z) == after, 15, what="IXFR of " + what)
            state = sec.state_dir
            wait_until(lambda: pop_copy(state)[0] == p.serial(Z), 15,
                       what="POP state at the last serial")
            yield {"kind": request.param, "p": p, "sec": sec, "dir": d, "entries": entries,
                   "secret": secret, "state": state}
        finally:
            if sec is not None:
                sec.stop()
            p.stop()


def test_each_patch_is_one_signed_journal_entry(signed):
    want = "NSEC3" if signed["kind"] == "nsec3" else "NSEC"
    for what, before, after, entries in signed["entries"]:
        assert len(entries) == 1, (what, entries)
        e = entries[0]
        assert e["serial_from"] == before and e["serial_to"] == after, (what, e)
        added = "\n".join(map(str, e["added"]))
        removed = "\n".join(map(str, e["removed"]))
        # the new SOA's signature rides with the change, the old one goes
        assert "RRSIG" in added and "RRSIG" in removed, (what, e)
        if what != "replace":
            assert want in added or want in removed, (what, e)


def test_primary_and_pop_copies_identical_and_verified(signed):
    p = signed["p"]
    prim = axfr_recs(p.xfr_port, signed["secret"])
    serial, pop = pop_copy(signed["state"])
    assert serial == p.serial(Z)
    assert lowered(prim) == lowered(pop)
    assert lowered(prim) == axfr_set(p.xfr_port, Z, keyring(KEY, signed["secret"]), KEY)
    types = {t for _, _, t, _ in prim}
    assert {"RRSIG", "DNSKEY"} <= types
    assert ("NSEC3" in types) == (signed["kind"] == "nsec3")
    assert ("NSEC3PARAM" in types) == (signed["kind"] == "nsec3")
    for name, recs in (("primary", prim), ("pop", pop)):
        path = os.path.join(signed["dir"], "%s-%s.zone" % (signed["kind"], name))
        zone_file(path, recs)
        for tool, rc, out in verifiers(path):
            assert rc == 0, (name, tool, out)
    # a corrupted signature: every verifier must catch it
    bad = set(prim)
    victim = sorted(r for r in prim if r[2] == "RRSIG" and r[3].startswith("A "))[0]
    bad.remove(victim)
    parts = victim[3].split()
    sig = parts[-1]
    parts[-1] = ("B" if sig[0] != "B" else "C") + sig[1:]
    bad.add(victim[:3] + (" ".join(parts),))
    path = os.path.join(signed["dir"], "%s-corrupt.zone" % signed["kind"])
    zone_file(path, bad)
    for tool, rc, out in verifiers(path):
        assert rc != 0, (tool, out)


def test_signer_records_left_out_of_gets_and_export(signed):
    p = signed["p"]
    z = p.json("GET", "/zones/" + p.zone_id(Z), expect=200)
    types = {r["type"] for r in z["rrsets"]}
    assert not types & {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY"}, types
    text = p.export(Z)
    for t in ("RRSIG", "NSEC", "DNSKEY"):
        assert ("\t%s\t" % t) not in text and (" %s " % t) not in text, text


def anchor_file(signed):
    p = signed["p"]
    keys = p.json("GET", "/zones/%s/cryptokeys" % p.zone_id(Z), expect=200)
    assert len(keys) == 1 and keys[0]["keytype"] == "csk" and keys[0]["active"]
    assert keys[0]["dnskey"].startswith("257 3 13 ")
    assert any(d.split()[2] == "2" for d in keys[0]["ds"])
    flags, proto, alg, key = keys[0]["dnskey"].split(" ", 3)
    path = os.path.join(signed["dir"], "anchor-%s.conf" % signed["kind"])
    with open(path, "w") as f:
        f.write('trust-anchors {\n  "%s" static-key %s %s %s "%s";\n};\n'
                % (Z, flags, proto, alg, key))
    return path


def delv(port, anchor, name, rdtype):
    r = run(["delv", "@127.0.0.1", "-p", str(port), "-a", anchor, "+root=" + Z, "+novtrace",
             name, rdtype])
    return r.stdout + r.stderr


def test_delv_validates_the_pop(signed):
    anchor = anchor_file(signed)
    port = signed["sec"].port
    bad = []
    for name, rdtype in POSITIVE:
        out = delv(port, anchor, name, rdtype)
        if "; fully validated" not in out:
            bad.append((name, rdtype, out))
    for name, rdtype in NEGATIVE:
        out = delv(port, anchor, name, rdtype)
        if "; negative response, fully validated" not in out:
            bad.append((name, rdtype, out))
    assert not bad, "\n\n".join("%s %s:\n%s" % b for b in bad)


def kdig_auth(port, name, rdtype):
    r = run(["kdig", "@127.0.0.1", "-p", str(port), "+dnssec", "+norec", "+tcp", "+noall",
             "+authority", name, rdtype])
    assert r.returncode == 0, r.stderr
    return [l.split() for l in r.stdout.splitlines() if l and not l.startswith(";")]


def test_referrals(signed):
    port = signed["sec"].port
    auth = kdig_auth(port, "host.child." + Z, "A")
    assert any(a[0].lower() == "child." + Z and a[3] == "DS" for a in auth), auth
    assert any(a[0].lower() == "child." + Z and a[3] == "RRSIG" and a[4] == "DS"
               for a in auth), auth
    assert not any(a[3] == "RRSIG" and a[4] == "NS" for a in auth), auth
    auth = kdig_auth(port, "host.insecure." + Z, "A")
    assert any(a[0].lower() == "insecure." + Z and a[3] == "NS" for a in auth), auth
    assert not any(a[3] == "DS" for a in auth), auth
    want = "NSEC3" if signed["kind"] == "nsec3" else "NSEC"
    proof = [a for a in auth if a[3] == want]
    assert proof and any(a[3] == "RRSIG" and a[4] == want for a in auth), auth
    if want == "NSEC":
        assert proof[0][0].lower() == "insecure." + Z
        assert "NS" in proof[0][5:] and "DS" not in proof[0][5:]
