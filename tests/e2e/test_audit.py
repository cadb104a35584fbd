"""The audit log of API changes and the log formats (issue 17.5): every
change answered 2xx leaves a row (key id, account, zone, what, old and new
serial, time) that survives a restart and is listed by GET .../audit, the
admin seeing every row and an account key only its own; refused changes
leave none.  --log-format json makes every log line one JSON object."""
import json
import time

import pytest

from anycst_e2e import Primary, TmpDir


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def rr(name, content):
    return {"name": name, "type": "A", "ttl": 300, "changetype": "REPLACE",
            "records": [{"content": content, "disabled": False}]}


def audit(p, key=True, query=""):
    st, _, body = p.call("GET", "/audit" + query, key=key)
    assert st == 200, body
    return json.loads(body)


def test_audit_rows_scoped_and_durable(tmp):
    p = Primary(tmp)
    try:
        t0 = time.time()
        p.create_zone("admin.example.", soa_edit_api="INCREASE")
        p.patch("admin.example.", [rr("www.admin.example.", "192.0.2.1")])
        made = p.json("POST", "/apikeys", {"account": "acme", "description": "e2e"}, expect=201)
        key, kid = made["key"], made["id"]
        body = {"name": "acme.example.", "kind": "Native", "nameservers": ["ns1.example.net."],
                "soa_edit_api": "INCREASE"}
        st, _, out = p.call("POST", "/zones", body, key=key)
        assert st == 201, out
        st, _, out = p.call("PATCH", "/zones/acme.example.",
                            {"rrsets": [rr("www.acme.example.", "192.0.2.2")]}, key=key)
        assert st == 204, out
        # refused changes leave no row
        st, _, _ = p.call("PATCH", "/zones/acme.example.",
                          {"rrsets": [rr("www.acme.example.", "not-an-address")]}, key=key)
        assert st == 422
        st, _, _ = p.call("DELETE", "/zones/admin.example.", key=key)
        assert st == 404

        rows = audit(p)
        whats = [(r["key_id"], r["account"], r["zone"], r["what"]) for r in rows]
        assert whats == [
            (0, "", "admin.example.", "POST /zones"),
            (0, "", "admin.example.", "PATCH /zones/admin.example."),
            (0, "", "", "POST /apikeys"),
            (kid, "acme", "acme.example.", "POST /zones"),
            (kid, "acme", "acme.example.", "PATCH /zones/acme.example."),
        ], whats
        patch = rows[4]
        serial = p.serial("acme.example.")
        assert patch["new_serial"] == serial and patch["old_serial"] < serial, patch
        assert patch["status"] == 204
        assert t0 - 1 <= patch["time"] <= time.time() + 1
        assert rows[2]["old_serial"] is None

        # an account key sees its own rows only; filters
        mine = audit(p, key=key)
        assert [r["id"] for r in mine] == [rows[3]["id"], rows[4]["id"]]
        assert [r["what"] for r in audit(p, query="?zone=admin.example.")] == \
            ["POST /zones", "PATCH /zones/admin.example."]
        assert audit(p, key=key, query="?zone=admin.example.") == []
        assert audit(p, query="?since=%d" % (time.time() + 3600)) == []
        assert [r["id"] for r in audit(p, query="?after=%d&limit=2" % rows[1]["id"])] == \
            [rows[2]["id"], rows[3]["id"]]
        st, _, body = p.call("GET", "/audit?since=yesterday")
        assert st == 422 and b"since" in body

        # the log says it too, key=value
        assert 'audit key=%d account="acme" what="PATCH /zones/acme.example."' % kid in p.log()

        # rows are durable
        p.restart()
        assert audit(p) == rows
    finally:
        p.stop()


def test_log_format_json(tmp):
    p = Primary(tmp, extra=["--log-format", "json"])
    try:
        p.create_zone("json.example.", soa_edit_api="INCREASE")
    finally:
        p.stop()
    lines = [ln for ln in p.log().splitlines() if ln.strip()]
    objs = [json.loads(ln) for ln in lines]     # every line is one JSON object
    assert all({"ts", "level", "msg"} <= set(o) for o in objs)
    assert any(o.get("zone") == "json.example." and "zone created" in o["msg"] for o in objs)
    assert any(o["level"] == "notice" and "anycst-primary started" in o["msg"] for o in objs)


def _patcher(port, key, cid, stop, rnd):
    import http.client
    from anycst_e2e import ApiClient
    api = ApiClient("127.0.0.1", port, key, timeout=10)
    i = 0
    while not stop.is_set():
        try:
            api.call("PATCH", "/zones/crash.example.",
                     {"rrsets": [{"name": "r%d-c%d-%d.crash.example." % (rnd, cid, i), "type": "A",
                                  "ttl": 60, "changetype": "REPLACE",
                                  "records": [{"content": "192.0.2.1", "disabled": False}]}]})
        except (OSError, http.client.HTTPException):
            return
        i += 1


def _all_rows(p):
    rows, after = [], 0
    while True:
        page = audit(p, query="?zone=crash.example.&after=%d&limit=10000" % after)
        if not page:
            return rows
        rows += page
        after = page[-1]["id"]


def test_audit_row_commits_with_its_change(primary_factory):
    """The audit row is written in the change's own transaction: a primary killed
    (SIGKILL) while 8 clients PATCH keeps, for every serial the zone went through,
    exactly one row naming it (written after the commit, the rows of the changes
    committed just before the kill were lost: several writers wait for the lock
    between their change and its row).  Several kills, so the window is hit."""
    import signal
    import threading
    p = primary_factory(extra=["--journal-keep", "1000000"])
    p.create_zone("crash.example.", soa_edit_api="INCREASE")
    serial0 = p.serial("crash.example.")
    for rnd in range(3):
        stop = threading.Event()
        threads = [threading.Thread(target=_patcher, args=(p.api_port, p.key, c, stop, rnd))
                   for c in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        p.kill()
        stop.set()
        for t in threads:
            t.join(15)
        p.start()
    serial = p.serial("crash.example.")
    rows = [r for r in _all_rows(p) if r["what"] == "PATCH /zones/crash.example."]
    assert serial - serial0 > 30, (serial0, serial)
    got = sorted(r["new_serial"] for r in rows)
    missing = sorted(set(range(serial0 + 1, serial + 1)) - set(got))
    assert not missing, "%d changes without their audit row, e.g. serials %s" % (
        len(missing), missing[:10])
    import collections
    dup = [s for s, n in collections.Counter(got).items() if n > 1]
    assert got == list(range(serial0 + 1, serial + 1)), ("a serial with several rows", dup[:10], len(got), serial0, serial)
    assert all(r["old_serial"] == r["new_serial"] - 1 and r["status"] == 204 for r in rows)
