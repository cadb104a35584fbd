"""Hostile accounts (issue 12, points 2 and 4): two account keys and the admin
key on one primary.

- Every endpoint called with the other account's key is a 404 or 403 and
  changes nothing: a fingerprint over every table of the database, read while
  the primary runs (WAL), is the same before and after.
- Zone takeover: an account cannot create a zone that is a parent or a child
  of another account's zone (409, one neutral text that names no account and
  is the same for any clash); the admin key may, and it is logged.
- /metrics needs the admin key (X-API-Key or Authorization: Bearer) unless it
  is served by the keyless --metrics listener; /statistics with an account key
  counts that account's zones only; the catalog zone (every account's zones)
  is transferred only to the POPs' keys and to keys the admin allowed for it,
  over TCP and over QUIC.
"""
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess

import dns.message
import dns.query
import dns.exception
import dns.rcode
import dns.rrset
import dns.tsigkeyring
import pytest

from anycst_e2e import TOOLS, ApiClient, free_port

XOQ = os.path.join(TOOLS, "anycst-xoq")
ALPHA = "acct-alpha-" + secrets.token_hex(4)
BETA = "acct-beta-" + secrets.token_hex(4)


def fingerprint(p):
    """SHA-256 over a dump of every table, read-only, while the primary runs."""
    db = sqlite3.connect("file:%s?mode=ro" % p.db_path, uri=True, timeout=10)
    try:
        h = hashlib.sha256()
        for line in db.iterdump():
            h.update(line.encode() + b"\n")
        return h.hexdigest()
    finally:
        db.close()


def apikey(p, account):
    return p.json("POST", "/apikeys", {"account": account, "description": "e2e"},
                  expect=201)["key"]


def rr(name, rtype, content, ttl=300):
    return {"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE",
            "records": [{"content": content, "disabled": False}]}


def create(p, name, key, **extra):
    body = {"name": name, "kind": "Native", "nameservers": ["ns1.example.net."]}
    body.update(extra)
    return p.call("POST", "/zones", body, key=key)


def tsig_key(p, name):
    secret = base64.b64encode(os.urandom(32)).decode()
    p.json("POST", "/tsigkeys", {"name": name, "algorithm": "hmac-sha256", "key": secret},
           expect=201)
    return secret


@pytest.fixture
def two(primary):
    """alpha owns alpha.example. (with a TSIG key), beta owns beta.example.,
    the admin owns admin.example. (no account)."""
    primary.ka = apikey(primary, ALPHA)
    primary.kb = apikey(primary, BETA)
    primary.asecret = tsig_key(primary, "alpha-xfr.")
    st, _, body = create(primary, "alpha.example.", primary.ka,
                         rrsets=[rr("www.alpha.example.", "A", "192.0.2.1")],
                         master_tsig_key_ids=["alpha-xfr."])
    assert st == 201, body
    st, _, body = create(primary, "beta.example.", primary.kb)
    assert st == 201, body
    primary.create_zone("admin.example.")
    return primary


