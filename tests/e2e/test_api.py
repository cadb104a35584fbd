"""REST API (issue 3): PowerDNS API v1 shapes and status codes, serial policy,
export checked by named-checkzone, every bad-input case leaving serial and
journal unchanged, keys and accounts, ETag/If-Match, pagination, TSIG keys,
search, metrics, the catalog zone."""
import json
import os
import re
import subprocess
import tempfile
import time

import pytest

Z = "example.com."


def rr(name, typ, ttl, *contents, changetype="REPLACE", **extra):
    d = {"name": name, "type": typ, "ttl": ttl, "changetype": changetype,
         "records": [{"content": c, "disabled": False} for c in contents]}
    d.update(extra)
    return d


def rrsets_of(zone_json):
    return {(r["name"], r["type"]): (r["ttl"], sorted(x["content"] for x in r["records"]))
            for r in zone_json["rrsets"]}


def test_discovery_and_server(primary):
    assert primary.json("GET", "/api", prefix=False, expect=200) == [{"url": "/api/v1",
                                                                       "version": 1}]
    servers = primary.json("GET", "/api/v1/servers", prefix=False, expect=200)
    assert servers[0]["id"] == "localhost" and servers[0]["daemon_type"] == "authoritative"
    s = primary.json("GET", "", expect=200)
    assert re.fullmatch(r"\d+\.\d+\.\d+", s["version"])
    assert s["url"] == "/api/v1/servers/localhost"
    cfg = primary.json("GET", "/config", expect=200)
    assert all(c["type"] == "ConfigSetting" for c in cfg)
    stats = primary.json("GET", "/statistics", expect=200)
    assert any(s["name"] == "uptime" and s["type"] == "StatisticItem" for s in stats)
    # compact JSON with sorted keys
    _, _, body = primary.call("GET", "/api", prefix=False)
    assert body == b'[{"url":"/api/v1","version":1}]'


def test_create_patch_get_delete(primary):
    _, hdrs, body = primary.call("POST", "/zones", {
        "name": Z, "kind": "primary", "nameservers": ["ns1.example.net.", "ns2.example.net."],
        "soa_edit_api": "INCREASE",
        "rrsets": [rr("www." + Z, "A", 300, "192.0.2.1")]})
    z = json.loads(body)
    for k in ("id", "name", "kind", "serial", "rrsets", "url", "account", "dnssec",
              "soa_edit_api", "masters", "notified_serial", "edited_serial"):
        assert k in z, k
    assert z["id"] == Z and z["name"] == Z and z["kind"] == "Master"
    assert z["url"] == "/api/v1/servers/localhost/zones/" + Z
    sets = rrsets_of(z)
    assert sets[(Z, "NS")] == (3600, ["ns1.example.net.", "ns2.example.net."])
    assert sets[("www." + Z, "A")] == (300, ["192.0.2.1"])
    soa = sets[(Z, "SOA")][1][0].split()
    assert int(soa[2]) == z["serial"] == 1
    assert hdrs["etag"] == '"1"'
    # PATCH REPLACE: 204, serial +1, headers
    h, body = primary.patch(Z, [rr("www." + Z, "A", 60, "192.0.2.2", "192.0.2.3"),
                                rr("mail." + Z, "MX", 300, "10 mx.example.net.")])
    assert body == b""
    assert h["x-pdns-old-serial"] == "1" and h["x-pdns-new-serial"] == "2"
    z = primary.json("GET", "/zones/" + Z, expect=200)
    assert z["serial"] == 2
    sets = rrsets_of(z)
    assert sets[("www." + Z, "A")] == (60, ["192.0.2.2", "192.0.2.3"])
    assert sets[("mail." + Z, "MX")] == (300, ["10 mx.example.net."])
    # DELETE rrset
    primary.patch(Z, [{"name": "mail." + Z, "type": "MX", "changetype": "DELETE"}])
    z = primary.json("GET", "/zones/example.com", expect=200)  # id without the dot
    assert ("mail." + Z, "MX") not in rrsets_of(z) and z["serial"] == 3
    # filters
    z = primary.json("GET", "/zones/%s?rrset_name=www.%s&rrset_type=A" % (Z, Z), expect=200)
    assert [(r["name"], r["type"]) for r in z["rrsets"]] == [("www." + Z, "A")]
    z = primary.json("GET", "/zones/%s?rrsets=false" % Z, expect=200)
    assert "rrsets" not in z
    # list, ?zone=, names case-insensitive
    lst = primary.json("GET", "/zones", expect=200)
    assert Z in [x["name"] for x in lst] and all("rrsets" not in x for x in lst)
    assert [x["name"] for x in primary.json("GET", "/zones?zone=EXAMPLE.com.", expect=200)] == [Z]
    assert primary.json("GET", "/zones/EXAMPLE.COM.", expect=200)["serial"] == 3
    # notify is accepted
    st, _, _ = primary.call("PUT", "/zones/%s/notify" % Z)
    assert st == 200
    # delete
    st, _, _ = primary.call("DELETE", "/zones/" + Z)
    assert st == 204
    st, _, body = primary.call("GET", "/zones/" + Z)
    assert st == 404 and "error" in json.loads(body)


