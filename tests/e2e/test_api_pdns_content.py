"""Record content as written (issue 16.4): what a client PATCHes in PowerDNS's
form comes back byte for byte, as PowerDNS (Debian's pdns_server, gsqlite3)
returns it for the same request:

- names in rdata keep their case (CNAME/MX/SRV/NAPTR/... targets), through
  the store, AXFR, IXFR and the secondary's answers; duplicates are still
  found case-insensitively (RFC 4343);
- TXT as sent ("a\\;b" stays so);
- hex lower case in one piece (SSHFP, TLSA, SMIMEA, DS, ZONEMD, "\\#"), base64
  in one piece, CERT numeric, LOC sizes with two decimals, L64/NID groups.
"""
import subprocess

import dns.rdatatype
import pytest

from anycst_e2e import Primary, Secondary, TmpDir, free_port, tsig_file_args, wait_until
from anycst_e2e.pdns import PowerDNS, pdns_available

ZONE = "content.example."

# (type, content in PowerDNS's canonical form): each must come back unchanged
CASES = [
    ("A", "192.0.2.1"), ("AAAA", "2001:db8::1"),
    ("CNAME", "Target.Example.NET."), ("NS", "NS1.Example.net."), ("PTR", "Host.Example.com."),
    ("DNAME", "Other.Example.org."), ("MX", "10 Mail.Example.com."), ("MX", "10 ."),
    ("SRV", "10 20 443 Sip.Example.com."), ("SRV", "10 20 443 ."),
    ("TXT", '"hello world"'), ("TXT", '"a\\;b"'), ("TXT", '"a;b"'),
    ("TXT", '"v=spf1 -all" "second"'), ("TXT", '"quote\\"inside"'), ("TXT", '"\\065bc"'),
    ("TXT", '"caf\\195\\169"'), ("TXT", '"tab\\009x"'), ("TXT", '"a\\b"'),
    ("TXT", '"' + "x" * 300 + '"'), ("SPF", '"v=spf1 -all"'),
    ("SSHFP", "1 1 0123456789abcdef0123456789abcdef01234567"),
    ("SSHFP", "4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("TLSA", "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("SMIMEA", "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("DS", "12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("CAA", '0 issue "letsencrypt.org"'), ("CAA", '128 iodef "mailto:a@example.com"'),
    ("NAPTR", '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'),
    ("NAPTR", '100 10 "S" "SIP+D2U" "" _Sip._udp.Example.com.'),
    ("HINFO", '"PC" "Linux"'), ("RP", "Admin.Example.com. Txt.Example.com."),
    ("AFSDB", "1 Afs.Example.com."), ("KX", "10 Kx.Example.com."),
    ("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000.00m 10.00m"),
    ("CERT", "1 8 0 MIIB"), ("OPENPGPKEY", "mQINBFs="),
    ("DHCID", "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="),
    ("SVCB", "1 Svc.Example.com. alpn=h2,h3 port=8443"),
    ("HTTPS", "1 . alpn=h2 ipv4hint=192.0.2.1"), ("HTTPS", "0 Alias.Example.com."),
    ("IPSECKEY", "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ=="),
    ("MINFO", "Rmail.Example.com. Email.Example.com."),
    ("EUI48", "00-00-5e-00-53-2a"), ("EUI64", "00-00-5e-ef-10-00-00-2a"),
    ("URI", '10 1 "https://example.com/"'), ("APL", "1:192.168.32.0/21 !1:192.168.38.0/28"),
    ("ZONEMD", "2018031500 1 1 febe3d4ce2ec2ffa4ba99d46cd69d6d29711e55217057bee7eb1a7b641a47ba7"
               "fed2dd5b97ae499fafa4f22c6bd647de"),
    ("CSYNC", "66 3 A NS AAAA"), ("L32", "10 10.1.2.0"), ("L64", "10 2001:0DB8:1140:1000"),
    ("LP", "10 L64-Subnet.Example.com."), ("NID", "10 0014:4FFF:FF20:EE64"),
    ("TYPE65534", "\\# 4 0a0b0c0d"),
]


def put(s, i, rtype, content):
    """PATCH one record at r<i>; (status, content read back or error text)."""
    name = "r%d.%s" % (i, ZONE)
    st, _, body = s.call("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": name, "type": rtype, "ttl": 300, "changetype": "REPLACE",
        "records": [{"content": content, "disabled": False}]}]})
    if st != 204:
        return st, body.decode(errors="replace")
    z = s.json("GET", "/zones/%s?rrset_name=%s&rrset_type=%s" % (ZONE, name, rtype), expect=200)
    return st, [r["content"] for rs in z["rrsets"] for r in rs["records"]]


def make_zone(s):
    st, _, body = s.call("POST", "/zones", {"name": ZONE, "kind": "Native",
                                            "nameservers": ["ns1.example.net."]})
    assert st == 201, body


def test_content_comes_back_as_sent(primary):
    make_zone(primary)
    bad = []
    for i, (rtype, content) in enumerate(CASES):
        got = put(primary, i, rtype, content)
        if got != (204, [content]):
            bad.append((rtype, content, got))
    assert bad == []


