"""DNS UPDATE (RFC 2136) on the primary's transfer listener, with `nsupdate -y`
(bind9-utils) and dnspython: TSIG required (unsigned: REFUSED), a key changes only
the zones whose update_tsig_key_ids list it (another zone: NOTAUTH), prerequisites
checked with the change, each change served by an anycst-secondary afterwards;
malformed UPDATEs answered FORMERR, never a crash; SOA queries answered
authoritatively, signed when asked signed (certbot's zone discovery)."""
import json
import socket
import struct
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from anycst_e2e import Primary, Secondary, free_port, tsig_file_args, wait_until

ZONE = "upd.example."
OTHER = "other.example."
XFR_KEY = "pop-key."
UPD_KEY = "upd-key."


def nsupdate(p, secret, script, key=UPD_KEY, tcp=True):
    """Runs nsupdate -y with `script` (lines, `send` added); (rc, output)."""
    text = "server 127.0.0.1 %d\n%s\nsend\n" % (p.xfr_port, script.strip())
    argv = ["nsupdate", "-y", "hmac-sha256:%s:%s" % (key.rstrip("."), secret), "-t", "5"]
    if tcp:
        argv.append("-v")
    r = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def answers(sec, name, rdtype="A"):
    r = sec.query(name, rdtype, tcp=True)
    if r.rcode() != dns.rcode.NOERROR:
        return None
    return sorted(rd.to_text() for rrset in r.answer if rrset.rdtype ==
                  dns.rdatatype.from_text(rdtype) for rd in rrset)


def start_pair(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    xs = p.add_key(XFR_KEY)
    us = p.add_key(UPD_KEY)
    p.allow_catalog(XFR_KEY)
    p.add_zone(ZONE, keys=[XFR_KEY])
    p.add_zone(OTHER, keys=[XFR_KEY])
    p.api("PUT", "/zones/" + ZONE, {"update_tsig_key_ids": [UPD_KEY]})
    sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                    extra=tsig_file_args(tmp, XFR_KEY, xs)).start()
    for z in (ZONE, OTHER):
        wait_until(lambda: sec.serial(z) == p.serial(z), 10, what="secondary has " + z)
    return p, sec, us


def test_nsupdate_with_prerequisites(tmp_path):
    p, sec, secret = start_pair(str(tmp_path))
    try:
        z = p.json("GET", "/zones/" + ZONE, expect=200)
        assert z["update_tsig_key_ids"] == [UPD_KEY]
        assert p.json("GET", "/zones/" + OTHER, expect=200)["update_tsig_key_ids"] == []
        # an unknown key, or a list of something else: 422 naming the field
        st, _, body = p.call("PUT", "/zones/" + OTHER, {"update_tsig_key_ids": ["nope."]})
        assert st == 422 and b"update_tsig_key_ids[0]" in body, body
        st, _, body = p.call("PUT", "/zones/" + OTHER, {"update_tsig_key_ids": "x"})
        assert st == 422 and b"update_tsig_key_ids" in body, body
        start = p.serial(ZONE)
        name = "www." + ZONE
        # add, with "nxdomain" holding (the name is free)
        rc, out = nsupdate(p, secret, "zone %s\nprereq nxdomain %s\nupdate add %s 300 A "
                           "192.0.2.1" % (ZONE, name, name))
        assert rc == 0, out
        wait_until(lambda: answers(sec, name) == ["192.0.2.1"], 5, what="secondary serves add")
        # "nxdomain" now fails: YXDOMAIN, nothing changed
        serial = p.serial(ZONE)
        rc, out = nsupdate(p, secret, "zone %s\nprereq nxdomain %s\nupdate add %s 300 A "
                           "192.0.2.9" % (ZONE, name, name))
        assert rc != 0 and "YXDOMAIN" in out, out
        assert p.serial(ZONE) == serial
        # yxrrset (value-independent) holds: add a second address over UDP
        rc, out = nsupdate(p, secret, "zone %s\nprereq yxrrset %s A\nupdate add %s 300 A "
                           "192.0.2.2" % (ZONE, name, name), tcp=False)
        assert rc == 0, out
        wait_until(lambda: answers(sec, name) == ["192.0.2.1", "192.0.2.2"], 5,
                   what="secondary serves the second address")
        # value-dependent yxrrset with the wrong set: NXRRSET
        rc, out = nsupdate(p, secret, "zone %s\nprereq yxrrset %s A 192.0.2.1\n"
                           "update delete %s A" % (ZONE, name, name))
        assert rc != 0 and "NXRRSET" in out, out
        # nxrrset on a present rrset: YXRRSET
        rc, out = nsupdate(p, secret, "zone %s\nprereq nxrrset %s A\nupdate delete %s A" %
                           (ZONE, name, name))
        assert rc != 0 and "YXRRSET" in out, out
        # the exact set: delete one record, then the TXT added beside it
        rc, out = nsupdate(p, secret, "zone %s\nprereq yxrrset %s A 192.0.2.1\n"
                           "prereq yxrrset %s A 192.0.2.2\nupdate delete %s A 192.0.2.1\n"
                           "update add _acme-challenge.%s 60 TXT \"token-1\"" %
                           (ZONE, name, name, name, ZONE))
        assert rc == 0, out
        wait_until(lambda: answers(sec, name) == ["192.0.2.2"], 5, what="one address deleted")
        wait_until(lambda: answers(sec, "_acme-challenge." + ZONE, "TXT") == ['"token-1"'], 5,
                   what="TXT served")
        # yxdomain, then delete the whole name
        rc, out = nsupdate(p, secret, "zone %s\nprereq yxdomain %s\nupdate delete %s" %
                           (ZONE, name, name))
        assert rc == 0, out
        wait_until(lambda: sec.query(name, "A", tcp=True).rcode() == dns.rcode.NXDOMAIN, 5,
                   what="name deleted at the secondary")
        # four changes went through: four serial bumps, one journal entry each
        assert p.serial(ZONE) == start + 4
        st, _, body = p.journal(ZONE, since=start)
        assert st == 200
        entries = json.loads(body)["entries"]
        assert [(e["serial_from"], e["serial_to"]) for e in entries] == \
            [(start + i, start + i + 1) for i in range(4)]
        wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 5, what="secondary current")
        log = p.log()
        assert "DNS UPDATE from 127.0.0.1" in log
    finally:
        sec.stop()
        p.stop()


