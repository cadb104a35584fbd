"""Names at the API (issue 12.8): raw UTF-8 (U-labels) in a zone name, an
rrset name, a nameserver, a name inside record content or in imported zone
text is refused with 422 suggesting the IDNA2008 A-label, and nothing is
stored; escapes (\\195\\188) and UTF-8 in TXT stay allowed.  A zone at or
under the catalog zone's name is refused."""
import pytest

ZONE = "example.com."
SAN_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.fixture(autouse=True)
def no_sanitizer_report(primary):
    """Under `make test SAN=1` the primary reports memory errors in its log."""
    yield
    primary.stop()
    text = primary.log()
    for bad in SAN_REPORTS:
        assert bad not in text, text[text.index(bad) - 200:][:3000]


def err(st_body, status=422):
    st, _, body = st_body
    assert st == status, (st, body)
    import json
    return json.loads(body)["error"]


def zones(p):
    return sorted(z["name"] for z in p.json("GET", "/zones", expect=200))


def test_zone_name_utf8_refused_with_a_label(primary):
    before = zones(primary)
    e = err(primary.call("POST", "/zones", {"name": "bücher.example.", "kind": "Native",
                                            "nameservers": ["ns1.example.net."]}))
    assert e == ("name: zone name 'bücher.example.' is not ASCII: use its A-label "
                 "'xn--bcher-kva.example.'"), e
    assert zones(primary) == before
    # The A-label itself is a fine zone name.
    primary.create_zone("xn--bcher-kva.example.")
    assert "xn--bcher-kva.example." in zones(primary)


def test_zone_name_without_a_label(primary):
    e = err(primary.call("POST", "/zones", {"name": "\u2603.example.", "kind": "Native"}))
    assert "is not ASCII and has no IDNA2008 A-label" in e, e
    assert "xn--" not in e


def test_nameserver_utf8_refused(primary):
    e = err(primary.call("POST", "/zones", {"name": "example.org.", "kind": "Native",
                                            "nameservers": ["ns1.bücher.example."]}))
    assert e.startswith("nameservers[0]: name 'ns1.bücher.example.' is not ASCII") and \
        "'ns1.xn--bcher-kva.example.'" in e, e
    primary.json("GET", "/zones/example.org.", expect=404)


def test_rrset_name_utf8_refused(primary):
    primary.create_zone(ZONE)
    before = primary.export(ZONE)
    e = err(primary.call("PATCH", "/zones/" + ZONE, {"rrsets": [
        {"name": "www.example.com.", "type": "A", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.1", "disabled": False}]},
        {"name": "bücher.example.com.", "type": "A", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.2", "disabled": False}]}]}))
    assert e == ("rrsets[1].name: name 'bücher.example.com.' is not ASCII: use its A-label "
                 "'xn--bcher-kva.example.com.'"), e
    assert primary.export(ZONE) == before   # nothing half-applied
    # In a POST zone too.
    e = err(primary.call("POST", "/zones", {"name": "example.net.", "kind": "Native", "rrsets": [
        {"name": "bücher.example.net.", "type": "A", "ttl": 60,
         "records": [{"content": "192.0.2.2", "disabled": False}]}]}))
    assert "'xn--bcher-kva.example.net.'" in e, e


@pytest.mark.parametrize("rtype,content,alabel", [
    ("MX", "10 mäil.example.com.", "xn--mil-qla.example.com."),
    ("CNAME", "bücher.example.net.", "xn--bcher-kva.example.net."),
    ("SRV", "0 5 5060 sip.bücher.example.", "sip.xn--bcher-kva.example."),
    ("NS", "ns.bücher.example.", "ns.xn--bcher-kva.example."),
])
def test_name_in_content_utf8_refused(primary, rtype, content, alabel):
    primary.create_zone(ZONE)
    before = primary.export(ZONE)
    e = err(primary.call("PATCH", "/zones/" + ZONE, {"rrsets": [
        {"name": "x.example.com.", "type": rtype, "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": content, "disabled": False}]}]}))
    assert e.startswith("rrsets[0].records[0]: x.example.com. %s: name '" % rtype), e
    assert "is not ASCII: use its A-label '%s'" % alabel in e, e
    assert primary.export(ZONE) == before


def test_escapes_and_utf8_text_still_allowed(primary):
    primary.create_zone(ZONE)
    primary.patch(ZONE, [
        {"name": "b\\195\\188cher.example.com.", "type": "A", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.3", "disabled": False}]},
        {"name": "t.example.com.", "type": "TXT", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": '"grüße"', "disabled": False}]}])
    exp = primary.export(ZONE)
    assert "b\\195\\188cher.example.com." in exp, exp


def test_zone_text_utf8_refused(primary):
    text = ("$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 192.0.2.1\nbücher A 192.0.2.2\n")
    e = err(primary.call("POST", "/zones", {"name": "example.org.", "kind": "Native",
                                            "zone": text}))
    assert "name 'bücher.example.org.' is not ASCII: use its A-label " \
        "'xn--bcher-kva.example.org.'" in e, e
    text = ("$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 192.0.2.1\n@ MX 10 mäil\nt TXT \"grüße\"\n")
    e = err(primary.call("POST", "/zones", {"name": "example.org.", "kind": "Native",
                                            "zone": text}))
    assert "name 'mäil.example.org.' is not ASCII: use its A-label " \
        "'xn--mil-qla.example.org.'" in e, e
    primary.json("GET", "/zones/example.org.", expect=404)
    # UTF-8 in TXT alone is fine.
    text = ("$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 192.0.2.1\nt TXT \"grüße\"\n")
    primary.json("POST", "/zones", {"name": "example.org.", "kind": "Native", "zone": text},
                 expect=201)


@pytest.mark.parametrize("name", ["member.catalog.anycst.invalid.",
                                  "a.b.catalog.anycst.invalid.",
                                  "CATALOG.anycst.invalid."])
def test_zone_at_or_under_catalog_refused(primary, name):
    st, _, body = primary.call("POST", "/zones", {"name": name, "kind": "Native",
                                                  "nameservers": ["ns1.example.net."]})
    assert st in (409, 422), (st, body)
    e = err((st, None, body), st)
    assert "catalog zone" in e, e
    if name.lower() != primary.catalog:
        assert name.lower() not in zones(primary)
        st, _, _ = primary.call("GET", "/zones/" + primary.zone_id(name))
        assert st == 404
