"""Empty RDATA through the whole primary -> secondary flow (issue 12.1).

RFC 3597 `\\# 0` on an unknown type, NULL with no data and an APL with no
items are legal records with zero-length RDATA.  Sent by PATCH or in a POST
zone they are stored, shown, exported, journalled, transferred (AXFR and
IXFR, dig with the zone's TSIG key) and served by a secondary; every later
PATCH of those rrsets works.  Types that need RDATA are refused with 422
naming the record; zone text with no records is a 422.
"""
import signal
import subprocess

import dns.rcode
import dns.rdatatype
import pytest

from anycst_e2e import (Knot, Primary, Secondary, TmpDir, axfr_set, export_set, free_port,
                         tsig_file_args, wait_until)

ZONE = "example.com."
KEY = "pop-key."

EMPTY = [
    {"name": "unk." + ZONE, "type": "TYPE65534", "ttl": 300, "changetype": "REPLACE",
     "records": [{"content": "\\# 0", "disabled": False}]},
    {"name": "null." + ZONE, "type": "NULL", "ttl": 300, "changetype": "REPLACE",
     "records": [{"content": "\\# 0", "disabled": False}]},
    {"name": "apl." + ZONE, "type": "APL", "ttl": 300, "changetype": "REPLACE",
     "records": [{"content": "", "disabled": False}]},
]
NAMES = [("unk." + ZONE, 65534), ("null." + ZONE, dns.rdatatype.NULL),
         ("apl." + ZONE, dns.rdatatype.APL)]


SAN_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def stop_checked(p):
    """Stops the primary; under `make test SAN=1` its log must hold no report."""
    p.stop()
    text = p.log()
    for bad in SAN_REPORTS:
        assert bad not in text, text[text.index(bad) - 200:][:3000]


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def dig(p, secret, *args):
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(p.xfr_port), "+tcp", "+time=5",
                        "+tries=1", "-y", "hmac-sha256:%s%s" % (KEY.rstrip("."), ":" + secret)]
                       + list(args), capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def dig_records(out):
    return [l.split() for l in out.splitlines()
            if l and not l.startswith(";") and len(l.split()) > 3 and l.split()[3] != "TSIG"]


def assert_empty_in(recs, out):
    """dig's lines for the three empty records: owner, class, type, nothing or `\\# 0`."""
    got = {(r[0], r[3]): r[4:] for r in recs}
    assert got.get(("unk." + ZONE, "TYPE65534")) == ["\\#", "0"], out
    assert got.get(("null." + ZONE, "NULL")) == ["\\#", "0"], out
    assert got.get(("apl." + ZONE, "APL")) == [], out


def contents(p, name, rtype):
    z = p.api("GET", "/zones/" + ZONE)
    for rr in z["rrsets"]:
        if rr["name"] == name and rr["type"] == rtype:
            return rr
    return None


def assert_served_empty(sec):
    for name, t in NAMES:
        r = sec.query(name, dns.rdatatype.to_text(t), tcp=True)
        assert r.rcode() == dns.rcode.NOERROR, (name, r)
        rr = [x for x in r.answer if x.rdtype == t]
        assert rr and len(rr[0]) == 1, (name, r)
        rd = rr[0][0]
        assert len(rd.to_wire()) == 0, (name, rd)


