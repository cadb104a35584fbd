"""KSK and CSK double-signature rollover with CDS/CDNSKEY (issue 15), and CDS
DELETE when DNSSEC is switched off, with compressed timings: DNSKEY TTL 2 s,
propagation delay 1 s, the parent's DS TTL 2 s, a resigner pass a second.

The test plays the parent: `delv` against an anycst-secondary every 100 ms
trusts only the DS set the "parent" holds at that moment — the old key's
DS, then, once CDS appears at the POP (checked against `dnssec-dsfromkey`
of the new DNSKEY), the new key's — and must validate every time.  Then
`PUT cryptokeys/{new} {"ds_seen": true}` withdraws CDS/CDNSKEY and the old
key is retired and removed.  Each step is one serial and one journal entry;
the zone passes dnssec-verify, ldns-verify-zone and kzonecheck with CDS in
it and at the end."""
import json
import os
import sqlite3
import subprocess
import threading
import time

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from anycst_e2e.rollover import delv_loop, rr, zone_rrsets
from anycst_e2e import (Knot, Primary, Secondary, TmpDir, free_port, keyring, pg_sql, pg_wanted,
                        tsig_file_args, wait_until)

Z = "ksk.test."
KEY = "pop-key."


CREATE = zone_rrsets(Z, 12)

FLAGS = ["--dnssec-dnskey-ttl", "2", "--dnssec-propagation-delay", "1",
         "--dnssec-ds-ttl", "2", "--dnssec-refresh-interval", "1",
         "--dnssec-refresh-batch", "5"]


def run(args, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def write_anchor(path, ds_lines):
    """The "parent's" DS set as delv's trust anchors, swapped atomically."""
    body = "".join('  "%s" static-ds %s %s %s "%s";\n' % ((Z,) + tuple(d.split()))
                   for d in ds_lines)
    with open(path + ".tmp", "w") as f:
        f.write("trust-anchors {\n%s};\n" % body)
    os.replace(path + ".tmp", path)


def walk_plan(p):
    """The plan of DBQ_DN_SCAN's statement (the rollover's walk over the names'
    signatures) on the primary's database: SQLite's EXPLAIN QUERY PLAN, or
    PostgreSQL's EXPLAIN with sequential scans priced out (the test's table is too
    small for the planner to prefer an index)."""
    if pg_wanted():
        return pg_sql(p.db_path, "SET enable_seqscan = off; EXPLAIN SELECT okey, owner, sigs "
                      "FROM dnssec_names WHERE zone_id = 1 AND okey > '\\x6162'::bytea "
                      "ORDER BY okey LIMIT 5")
    db = sqlite3.connect("file:%s?mode=ro" % p.db_path, uri=True)
    plan = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT okey, owner, sigs FROM dnssec_names WHERE zone_id = ?1 "
        "AND okey > ?2 ORDER BY okey LIMIT ?3", (1, b"ab", 5)))
    db.close()
    return plan


def pop_rrset(sec, typ):
    """The rdata texts of the apex rrset `typ` at the POP (DO=1)."""
    q = dns.message.make_query(Z, typ, want_dnssec=True)
    r = dns.query.udp(q, "127.0.0.1", port=sec.port, timeout=2)
    return sorted(rd.to_text() for rs in r.answer if rs.rdtype == dns.rdatatype.from_text(typ)
                  for rd in rs)


def axfr_file(p, secret, path):
    lines = []
    for m in dns.query.xfr("127.0.0.1", Z, port=p.xfr_port, keyring=keyring(KEY, secret),
                           keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20,
                           relativize=False):
        for rrset in m.answer:
            for rd in rrset:
                lines.append("%s %d IN %s %s" % (rrset.name, rrset.ttl,
                                                 dns.rdatatype.to_text(rd.rdtype), rd.to_text()))
    with open(path, "w") as f:
        f.write("\n".join(lines[:-1]) + "\n")
    return "\n".join(lines[:-1])


def verify(path, csk, knot=True):
    """knot False: kzonecheck (Knot 3.2.6) left out.  Its validation infers
    the key roles from the zone: single-type signing only when the DNSKEY
    rrset holds one key (policy_from_zone in Knot's knot/dnssec/context.c),
    else keys with flags 257 are KSKs that sign nothing but DNSKEY/CDS/
    CDNSKEY.  Two CSKs (a CSK rollover) thus read as "no valid signature" on
    rrsets whose every RRSIG dnssec-verify, ldns-verify-zone and dnspython
    validate; with one CSK left, at the end, it passes."""
    tools = [["dnssec-verify"] + (["-z"] if csk else []) + ["-o", Z, path],
             ["ldns-verify-zone", path]]
    if knot:
        tools.append(["kzonecheck", "-o", Z, "-d", "on", path])
    for args in tools:
        r = run(args)
        assert r.returncode == 0, (args, r.stdout + r.stderr)


