"""DNSSEC switched on and off on an existing zone, and /zones/{id}/cryptokeys
(issue 15), against a primary started with --dnssec-key-file.  Each switch or
key change is one serial and one journal entry; every signed state of the
AXFR passes `ldns-verify-zone` and `dnssec-verify`; keys show their DNSKEY and
DS as PowerDNS does; the last active key cannot go; other nsec3param values
are 422; the key file must be private (0600)."""
import os
import subprocess

import dns.query
import dns.rdatatype
import pytest

from anycst_e2e import Primary, TmpDir, keyring

Z = "keys.test."
KEY = "xfr-keys."


@pytest.fixture
def prim():
    with TmpDir() as d:
        p = Primary(d, extra=["--dnssec-key-file", os.path.join(d, "dnssec.key")])
        try:
            p.secret = p.add_key(KEY)
            p.create_zone(Z, rrsets=[
                {"name": "www." + Z, "type": "A", "ttl": 300, "changetype": "REPLACE",
                 "records": [{"content": "192.0.2.1", "disabled": False}]},
                {"name": "a.b." + Z, "type": "TXT", "ttl": 300, "changetype": "REPLACE",
                 "records": [{"content": '"x"', "disabled": False}]}],
                master_tsig_key_ids=[KEY])
            p.dir = d
            yield p
        finally:
            p.stop()


def axfr_text(p):
    lines = []
    for m in dns.query.xfr("127.0.0.1", Z, port=p.xfr_port, keyring=keyring(KEY, p.secret),
                           keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20,
                           relativize=False):
        for rrset in m.answer:
            for rd in rrset:
                lines.append("%s %d IN %s %s" % (rrset.name, rrset.ttl,
                                                 dns.rdatatype.to_text(rd.rdtype), rd.to_text()))
    return "\n".join(lines[:-1]) + "\n"


