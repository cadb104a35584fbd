"""Signatures are refreshed before they expire (issue 15): with a validity of
24 s (--dnssec-validity) and a pass every second, the primary re-signs the
rrsets whose signatures expire within half of it, each pass one small
serial; the zone keeps verifying with `ldns-verify-zone` and no signature
in it ever expires within 8 s.  With a KSK and a ZSK, both keys' signatures
(two key tags) are kept fresh."""
import json
import os
import subprocess
import time

import dns.query
import dns.rdatatype
import pytest

from anycst_e2e import Primary, TmpDir, keyring

Z = "refresh.test."
KEY = "xfr-refresh."


def axfr(p, secret):
    out = []
    for m in dns.query.xfr("127.0.0.1", Z, port=p.xfr_port, keyring=keyring(KEY, secret),
                           keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20,
                           relativize=False):
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.to_text(), rrset.ttl, rd))
    return out[:-1]


def ksk_zsk(p):
    """The zone's CSK replaced by a KSK and a ZSK: two key tags signing."""
    zid = p.json("GET", "/zones/" + Z + "?rrsets=false", expect=200)["id"]
    base = "/zones/%s/cryptokeys" % zid
    p.json("POST", base, {"keytype": "ksk", "active": True}, expect=201)
    p.json("POST", base, {"keytype": "zsk", "active": True}, expect=201)
    csk = [k for k in p.json("GET", base, expect=200) if k["keytype"] == "csk"][0]
    assert p.call("DELETE", "%s/%d" % (base, csk["id"]))[0] == 204


@pytest.mark.parametrize("kind", ["csk", "ksk"])
def test_signatures_refreshed_in_small_batches(kind):
    with TmpDir() as d:
        p = Primary(d, extra=["--dnssec-key-file", os.path.join(d, "k"),
                              "--dnssec-validity", "24", "--dnssec-refresh-interval", "1"])
        try:
            secret = p.add_key(KEY)
            rrsets = [{"name": "h%d.%s" % (i, Z), "type": "A", "ttl": 300,
                       "changetype": "REPLACE",
                       "records": [{"content": "192.0.2.%d" % i, "disabled": False}]}
                      for i in range(1, 40)]
            p.create_zone(Z, rrsets=rrsets, master_tsig_key_ids=[KEY], dnssec=True)
            if kind == "ksk":
                ksk_zsk(p)
            s0 = p.serial(Z)
            deadline = time.monotonic() + 28
            while time.monotonic() < deadline:
                time.sleep(2)
                now = time.time()
                recs = axfr(p, secret)
                exp = [rd.expiration for _, _, rd in recs if rd.rdtype == dns.rdatatype.RRSIG]
                assert exp and min(exp) > now + 8, (min(exp) - now)
                tags = {rd.key_tag for _, _, rd in recs if rd.rdtype == dns.rdatatype.RRSIG}
                assert len(tags) == (2 if kind == "ksk" else 1), tags
            assert p.serial(Z) != s0
            st, _, body = p.journal(Z, since=s0)
            entries = json.loads(body)["entries"]
            assert len(entries) >= 2
            path = os.path.join(d, "z.zone")
            with open(path, "w") as f:
                for name, ttl, rd in axfr(p, secret):
                    f.write("%s %d IN %s %s\n" % (name, ttl, dns.rdatatype.to_text(rd.rdtype),
                                                  rd.to_text()))
            r = subprocess.run(["ldns-verify-zone", path], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
        finally:
            p.stop()