def ds_from_key(d, dnskey):
    """dnssec-dsfromkey -2 of one DNSKEY, as "tag alg 2 HEX"."""
    path = os.path.join(d, "key.dnskey")
    with open(path, "w") as f:
        f.write("%s 3600 IN DNSKEY %s\n" % (Z, dnskey))
    r = run(["dnssec-dsfromkey", "-2", "-f", path, Z])
    assert r.returncode == 0, r.stderr
    # "ksk.test. IN DS 12345 13 2 ABCD..."
    return " ".join(r.stdout.split()[3:]).lower()


def setup_keys(p, base, kind):
    """kind "csk": the zone's CSK alone; "ksk": a KSK and a ZSK (the CSK deleted)."""
    if kind == "ksk":
        ksk = p.json("POST", base, {"keytype": "ksk", "active": True}, expect=201)
        p.json("POST", base, {"keytype": "zsk", "active": True}, expect=201)
        csk = [k for k in p.json("GET", base, expect=200) if k["keytype"] == "csk"][0]
        assert p.call("DELETE", "%s/%d" % (base, csk["id"]))[0] == 204
        return ksk
    return [k for k in p.json("GET", base, expect=200) if k["keytype"] == "csk"][0]


def sep_keys(p, base):
    return [k for k in p.json("GET", base, expect=200) if k["flags"] == 257]


