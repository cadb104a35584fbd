"""First signing of a large zone runs in the background (issue 15): PUT
dnssec:true on a zone of ~50k records answers at once with the zone reading
"dnssec": true, "signing": true; PATCHes to another zone and to the same zone
keep being answered quickly while it signs (a generous bound: the machine is
shared); then the zone becomes signed in one serial (exactly one more than
the PATCHes made), its AXFR passes dnssec-verify and ldns-verify-zone, and the
changes made during the signing are in it, signed.  A restart during the
signing resumes it.  Switching DNSSEC off while
it signs cancels the job: no signer rows, no key, the zone unsigned."""
import os
import time

import dns.query
import dns.rdatatype

from anycst_e2e import Primary, TmpDir, keyring, wait_until

import test_dnssec_sign as ts

Z = ts.Z
OTHER = "other.test."
KEY = ts.KEY
NAMES = int(os.environ.get("ANYCST_BG_NAMES", "20000"))   # smaller for a sanitizer run


def zone_text():
    lines = ["$ORIGIN %s" % Z, "$TTL 3600", "@ SOA ns1 hostmaster 1 3600 600 86400 300",
             "@ NS ns1", "ns1 A 192.0.2.1", "sub NS ns.sub", "ns.sub A 192.0.2.53",
             "sub DS 12345 13 2 " + "ab" * 32, "*.wild TXT \"w\""]
    lines += ["h%d A 10.%d.%d.%d" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255)
              for i in range(NAMES)]
    return "\n".join(lines) + "\n"


def rr(name, typ, *contents, changetype="REPLACE"):
    return {"name": name, "type": typ, "ttl": 300, "changetype": changetype,
            "records": [{"content": c, "disabled": False} for c in contents]}


def zone(p, name=Z):
    return p.json("GET", "/zones/%s?rrsets=false" % name, expect=200)


# a generous bound (the machine is shared); a sanitizer build runs ~3x slower
PATCH_BOUND = 3.0 if "bin-san" in os.environ.get("ANYCST_BIN", "") else 1.0


def timed_patch(p, name, rrsets):
    t0 = time.monotonic()
    p.patch(name, rrsets)
    took = time.monotonic() - t0
    assert took < PATCH_BOUND, "PATCH of %s took %.2f s while signing" % (name, took)
    return took


def start(d):
    p = Primary(d, extra=["--dnssec-key-file", os.path.join(d, "dnssec.key"),
                          "--api-max-body", "100000000"])
    p.client.timeout = 300   # the zone's creation, on a loaded machine or a sanitizer build
    secret = p.add_key(KEY)
    p.api("POST", "/zones", {"name": Z, "kind": "Native", "zone": zone_text(),
                             "soa_edit_api": "INCREASE", "master_tsig_key_ids": [KEY]})
    p.create_zone(OTHER, soa_edit_api="INCREASE")
    return p, secret


def test_background_signing_one_serial_patches_meanwhile():
    with TmpDir() as d:
        p, secret = start(d)
        try:
            s0 = p.serial(Z)
            t0 = time.monotonic()
            p.api("PUT", "/zones/" + Z, {"dnssec": True})
            assert time.monotonic() - t0 < 5
            z = zone(p)
            assert z["dnssec"] is True and z["signing"] is True, z
            patches, i = 0, 0
            deadline = time.monotonic() + 300
            while zone(p).get("signing", False):
                assert time.monotonic() < deadline, "still signing after 300 s"
                timed_patch(p, OTHER, [rr("o%d.%s" % (i, OTHER), "A", "192.0.2.%d" % (i % 250))])
                ops = [[rr("h1.%s" % Z, "A", "172.16.0.%d" % (i % 250))],
                       [rr("new%d.%s" % (i, Z), "TXT", '"n%d"' % i)],
                       [rr("h%d.%s" % (100 + i, Z), "A", changetype="DELETE")]][i % 3]
                timed_patch(p, Z, ops)
                patches += 1
                i += 1
                time.sleep(0.05)
            z = zone(p)
            assert z["dnssec"] is True and "signing" not in z
            assert patches >= 3, "signing ended before the PATCHes could overlap it"
            assert p.serial(Z) == s0 + patches + 1, (s0, patches, p.serial(Z))
            recs = ts.axfr_recs(p.xfr_port, secret)
            names = {n for n, _, _, _ in recs}
            assert "new1.%s" % Z in names and "h102.%s" % Z not in names
            assert any(t == "RRSIG" and n == "new1.%s" % Z for n, _, t, _ in recs)
            # the last replace of h1 (every third PATCH, its address wrapping at 250)
            last_h1 = 3 * ((patches - 1) // 3)
            assert ("h1.%s" % Z, 300, "A", "172.16.0.%d" % (last_h1 % 250)) in recs
            assert any(t == "NSEC" for _, _, t, _ in recs)
            path = os.path.join(d, "z.zone")
            ts.zone_file(path, recs)
            for tool, rc, out in ts.verifiers(path)[:2]:
                assert rc == 0, (tool, out[-3000:])
            # and it goes on signing each change in its own transaction
            p.patch(Z, [rr("after.%s" % Z, "A", "192.0.2.9")])
            recs = ts.axfr_recs(p.xfr_port, secret)
            assert any(t == "RRSIG" and n == "after.%s" % Z for n, _, t, _ in recs)
            ts.zone_file(path, recs)
            for tool, rc, out in ts.verifiers(path)[:2]:
                assert rc == 0, (tool, out[-3000:])
        finally:
            p.stop()


def test_switching_off_while_signing_cancels():
    with TmpDir() as d:
        p, secret = start(d)
        try:
            s0 = p.serial(Z)
            p.api("PUT", "/zones/" + Z, {"dnssec": True})
            assert zone(p).get("signing", False) is True
            p.api("PUT", "/zones/" + Z, {"dnssec": False})
            z = zone(p)
            assert z["dnssec"] is False and "signing" not in z, z
            assert p.json("GET", "/zones/%s/cryptokeys" % Z, expect=200) == []
            time.sleep(1)
            assert p.serial(Z) == s0
            types = set()
            for m in dns.query.xfr("127.0.0.1", Z, port=p.xfr_port, keyring=keyring(KEY, secret),
                                   keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20):
                for rrset in m.answer:
                    types.add(rrset.rdtype)
            assert dns.rdatatype.RRSIG not in types and dns.rdatatype.NSEC not in types
            # and it can be switched on again, to the end
            p.api("PUT", "/zones/" + Z, {"dnssec": True})
            wait_until(lambda: not zone(p).get("signing", False), 300, step=0.2, what="signed")
            assert zone(p)["dnssec"] is True and p.serial(Z) == s0 + 1
        finally:
            p.stop()


def test_restart_while_signing_resumes():
    with TmpDir() as d:
        p, secret = start(d)
        try:
            s0 = p.serial(Z)
            p.api("PUT", "/zones/" + Z, {"dnssec": True})
            assert zone(p).get("signing", False) is True
            p.restart()
            assert "resumed after a restart" in p.log()
            wait_until(lambda: not zone(p).get("signing", False), 300, step=0.2, what="signed")
            assert zone(p)["dnssec"] is True and p.serial(Z) == s0 + 1
            recs = ts.axfr_recs(p.xfr_port, secret)
            path = os.path.join(d, "z.zone")
            ts.zone_file(path, recs)
            tool, rc, out = ts.verifiers(path)[0]
            assert rc == 0, (tool, out[-3000:])
        finally:
            p.stop()
