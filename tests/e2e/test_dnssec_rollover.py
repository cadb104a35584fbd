"""ZSK pre-publish rollover (issue 15) with compressed timings: DNSKEY TTL
2 s, propagation delay 1 s, every TTL of the zone 3 s, a refresh pass a
second re-signing 5 rrsets at a time.  The zone has a CSK (the trust anchor)
and a ZSK; `PUT /cryptokeys/{zsk} {"rollover": true}` publishes a new ZSK,
the resigner activates it, re-signs the zone in small serials and removes
the old key.  `delv` (the CSK's DNSKEY as its only trust anchor) against an
anycst-secondary every 100 ms through the whole rollover: zero failures.
The journal from before the rollover to its end, replayed serial by serial:
every RRSIG at serial N is made by a key in the DNSKEY rrset at N-1."""
import json
import os
import threading

import dns.dnssec
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from anycst_e2e.rollover import delv_loop, zone_rrsets
from anycst_e2e import (Primary, Secondary, TmpDir, free_port, keyring, tsig_file_args,
                        wait_until)

Z = "roll.test."
KEY = "pop-key."


CREATE = zone_rrsets(Z, 20)


def key_tag(content):
    return dns.dnssec.key_id(rdata("DNSKEY", content))


def rdata(typ, content):
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(typ), content,
                               origin=dns.name.root, relativize=False)


def jrec(r):
    return (r["name"].lower(), r["type"], rdata(r["type"], r["content"]))


def replay_check(start, entries):
    """start: {(name, type, content)} at serial S0; entries: the journal from
    S0.  Checks the invariant at every serial; returns the RRSIG key tags
    seen at each serial."""
    state = set(start)
    seen = []
    for e in entries:
        before = {dns.dnssec.key_id(rd) for n, t, rd in state if t == "DNSKEY"}
        for r in e["removed"]:
            assert jrec(r) in state, (e["serial_from"], r)
            state.discard(jrec(r))
        for r in e["added"]:
            state.add(jrec(r))
        tags = {rd.key_tag for n, t, rd in state if t == "RRSIG"}
        assert tags <= before, (e["serial_from"], e["serial_to"], tags, before)
        seen.append((e["serial_to"], tags))
    return state, seen


def test_zsk_rollover_keeps_validating():
    with TmpDir() as d:
        sport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % sport],
                    extra=["--dnssec-key-file", os.path.join(d, "dnssec.key"),
                           "--dnssec-dnskey-ttl", "2", "--dnssec-propagation-delay", "1",
                           "--dnssec-refresh-interval", "1", "--dnssec-refresh-batch", "5"])
        sec = None
        stop = threading.Event()
        th = None
        try:
            secret = p.add_key(KEY)
            p.allow_catalog(KEY)
            p.create_zone(Z, rrsets=CREATE, nameservers=(), dnssec=True,
                          master_tsig_key_ids=[KEY])
            zid = p.zone_id(Z)
            base = "/zones/%s/cryptokeys" % zid
            zsk = p.json("POST", base, {"keytype": "zsk", "active": True}, expect=201)
            keys = p.json("GET", base, expect=200)
            csk = [k for k in keys if k["keytype"] == "csk"][0]
            flags, proto, alg, pub = csk["dnskey"].split(" ", 3)
            anchor = os.path.join(d, "anchor.conf")
            with open(anchor, "w") as f:
                f.write('trust-anchors {\n  "%s" static-key %s %s %s "%s";\n};\n'
                        % (Z, flags, proto, alg, pub))
            sec = Secondary(d, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(d, KEY, secret)).start()
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="zone at the POP")
            s0 = p.serial(Z)
            start = set(p_axfr(p, secret))
            results = []
            th = threading.Thread(target=delv_loop, args=(Z, sec.port, anchor, stop, results))
            th.start()
            wait_until(lambda: len(results) >= 3, 30, what="delv before the rollover")
            # a bad body is refused (the CSK rolls by store_ksk.c: test_dnssec_ksk_rollover)
            st, _, body = p.call("PUT", "%s/%d" % (base, zsk["id"]), {"rollover": "yes"})
            assert st == 422, body
            before = len(results)
            p.api("PUT", "%s/%d" % (base, zsk["id"]), {"rollover": True})
            st, _, body = p.call("PUT", "%s/%d" % (base, zsk["id"]), {"rollover": True})
            assert st == 409, body
            zsks = [k for k in p.json("GET", base, expect=200) if k["keytype"] == "zsk"]
            assert len(zsks) == 2 and [k["active"] for k in zsks] == [True, False]
            new_id = zsks[1]["id"]

            def done():
                ks = [k for k in p.json("GET", base, expect=200) if k["keytype"] == "zsk"]
                return len(ks) == 1 and ks[0]["id"] == new_id and ks[0]["active"]
            wait_until(done, 90, what="the old ZSK removed")
            during = len(results) - before
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="POP at the last serial")
            n = len(results)
            wait_until(lambda: len(results) >= n + 5, 30, what="delv at the last serial")
            stop.set()
            th.join(30)
            bad = [r for r in results if not r[2]]
            # delv ran throughout (each run takes longer on a busy machine:
            # counted, not timed)
            assert before >= 3 and during >= 5, (before, during)
            assert not bad, "%d of %d failed:\n%s" % (len(bad), len(results), bad[0][3])

            st, _, body = p.call("GET", "/zones/%s/journal?since=%d" % (zid, s0))
            assert st == 200, body
            entries = json.loads(body)["entries"]
            assert entries[0]["serial_from"] == s0
            for a, b in zip(entries, entries[1:]):
                assert a["serial_to"] == b["serial_from"]
            final, seen = replay_check(start, entries)
            print("delv runs: %d; serials and RRSIG key tags: %s" % (len(results), seen))
            old_tag, new_tag = zsk_tag(zsk), zsk_tag(zsks[1])
            assert final == set(p_axfr(p, secret))
            # publish, activation + batches (20+ rrsets, 5 a serial), removal
            assert len(entries) >= 5, [e["serial_to"] for e in entries]
            mixed = [s for s, tags in seen if old_tag in tags and new_tag in tags]
            assert mixed, seen
            assert old_tag not in seen[-1][1] and new_tag in seen[-1][1]
            dnskeys = {dns.dnssec.key_id(rd) for n, t, rd in final if t == "DNSKEY"}
            assert old_tag not in dnskeys and new_tag in dnskeys
        finally:
            stop.set()
            if th is not None:
                th.join(30)
            if sec is not None:
                sec.stop()
            p.stop()


