"""Catalog consumer (RFC 9432 v2): with --catalog and no --zone the secondary
transfers the catalog, serves every member, and follows additions and
removals (made at knotd with DNS UPDATE) without a restart; members come
back from the state directory after a restart with the primary down."""
import shutil
import tempfile

import dns.rcode

from anycst_e2e import Knot, Secondary, free_port, soa_text, wait_until
from anycst_e2e.state import zone_state

CAT = "cat.test."


def member_zone(name, serial, addr):
    return ("$ORIGIN %s\n$TTL 300\n%s\n@ NS ns\nns A 127.0.0.1\nwww A %s\n"
            % (name, soa_text(serial), addr))


def catalog(members, serial=1, version="2"):
    text = ("$ORIGIN %s\n$TTL 0\n@ SOA invalid. invalid. %d 3600 600 86400 0\n@ NS invalid.\n"
            "version TXT \"%s\"\n" % (CAT, serial, version))
    for label, zone in members:
        text += "%s.zones PTR %s\n" % (label, zone)
    # a property below a member: not a member itself
    text += "group.m1.zones TXT \"blue\"\n"
    return text


def test_secondary_catalog_members_follow():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-cat-")
    sport = free_port()
    zones = {
        CAT: catalog([("m1", "one.test."), ("m2", "two.test.")]),
        "one.test.": member_zone("one.test.", 11, "192.0.2.11"),
        "two.test.": member_zone("two.test.", 22, "192.0.2.22"),
        "three.test.": member_zone("three.test.", 33, "192.0.2.33"),
    }
    knot = Knot(tmp, zones, notify_to="127.0.0.1@%d" % sport).start()
    sec = Secondary(tmp, knot.port, catalog=CAT, port=sport).start()
    try:
        wait_until(lambda: sec.serial("one.test.") == 11 and sec.serial("two.test.") == 22, 10,
                   what="members served")
        assert sec.query("www.three.test.").rcode() == dns.rcode.REFUSED
        # The catalog itself is followed but not answered: it lists every zone.
        assert sec.query("version." + CAT, "TXT").rcode() == dns.rcode.REFUSED
        log = sec.logtext()
        assert "info: [one.test.] zone added, member of catalog cat.test." in log
        assert "[group.m1.zones.cat.test.]" not in log

        # Add a member: no restart.
        knot.update(CAT, lambda u: u.add("m3.zones", 0, "PTR", "three.test."))
        wait_until(lambda: sec.serial("three.test.") == 33, 10, what="member added")
        r = sec.query("www.three.test.")
        assert r.answer[0][0].to_text() == "192.0.2.33"

        # Remove one: it stops being served and its state goes away.
        assert zone_state(sec.state_dir, "one.test.") is not None
        knot.update(CAT, lambda u: u.delete("m1.zones", "PTR"))
        wait_until(lambda: sec.query("www.one.test.").rcode() == dns.rcode.REFUSED, 10,
                   what="member removed")
        assert "info: [one.test.] zone removed, no longer in catalog cat.test." in sec.logtext()
        wait_until(lambda: zone_state(sec.state_dir, "one.test.") is None, 5,
                   what="state removed")
        assert sec.serial("two.test.") == 22
        status, body = sec.http("/healthz")
        assert status == 200, body
        status, body = sec.http("/metrics")
        assert 'anycst_secondary_zone_serial{pop="pop-test",zone="three.test."} 33' in body
        assert 'zone="one.test."' not in body

        # Restart with the primary down: catalog and members from the state directory.
        sec.stop()
        knot.stop()
        sec.start()
        assert sec.serial("two.test.") == 22
        assert sec.serial("three.test.") == 33
        assert sec.query("www.one.test.").rcode() == dns.rcode.REFUSED
    finally:
        sec.stop()
        knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_secondary_catalog_wrong_version_not_processed():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-catv-")
    zones = {
        CAT: catalog([("m1", "one.test.")], version="1"),
        "one.test.": member_zone("one.test.", 11, "192.0.2.11"),
    }
    knot = Knot(tmp, zones).start()
    sec = Secondary(tmp, knot.port, catalog=CAT).start()
    try:
        wait_until(lambda: "catalog schema version is not 2, not processed" in sec.logtext(), 10,
                   what="version refused")
        assert sec.query("www.one.test.").rcode() == dns.rcode.REFUSED
    finally:
        sec.stop()
        knot.stop()
        shutil.rmtree(tmp, ignore_errors=True)