@pytest.mark.parametrize("kind", ["ksk", "csk"])
def test_ksk_rollover_with_cds_keeps_validating(kind):
    with TmpDir() as d:
        sport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % sport],
                    extra=["--dnssec-key-file", os.path.join(d, "dnssec.key")] + FLAGS)
        sec, th, stop = None, None, threading.Event()
        try:
            secret = p.add_key(KEY)
            p.allow_catalog(KEY)
            p.create_zone(Z, rrsets=CREATE, nameservers=(), dnssec=True,
                          master_tsig_key_ids=[KEY])
            zid = p.zone_id(Z)
            base = "/zones/%s/cryptokeys" % zid
            old = setup_keys(p, base, kind)
            anchor = os.path.join(d, "anchor.conf")
            write_anchor(anchor, [old["ds"][0]])
            sec = Secondary(d, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(d, KEY, secret)).start()
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="zone at the POP")
            s0 = p.serial(Z)
            results = []
            th = threading.Thread(target=delv_loop, args=(Z, sec.port, anchor, stop, results))
            th.start()
            time.sleep(1)

            # start: a new key of the same type signs beside the old one
            assert p.call("PUT", "%s/%d" % (base, old["id"]), {"rollover": 1})[0] == 422
            p.api("PUT", "%s/%d" % (base, old["id"]), {"rollover": True})
            st, _, body = p.call("PUT", "%s/%d" % (base, old["id"]), {"rollover": True})
            assert st == 409, body
            seps = sep_keys(p, base)
            assert len(seps) == 2 and all(k["active"] and k["published"] for k in seps)
            new = [k for k in seps if k["id"] != old["id"]][0]
            assert new["keytype"] == kind and "cds" not in new
            # ds_seen before its CDS is refused: the parent must wait for the caches
            st, _, body = p.call("PUT", "%s/%d" % (base, new["id"]), {"ds_seen": True})
            assert st == 422 and b"not published yet" in body, body

            # ready: CDS/CDNSKEY of the new key at the POP, its DS per dnssec-dsfromkey
            wait_until(lambda: pop_rrset(sec, "CDS"), 30, what="CDS at the POP")
            want_ds = ds_from_key(d, new["dnskey"])
            assert [c.lower() for c in pop_rrset(sec, "CDS")] == [want_ds]
            assert [c.replace(" ", "") for c in pop_rrset(sec, "CDNSKEY")] == \
                [new["dnskey"].replace(" ", "")]
            assert p.json("GET", "%s/%d" % (base, new["id"]), expect=200)["cds"] == \
                [new["ds"][0]]
            # kdig +dnssec at the POP: CDS and CDNSKEY signed by both keys
            for t in ("CDS", "CDNSKEY"):
                r = run(["kdig", "@127.0.0.1", "-p", str(sec.port), "+dnssec", "+norec", Z, t])
                sigs = [l for l in r.stdout.splitlines() if "\tRRSIG\t%s " % t in l]
                assert r.returncode == 0 and len(sigs) == 2, r.stdout
            text = axfr_file(p, secret, os.path.join(d, "cds.zone"))
            assert " RRSIG CDS " in text and " RRSIG CDNSKEY " in text
            verify(os.path.join(d, "cds.zone"), kind == "csk", knot=kind != "csk")

            # the parent takes the new DS; later the operator says so
            write_anchor(anchor, [want_ds])
            n = len(results)
            wait_until(lambda: len(results) >= n + 5, 30, what="delv with the new DS")
            p.api("PUT", "%s/%d" % (base, new["id"]), {"ds_seen": True})
            assert pop_or_primary_cds_gone(p, secret, d)

            # the old key is retired, its signatures dropped, then removed
            wait_until(lambda: [k["id"] for k in sep_keys(p, base)] == [new["id"]], 60,
                       what="the old key removed")
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="POP at the last serial")
            time.sleep(1.5)
            stop.set()
            th.join(30)
            bad = [r for r in results if not r[2]]
            assert len(results) >= 10, len(results)
            assert not bad, "%d of %d failed:\n%s" % (len(bad), len(results), bad[0][3])

            entries = json.loads(p.call("GET", "/zones/%s/journal?since=%d" % (zid, s0))[2])
            entries = entries["entries"]
            for a, b in zip(entries, entries[1:]):
                assert a["serial_to"] == b["serial_from"]
            # start, CDS published, DS seen (CDS withdrawn), retired, removed
            assert len(entries) >= 5, [e["serial_to"] for e in entries]
            cds_in = [i for i, e in enumerate(entries)
                      if any(r["type"] == "CDS" for r in e["added"])]
            cds_out = [i for i, e in enumerate(entries)
                       if any(r["type"] == "CDS" for r in e["removed"])]
            assert len(cds_in) == 1 and len(cds_out) == 1 and cds_in[0] < cds_out[0]
            text = axfr_file(p, secret, os.path.join(d, "end.zone"))
            verify(os.path.join(d, "end.zone"), kind == "csk")
            old_tag = int(old["ds"][0].split()[0])
            assert " CDS " not in text and " %d %s. " % (old_tag, Z) not in text
            print("delv runs: %d, journal entries: %d" % (len(results), len(entries)))
            # the retiring key's signatures are found by a walk over dnssec_names in key
            # order (schema 0012), resumed where the last step stopped: the primary key,
            # no sort
            plan = walk_plan(p)
            assert ("PRIMARY KEY" in plan or "dnssec_names_pkey" in plan) and \
                "TEMP B-TREE" not in plan and "Sort" not in plan, plan
        finally:
            stop.set()
            if th is not None:
                th.join(30)
            if sec is not None:
                sec.stop()
            p.stop()


def pop_or_primary_cds_gone(p, secret, d):
    text = axfr_file(p, secret, os.path.join(d, "seen.zone"))
    return " CDS " not in text and " CDNSKEY " not in text