def test_wrong_account_gets_404_403_and_changes_nothing(two):
    p = two
    kb = p.kb
    # a journal entry and a propagation row to read
    p.call("PATCH", "/zones/alpha.example.", {"rrsets": [rr("t.alpha.example.", "TXT", '"x"')]},
           key=p.ka)
    before = fingerprint(p)
    calls = []
    for zid in ("alpha.example.", "alpha.example", "ALPHA.Example.", "admin.example."):
        z = "/zones/" + zid
        calls += [
            ("GET", z, None), ("GET", z + "?rrsets=false", None),
            ("GET", z + "?rrset_name=www.alpha.example.&rrset_type=A", None),
            ("PATCH", z, {"rrsets": [rr("evil.alpha.example.", "A", "192.0.2.66")]}),
            ("PATCH", z, {"rrsets": [{"name": "www.alpha.example.", "type": "A",
                                      "changetype": "DELETE"}]}),
            ("PUT", z, {"kind": "Master"}), ("PUT", z, {"account": BETA}),
            ("PUT", z, {"master_tsig_key_ids": []}),
            ("DELETE", z, None),
            ("GET", z + "/export", None), ("PUT", z + "/notify", None),
            ("GET", z + "/journal", None), ("GET", z + "/journal?since=1", None),
            ("GET", z + "/propagation", None),
            ("GET", z + "/cryptokeys", None), ("POST", z + "/cryptokeys", {"active": True}),
            ("GET", z + "/metadata", None),
        ]
    calls += [
        ("GET", "/zones/" + p.catalog, None), ("GET", "/zones/%s/export" % p.catalog, None),
        ("PUT", "/zones/" + p.catalog, {"master_tsig_key_ids": ["alpha-xfr."]}),
        ("GET", "/tsigkeys", None), ("GET", "/tsigkeys/alpha-xfr.", None),
        ("POST", "/tsigkeys", {"name": "evil.", "algorithm": "hmac-sha256",
                               "key": base64.b64encode(b"k" * 32).decode()}),
        ("PUT", "/tsigkeys/alpha-xfr.", {"key": base64.b64encode(b"k" * 32).decode()}),
        ("DELETE", "/tsigkeys/alpha-xfr.", None),
        ("GET", "/apikeys", None), ("POST", "/apikeys", {"account": ALPHA}),
        ("DELETE", "/apikeys/1", None),
        ("GET", "/secondaries", None),
        ("POST", "/secondaries", {"name": "evil", "endpoint": "192.0.2.9:51820",
                                  "public_key": base64.b64encode(b"\x01" * 32).decode()}),
        ("DELETE", "/secondaries/evil", None),
        ("GET", "/mesh/wireguard.conf", None),
        ("GET", "/metrics", None),
    ]
    for method, path, body in calls:
        st, _, resp = p.call(method, path, body, key=kb)
        assert st in (403, 404), (method, path, st, resp)
        text = resp.decode(errors="replace")
        assert ALPHA not in text and "www.alpha" not in text, (method, path, text)
    # reads that answer 200 show beta's own things only
    names = [z["name"] for z in p.json("GET", "/zones", key=kb, expect=200)]
    assert names == ["beta.example."], names
    assert p.json("GET", "/zones?zone=alpha.example.", key=kb, expect=200) == []
    hits = p.json("GET", "/search-data?q=*alpha*", key=kb, expect=200)
    assert hits == [], hits
    stats = {s["name"]: s["value"] for s in p.json("GET", "/statistics", key=kb, expect=200)}
    assert stats["zones"] == "1", stats
    for method, path in (("GET", "/api/v1/servers"), ("GET", ""), ("GET", "/config")):
        st, _, resp = p.call(method, path, key=kb)
        assert st == 200 and ALPHA.encode() not in resp, (path, st, resp)
    # creating alpha's zone, or one under or above it, is a neutral 409
    for name in ("alpha.example.", "www.alpha.example.", "example."):
        st, _, resp = create(p, name, kb)
        assert st == 409, (name, st, resp)
    assert fingerprint(p) == before
    # and alpha's data is still served as it was
    assert "192.0.2.1" in p.export("alpha.example.")
    assert "192.0.2.66" not in p.export("alpha.example.")
    # the fingerprint does see a change made with the right key
    st, _, _ = p.call("PATCH", "/zones/alpha.example.",
                      {"rrsets": [rr("t.alpha.example.", "TXT", '"y"')]}, key=p.ka)
    assert st == 204 and fingerprint(p) != before


def test_takeover_child_and_parent_refused_both_directions(two):
    p = two
    ka, kb = p.ka, p.kb
    texts = {}
    before = fingerprint(p)
    for key, name in ((kb, "www.alpha.example."), (kb, "deep.www.alpha.example."),
                      (kb, "example."), (ka, "x.beta.example."), (kb, "alpha.example."),
                      (ka, "alpha.example."), (kb, "ALPHA.example"),
                      (ka, "sub.admin.example."), (ka, "x." + p.catalog)):
        st, _, resp = create(p, name, key)
        assert st == 409, (name, st, resp)
        err = json.loads(resp)["error"]
        assert ALPHA not in err and BETA not in err and "account" not in err, err
        texts[name.lower().rstrip(".") + "."] = err
    # one text for every kind of clash (own zone, other's zone, parent, child)
    norm = {re.sub(r"'[^']*'", "'N'", t) for t in texts.values()}
    assert len(norm) == 1, texts
    assert texts["alpha.example."] == "Conflict: zone name 'alpha.example.' is not available"
    # the zone-text import path is refused the same way
    st, _, resp = create(p, "imp.alpha.example.", kb,
                         zone="imp.alpha.example. 300 IN A 192.0.2.7\n")
    assert st == 409, resp
    assert fingerprint(p) == before
    # parent first, then the child: beta's later parent of alpha's zone is refused too
    st, _, _ = create(p, "parent.test.", ka)
    assert st == 201
    st, _, _ = create(p, "test.", kb)
    assert st == 409
    # nesting inside one's own account is fine
    st, _, resp = create(p, "www.alpha.example.", ka)
    assert st == 201, resp
    # the admin may, and it is logged with both accounts
    st, _, resp = create(p, "adm.alpha.example.", True, account=BETA)
    assert st == 201, resp
    st, _, resp = create(p, "example.", True)
    assert st == 201, resp
    log = p.log()
    assert re.search(r"notice: \[adm\.alpha\.example\.\] zone of account '%s' created by the "
                     r"admin key under zone 'alpha\.example\.' of account '%s'" % (BETA, ALPHA),
                     log), log
    assert re.search(r"notice: \[example\.\] zone of account '' created by the admin key above "
                     r"zone '\S+' of account '\S+'", log), log
    # an admin move next to another account's zone is logged too
    st, _, resp = p.call("PUT", "/zones/parent.test.", {"account": BETA})
    assert st == 204, resp
    st, _, resp = p.call("PUT", "/zones/beta.example.", {"account": ALPHA})
    assert st == 204, resp
    assert re.search(r"notice: \[beta\.example\.\] zone moved by the admin key from account "
                     r"'%s' to '%s', under zone 'example\.' of account ''" % (BETA, ALPHA),
                     p.log()), p.log()