def update_msg(zone, key=UPD_KEY, secret=None, add=("www", 300, "A", "192.0.2.7")):
    kw = {}
    if secret is not None:
        kw = dict(keyring=dns.tsigkeyring.from_text({key: ("hmac-sha256", secret)}),
                  keyname=key, keyalgorithm=dns.tsig.HMAC_SHA256)
    u = dns.update.Update(zone, **kw)
    u.add(*add)
    return u


def test_scope_unsigned_and_soa(tmp_path):
    p, sec, secret = start_pair(str(tmp_path))
    try:
        serial_other = p.serial(OTHER)
        # a key scoped to ZONE cannot change OTHER, over TCP or UDP
        for send in (dns.query.tcp, dns.query.udp):
            r = send(update_msg(OTHER, secret=secret), "127.0.0.1", port=p.xfr_port, timeout=5)
            assert r.rcode() == dns.rcode.NOTAUTH
        assert p.serial(OTHER) == serial_other
        # a zone we do not have: NOTAUTH
        r = dns.query.tcp(update_msg("nope.example.", secret=secret), "127.0.0.1",
                          port=p.xfr_port, timeout=5)
        assert r.rcode() == dns.rcode.NOTAUTH
        # unsigned: REFUSED
        for send in (dns.query.tcp, dns.query.udp):
            r = send(update_msg(ZONE), "127.0.0.1", port=p.xfr_port, timeout=5)
            assert r.rcode() == dns.rcode.REFUSED
        # a wrong secret: NOTAUTH (BADSIG), not applied
        serial = p.serial(ZONE)
        bad = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
        try:
            r = dns.query.tcp(update_msg(ZONE, secret=bad), "127.0.0.1", port=p.xfr_port,
                              timeout=5)
            assert r.rcode() == dns.rcode.NOTAUTH
        except dns.tsig.PeerBadSignature:
            pass
        assert p.serial(ZONE) == serial
        # a name outside the zone: NOTZONE
        r = dns.query.tcp(update_msg(ZONE, secret=secret, add=("www.other.example.", 300, "A",
                                                               "192.0.2.8")),
                          "127.0.0.1", port=p.xfr_port, timeout=5)
        assert r.rcode() == dns.rcode.NOTZONE
        # SOA of the zone, signed (certbot asks so) over TCP and UDP: signed, authoritative
        ring = dns.tsigkeyring.from_text({UPD_KEY: ("hmac-sha256", secret)})
        for send in (dns.query.tcp, dns.query.udp):
            q = dns.message.make_query(ZONE, "SOA")
            q.use_tsig(ring, keyname=UPD_KEY, algorithm=dns.tsig.HMAC_SHA256)
            r = send(q, "127.0.0.1", port=p.xfr_port, timeout=5)
            assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
            assert r.had_tsig
            assert r.get_rrset(r.answer, dns.name.from_text(ZONE), dns.rdataclass.IN,
                               dns.rdatatype.SOA)
        # SOA of a name below the zone (lego's and certbot's walk up): NOERROR, no
        # answer, the zone's SOA in authority; a name under no zone of ours: REFUSED
        r = dns.query.tcp(dns.message.make_query("_acme-challenge.www." + ZONE, "SOA"),
                          "127.0.0.1", port=p.xfr_port, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer
        assert r.authority[0].name == dns.name.from_text(ZONE)
        assert r.authority[0].rdtype == dns.rdatatype.SOA
        r = dns.query.tcp(dns.message.make_query("nowhere.invalid.", "SOA"), "127.0.0.1",
                          port=p.xfr_port, timeout=5)
        assert r.rcode() == dns.rcode.REFUSED
        # unsigned SOA over UDP: still TC (no amplification)
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=p.xfr_port,
                          timeout=5, ignore_trailing=True)
        assert r.flags & dns.flags.TC and not r.answer
    finally:
        sec.stop()
        p.stop()