def test_unknown_fields_ignored_comments_kept_disabled(primary):
    primary.create_zone(Z, soa_edit_api="INCREASE")
    primary.patch(Z, [{"name": "t." + Z, "type": "TXT", "ttl": 60, "changetype": "replace",
                       "kind": "ignored",
                       "records": [{"content": '"a"', "disabled": False, "name": "x",
                                    "type": "A", "ttl": 5},
                                   {"content": '"b"', "disabled": True}],
                       "comments": [{"content": "for acme", "account": "ops",
                                     "modified_at": 1700000000}]}])
    z = primary.json("GET", "/zones/" + Z, expect=200)
    t = [r for r in z["rrsets"] if r["name"] == "t." + Z][0]
    assert sorted((r["content"], r["disabled"]) for r in t["records"]) == \
        [('"a"', False), ('"b"', True)]
    assert t["comments"] == [{"account": "ops", "content": "for acme",
                              "modified_at": 1700000000}]
    # the disabled record is not exported
    assert '"b"' not in primary.export(Z) and '"a"' in primary.export(Z)


def test_extend_prune_idempotent(primary):
    """Two ACME clients adding TXT values at once both survive."""
    primary.create_zone(Z, soa_edit_api="INCREASE")
    n = "_acme-challenge." + Z
    primary.patch(Z, [rr(n, "TXT", 60, '"tok1"', changetype="EXTEND")])
    primary.patch(Z, [rr(n, "TXT", 60, '"tok2"', changetype="EXTEND")])
    s = primary.serial(Z)
    primary.patch(Z, [rr(n, "TXT", 60, '"tok2"', changetype="EXTEND")])  # again: no change
    assert primary.serial(Z) == s
    z = primary.json("GET", "/zones/%s?rrset_name=%s" % (Z, n), expect=200)
    assert sorted(r["content"] for r in z["rrsets"][0]["records"]) == ['"tok1"', '"tok2"']
    primary.patch(Z, [rr(n, "TXT", 60, '"tok1"', changetype="PRUNE")])
    primary.patch(Z, [rr(n, "TXT", 60, '"tok1"', changetype="PRUNE")])
    z = primary.json("GET", "/zones/%s?rrset_name=%s" % (Z, n), expect=200)
    assert [r["content"] for r in z["rrsets"][0]["records"]] == ['"tok2"']
    assert primary.serial(Z) == s + 1


def serial_after_patch(primary, zone):
    primary.patch(zone, [rr("p%d.%s" % (time.monotonic_ns(), zone), "A", 60, "192.0.2.9")])
    return primary.serial(zone)


def test_serial_policies(primary):
    today = int(time.strftime("%Y%m%d", time.gmtime())) * 100
    primary.create_zone("d.test.")
    s0 = primary.serial("d.test.")
    assert today < s0 <= today + 99
    assert serial_after_patch(primary, "d.test.") == s0 + 1
    primary.create_zone("i.test.", soa_edit_api="increase")
    assert primary.serial("i.test.") == 1
    assert serial_after_patch(primary, "i.test.") == 2
    t = int(time.time())
    primary.create_zone("e.test.", soa_edit_api="EPOCH")
    assert abs(primary.serial("e.test.") - t) <= 2
    s = serial_after_patch(primary, "e.test.")
    s2 = serial_after_patch(primary, "e.test.")
    assert s2 > s  # +1 within the same second
    # PUT changes the policy
    st, _, _ = primary.call("PUT", "/zones/i.test.", {"soa_edit_api": "DEFAULT"})
    assert st == 204
    assert today < serial_after_patch(primary, "i.test.") <= today + 99