def test_takeover_check_uses_indexes_and_survives_upgrade(two):
    p = two
    db = sqlite3.connect("file:%s?mode=ro" % p.db_path, uri=True)
    plan = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT z.name FROM zone_lkeys k JOIN zones z ON z.id = k.zone_id "
        "WHERE k.lkey > ?1 AND k.lkey < ?2 AND z.account != ?3 LIMIT 1", (b"a", b"b", "x")))
    db.close()
    assert "zone_lkeys_lkey" in plan and "SCAN" not in plan, plan
    # a database from before the lookup keys: the keys are filled at start
    p.stop()
    db = sqlite3.connect(p.db_path)
    db.execute("DELETE FROM zone_lkeys")
    db.commit()
    db.close()
    p.start()
    st, _, resp = create(p, "w.alpha.example.", p.kb)
    assert st == 409, resp
    db = sqlite3.connect("file:%s?mode=ro" % p.db_path, uri=True)
    assert db.execute("SELECT count(*) FROM zones WHERE id NOT IN "
                      "(SELECT zone_id FROM zone_lkeys)").fetchone()[0] == 0
    db.close()


def test_metrics_need_admin_key(primary):
    p = primary
    ka = apikey(p, ALPHA)
    st, _, body = p.call("GET", "/metrics", key=False)
    assert st == 401 and "anycst_zones" not in body.decode(), body
    st, _, body = p.call("GET", "/metrics", key=ka)
    assert st == 403 and "anycst_zones" not in body.decode(), body
    st, _, body = p.call("GET", "/metrics", key="wrong")
    assert st == 401
    st, h, body = p.call("GET", "/metrics")
    assert st == 200 and re.search(r"^anycst_zones 1$", body.decode(), re.M), body
    # Prometheus `authorization: {credentials_file: ...}` sends a bearer token
    st, _, body = p.call("GET", "/metrics", key=False,
                         headers={"Authorization": "Bearer " + p.key})
    assert st == 200 and "anycst_zones" in body.decode()
    st, _, _ = p.call("GET", "/metrics", key=False, headers={"Authorization": "Bearer " + ka})
    assert st == 403
    st, _, _ = p.call("GET", "/metrics", key=False, headers={"Authorization": "Bearer nope"})
    assert st == 401
    st, _, _ = p.call("GET", "/zones", key=False, headers={"Authorization": "Bearer " + p.key})
    assert st == 200


def test_metrics_listener_without_key(primary_factory):
    mport = free_port()
    p = primary_factory(extra=["--metrics", "127.0.0.1:%d" % mport])
    st, _, _ = p.call("GET", "/metrics", key=False)
    assert st == 401
    # the --metrics listener: /metrics without a key, nothing else
    metrics = ApiClient("127.0.0.1", mport, None, timeout=10)
    st, hdrs, body = metrics.call("GET", "/metrics", key=False)
    text = body.decode()
    assert st == 200 and hdrs["content-type"].startswith("text/plain")
    assert re.search(r"^anycst_zones 1$", text, re.M), text
    for path in ("/api/v1/servers/localhost/zones", "/api/v1/servers/localhost/tsigkeys", "/"):
        st, _, _ = metrics.call("GET", path, key=False, prefix=False)
        assert st == 404, (path, st)
    assert re.search(r"notice: metrics listening on 127\.0\.0\.1:%d" % mport, p.log())