def test_patch_empty_rdata_stored_transferred_served(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone(ZONE, keys=[KEY])
        sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                        extra=tsig_file_args(tmp, KEY, secret)).start()
        wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 10, what="zone at the secondary")
        old = p.serial(ZONE)

        p.api("PATCH", "/zones/" + ZONE, {"rrsets": EMPTY})
        assert p.alive(), p.log()[-3000:]
        new = p.serial(ZONE)
        assert new != old

        # Stored and shown.
        assert contents(p, "unk." + ZONE, "TYPE65534")["records"][0]["content"] == "\\# 0"
        assert contents(p, "null." + ZONE, "NULL")["records"][0]["content"] == "\\# 0"
        assert contents(p, "apl." + ZONE, "APL")["records"][0]["content"] == ""
        exp = [l.split() for l in p.export(ZONE).splitlines()]
        assert ["unk." + ZONE, "300", "IN", "TYPE65534", "\\#", "0"] in exp, exp
        assert ["null." + ZONE, "300", "IN", "NULL", "\\#", "0"] in exp, exp
        assert ["apl." + ZONE, "300", "IN", "APL"] in exp, exp

        # Journalled: the entry lists the three records as added.
        j = p.api("GET", "/zones/%s/journal?since=%d" % (ZONE, old))
        added = {(r["name"], r["type"], r["content"]) for e in j["entries"] for r in e["added"]}
        assert ("unk." + ZONE, "TYPE65534", "\\# 0") in added, j
        assert ("null." + ZONE, "NULL", "\\# 0") in added, j
        assert ("apl." + ZONE, "APL", "") in added, j
        # Transferred: IXFR from the old serial, then AXFR.
        out = dig(p, secret, ZONE, "IXFR=%d" % old)
        assert_empty_in(dig_records(out), out)
        out = dig(p, secret, ZONE, "AXFR")
        recs = dig_records(out)
        assert recs[0][3] == "SOA" and recs[-1][3] == "SOA", out
        assert_empty_in(recs, out)

        # Served by the secondary (IXFR after NOTIFY).
        wait_until(lambda: sec.serial(ZONE) == new, 10, what="IXFR at the secondary")
        assert_served_empty(sec)
        # Persisted in its state dir: served again after a restart with the primary down.
        p.proc.send_signal(signal.SIGSTOP)
        try:
            sec.stop()
            sec.start()
            wait_until(lambda: sec.serial(ZONE) == new, 10, what="zone from the state dir")
            assert_served_empty(sec)
        finally:
            p.proc.send_signal(signal.SIGCONT)

        # Later PATCHes of these rrsets read the stored empty rdata back.
        again = [dict(rr, ttl=600) for rr in EMPTY]
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": again})
        assert p.alive(), p.log()[-3000:]
        ext = [dict(EMPTY[0], changetype="EXTEND",
                    records=[{"content": "\\# 2 abcd", "disabled": False}])]
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": ext})
        prune = [dict(EMPTY[0], changetype="PRUNE")]
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": prune})
        assert contents(p, "unk." + ZONE, "TYPE65534")["records"] == \
            [{"content": "\\# 2 abcd", "disabled": False}]
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
            dict(rr, changetype="DELETE", records=[]) for rr in EMPTY[1:]]})
        assert p.alive(), p.log()[-3000:]
        assert contents(p, "null." + ZONE, "NULL") is None
        last = p.serial(ZONE)
        wait_until(lambda: sec.serial(ZONE) == last, 10, what="deletions at the secondary")
        r = sec.query("null." + ZONE, "NULL", tcp=True)
        assert r.rcode() == dns.rcode.NXDOMAIN, r
        # The journal (IXFR from the first serial) still builds.
        out = dig(p, secret, ZONE, "IXFR=%d" % old)
        assert "Transfer failed" not in out and dig_records(out), out
    finally:
        if sec:
            sec.stop()
        stop_checked(p)


def test_post_zone_with_empty_rdata_then_patch(tmp):
    p = Primary(tmp)
    try:
        secret = p.add_key(KEY)
        p.add_zone(ZONE, keys=[KEY], records=[dict(rr) for rr in EMPTY])
        exp = p.export(ZONE)
        assert "TYPE65534" in exp and "NULL" in exp and "APL" in exp, exp
        for rr in EMPTY:
            p.api("PATCH", "/zones/" + ZONE, {"rrsets": [dict(rr, ttl=900)]})
            assert p.alive(), p.log()[-3000:]
            p.api("PATCH", "/zones/" + ZONE, {"rrsets": [dict(rr, changetype="EXTEND")]})
            assert p.alive(), p.log()[-3000:]
        out = dig(p, secret, ZONE, "AXFR")
        assert_empty_in(dig_records(out), out)
        # The same records from zone text.
        text = ("$ORIGIN example.org.\n$TTL 300\n"
                "@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
                "unk TYPE65534 \\# 0\nnull NULL \\# 0\napl APL\n")
        p.api("POST", "/zones", {"name": "example.org.", "kind": "Native", "zone": text})
        z = p.api("GET", "/zones/example.org.")
        got = {(rr["name"], rr["type"]): [r["content"] for r in rr["records"]]
               for rr in z["rrsets"]}
        assert got[("unk.example.org.", "TYPE65534")] == ["\\# 0"], got
        assert got[("null.example.org.", "NULL")] == ["\\# 0"], got
        assert got[("apl.example.org.", "APL")] == [""], got
        p.api("PATCH", "/zones/example.org.", {"rrsets": [
            dict(rr, name=rr["name"].replace(ZONE, "example.org.")) for rr in EMPTY]})
        assert p.alive(), p.log()[-3000:]
    finally:
        stop_checked(p)