def soa_zone(primary, name, serial, policy):
    primary.create_zone(name, soa_edit_api=policy, rrsets=[
        rr(name, "SOA", 3600, "ns1.%s hostmaster.%s %d 7200 900 1209600 300" % (name, name,
                                                                                 serial))])


def test_serial_wraps_rfc1982(primary):
    soa_zone(primary, "w.test.", 4294967295, "INCREASE")
    assert primary.serial("w.test.") == 4294967295
    h, _ = primary.patch("w.test.", [rr("a.w.test.", "A", 60, "192.0.2.1")])
    assert h["x-pdns-old-serial"] == "4294967295" and h["x-pdns-new-serial"] == "0"
    assert serial_after_patch(primary, "w.test.") == 1
    # DEFAULT: a date serial is "ahead" of 4294967290 in RFC 1982 terms
    soa_zone(primary, "wd.test.", 4294967290, "DEFAULT")
    s = serial_after_patch(primary, "wd.test.")
    today = int(time.strftime("%Y%m%d", time.gmtime())) * 100
    assert s == today + 1
    # EPOCH from just below 2^32: the clock is ahead, so it jumps there
    soa_zone(primary, "we.test.", 4294967000, "EPOCH")
    assert abs(serial_after_patch(primary, "we.test.") - int(time.time())) <= 2


