"""The OpenAPI document at /api/docs (issue 16.7): it parses, lists PowerDNS's
paths and our extensions, and every documented (path, method) is answered
by the server: never the router's 404 "Not Found" nor a 405."""
import json

ZONE = "walk.example."


def test_openapi_document_is_served_and_every_path_answers(primary):
    p = primary
    st, h, body = p.call("GET", "/api/docs", prefix=False)
    assert st == 200 and h["content-type"].startswith("application/json"), (st, h)
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.") and doc["info"]["version"] == "4.9.0"
    paths = doc["paths"]
    pfx = "/api/v1/servers/localhost"
    for must in ("/zones", "/zones/{zone_id}", "/zones/{zone_id}/metadata/{metadata_kind}",
                 "/zones/{zone_id}/journal", "/zones/{zone_id}/propagation", "/secondaries",
                 "/apikeys", "/tsigkeys", "/statistics", "/cache/flush", "/autoprimaries"):
        assert pfx + must in paths, must
    assert "ETag" in json.dumps(doc) and "If-Match" in json.dumps(doc)

    p.add_key("walk-key.")
    p.create_zone(ZONE)
    k = p.json("POST", "/apikeys", {"account": "walk", "description": "walk"}, expect=201)
    values = {"zone_id": ZONE, "config_setting": "api", "metadata_kind": "X-WALK",
              "tsigkey_id": "walk-key.", "apikey_id": str(k["id"]), "pop_name": "nope",
              "ip": "192.0.2.1", "nameserver": "ns.example.", "mesh_ip": "10.53.0.9"}
    bodies = {"Zone": {"name": "walk2.example.", "kind": "Native",
                       "nameservers": ["ns1.example.net."]},
              "RRSets": {"rrsets": [{"name": "a." + ZONE, "type": "A", "ttl": 60,
                                     "changetype": "REPLACE",
                                     "records": [{"content": "192.0.2.1", "disabled": False}]}]},
              "Metadata": {"kind": "X-WALK", "metadata": ["1"]},
              "TSIGKey": {"name": "walk-key2.", "algorithm": "hmac-sha256"},
              "APIKey": {"account": "walk2"},
              "Secondary": {"name": "x"},
              "Autoprimary": {"ip": "192.0.2.1", "nameserver": "ns.example.", "account": ""}}
    calls = []
    for path, ops in paths.items():
        for method, op in ops.items():
            url = path
            for name, v in values.items():
                url = url.replace("{%s}" % name, v)
            assert "{" not in url, url
            body = None
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                body = bodies[ref.rsplit("/", 1)[1]]
            if method == "put" and url == pfx + "/zones/" + ZONE:
                body = {"kind": "Master"}
            if url == pfx + "/cache/flush":
                url += "?domain=" + ZONE
            calls.append((method.upper() == "DELETE", method.upper(), url, body))
    assert len(calls) >= 40, len(calls)
    bad = []
    for _, method, url, body in sorted(calls, key=lambda c: (c[0], "/zones/" in c[2])):
        st, _, out = p.call(method, url, body, prefix=False)
        if st == 405 or (st == 404 and out == b'{"error":"Not Found"}'):
            bad.append((method, url, st, out[:120]))
    assert bad == []