def test_cds_delete_when_switched_off():
    """dnssec false: CDS/CDNSKEY DELETE, signed, the zone still validating;
    unsigned at the POP after --dnssec-unsign-delay; dnssec true in between
    cancels."""
    with TmpDir() as d:
        sport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % sport],
                    extra=["--dnssec-key-file", os.path.join(d, "dnssec.key"),
                           "--dnssec-unsign-delay", "4"] + FLAGS)
        sec = None
        try:
            secret = p.add_key(KEY)
            p.allow_catalog(KEY)
            p.create_zone(Z, rrsets=CREATE, nameservers=(), dnssec=True,
                          master_tsig_key_ids=[KEY])
            zid = p.zone_id(Z)
            csk = p.json("GET", "/zones/%s/cryptokeys" % zid, expect=200)[0]
            anchor = os.path.join(d, "anchor.conf")
            write_anchor(anchor, [csk["ds"][0]])
            sec = Secondary(d, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(d, KEY, secret)).start()
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="zone at the POP")

            def delv_ok():
                r = run(["delv", "@127.0.0.1", "-p", str(sec.port), "-a", anchor,
                         "+root=" + Z, "+novtrace", "h01." + Z, "A"], timeout=20)
                return "; fully validated" in r.stdout + r.stderr

            # off, then on again before the delay: CDS DELETE comes and goes
            s0 = p.serial(Z)
            assert p.call("PUT", "/zones/" + zid, {"dnssec": False})[0] == 204
            assert p.call("PUT", "/zones/" + zid, {"dnssec": False})[0] == 204
            assert p.serial(Z) == s0 + 1 or p.serial(Z) != s0
            s1 = p.serial(Z)
            wait_until(lambda: sec.serial(Z) == s1, 15, what="POP with CDS DELETE")
            assert pop_rrset(sec, "CDS") == ["0 0 0 00"]
            assert pop_rrset(sec, "CDNSKEY") == ["0 3 0 AA=="]
            assert delv_ok()
            axfr_file(p, secret, os.path.join(d, "del.zone"))
            verify(os.path.join(d, "del.zone"), True)
            assert p.call("PUT", "/zones/" + zid, {"dnssec": True})[0] == 204
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="POP after cancel")
            assert pop_rrset(sec, "CDS") == []
            time.sleep(5)
            assert pop_rrset(sec, "DNSKEY") and delv_ok()

            # off for good: after the delay the resigner unsigns, one serial
            assert p.call("PUT", "/zones/" + zid, {"dnssec": False})[0] == 204
            s2 = p.serial(Z)
            wait_until(lambda: p.json("GET", "/zones/%s?rrsets=false" % zid,
                                      expect=200)["dnssec"] is False, 30, what="unsigned")
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="POP unsigned")
            entries = json.loads(p.call("GET", "/zones/%s/journal?since=%d" % (zid, s2))[2])
            assert len(entries["entries"]) == 1
            for t in ("CDS", "CDNSKEY", "DNSKEY", "RRSIG"):
                assert pop_rrset(sec, t) == [], t
            assert p.json("GET", "/zones/%s/cryptokeys" % zid, expect=200) == []
        finally:
            if sec is not None:
                sec.stop()
            p.stop()


PARENT = "test."
PARENT_ZONE = [rr(PARENT, "SOA", "ns.test. hostmaster.test. 1 3600 600 86400 3"),
               rr(PARENT, "NS", "ns.test."),
               rr("ns.test.", "A", "192.0.2.53"),
               rr(Z, "NS", "ns1." + Z),
               rr("ns1." + Z, "A", "192.0.2.1")]


def test_parent_ds_seen_by_query():
    """--dnssec-parent: the resigner asks knotd, authoritative for the parent
    zone test. (a secondary of ours), for ksk.test.'s DS; the rollover waits
    while the parent has only the old DS and goes on by itself once the new
    one is there, as {"ds_seen": true} would."""
    with TmpDir() as d:
        kport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % kport],
                    extra=["--dnssec-key-file", os.path.join(d, "dnssec.key"),
                           "--dnssec-parent", "127.0.0.1@%d" % kport] + FLAGS)
        k = None
        try:
            secret = p.add_key(KEY)
            p.create_zone(Z, rrsets=CREATE, nameservers=(), dnssec=True)
            zid = p.zone_id(Z)
            base = "/zones/%s/cryptokeys" % zid
            old = sep_keys(p, base)[0]
            p.create_zone(PARENT, rrsets=PARENT_ZONE + [rr(Z, "DS", old["ds"][0])],
                          nameservers=(), master_tsig_key_ids=[KEY])
            k = Knot.secondary(d, p.xfr_port, KEY, secret, zones=[PARENT], port=kport)
            wait_until(lambda: k.serial(PARENT) == p.serial(PARENT), 15, what="parent at knotd")
            p.api("PUT", "%s/%d" % (base, old["id"]), {"rollover": True})
            new = [x for x in sep_keys(p, base) if x["id"] != old["id"]][0]
            wait_until(lambda: "cds" in p.json("GET", "%s/%d" % (base, new["id"]), expect=200),
                       30, what="CDS published")
            # the parent still has the old DS only: nothing moves
            time.sleep(3)
            assert "cds" in p.json("GET", "%s/%d" % (base, new["id"]), expect=200)
            assert len(sep_keys(p, base)) == 2
            # the parent takes the new DS (SHA-256, as the CDS says)
            p.patch(PARENT, [rr(Z, "DS", new["ds"][0])])
            wait_until(lambda: k.serial(PARENT) == p.serial(PARENT), 15, what="new DS at knotd")
            wait_until(lambda: [x["id"] for x in sep_keys(p, base)] == [new["id"]], 60,
                       what="the old key removed after the DS was seen")
            assert "seen at the parent" in p.log()
        finally:
            if k is not None:
                k.stop()
            p.stop()