@pytest.mark.skipif(not pdns_available(), reason="pdns_server with gsqlite3 not installed")
def test_content_as_powerdns_returns_it(primary):
    """Same content in, same content out as PowerDNS 4.7, for every case it accepts."""
    with TmpDir() as d, PowerDNS(d) as pdns:
        make_zone(primary)
        make_zone(pdns)
        bad = []
        for i, (rtype, content) in enumerate(CASES):
            want, got = put(pdns, i, rtype, content), put(primary, i, rtype, content)
            assert want[0] == 204, (rtype, content, want)    # the case list is PowerDNS's form
            if want != got:
                bad.append((rtype, content, want, got))
        assert bad == []


def test_duplicates_are_case_insensitive(primary):
    make_zone(primary)
    st, _, body = primary.call("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": "mx." + ZONE, "type": "MX", "ttl": 300, "changetype": "REPLACE",
        "records": [{"content": "10 Mail.Example.com.", "disabled": False},
                    {"content": "10 mail.example.com.", "disabled": False}]}]})
    assert st == 422 and b"duplicate record" in body, body
    # an EXTEND of the same name in another case replaces the stored case
    primary.patch(ZONE, [{"name": "mx." + ZONE, "type": "MX", "ttl": 300, "changetype": "REPLACE",
                          "records": [{"content": "10 Mail.Example.com.", "disabled": False}]}])
    primary.patch(ZONE, [{"name": "mx." + ZONE, "type": "MX", "ttl": 300, "changetype": "EXTEND",
                          "records": [{"content": "10 MAIL.example.com.", "disabled": False}]}])
    assert put_get(primary, "mx." + ZONE, "MX") == ["10 MAIL.example.com."]
    # a PRUNE matches whatever the case
    primary.patch(ZONE, [{"name": "mx." + ZONE, "type": "MX", "changetype": "PRUNE",
                          "records": [{"content": "10 mail.EXAMPLE.com.", "disabled": False}]}])
    assert put_get(primary, "mx." + ZONE, "MX") == []


def put_get(p, name, rtype):
    z = p.json("GET", "/zones/%s?rrset_name=%s&rrset_type=%s" % (ZONE, name, rtype), expect=200)
    return [r["content"] for rs in z["rrsets"] for r in rs["records"]]


def dig_xfr(p, secret, *q):
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(p.xfr_port), "+tcp", "+time=5",
                        "+tries=1", "-y", "hmac-sha256:case-key:" + secret] + list(q),
                       capture_output=True, text=True, timeout=30)
    return r.stdout


def test_case_survives_transfers_and_answers():
    """CNAME/MX targets with their case: in AXFR, in IXFR, in the secondary's
    answers; a change of case alone reaches the secondary too."""
    with TmpDir() as d:
        sport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % sport])
        sec = None
        try:
            secret = p.add_key("case-key.")
            p.allow_catalog("case-key.")
            p.add_zone(ZONE, keys=["case-key."], records=[
                {"name": "www." + ZONE, "type": "CNAME", "ttl": 300,
                 "records": [{"content": "Target.Example.NET.", "disabled": False}]}])
            axfr = dig_xfr(p, secret, ZONE, "AXFR")
            assert "Target.Example.NET." in axfr, axfr
            sec = Secondary(d, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(d, "case-key.", secret)).start()
            wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 10, what="zone at secondary")

            def served(name, rtype):
                r = sec.query(name, rtype, tcp=True)
                return [rd.to_text() for rs in r.answer
                        if rs.rdtype == dns.rdatatype.from_text(rtype) for rd in rs]
            assert served("www." + ZONE, "CNAME") == ["Target.Example.NET."]
            old = p.serial(ZONE)
            p.patch(ZONE, [{"name": "mx." + ZONE, "type": "MX", "ttl": 300,
                            "changetype": "REPLACE",
                            "records": [{"content": "10 Mail.Example.COM.", "disabled": False}]}])
            ixfr = dig_xfr(p, secret, ZONE, "IXFR=%d" % old)
            assert "10 Mail.Example.COM." in ixfr, ixfr
            wait_until(lambda: served("mx." + ZONE, "MX") == ["10 Mail.Example.COM."], 10,
                       what="MX with its case at the secondary")
            # only the case changes: stored, and served by the secondary too
            p.patch(ZONE, [{"name": "www." + ZONE, "type": "CNAME", "ttl": 300,
                            "changetype": "REPLACE",
                            "records": [{"content": "target.example.net.", "disabled": False}]}])
            assert put_get(p, "www." + ZONE, "CNAME") == ["target.example.net."]
            wait_until(lambda: served("www." + ZONE, "CNAME") == ["target.example.net."], 10,
                       what="new case at the secondary")
            # and after a restart of the primary (from the database)
            p.restart()
            assert put_get(p, "www." + ZONE, "CNAME") == ["target.example.net."]
            assert "target.example.net." in dig_xfr(p, secret, ZONE, "AXFR")
        finally:
            if sec is not None:
                sec.stop()
            p.stop()
