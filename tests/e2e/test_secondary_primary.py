"""The whole anycst flow over TCP: anycst-primary (REST API, catalog, NOTIFY,
XFR with TSIG) and anycst-secondary following its catalog.  Zones created,
changed and deleted through the API show up at the secondary without a
restart, by NOTIFY + IXFR, and what it serves equals the primary's export."""
import time

import dns.rcode
import dns.rdatatype
import pytest

from anycst_e2e import Primary, Secondary, TmpDir, export_set, free_port, tsig_file_args, wait_until

KEY = "pop-key."


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def served_set(sec, export_text, zone):
    """Our answers for every (name, type) of the export, as export_set's tuples."""
    want = export_set(export_text, zone)
    out = set()
    for name, rdtype in sorted({(n, t) for n, _, t, _ in want}):
        r = sec.query(name, rdtype, tcp=True)
        assert r.rcode() == dns.rcode.NOERROR, (name, rdtype)
        for rrset in r.answer:
            if rrset.name.to_text().lower() == name and \
                    dns.rdatatype.to_text(rrset.rdtype) == rdtype:
                for rd in rrset:
                    out.add((name, rrset.ttl, rdtype, rd.to_text().lower()))
    return want, out


def test_secondary_follows_anycst_primary(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone("example.com.", keys=[KEY], records=[
            {"name": "www.example.com.", "type": "A", "ttl": 300,
             "records": [{"content": "192.0.2.10", "disabled": False}]}])
        sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                        extra=tsig_file_args(tmp, KEY, secret)).start()
        wait_until(lambda: sec.serial("example.com.") == p.serial("example.com."), 10,
                   what="zone from the catalog")
        want, got = served_set(sec, p.export("example.com."), "example.com.")
        assert got == want
        log = sec.logtext()
        assert "[catalog.anycst.invalid.] zone transfer, incoming AXFR over TCP" in log
        assert "info: [example.com.] zone added, member of catalog catalog.anycst.invalid." in log

        # A change through the API: NOTIFY, IXFR, served within a second.
        t0 = time.monotonic()
        p.api("PATCH", "/zones/example.com.", {"rrsets": [
            {"name": "www.example.com.", "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.11", "disabled": False},
                         {"content": "192.0.2.12", "disabled": False}]}]})
        target = p.serial("example.com.")
        wait_until(lambda: sec.serial("example.com.") == target, 5, what="IXFR applied")
        assert time.monotonic() - t0 < 3.0   # NOTIFY-driven, not the catalog's refresh timer
        assert "info: [example.com.] zone transfer, incoming IXFR over TCP from 127.0.0.1" \
            in sec.logtext()
        want, got = served_set(sec, p.export("example.com."), "example.com.")
        assert got == want

        # A new zone appears through the catalog, a deleted one goes away.
        p.add_zone("example.net.", keys=[KEY])
        wait_until(lambda: sec.serial("example.net.") == p.serial("example.net."), 10,
                   what="new member")
        p.api("DELETE", "/zones/example.com.")
        wait_until(lambda: sec.query("www.example.com.").rcode() == dns.rcode.REFUSED, 10,
                   what="member dropped")
        status, body = sec.http("/healthz")
        assert status == 200, body
    finally:
        if sec:
            sec.stop()
        p.stop()


def test_secondary_follows_anycst_primary_over_quic(tmp):
    """The same flow over XoQ (RFC 9250) with the primary's pinned key."""
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        server = p.api("GET", "")
        pin = server.get("quic_spki_pin") if isinstance(server, dict) else None
        if not pin:
            pytest.skip("anycst-primary does not serve XoQ yet (no quic_spki_pin)")
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone("example.com.", keys=[KEY])
        sec = Secondary(tmp, p.quic_port, port=sport, tsig=False, name="secq",
                        extra=tsig_file_args(tmp, KEY, secret) + ["--pin", pin])
        i = sec.args.index("--transport")
        sec.args[i + 1] = "quic"
        sec.start()
        wait_until(lambda: sec.serial("example.com.") == p.serial("example.com."), 10,
                   what="zone over QUIC")
        assert "zone transfer, incoming AXFR over QUIC from 127.0.0.1" in sec.logtext()
        p.api("PATCH", "/zones/example.com.", {"rrsets": [
            {"name": "www.example.com.", "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.21", "disabled": False}]}]})
        target = p.serial("example.com.")
        wait_until(lambda: sec.serial("example.com.") == target, 5, what="IXFR over QUIC")
        assert "info: [example.com.] zone transfer, incoming IXFR over QUIC from 127.0.0.1" \
            in sec.logtext()
        want, got = served_set(sec, p.export("example.com."), "example.com.")
        assert got == want
    finally:
        if sec:
            sec.stop()
        p.stop()