def test_export_passes_named_checkzone(primary):
    primary.create_zone(Z, rrsets=[
        rr("www." + Z, "A", 300, "192.0.2.1"), rr("www." + Z, "AAAA", 300, "2001:db8::1"),
        rr(Z, "MX", 300, "10 mail." + Z), rr("mail." + Z, "A", 300, "192.0.2.25"),
        rr("txt." + Z, "TXT", 300, '"hello world" "two"'),
        rr("_sip._tcp." + Z, "SRV", 300, "10 60 5060 sip." + Z),
        rr(Z, "CAA", 300, '0 issue "letsencrypt.org"'),
        rr("alias." + Z, "CNAME", 300, "www." + Z)])
    text = primary.export(Z)
    assert text.splitlines()[0].split()[3] == "SOA"
    with tempfile.NamedTemporaryFile("w", suffix=".zone") as f:
        f.write(text)
        f.flush()
        r = subprocess.run(["named-checkzone", Z, f.name], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout
    # JSON when asked
    st, h, body = primary.call("GET", "/zones/%s/export" % Z,
                               headers={"Accept": "application/json"})
    assert st == 200 and json.loads(body) == {"zone": text}
    assert h["content-type"].startswith("text/plain") is False


def test_create_from_zone_text(primary):
    text = ("$ORIGIN example.org.\n$TTL 1h\n@ IN SOA ns1 host 42 7200 900 1209600 300\n"
            "  IN NS ns1\nns1 IN A 192.0.2.53\nwww 300 IN CNAME ns1\n")
    z = primary.json("POST", "/zones", {"name": "example.org.", "kind": "Native",
                                        "zone": text}, expect=201)
    assert z["serial"] == 42
    sets = rrsets_of(z)
    assert sets[("www.example.org.", "CNAME")] == (300, ["ns1.example.org."])
    assert sets[("example.org.", "NS")] == (3600, ["ns1.example.org."])
    st, _, body = primary.call("POST", "/zones", {"name": "bad.org.", "zone": "@ IN A 1.2.3\n"})
    assert st == 422 and "line 1" in json.loads(body)["error"]


def state(primary, zone):
    """(serial, journal entries) to prove a refusal changed nothing."""
    st, _, body = primary.journal(zone)
    assert st == 200, body
    j = json.loads(body)
    return primary.serial(zone), j["entries"], primary.export(zone)


BAD = [
    ("malformed json", b'{"rrsets": [', 400, "malformed JSON"),
    ("wrong type", {"rrsets": [{"name": "a." + Z, "type": "A", "ttl": "300",
                                "changetype": "REPLACE", "records": []}]}, 422,
     "rrsets[0].ttl"),
    ("records not array", {"rrsets": [{"name": "a." + Z, "type": "A", "ttl": 1,
                                       "changetype": "REPLACE", "records": "x"}]}, 422,
     "rrsets[0].records"),
    ("unknown changetype", {"rrsets": [rr("a." + Z, "A", 1, "192.0.2.1",
                                          changetype="MERGE")]}, 422, "changetype"),
    ("outside zone", {"rrsets": [rr("a.example.net.", "A", 1, "192.0.2.1")]}, 422,
     "not inside zone"),
    ("bad ipv4", {"rrsets": [rr("ok." + Z, "A", 1, "192.0.2.1"),
                             rr("a." + Z, "A", 1, "192.0.2.1", "1.2.3")]}, 422,
     "rrsets[1].records[1]"),
    ("bad ipv6", {"rrsets": [rr("a." + Z, "AAAA", 1, "2001:db8::zz")]}, 422,
     "rrsets[0].records[0]"),
    ("bad mx preference", {"rrsets": [rr(Z, "MX", 1, "70000 mx.example.net.")]}, 422,
     "rrsets[0].records[0]"),
    ("relative name", {"rrsets": [rr(Z, "MX", 1, "10 mx")]}, 422, "absolute"),
    ("cname beside a", {"rrsets": [rr("www." + Z, "CNAME", 1, "other.example.net.")]}, 422,
     "CNAME"),
    ("cname at apex", {"rrsets": [rr(Z, "CNAME", 1, "other.example.net.")]}, 422, "apex"),
    ("delete soa", {"rrsets": [{"name": Z, "type": "SOA", "changetype": "DELETE"}]}, 422,
     "SOA"),
    ("delete apex ns", {"rrsets": [{"name": Z, "type": "NS", "changetype": "DELETE"}]}, 422,
     "NS"),
    ("prune last apex ns", {"rrsets": [rr(Z, "NS", 3600, "ns1.example.net.",
                                          changetype="PRUNE")]}, 422, "NS"),
    ("duplicate records", {"rrsets": [rr("d." + Z, "A", 1, "192.0.2.1", "192.0.2.1")]}, 422,
     "duplicate"),
    ("ttl too big", {"rrsets": [rr("t." + Z, "A", 2147483648, "192.0.2.1")]}, 422, "TTL"),
    ("ttl negative", {"rrsets": [rr("t." + Z, "A", -1, "192.0.2.1")]}, 422, "TTL"),
    ("unknown type", {"rrsets": [rr("t." + Z, "BOGUS", 1, "x")]}, 422, "type"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_patch_changes_nothing(primary, case):
    _, body, status, words = case
    primary.create_zone(Z, nameservers=["ns1.example.net."],
                        rrsets=[rr("www." + Z, "A", 300, "192.0.2.1")])
    before = state(primary, Z)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    st, _, resp = primary.call("PATCH", "/zones/" + Z, raw=raw,
                               headers={"Content-Type": "application/json"})
    assert st == status, resp
    err = json.loads(resp)["error"]
    assert words in err, err
    assert state(primary, Z) == before


def test_body_over_limit(primary_factory):
    p = primary_factory(extra=["--api-max-body", "4096"])
    p.create_zone(Z)
    before = state(p, Z)
    big = {"rrsets": [rr("big." + Z, "TXT", 60, '"%s"' % ("x" * 200)) for _ in range(40)]}
    st, _, resp = p.call("PATCH", "/zones/" + Z, big)
    assert st == 413 and "limit" in json.loads(resp)["error"]
    assert state(p, Z) == before
    p2 = primary_factory(extra=["--api-max-rrsets", "2", "--api-max-records", "3"])
    p2.create_zone(Z)
    st, _, resp = p2.call("PATCH", "/zones/" + Z, {"rrsets": [rr("a%d.%s" % (i, Z), "A", 1,
                                                                 "192.0.2.1") for i in range(3)]})
    assert st == 422 and "limit" in json.loads(resp)["error"]
    st, _, resp = p2.call("PATCH", "/zones/" + Z, {"rrsets": [rr("a." + Z, "A", 1, *[
        "192.0.2.%d" % i for i in range(4)])]})
    assert st == 422 and "limit" in json.loads(resp)["error"]


def test_keys_and_accounts(primary):
    st, _, body = primary.call("GET", "/zones", key=False)
    assert st == 401 and "error" in json.loads(body)
    primary.create_zone(Z)
    before = state(primary, Z)
    for key in (False, "wrong-key", primary.key + "x", primary.key[:-1]):
        st, _, body = primary.call("PATCH", "/zones/" + Z,
                                   {"rrsets": [rr("k." + Z, "A", 1, "192.0.2.1")]}, key=key)
        assert st == 401 and "X-API-Key" in json.loads(body)["error"]
    assert state(primary, Z) == before
    st, _, _ = primary.call("GET", "/zones", key="wrong-key")
    assert st == 401
    st, _, _ = primary.call("GET", "/zones", headers={"x-api-KEY": primary.key}, key=False)
    assert st == 200
    primary.create_zone("admin.test.")
    k = primary.json("POST", "/apikeys", {"account": "acme", "description": "panel"},
                     expect=201)
    ka = k["key"]
    assert k["account"] == "acme"
    # only a hash is stored
    rows = primary.sql("SELECT hash FROM api_keys")
    assert rows and all(ka.encode() not in r[0] and len(r[0]) == 32 for r in rows)
    # the account key creates its own zone, sees only it
    st, _, body = primary.call("POST", "/zones", {"name": "acme.test.", "kind": "Native",
                                                  "nameservers": ["ns.example.net."]}, key=ka)
    assert st == 201 and json.loads(body)["account"] == "acme"
    names = [z["name"] for z in primary.json("GET", "/zones", key=ka, expect=200)]
    assert names == ["acme.test."]
    before = state(primary, "admin.test.")
    for method, path, body in [("GET", "/zones/admin.test.", None),
                               ("PATCH", "/zones/admin.test.",
                                {"rrsets": [rr("x.admin.test.", "A", 1, "192.0.2.1")]}),
                               ("PUT", "/zones/admin.test.", {"kind": "Master"}),
                               ("DELETE", "/zones/admin.test.", None),
                               ("GET", "/zones/admin.test./export", None),
                               ("GET", "/zones/admin.test./journal", None)]:
        st, _, resp = primary.call(method, path, body, key=ka)
        assert st == 404, (method, path, st, resp)
    assert state(primary, "admin.test.") == before
    st, _, _ = primary.call("GET", "/apikeys", key=ka)
    assert st == 403
    st, _, _ = primary.call("POST", "/apikeys", {"account": "x"}, key=ka)
    assert st == 403
    # revoke
    st, _, _ = primary.call("DELETE", "/apikeys/%d" % k["id"])
    assert st == 204
    st, _, _ = primary.call("GET", "/zones", key=ka)
    assert st == 401


def test_conflict_and_not_found(primary):
    primary.create_zone(Z)
    before = state(primary, Z)
    st, _, body = primary.call("POST", "/zones", {"name": "EXAMPLE.com", "kind": "Native",
                                                  "nameservers": ["other.example.net."]})
    assert st == 409 and "exists" in json.loads(body)["error"]
    assert state(primary, Z) == before
    st, _, _ = primary.call("PATCH", "/zones/nope.test.", {"rrsets": []})
    assert st == 404
    st, _, body = primary.call("POST", "/zones", {"name": "k.test.", "kind": "Bogus"})
    assert st == 422 and "kind" in json.loads(body)["error"]


def test_zone_id_escaping(primary):
    name = "0/25.2.0.192.in-addr.arpa."
    z = primary.create_zone(name)
    assert z["id"] == "0=2F25.2.0.192.in-addr.arpa."
    assert primary.json("GET", "/zones/0=2F25.2.0.192.in-addr.arpa", expect=200)["name"] == name


def test_etag_if_match(primary):
    primary.create_zone(Z, soa_edit_api="INCREASE")
    _, h, _ = primary.call("GET", "/zones/" + Z)
    etag = h["etag"]
    primary.patch(Z, [rr("a." + Z, "A", 1, "192.0.2.1")], headers={"If-Match": etag})
    before = state(primary, Z)
    st, _, body = primary.call("PATCH", "/zones/" + Z,
                               {"rrsets": [rr("b." + Z, "A", 1, "192.0.2.2")]},
                               headers={"If-Match": etag})
    assert st == 412 and "If-Match" in json.loads(body)["error"]
    st, _, _ = primary.call("PUT", "/zones/" + Z, {"kind": "Master"}, headers={"If-Match": etag})
    assert st == 412
    assert state(primary, Z) == before


def test_pagination(primary):
    for i in range(25):
        primary.create_zone("z%02d.test." % i)
    plain = primary.json("GET", "/zones", expect=200)
    assert len(plain) == 25  # the catalog zone is the server's, not listed (issue 16.5)
    seen, after = [], ""
    while True:
        st, h, body = primary.call("GET", "/zones?limit=10&after=" + after)
        page = json.loads(body)
        seen += [z["name"] for z in page]
        if "link" not in h:
            break
        after = re.search(r"after=([^>]+)>", h["link"]).group(1)
    assert seen == [z["name"] for z in plain]


def test_tsigkeys_crud(primary):
    k = primary.json("POST", "/tsigkeys", {"name": "xfr-key", "algorithm": "hmac-sha512"},
                     expect=201)
    assert k["id"] == "xfr-key." and k["name"] == "xfr-key" and k["type"] == "TSIGKey"
    import base64
    assert len(base64.b64decode(k["key"])) == 64
    st, _, _ = primary.call("POST", "/tsigkeys", {"name": "xfr-key"})
    assert st == 409
    st, _, body = primary.call("POST", "/tsigkeys", {"name": "k2", "algorithm": "hmac-md5"})
    assert st == 422
    lst = primary.json("GET", "/tsigkeys", expect=200)
    assert [x["name"] for x in lst] == ["xfr-key"]
    secret = base64.b64encode(b"s" * 32).decode()
    k2 = primary.json("PUT", "/tsigkeys/xfr-key.", {"algorithm": "hmac-sha256", "key": secret},
                      expect=200)
    assert k2["key"] == secret and k2["algorithm"] == "hmac-sha256"
    primary.create_zone(Z, master_tsig_key_ids=["xfr-key."])
    assert primary.json("GET", "/zones/" + Z, expect=200)["master_tsig_key_ids"] == ["xfr-key."]
    st, _, body = primary.call("PUT", "/zones/" + Z, {"master_tsig_key_ids": ["nope."]})
    assert st == 422 and "nope" in json.loads(body)["error"]
    st, _, _ = primary.call("DELETE", "/tsigkeys/xfr-key.")
    assert st == 204
    assert primary.json("GET", "/zones/" + Z, expect=200)["master_tsig_key_ids"] == []
    st, _, _ = primary.call("GET", "/tsigkeys/xfr-key.")
    assert st == 404


def test_search_data(primary):
    primary.create_zone(Z, rrsets=[rr("www." + Z, "A", 300, "192.0.2.77")])
    res = primary.json("GET", "/search-data?q=*192.0.2.77*", expect=200)
    assert [(r["object_type"], r["name"], r["content"]) for r in res] == \
        [("record", "www." + Z, "192.0.2.77")]
    res = primary.json("GET", "/search-data?q=example*&object_type=zone", expect=200)
    assert res == [{"name": Z, "object_type": "zone", "zone_id": Z}]


def test_catalog_zone(primary):
    cat = primary.catalog
    primary.create_zone("a.test.")
    primary.create_zone("b.test.")
    text = primary.export(cat)
    ptrs = sorted(l.split()[4] for l in text.splitlines() if l.split()[3] == "PTR")
    assert ptrs == ["a.test.", "b.test."]
    assert re.search(r"^version\.%s \d+ IN TXT \"2\"$" % re.escape(cat), text, re.M)
    st, _, body = primary.call("PATCH", "/zones/" + cat,
                               {"rrsets": [rr("x." + cat, "A", 1, "192.0.2.1")]})
    assert st in (403, 422) and "catalog" in json.loads(body)["error"]
    st, _, _ = primary.call("DELETE", "/zones/" + cat)
    assert st in (403, 422)
    with tempfile.NamedTemporaryFile("w", suffix=".zone") as f:
        f.write(text)
        f.flush()
        r = subprocess.run(["named-checkzone", cat, f.name], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_journal_endpoint_and_retention(primary_factory):
    p = primary_factory(extra=["--journal-keep", "3"])
    p.create_zone(Z, soa_edit_api="INCREASE")
    for i in range(5):
        p.patch(Z, [rr("a." + Z, "A", 60, "192.0.2.%d" % (i + 1))])
    st, _, body = p.journal(Z)
    j = json.loads(body)
    assert [(e["serial_from"], e["serial_to"]) for e in j["entries"]] == [(3, 4), (4, 5), (5, 6)]
    e = j["entries"][-1]
    assert e["removed"][0]["type"] == "SOA" and e["added"][0]["type"] == "SOA"
    assert [r["content"] for r in e["removed"][1:]] == ["192.0.2.4"]
    assert [r["content"] for r in e["added"][1:]] == ["192.0.2.5"]
    st, _, body = p.journal(Z, since=1)
    assert st == 410 and "does not reach back to serial 1" in json.loads(body)["error"]
    st, _, body = p.journal(Z, since=6)
    assert st == 200 and json.loads(body)["entries"] == []
    st, _, body = p.journal(Z, since=7)
    assert st == 422 and "ahead" in json.loads(body)["error"]


def test_metrics_and_logs(primary):
    primary.create_zone(Z, soa_edit_api="INCREASE")
    primary.patch(Z, [rr("a." + Z, "A", 60, "192.0.2.1")])
    primary.call("GET", "/zones/nope.")
    st, h, body = primary.call("GET", "/metrics")   # the admin key (issue 12)
    text = body.decode()
    assert st == 200 and h["content-type"].startswith("text/plain")
    assert 'anycst_api_requests_total{endpoint="zone",status="204"} 1' in text
    assert 'anycst_api_requests_total{endpoint="zone",status="404"} 1' in text
    assert "anycst_api_request_duration_seconds_bucket{le=\"+Inf\"}" in text
    assert re.search(r"^anycst_zones 2$", text, re.M)
    assert re.search(r"^anycst_journal_entries 2$", text, re.M)  # zone + catalog
    assert re.search(r"^anycst_last_commit_timestamp_seconds [1-9]\d+$", text, re.M)
    log = primary.log()
    assert re.search(r"notice: API listening on 127\.0\.0\.1:%d" % primary.api_port, log)
    assert "info: [example.com.] zone updated, serial 1 -> 2" in log
    assert primary.stop() == 0  # SIGTERM: graceful
    assert "shutting down" in primary.log()


def test_refuses_newer_schema(primary):
    primary.stop()
    primary.sql("UPDATE anycst_schema SET version = 99" if primary.is_pg else
                "PRAGMA user_version = 99")
    with pytest.raises(RuntimeError) as e:
        primary.start()
    assert "newer than this binary" in str(e.value)


def test_config_file_and_ipv6(primary_factory, tmp_path):
    cfg = tmp_path / "primary.conf"
    cfg.write_text("# limits from a config file\napi-max-rrsets 1\njournal-keep 2\n")
    p = primary_factory(extra=["--config", str(cfg)])
    p.create_zone(Z)
    st, _, body = p.call("PATCH", "/zones/" + Z, {"rrsets": [rr("a%d.%s" % (i, Z), "A", 1,
                                                                "192.0.2.1") for i in range(2)]})
    assert st == 422 and "limit of 1" in json.loads(body)["error"]
    # the API on IPv6 loopback
    import socket
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    p.stop()
    p.extra += ["--api", "[::1]:%d" % port]
    p.proc = None
    import subprocess
    import http.client
    logf = open(p.log_path, "a")
    proc = subprocess.Popen(p.args(), stdout=logf, stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                c = http.client.HTTPConnection("::1", port, timeout=2)
                c.request("GET", "/api/v1/servers/localhost/zones", headers={"X-API-Key": p.key})
                r = c.getresponse()
                return r.status == 200 and Z in r.read().decode()
            except OSError:
                return False
        from anycst_e2e import wait_until
        wait_until(up, 10, what="API on [::1]")
        assert "notice: API listening on [::1]:%d" % port in p.log()
    finally:
        proc.terminate()
        proc.wait(10)
        logf.close()


def test_propagation_endpoint(primary):
    primary.create_zone(Z, soa_edit_api="INCREASE")
    primary.patch(Z, [rr("a." + Z, "A", 60, "192.0.2.1")])
    p = primary.json("GET", "/zones/%s/propagation" % Z, expect=200)
    assert p["zone"] == Z and p["serial"] == 2 and p["targets"] == []
    st, _, _ = primary.call("GET", "/zones/nope.test./propagation")
    assert st == 404


def test_powerdns_admin_side_endpoints(primary):
    primary.create_zone(Z)
    # as PowerDNS: the zone's SOA-EDIT-API is there from the start (issue 16.6)
    assert primary.json("GET", "/zones/%s/metadata" % Z, expect=200) == [
        {"kind": "SOA-EDIT-API", "metadata": ["DEFAULT"], "type": "Metadata"}]
    assert primary.json("GET", "/zones/%s/cryptokeys" % Z, expect=200) == []
    assert primary.json("PUT", "/zones/%s/rectify" % Z, expect=200) == {"result": "Rectified"}
    st, _, _ = primary.call("GET", "/zones/nope.test./metadata")
    assert st == 404
