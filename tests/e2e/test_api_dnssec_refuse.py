"""DNSSEC requests the primary cannot honour are refused (issue 15): without
--dnssec-key-file a zone asking for `"dnssec": true` gets 422 naming the option;
a `nsec3param` without `"dnssec": true`, `"presigned": true` or
`"nsec3narrow": true` (POST or PUT) gets 422 naming the field, and records only a signer makes (RRSIG,
NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY) are refused in rrsets and in zone
text with 422 naming the record.  Nothing is half-applied: no zone is created,
serial and journal stay as they were.  `"dnssec": false` stays accepted."""
import json

import pytest

Z = "sig.example."

DNSSEC_RRS = [
    ("DNSKEY", "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
               "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="),
    ("CDNSKEY", "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
                "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="),
    ("CDS", "55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17"),
    ("RRSIG", "A 13 2 3600 20150420235959 20051021000000 55648 " + Z +
              " qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep"
              "666VCw=="),
    ("NSEC", "www." + Z + " A NS SOA RRSIG NSEC DNSKEY"),
    ("NSEC3", "1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG"),
    ("NSEC3PARAM", "1 0 0 -"),
]


WHY = {"dnssec": "dnssec: signing needs the primary started with --dnssec-key-file",
       "nsec3param": 'nsec3param: needs "dnssec": true',
       "presigned": "presigned: pre-signed zones are not supported",
       "nsec3narrow": "nsec3narrow: only false is supported"}


def rr(name, typ, ttl, *contents, changetype="REPLACE"):
    return {"name": name, "type": typ, "ttl": ttl, "changetype": changetype,
            "records": [{"content": c, "disabled": False} for c in contents]}


def zone_names(primary):
    return {z["name"] for z in primary.json("GET", "/zones", expect=200)}


def err_of(payload):
    return json.loads(payload)["error"]


@pytest.mark.parametrize("field,value", [
    ("dnssec", True), ("nsec3param", "1 0 0 -"), ("presigned", True), ("nsec3narrow", True),
    ("dnssec", "yes")])
def test_create_with_dnssec_fields_refused(primary, field, value):
    body = {"name": Z, "kind": "Native", "nameservers": ["ns1.example.net."], field: value}
    st, _, payload = primary.call("POST", "/zones", body)
    assert st == 422, (st, payload)
    e = err_of(payload)
    assert e.startswith(field + ":"), e
    assert e.startswith(WHY[field] if value != "yes" else field + ": not a boolean"), e
    assert Z not in zone_names(primary)


def test_create_with_dnssec_false_accepted(primary):
    primary.create_zone(Z, dnssec=False, presigned=False, nsec3param="", nsec3narrow=False)
    z = primary.json("GET", "/zones/" + primary.zone_id(Z), expect=200)
    assert z["dnssec"] is False


@pytest.mark.parametrize("field,value", [
    ("dnssec", True), ("nsec3param", "1 0 0 -"), ("presigned", True)])
def test_put_with_dnssec_fields_refused(primary, field, value):
    primary.create_zone(Z)
    serial = primary.serial(Z)
    st, _, payload = primary.call("PUT", "/zones/" + primary.zone_id(Z),
                                  {"kind": "Master", field: value})
    assert st == 422, (st, payload)
    assert err_of(payload).startswith(WHY[field]), payload
    z = primary.json("GET", "/zones/%s?rrsets=false" % primary.zone_id(Z), expect=200)
    assert z["serial"] == serial and z["kind"] == "Native" and z["dnssec"] is False
    # false is still fine
    st, _, payload = primary.call("PUT", "/zones/" + primary.zone_id(Z),
                                  {"kind": "Master", "dnssec": False})
    assert st == 204, payload


@pytest.mark.parametrize("typ,content", DNSSEC_RRS, ids=[t for t, _ in DNSSEC_RRS])
def test_patch_with_dnssec_type_refused(primary, typ, content):
    primary.create_zone(Z)
    serial = primary.serial(Z)
    _, before = primary.journal(Z)[::2]
    st, _, payload = primary.call("PATCH", "/zones/" + primary.zone_id(Z), {"rrsets": [
        rr("www." + Z, "A", 300, "192.0.2.1"), rr(Z, typ, 300, content)]})
    assert st == 422, (st, payload)
    e = err_of(payload)
    assert e.startswith("rrsets[1]: %s %s:" % (Z, typ)), e
    assert "DNSSEC" in e
    assert primary.serial(Z) == serial
    assert primary.journal(Z)[2] == before
    names = {(r["name"], r["type"])
             for r in primary.json("GET", "/zones/" + primary.zone_id(Z), expect=200)["rrsets"]}
    assert ("www." + Z, "A") not in names and (Z, typ) not in names


@pytest.mark.parametrize("typ,content", DNSSEC_RRS, ids=[t for t, _ in DNSSEC_RRS])
def test_create_with_dnssec_type_refused(primary, typ, content):
    st, _, payload = primary.call("POST", "/zones", {
        "name": Z, "kind": "Native", "nameservers": ["ns1.example.net."],
        "rrsets": [rr("www." + Z, typ, 300, content)]})
    assert st == 422, (st, payload)
    assert err_of(payload).startswith("rrsets[0]: www.%s %s:" % (Z, typ)), payload
    assert Z not in zone_names(primary)


@pytest.mark.parametrize("typ,content", DNSSEC_RRS, ids=[t for t, _ in DNSSEC_RRS])
def test_zone_text_with_dnssec_type_refused(primary, typ, content):
    text = ("$ORIGIN %s\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 1 7200 3600 1209600 300\n"
            "@ NS ns1.example.net.\nwww A 192.0.2.1\nsub %s %s\n" % (Z, typ, content))
    st, _, payload = primary.call("POST", "/zones", {"name": Z, "kind": "Native", "zone": text})
    assert st == 422, (st, payload)
    e = err_of(payload)
    assert e.startswith("zone: record 'sub.%s %s'" % (Z, typ)), e
    assert "DNSSEC" in e
    assert Z not in zone_names(primary)


def test_ds_at_delegation_still_accepted(primary):
    """DS is the parent side of a delegation, the user's to set: not refused."""
    primary.create_zone(Z)
    primary.patch(Z, [rr("child." + Z, "NS", 300, "ns1.child." + Z),
                      rr("child." + Z, "DS", 300, "55648 13 2 b4c8c1fe2e7477127b27115656ad6256"
                                                    "f424625bf5c1e2770ce6d6e37df61d17")])
