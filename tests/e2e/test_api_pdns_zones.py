"""PowerDNS zone fields and endpoints (issue 16.5, 16.6): masters stored and
returned, kind Slave refused (this server transfers nothing in), soa_edit_api
"" / SOA-EDIT / SOA-EDIT-INCREASE with soa_edit, the catalog field, the
catalog zone left out of GET /zones but reachable by name, metadata stored
and applied, axfr-retrieve, statistics, autoprimaries, ?api-key=, cache flush."""
import subprocess
import time

Z = "fields.example."


def create(p, **kw):
    body = {"name": Z, "kind": "Native", "nameservers": ["ns1.example.net."]}
    body.update(kw)
    return p.call("POST", "/zones", body)


def test_masters_stored_and_slave_refused(primary):
    p = primary
    st, _, body = p.call("POST", "/zones", {"name": "s.example.", "kind": "Slave",
                                            "masters": ["192.0.2.1"]})
    assert st == 422 and b"Slave" in body, body
    st, _, body = create(p, masters=["192.0.2.1", "[2001:db8::1]:5300", "192.0.2.2:53"])
    assert st == 201, body
    z = p.json("GET", "/zones/" + Z, expect=200)
    assert z["masters"] == ["192.0.2.1", "[2001:db8::1]:5300", "192.0.2.2:53"], z
    assert p.call("PUT", "/zones/" + Z, {"masters": ["198.51.100.1"]})[0] == 204
    assert p.json("GET", "/zones/" + Z)["masters"] == ["198.51.100.1"]
    assert [x["masters"] for x in p.json("GET", "/zones") if x["name"] == Z] == [["198.51.100.1"]]
    st, _, body = p.call("PUT", "/zones/" + Z, {"masters": ["not-an-address"]})
    assert st == 422 and b"masters[0]" in body, body
    st, _, body = p.call("PUT", "/zones/" + Z, {"kind": "Slave"})
    assert st == 422, body
    st, _, body = p.call("PUT", "/zones/%s/axfr-retrieve" % Z)
    assert st == 422 and b"not Slave" in body, body


def test_soa_edit_api_values(primary):
    p = primary
    st, _, body = create(p, soa_edit_api="")
    assert st == 201, body
    z = p.json("GET", "/zones/" + Z)
    assert z["soa_edit_api"] == "" and z["soa_edit"] == "", z
    # the serial still moves on a change (the secondaries follow it)
    s0 = z["serial"]
    p.patch(Z, [{"name": "a." + Z, "type": "A", "ttl": 60, "changetype": "REPLACE",
                 "records": [{"content": "192.0.2.1", "disabled": False}]}])
    assert p.json("GET", "/zones/" + Z)["serial"] > s0
    assert p.call("PUT", "/zones/" + Z, {"soa_edit_api": "SOA-EDIT-INCREASE",
                                         "soa_edit": "EPOCH"})[0] == 204
    z = p.json("GET", "/zones/" + Z)
    assert z["soa_edit_api"] == "SOA-EDIT-INCREASE" and z["soa_edit"] == "EPOCH", z
    # a zone made with SOA-EDIT-INCREASE and soa_edit EPOCH starts at the epoch
    st, _, body = p.call("POST", "/zones", {"name": "epoch.example.", "kind": "Native",
                                            "nameservers": ["ns1.example.net."],
                                            "soa_edit_api": "SOA-EDIT-INCREASE",
                                            "soa_edit": "EPOCH"})
    assert st == 201, body
    assert abs(p.json("GET", "/zones/epoch.example.")["serial"] - time.time()) < 120
    assert p.call("PUT", "/zones/" + Z, {"soa_edit_api": "SOA-EDIT"})[0] == 204
    st, _, body = p.call("PUT", "/zones/" + Z, {"soa_edit": "INCEPTION-INCREMENT"})
    assert st == 422 and b"soa_edit" in body, body
    st, _, body = p.call("PUT", "/zones/" + Z, {"soa_edit_api": "BOGUS"})
    assert st == 422 and b"soa_edit_api" in body, body


def test_catalog_field_and_catalog_zone(primary):
    p = primary
    cat = p.catalog
    assert create(p, catalog=cat)[0] == 201
    assert p.json("GET", "/zones/" + Z)["catalog"] == cat
    st, _, body = p.call("PUT", "/zones/" + Z, {"catalog": "other.example."})
    assert st == 422 and b"catalog" in body, body
    assert cat not in [z["name"] for z in p.json("GET", "/zones")]
    assert p.json("GET", "/zones/" + cat, expect=200)["name"] == cat
    assert p.json("GET", "/zones?zone=" + cat, expect=200)[0]["name"] == cat


def test_notified_and_edited_serial(primary):
    p = primary
    assert create(p, kind="Master")[0] == 201
    z = p.json("GET", "/zones/" + Z)
    assert z["edited_serial"] == z["serial"] and z["notified_serial"] == z["serial"], z


