"""dig against the transfer port (issue 4): AXFR and IXFR=serial with the
zone's key work; without the key, with a wrong secret, or with a key the zone
does not allow, the transfer is refused and the primary's log says who and
why; plain queries other than SOA are refused."""
import re
import socket
import subprocess

import pytest

from anycst_e2e import Primary, TmpDir, keyring, wait_until

ZONE = "example.com."


@pytest.fixture
def primary():
    with TmpDir() as d:
        p = Primary(d)
        try:
            p.secret = p.add_key("xfr-key.")
            p.other = p.add_key("other-key.", alg="hmac-sha512")
            p.add_zone(ZONE, keys=["xfr-key."],
                          records=[{"name": "www." + ZONE, "type": "A", "ttl": 300,
                                    "records": [{"content": "192.0.2.80", "disabled": False}]}])
            yield p
        finally:
            p.stop()


def dig(p, *args):
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(p.xfr_port), "+tcp", "+time=5",
                        "+tries=1"] + list(args), capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def records(out):
    """Zone records dig printed (TSIG records left out)."""
    return [l for l in out.splitlines()
            if l and not l.startswith(";") and len(l.split()) > 3 and l.split()[3] != "TSIG"]


def test_dig_axfr_with_key(primary):
    out = dig(primary, "-y", "hmac-sha256:xfr-key:" + primary.secret, ZONE, "AXFR")
    recs = records(out)
    assert recs[0].split()[3] == "SOA" and recs[-1].split()[3] == "SOA", out
    assert any("192.0.2.80" in l for l in recs), out
    assert re.search(r"^xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR",
                     out, re.M), out
    assert re.search(r"info: \[example\.com\.\] zone transfer, outgoing AXFR over TCP to "
                     r"127\.0\.0\.1@\d+, serial \d+, \d+ messages, \d+ ms", primary.log())