def test_statistics_scoped_to_account(two):
    p = two
    p.call("PATCH", "/zones/alpha.example.", {"rrsets": [rr("t.alpha.example.", "TXT", '"x"')]},
           key=p.ka)
    ka_stats = {s["name"]: s["value"] for s in p.json("GET", "/statistics", key=p.ka, expect=200)}
    kb_stats = {s["name"]: s["value"] for s in p.json("GET", "/statistics", key=p.kb, expect=200)}
    admin = {s["name"]: s["value"] for s in p.json("GET", "/statistics", expect=200)}
    assert ka_stats["zones"] == "1" and kb_stats["zones"] == "1", (ka_stats, kb_stats)
    assert admin["zones"] == "4", admin    # three zones and the catalog
    assert int(ka_stats["records"]) > int(kb_stats["records"]) > 0
    assert int(ka_stats["records"]) + int(kb_stats["records"]) < int(admin["records"])
    assert ka_stats["journal-entries"] == "1" and kb_stats["journal-entries"] == "0"
    # server-wide counters are the admin's
    assert "commits" not in kb_stats and "api-requests" not in kb_stats
    assert "commits" in admin


def axfr_tcp(p, zone, name, secret):
    q = dns.message.make_query(zone, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({name: secret}), keyname=name,
               algorithm="hmac-sha256")
    try:
        r = dns.query.tcp(q, "127.0.0.1", port=p.xfr_port, timeout=10)
    except Exception as e:   # noqa: BLE001 - a refusal may come unsigned
        return type(e).__name__, []
    return r.rcode(), [rrset.to_text() for rrset in r.answer]


def axfr_quic(p, zone, name, secret):
    r = subprocess.run([XOQ, "--remote", "127.0.0.1:%d" % p.quic_port, "--insecure",
                        "-y", "%s:hmac-sha256:%s" % (name, secret), "--timeout", "10000",
                        zone, "AXFR"], capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and r.stdout.strip().splitlines()[-1].startswith("ok "), \
        r.stdout + r.stderr


def test_catalog_only_to_pop_and_allowed_keys(two):
    p = two
    cat = p.catalog
    # alpha's zone key transfers alpha's zone ...
    rc, ans = axfr_tcp(p, "alpha.example.", "alpha-xfr.", p.asecret)
    assert rc == dns.rcode.NOERROR and any("192.0.2.1" in a for a in ans), (rc, ans)
    ok, out = axfr_quic(p, "alpha.example.", "alpha-xfr.", p.asecret)
    assert ok, out
    # ... but not the catalog, which lists beta's zones too
    rc, ans = axfr_tcp(p, cat, "alpha-xfr.", p.asecret)
    assert rc != dns.rcode.NOERROR and not any("beta.example" in a for a in ans), (rc, ans)
    ok, out = axfr_quic(p, cat, "alpha-xfr.", p.asecret)
    assert not ok and "beta.example" not in out, out
    q = dns.message.make_query(cat, "IXFR")
    q.authority.append(dns.rrset.from_text(cat, 0, "IN", "SOA", ". . 1 0 0 0 0"))
    q.use_tsig(dns.tsigkeyring.from_text({"alpha-xfr.": p.asecret}), keyname="alpha-xfr.",
               algorithm="hmac-sha256")
    try:
        r = dns.query.tcp(q, "127.0.0.1", port=p.xfr_port, timeout=10)
        assert r.rcode() != dns.rcode.NOERROR and not r.answer, r
    except dns.exception.DNSException:
        pass
    assert re.search(r"refused IXFR from 127\.0\.0\.1@\d+, TSIG key 'alpha-xfr\.' not allowed",
                     p.log()), p.log()
    assert re.search(r"refused AXFR from 127\.0\.0\.1@\d+, TSIG key 'alpha-xfr\.' not allowed",
                     p.log())
    # an account key cannot allow it; the admin can, with the catalog's master_tsig_key_ids
    st, _, _ = p.call("PUT", "/zones/" + cat, {"master_tsig_key_ids": ["alpha-xfr."]}, key=p.ka)
    assert st == 404
    st, _, resp = p.call("PUT", "/zones/" + cat, {"kind": "Master"})
    assert st == 422, resp
    popsecret = tsig_key(p, "pop-frankfurt-cat.")
    st, _, resp = p.call("PUT", "/zones/" + cat, {"master_tsig_key_ids": ["pop-frankfurt-cat."]})
    assert st == 204, resp
    assert p.json("GET", "/zones/" + cat, expect=200)["master_tsig_key_ids"] == \
        ["pop-frankfurt-cat."]
    rc, ans = axfr_tcp(p, cat, "pop-frankfurt-cat.", popsecret)
    assert rc == dns.rcode.NOERROR and any("beta.example." in a for a in ans), (rc, ans)
    ok, out = axfr_quic(p, cat, "pop-frankfurt-cat.", popsecret)
    assert ok, out
    rc, _ = axfr_tcp(p, cat, "alpha-xfr.", p.asecret)
    assert rc != dns.rcode.NOERROR