def raw_update(zone_wire, body=b"", counts=(0, 0, 0)):
    hdr = struct.pack("!HHHHHH", 0x1234, 5 << 11, 1, *counts)
    return hdr + zone_wire + struct.pack("!HH", 6, 1) + body


def test_malformed_updates_formerr(tmp_path):
    p, sec, secret = start_pair(str(tmp_path))
    try:
        zw = b"\x03upd\x07example\x00"
        cases = [
            raw_update(zw, counts=(0, 3, 0)),                      # counts past the data
            raw_update(zw, b"\x03www" + b"\x00" * 3, (0, 1, 0)),   # cut RR
            raw_update(zw, b"\xc0\xff" + b"\x00" * 10, (0, 1, 0)),  # bad pointer
            b"\x12\x34\x28\x00\x00\x02",                           # short header
            raw_update(zw)[:14],                                   # cut zone section
        ]
        for pkt in cases:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(pkt, ("127.0.0.1", p.xfr_port))
            try:
                data, _ = s.recvfrom(4096)
                assert len(data) >= 12 and data[3] & 0xF in (1, 5), data  # FORMERR (or REFUSED)
                assert len(data) <= max(len(pkt), 12)
            except socket.timeout:
                assert len(pkt) < 12  # only a short header goes unanswered
            s.close()
            c = socket.create_connection(("127.0.0.1", p.xfr_port), timeout=5)
            c.sendall(struct.pack("!H", len(pkt)) + pkt)
            try:
                hdr = c.recv(2)
            except ConnectionResetError:
                hdr = b""
            assert hdr or len(pkt) < 12  # only a short header gets the stream closed
            if hdr:
                n = struct.unpack("!H", hdr)[0]
                data = b""
                while len(data) < n:
                    chunk = c.recv(n - len(data))
                    if not chunk:
                        break
                    data += chunk
                assert data[3] & 0xF in (1, 5), data
            c.close()
        # a signed UPDATE whose update section is malformed for RFC 2136: FORMERR
        u = update_msg(ZONE, secret=secret)
        u.present("www", "A", "192.0.2.1")
        u.prerequisite[-1].ttl = 5   # a prerequisite with a TTL: FORMERR (RFC 2136 §3.2.1)
        r = dns.query.tcp(u, "127.0.0.1", port=p.xfr_port, timeout=5)
        assert r.rcode() == dns.rcode.FORMERR
        assert p.alive()
        # still serving
        rc, out = nsupdate(p, secret, "zone %s\nupdate add ok.%s 60 A 192.0.2.3" % (ZONE, ZONE))
        assert rc == 0, out
    finally:
        sec.stop()
        p.stop()