def test_dig_ixfr_with_key(primary):
    old = primary.serial(ZONE)
    primary.api("PATCH", "/zones/" + ZONE, {"rrsets": [
        {"name": "new." + ZONE, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": '"hello"', "disabled": False}]}]})
    new = primary.serial(ZONE)
    out = dig(primary, "-y", "hmac-sha256:xfr-key:" + primary.secret, ZONE, "IXFR=%d" % old)
    recs = records(out)
    soas = [l for l in recs if l.split()[3] == "SOA"]
    # new SOA, old SOA, new SOA, added..., new SOA
    assert [int(l.split()[6]) for l in soas] == [new, old, new, new], out
    assert any('"hello"' in l for l in recs), out
    assert re.search(r"info: \[example\.com\.\] zone transfer, outgoing IXFR over TCP to "
                     r"127\.0\.0\.1@\d+, serial %d -> %d, \d+ messages, \d+ ms"
                     % (old, new), primary.log())
    # Up to date: the SOA alone.
    out = dig(primary, "-y", "hmac-sha256:xfr-key:" + primary.secret, ZONE, "IXFR=%d" % new)
    assert len(records(out)) == 1, out


def test_dig_axfr_without_key_refused(primary):
    out = dig(primary, ZONE, "AXFR")
    assert "REFUSED" in out or "Transfer failed" in out, out
    assert not any("192.0.2.80" in l for l in records(out))
    wait_until(lambda: re.search(r"warning: \[example\.com\.\] zone transfer, refused AXFR from "
                                 r"127\.0\.0\.1@\d+, no TSIG key", primary.log()), 2,
               what="refusal log line")


def test_dig_axfr_wrong_secret_notauth(primary):
    wrong = "AAAA" + primary.secret[4:]
    out = dig(primary, "-y", "hmac-sha256:xfr-key:" + wrong, ZONE, "AXFR")
    assert not any("192.0.2.80" in l for l in records(out)), out
    assert "NOTAUTH" in out or "tsig" in out.lower() or "Transfer failed" in out, out
    wait_until(lambda: re.search(r"refused AXFR from 127\.0\.0\.1@\d+, TSIG key 'xfr-key\.', "
                                 r"signature does not verify \(BADSIG\)", primary.log()), 2,
               what="BADSIG log line")


def test_dig_unknown_key_and_key_not_allowed(primary):
    out = dig(primary, "-y", "hmac-sha256:nobody:" + primary.secret, ZONE, "AXFR")
    assert not any("192.0.2.80" in l for l in records(out)), out
    out = dig(primary, "-y", "hmac-sha512:other-key:" + primary.other, ZONE, "AXFR")
    assert not any("192.0.2.80" in l for l in records(out)), out
    assert "REFUSED" in out or "Transfer failed" in out, out
    log = primary.log()
    assert re.search(r"TSIG key 'nobody\.' unknown \(BADKEY\)", log)
    assert re.search(r"refused AXFR from 127\.0\.0\.1@\d+, TSIG key 'other-key\.' not allowed",
                     log)


def test_plain_queries_refused_soa_answered(primary):
    out = dig(primary, "www." + ZONE, "A")
    assert "status: REFUSED" in out, out
    out = dig(primary, ZONE, "SOA")
    assert "status: NOERROR" in out and "ANSWER: 1" in out, out
    out = dig(primary, "nonexistent.test.", "SOA")
    assert "status: REFUSED" in out, out
    # UDP at the same address: refused too, and SOA sent on to TCP (TC).
    udp = ["dig", "@127.0.0.1", "-p", str(primary.xfr_port), "+time=3", "+tries=1"]
    out = subprocess.run(udp + ["www." + ZONE, "A"], capture_output=True, text=True,
                         timeout=20).stdout
    assert "status: REFUSED" in out, out
    out = subprocess.run(udp + [ZONE, "SOA"], capture_output=True, text=True,
                         timeout=20).stdout
    assert "Truncated, retrying in TCP mode" in out and "ANSWER: 1" in out, out


def test_sha512_key_and_catalog_acl(primary):
    # The zone allows a second key, hmac-sha512.
    primary.api("PUT", "/zones/" + ZONE, {"master_tsig_key_ids": ["xfr-key.", "other-key."]})
    out = dig(primary, "-y", "hmac-sha512:other-key:" + primary.other, ZONE, "AXFR")
    assert any("192.0.2.80" in l for l in records(out)), out
    # The catalog lists every account's zones: a member's key is not enough ...
    cat = "catalog.anycst.invalid."
    out = dig(primary, "-y", "hmac-sha256:xfr-key:" + primary.secret, cat, "AXFR")
    assert not any("PTR" in l for l in records(out)), out
    assert re.search(r"refused AXFR from 127\.0\.0\.1@\d+, TSIG key 'xfr-key\.' not allowed",
                     primary.log())
    # ... a key the admin allowed for the catalog may (issue 12).
    lone = primary.add_key("lone-key.")
    primary.allow_catalog("lone-key.")
    out = dig(primary, "-y", "hmac-sha256:lone-key:" + lone, cat, "AXFR")
    recs = records(out)
    assert any("PTR" in l and l.split()[4] == ZONE for l in recs), out


def test_ipv6_listener():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        port = s.getsockname()[1]
        s.close()
    except OSError:
        pytest.skip("no ::1")
    with TmpDir() as d:
        p = Primary(d, extra=["--xfr", "[::1]:%d" % port])
        try:
            secret = p.add_key("xfr-key.")
            p.add_zone(ZONE, keys=["xfr-key."])
            r = subprocess.run(["dig", "@::1", "-p", str(port), "-y",
                                "hmac-sha256:xfr-key:" + secret, ZONE, "AXFR"],
                               capture_output=True, text=True, timeout=30).stdout
            assert "XFR size" in r, r
            assert re.search(r"outgoing AXFR over TCP to ::1@\d+", p.log())
        finally:
            p.stop()


def test_axfr_consistent_during_writes(primary):
    """Each AXFR shows one version: while PATCHes keep changing two TXT
    records together (always equal), every transfer has them equal and its
    SOA serial first and last the same."""
    import threading
    import dns.query
    for b in range(0, 20000, 2000):
        primary.api("PATCH", "/zones/" + ZONE, {"rrsets": [
            {"name": "h%d.%s" % (i, ZONE), "type": "A", "ttl": 60, "changetype": "REPLACE",
             "records": [{"content": "10.0.%d.%d" % (i >> 8 & 255, i & 255),
                          "disabled": False}]} for i in range(b, b + 2000)]})
    stop = threading.Event()
    errors = []

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            try:
                primary.api("PATCH", "/zones/" + ZONE, {"rrsets": [
                    {"name": x + "." + ZONE, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
                     "records": [{"content": '"%d"' % n, "disabled": False}]}
                    for x in ("pair-a", "pair-b")]})
            except AssertionError as e:
                errors.append(e)
                return
    t = threading.Thread(target=writer)
    t.start()
    kr = keyring("xfr-key.", primary.secret)
    serials = set()
    try:
        for _ in range(8):
            recs = []
            for m in dns.query.xfr("127.0.0.1", ZONE, port=primary.xfr_port, keyring=kr,
                                   keyname="xfr-key.", lifetime=30, relativize=False):
                for rrset in m.answer:
                    for rd in rrset:
                        recs.append((rrset.name.to_text(), rd))
            assert recs[0][1].rdtype == 6 and recs[-1][1].rdtype == 6
            assert recs[0][1].serial == recs[-1][1].serial
            serials.add(recs[0][1].serial)
            txt = {n: rd.to_text() for n, rd in recs if rd.rdtype == 16}
            assert txt.get("pair-a." + ZONE) == txt.get("pair-b." + ZONE), txt
            assert len(recs) > 20000
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert len(serials) > 1   # the zone did change between transfers
