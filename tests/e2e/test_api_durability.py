"""Durability (issue 3): 8 clients send PATCHes while the primary is killed
with SIGKILL; after restart every change that got a 204 is there, the
journal replays to the zone, and PRAGMA integrity_check says ok."""
import http.client
import json
import signal
import threading
import time

from anycst_e2e import ApiClient

Z = "dur.test."


def client(port, key, cid, acked, stop):
    api = ApiClient("127.0.0.1", port, key, timeout=10)   # this thread's connection
    i = 0
    while not stop.is_set():
        val = '"c%d-%d"' % (cid, i)
        body = {"rrsets": [{"name": "c%d.%s" % (cid, Z), "type": "TXT", "ttl": 60,
                            "changetype": "EXTEND",
                            "records": [{"content": val, "disabled": False}]}]}
        try:
            st, _, _ = api.call("PATCH", "/zones/" + Z, body)
            if st == 204:
                acked.append(("c%d.%s" % (cid, Z), val))
            else:
                assert st == 204, st
        except (OSError, http.client.HTTPException):
            return
        i += 1


def test_sigkill_under_load_loses_nothing_acked(primary_factory):
    primary = primary_factory(extra=["--journal-keep", "1000000"])
    primary.create_zone(Z, soa_edit_api="INCREASE")
    serial0 = primary.serial(Z)
    start = primary.export(Z)
    acked = [[] for _ in range(8)]
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(primary.api_port, primary.key, c, acked[c],
                                                     stop)) for c in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    primary.kill()
    stop.set()
    for t in threads:
        t.join(15)
    total = sum(len(a) for a in acked)
    assert total > 50, total
    if not primary.is_pg:
        assert primary.sql("PRAGMA integrity_check")[0][0] == "ok"
    primary.start()
    z = primary.json("GET", "/zones/" + Z, expect=200)
    have = {(r["name"], rec["content"]) for r in z["rrsets"] if r["type"] == "TXT"
            for rec in r["records"]}
    for a in acked:
        for item in a:
            assert item in have, item
    # every stored change bumped the serial exactly once, and the journal replays
    st, _, body = primary.journal(Z, since=serial0)
    entries = json.loads(body)["entries"]
    assert len(entries) == z["serial"] - serial0 >= total
    state = {tuple(l.split(None, 4)) for l in start.splitlines()}
    prev = serial0
    for e in entries:
        assert e["serial_from"] == prev
        prev = e["serial_to"]
        for r in e["removed"]:
            state.remove((r["name"], str(r["ttl"]), "IN", r["type"], r["content"]))
        for r in e["added"]:
            state.add((r["name"], str(r["ttl"]), "IN", r["type"], r["content"]))
    assert state == {tuple(l.split(None, 4)) for l in primary.export(Z).splitlines()}
    if not primary.is_pg:
        assert primary.sql("PRAGMA integrity_check")[0][0] == "ok"