def verified(p, ksk_zsk=False):
    path = os.path.join(p.dir, "z.zone")
    text = axfr_text(p)
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run(["ldns-verify-zone", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    args = ["dnssec-verify", "-o", Z, path]
    if not ksk_zsk:
        args.insert(1, "-z")
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return text


def one_entry(p, before):
    st, _, body = p.journal(Z, since=before)
    import json
    entries = json.loads(body)["entries"]
    assert len(entries) == 1, entries
    return entries[0]


def keys(p):
    return p.json("GET", "/zones/%s/cryptokeys" % p.zone_id(Z), expect=200)


def test_switch_on_keys_and_off(prim):
    p = prim
    zid = p.zone_id(Z)
    assert keys(p) == []
    s0 = p.serial(Z)
    # on, with NSEC3: one serial, one journal entry, a verified zone
    st, _, body = p.call("PUT", "/zones/" + zid, {"dnssec": True, "nsec3param": "1 0 0 -"})
    assert st == 204, body
    z = p.json("GET", "/zones/%s?rrsets=false" % zid, expect=200)
    assert z["dnssec"] is True and z["nsec3param"] == "1 0 0 -"
    assert "RRSIG" in str(one_entry(p, s0)["added"])
    text = verified(p)
    assert " NSEC3PARAM " in text and " NSEC3 " in text
    ks = keys(p)
    assert len(ks) == 1
    k = ks[0]
    assert k["keytype"] == "csk" and k["active"] and k["published"] and k["flags"] == 257
    assert k["algorithm"] == "ECDSAP256SHA256" and k["dnskey"].startswith("257 3 13 ")
    tag = k["ds"][0].split()[0]
    assert [d.split()[1:3] for d in k["ds"]] == [["13", "2"], ["13", "4"]]
    assert "privatekey" not in k
    # the same again changes nothing
    s1 = p.serial(Z)
    assert p.call("PUT", "/zones/" + zid, {"dnssec": True})[0] == 204
    assert p.serial(Z) == s1

    # a ZSK: the CSK keeps signing DNSKEY, the ZSK signs the rest
    st, _, body = p.call("POST", "/zones/%s/cryptokeys" % zid,
                         {"keytype": "zsk", "active": True, "algorithm": "ECDSAP256SHA256"})
    assert st == 201, body
    import json
    zsk = json.loads(body)
    assert zsk["keytype"] == "zsk" and zsk["flags"] == 256 and zsk["dnskey"].startswith("256 3 13 ")
    assert one_entry(p, s1)
    text = verified(p, ksk_zsk=True)
    assert [l.split()[3] for l in text.splitlines()].count("DNSKEY") == 2
    assert p.json("GET", "/zones/%s/cryptokeys/%d" % (zid, zsk["id"]), expect=200)["id"] == zsk["id"]
    # deactivate it: the CSK signs everything again
    s2 = p.serial(Z)
    st, _, body = p.call("PUT", "/zones/%s/cryptokeys/%d" % (zid, zsk["id"]), {"active": False})
    assert st == 204, body
    one_entry(p, s2)
    verified(p)
    assert [x["active"] for x in keys(p)] == [True, False]
    # delete it; the last active key cannot go
    assert p.call("DELETE", "/zones/%s/cryptokeys/%d" % (zid, zsk["id"]))[0] == 204
    st, _, body = p.call("DELETE", "/zones/%s/cryptokeys/%d" % (zid, k["id"]))
    assert st == 422 and b"last active key" in body, body
    assert p.call("GET", "/zones/%s/cryptokeys/999" % zid)[0] == 404
    verified(p)
    assert tag == keys(p)[0]["ds"][0].split()[0]

    # the rrsets and the export never show the signer's records
    rr = p.json("GET", "/zones/" + zid, expect=200)["rrsets"]
    assert not {r["type"] for r in rr} & {"RRSIG", "NSEC3", "NSEC3PARAM", "DNSKEY"}

    # NSEC3 -> NSEC -> NSEC3 on the signed zone: one serial each, the chain rebuilt
    for param, has, hasnt in (("", "NSEC", "NSEC3"), ("1 0 0 -", "NSEC3", "NSEC")):
        sb = p.serial(Z)
        assert p.call("PUT", "/zones/" + zid, {"nsec3param": param})[0] == 204
        e = one_entry(p, sb)
        assert hasnt in {r["type"] for r in e["removed"]}
        assert has in {r["type"] for r in e["added"]}
        text = verified(p)
        assert " IN %s " % has in text and " IN %s " % hasnt not in text, text
        z = p.json("GET", "/zones/%s?rrsets=false" % zid, expect=200)
        assert z["nsec3param"] == param, z
    assert " NSEC3PARAM " in text

    # off: first CDS/CDNSKEY DELETE (RFC 8078), the zone still signed
    s2 = p.serial(Z)
    assert p.call("PUT", "/zones/" + zid, {"dnssec": False})[0] == 204
    text = axfr_text(p)
    assert " CDS 0 0 0 00" in text and " CDNSKEY 0 3 0 AA==" in text, text
    assert " RRSIG CDS " in text and " DNSKEY " in text, text
    assert p.json("GET", "/zones/%s?rrsets=false" % zid, expect=200)["dnssec"] is True
    # ds_removed only goes with dnssec false
    assert p.call("PUT", "/zones/" + zid, {"ds_removed": True})[0] == 422
    # the operator confirms the parent has no DS: one serial, nothing DNSSEC left
    s3 = p.serial(Z)
    assert s3 != s2
    assert p.call("PUT", "/zones/" + zid, {"dnssec": False, "ds_removed": True})[0] == 204
    assert p.serial(Z) != s3
    e = one_entry(p, s3)
    assert "RRSIG" in str(e["removed"]) and "RRSIG" not in str(e["added"])
    text = axfr_text(p)
    for t in (" RRSIG ", " NSEC3 ", " NSEC3PARAM ", " DNSKEY ", " CDS ", " CDNSKEY "):
        assert t not in text, text
    assert keys(p) == []
    assert p.json("GET", "/zones/%s?rrsets=false" % zid, expect=200)["dnssec"] is False


@pytest.mark.parametrize("value", ["1 1 0 -", "1 0 10 -", "1 0 0 aabb", "2 0 0 -", "x", 5])
def test_other_nsec3param_refused(prim, value):
    st, _, body = prim.call("PUT", "/zones/" + prim.zone_id(Z),
                            {"dnssec": True, "nsec3param": value})
    assert st == 422 and b'"nsec3param: ' in body, body
    assert prim.json("GET", "/zones/%s?rrsets=false" % prim.zone_id(Z),
                     expect=200)["dnssec"] is False


def test_cryptokeys_of_an_unsigned_zone(prim):
    st, _, body = prim.call("POST", "/zones/%s/cryptokeys" % prim.zone_id(Z), {"keytype": "csk"})
    assert st == 422 and b"not signed" in body, body
    st, _, body = prim.call("POST", "/zones/%s/cryptokeys" % prim.zone_id(Z),
                            {"keytype": "csk", "content": "Private-key-format: v1.2"})
    assert st == 422, body


def test_key_file_must_be_private():
    with TmpDir() as d:
        kf = os.path.join(d, "dnssec.key")
        with open(kf, "w") as f:
            f.write("secret\n")
        os.chmod(kf, 0o644)
        with pytest.raises(RuntimeError) as e:
            Primary(d, extra=["--dnssec-key-file", kf])
        assert "--dnssec-key-file" in str(e.value) and "too open" in str(e.value)