def zsk_tag(k):
    return key_tag(k["dnskey"])


def p_axfr(p, secret):
    out = []
    for m in dns.query.xfr("127.0.0.1", Z, port=p.xfr_port, keyring=keyring(KEY, secret),
                           keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20,
                           relativize=False):
        for rrset in m.answer:
            for rd in rrset:
                out.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rd.rdtype), rd))
    return out[:-1]


def test_replay_check_catches_a_key_used_when_published():
    """The journal check can fail: a ZSK published and used in one serial."""
    import base64
    k1 = "256 3 13 " + base64.b64encode(bytes(range(64))).decode()
    k2 = "256 3 13 " + base64.b64encode(bytes(range(1, 65))).decode()
    soa = "ns1.%s hostmaster.%s %d 3600 600 86400 3"

    def sig(key):
        return ("SOA 13 2 3 20300101000000 20200101000000 %d %s %s"
                % (key_tag(key), Z, base64.b64encode(bytes(64)).decode()))

    def rec(name, typ, content):
        return {"name": name, "type": typ, "content": content}
    start = {jrec(rec(Z, "SOA", soa % (Z, Z, 1))), jrec(rec(Z, "DNSKEY", k1)),
             jrec(rec(Z, "RRSIG", sig(k1)))}
    good = {"serial_from": 1, "serial_to": 2,
            "removed": [rec(Z, "SOA", soa % (Z, Z, 1)), rec(Z, "RRSIG", sig(k1))],
            "added": [rec(Z, "SOA", soa % (Z, Z, 2)), rec(Z, "DNSKEY", k2),
                      rec(Z, "RRSIG", sig(k1))]}
    replay_check(start, [good])
    bad = dict(good, added=good["added"] + [rec(Z, "RRSIG", sig(k2))])
    try:
        replay_check(start, [bad])
    except AssertionError:
        return
    raise AssertionError("a key used in the serial that publishes it passed the check")


def test_zsk_lifetime_rolls_automatically():
    """--dnssec-zsk-lifetime: the ZSK is rolled without a request, then again."""
    with TmpDir() as d:
        p = Primary(d, extra=["--dnssec-key-file", os.path.join(d, "dnssec.key"),
                              "--dnssec-dnskey-ttl", "1", "--dnssec-propagation-delay", "0",
                              "--dnssec-refresh-interval", "1", "--dnssec-zsk-lifetime", "3"])
        try:
            p.create_zone(Z, rrsets=CREATE[:3], nameservers=(), dnssec=True)
            base = "/zones/%s/cryptokeys" % p.zone_id(Z)
            first = p.json("POST", base, {"keytype": "zsk", "active": True}, expect=201)
            seen = set()

            def zsks():
                ks = [k for k in p.json("GET", base, expect=200) if k["keytype"] == "zsk"]
                seen.update(k["id"] for k in ks)
                return ks
            # a new ZSK replaces the first, then a third the second
            wait_until(lambda: len(seen | {k["id"] for k in zsks()}) >= 3, 60,
                       what="two automatic ZSK rollovers")
            wait_until(lambda: first["id"] not in {k["id"] for k in zsks()}, 30,
                       what="the first ZSK removed")
            assert "ZSK rollover" in p.log()
        finally:
            p.stop()