@pytest.mark.parametrize("rtype,content", [
    ("A", "\\# 0"), ("TXT", "\\# 0"), ("MX", "\\# 0"), ("CNAME", "\\# 0"), ("TYPE1", "\\# 0"),
    ("TXT", ""), ("AAAA", ""), ("SRV", ""), ("CAA", "\\# 0")])
def test_empty_rdata_refused_where_type_needs_data(tmp, rtype, content):
    p = Primary(tmp)
    try:
        p.add_zone(ZONE)
        before = p.export(ZONE)
        r = p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
            {"name": "bad." + ZONE, "type": rtype, "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": content, "disabled": False}]}]}, ok=(422,))
        err = r["error"]
        assert "rrsets[0].records[0]" in err and "bad.example.com." in err, err
        assert p.alive()
        assert p.export(ZONE) == before
        # Same in a new zone: 422, no zone.
        r = p.api("POST", "/zones", {"name": "example.net.", "kind": "Native", "rrsets": [
            {"name": "bad.example.net.", "type": rtype, "ttl": 300,
             "records": [{"content": content, "disabled": False}]}]}, ok=(422,))
        assert "bad.example.net." in r["error"], r
        p.api("GET", "/zones/example.net.", ok=(404,))
    finally:
        stop_checked(p)


@pytest.mark.parametrize("text", ["", "; nothing here\n", "$ORIGIN example.net.\n$TTL 300\n"])
def test_zone_text_without_records_refused(tmp, text):
    p = Primary(tmp)
    try:
        r = p.api("POST", "/zones", {"name": "example.net.", "kind": "Native", "zone": text},
                  ok=(422,))
        assert "no records" in r["error"], r
        p.api("GET", "/zones/example.net.", ok=(404,))
        assert p.alive()
    finally:
        stop_checked(p)


def test_knotd_secondary_takes_empty_rdata(tmp):
    """knotd 3.2, a real peer, transfers empty records by AXFR and IXFR and
    serves them (its AXFR out equals our export).  knotd accepts zero-length
    RDATA only for APL and types it does not know (libknot allow_zero_rdata),
    so an empty NULL, legal by RFC 1035 3.3.10, is left out here: knotd
    refuses a transfer holding one as malformed."""
    kport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % kport])
    k = None
    try:
        secret = p.add_key(KEY)
        p.add_zone(ZONE, keys=[KEY], records=[dict(EMPTY[0])])
        k = Knot.secondary(tmp, p.xfr_port, KEY, secret, zones=[ZONE], port=kport)
        serial = p.serial(ZONE)
        wait_until(lambda: k.serial(ZONE) == serial, 10, what="knotd's AXFR")
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": [EMPTY[2]]})
        serial = p.serial(ZONE)
        wait_until(lambda: k.serial(ZONE) == serial, 10, what="knotd's IXFR")
        ours = export_set(p.export(ZONE), ZONE)
        theirs = axfr_set(k.port, ZONE)
        assert ours == theirs, (sorted(ours - theirs), sorted(theirs - ours))
        assert {t for _, _, t, _ in theirs} >= {"TYPE65534", "APL"}, theirs
    finally:
        if k:
            k.stop()
        stop_checked(p)