def test_metadata_stored_and_applied(primary):
    p = primary
    p.add_key("meta-key.")
    assert create(p)[0] == 201
    m = "/zones/%s/metadata" % Z
    got = p.json("POST", m, {"kind": "ALLOW-AXFR-FROM", "metadata": ["192.0.2.0/24"]}, expect=201)
    assert got == {"kind": "ALLOW-AXFR-FROM", "metadata": ["192.0.2.0/24"], "type": "Metadata"}
    p.json("POST", m, {"kind": "ALLOW-AXFR-FROM", "metadata": ["198.51.100.0/24"]}, expect=201)
    assert p.json("GET", m + "/ALLOW-AXFR-FROM")["metadata"] == ["192.0.2.0/24",
                                                                 "198.51.100.0/24"]
    p.json("PUT", m + "/TSIG-ALLOW-AXFR", {"kind": "TSIG-ALLOW-AXFR", "metadata": ["meta-key."]},
           expect=200)
    assert p.json("GET", "/zones/" + Z)["master_tsig_key_ids"] == ["meta-key."]
    p.json("PUT", m + "/SOA-EDIT-API", {"kind": "SOA-EDIT-API", "metadata": ["EPOCH"]}, expect=200)
    assert p.json("GET", "/zones/" + Z)["soa_edit_api"] == "EPOCH"
    p.json("PUT", m + "/API-RECTIFY", {"kind": "API-RECTIFY", "metadata": ["1"]}, expect=200)
    p.json("PUT", m + "/TSIG-ALLOW-DNSUPDATE", {"kind": "TSIG-ALLOW-DNSUPDATE",
                                                "metadata": ["meta-key."]}, expect=200)
    kinds = {x["kind"]: x["metadata"] for x in p.json("GET", m, expect=200)}
    assert kinds["TSIG-ALLOW-DNSUPDATE"] == ["meta-key."] and kinds["API-RECTIFY"] == ["1"], kinds
    st, _, body = p.call("PUT", m + "/ALSO-NOTIFY", {"kind": "ALSO-NOTIFY",
                                                    "metadata": ["192.0.2.9"]})
    assert st == 422 and b"cannot apply" in body, body
    assert p.call("DELETE", m + "/ALLOW-AXFR-FROM")[0] == 200
    assert p.json("GET", m + "/ALLOW-AXFR-FROM")["metadata"] == []
    # survives a restart
    p.restart()
    assert p.json("GET", m + "/TSIG-ALLOW-DNSUPDATE")["metadata"] == ["meta-key."]


def test_server_endpoints(primary):
    p = primary
    assert p.json("GET", "/statistics?statistic=uptime&includerings=false", expect=200)[0][
        "name"] == "uptime"
    st, _, body = p.call("GET", "/statistics?statistic=nope")
    assert st == 422 and b"Unknown statistic name" in body
    assert p.json("GET", "/autoprimaries", expect=200) == []
    assert p.call("POST", "/autoprimaries", {"ip": "192.0.2.1", "nameserver": "ns.example.",
                                             "account": ""})[0] == 422
    assert p.json("PUT", "/cache/flush?domain=example.com.", expect=200) == {
        "count": 0, "result": "Flushed cache."}
    st, _, _ = p.call("GET", "/zones?api-key=" + p.key, key=False)
    assert st == 200
    st, _, _ = p.call("GET", "/zones?api-key=wrong", key=False)
    assert st == 401


def test_allow_axfr_from_narrows_transfers(primary):
    """ALLOW-AXFR-FROM: with the zone's key, a transfer from outside its
    prefixes is refused; inside one, or with no ALLOW-AXFR-FROM, it goes."""
    p = primary
    secret = p.add_key("from-key.")
    p.add_zone(Z, keys=["from-key."])
    m = "/zones/%s/metadata" % Z

    def axfr_ok():
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(p.xfr_port), "+tcp", "+time=5",
                            "+tries=1", "-y", "hmac-sha256:from-key:" + secret, Z, "AXFR"],
                           capture_output=True, text=True, timeout=30)
        return " SOA " in r.stdout.replace("\t", " ") and "Transfer failed" not in r.stdout
    assert axfr_ok()
    p.json("PUT", m + "/ALLOW-AXFR-FROM", {"kind": "ALLOW-AXFR-FROM",
                                           "metadata": ["192.0.2.0/24"]}, expect=200)
    assert not axfr_ok()
    assert "ALLOW-AXFR-FROM" in p.log()
    p.json("PUT", m + "/ALLOW-AXFR-FROM", {"kind": "ALLOW-AXFR-FROM",
                                           "metadata": ["192.0.2.0/24", "127.0.0.0/8"]},
           expect=200)
    assert axfr_ok()
    st, _, body = p.call("PUT", m + "/ALLOW-AXFR-FROM", {"kind": "ALLOW-AXFR-FROM",
                                                         "metadata": ["AUTO-NS"]})
    assert st == 422 and b"AUTO-NS" in body, body
    assert p.call("DELETE", m + "/ALLOW-AXFR-FROM")[0] == 200
    assert axfr_ok()
