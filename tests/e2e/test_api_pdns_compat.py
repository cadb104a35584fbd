"""PowerDNS API clients unchanged (issue 16), the PATCH shapes real clients send:

- REPLACE with "comments" and no "records" (PowerDNS-Admin, octoDNS comments)
  keeps the records and sets the comments; a TTL given with it applies.
- "records": null on DELETE (go-powerdns: Terraform, external-dns) deletes.
- The server object reports the PowerDNS API level in "version" (octoDNS picks
  its behaviour by it) and our own version in "anycst_version".
"""
import re
ZONE = "compat.example."


def rrset(p, name, rtype):
    z = p.json("GET", "/zones/%s?rrset_name=%s&rrset_type=%s" % (ZONE, name, rtype), expect=200)
    return [r for r in z["rrsets"] if r["name"] == name and r["type"] == rtype]


def setup_zone(p):
    st, _, body = p.call("POST", "/zones", {
        "name": ZONE, "kind": "Native", "nameservers": ["ns1.example.net."],
        "rrsets": [{"name": "www." + ZONE, "type": "A", "ttl": 300,
                    "records": [{"content": "192.0.2.1", "disabled": False},
                                {"content": "192.0.2.2", "disabled": False}]}]})
    assert st == 201, body


def test_replace_with_comments_only_keeps_records(primary):
    p = primary
    setup_zone(p)
    serial = p.json("GET", "/zones/" + ZONE)["serial"]
    st, _, body = p.call("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": "www." + ZONE, "type": "A", "changetype": "REPLACE",
        "comments": [{"content": "web servers", "account": "ops"}]}]})
    assert st == 204, body
    rs = rrset(p, "www." + ZONE, "A")
    assert len(rs) == 1, rs
    assert sorted(r["content"] for r in rs[0]["records"]) == ["192.0.2.1", "192.0.2.2"], rs
    assert rs[0]["ttl"] == 300, rs
    assert [c["content"] for c in rs[0]["comments"]] == ["web servers"], rs
    # records unchanged: no new serial for the secondaries to fetch
    assert p.json("GET", "/zones/" + ZONE)["serial"] == serial
    # a TTL given with it applies to the records kept
    st, _, body = p.call("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": "www." + ZONE, "type": "A", "changetype": "REPLACE", "ttl": 600}]})
    assert st == 204, body
    rs = rrset(p, "www." + ZONE, "A")
    assert rs[0]["ttl"] == 600 and len(rs[0]["records"]) == 2, rs
    assert [c["content"] for c in rs[0]["comments"]] == ["web servers"], rs
    # "records": [] still empties the rrset
    st, _, body = p.call("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": "www." + ZONE, "type": "A", "changetype": "REPLACE", "ttl": 600,
        "records": [], "comments": []}]})
    assert st == 204, body
    assert rrset(p, "www." + ZONE, "A") == []


def test_delete_with_records_null(primary):
    p = primary
    setup_zone(p)
    st, _, body = p.call("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": "www." + ZONE, "type": "A", "changetype": "DELETE", "records": None}]})
    assert st == 204, body
    assert rrset(p, "www." + ZONE, "A") == []


def test_server_reports_the_powerdns_api_level(primary):
    p = primary
    s = p.json("GET", "", expect=200)
    assert s["version"] == "4.9.0", s
    assert re.fullmatch(r"\d+\.\d+\.\d+", s["anycst_version"]) and s["anycst_version"] != "4.9.0", s
    for srv in p.json("GET", "/api/v1/servers", expect=200):
        assert srv["version"] == "4.9.0", srv
