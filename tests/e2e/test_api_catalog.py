"""Catalog zone (RFC 9432 v2, issue 3): after 200 random creates and deletes
the catalog lists exactly the zones that exist, one PTR each under zones.
with a unique label, version TXT "2"; its journal chains and replays."""
import json
import random

import pytest


def catalog_members(p):
    text = p.export(p.catalog)
    lines = [l.split() for l in text.splitlines()]
    ptr = [(l[0], l[4]) for l in lines if l[3] == "PTR"]
    version = [l[4] for l in lines if l[3] == "TXT" and l[0] == "version." + p.catalog]
    for owner, _ in ptr:
        assert owner.endswith(".zones." + p.catalog) and owner.count(".") == \
            ("zones." + p.catalog).count(".") + 1
    return ptr, version, text


def test_catalog_after_random_creates_deletes(primary_factory):
    p = primary_factory(catalog="cat.example.", extra=["--journal-keep", "1000"])
    rng = random.Random(9432)
    exist = set()
    cat0 = p.serial("cat.example.")
    _, _, first = catalog_members(p)
    labels_seen = {}
    for i in range(200):
        if exist and rng.random() < 0.4:
            z = rng.choice(sorted(exist))
            st, _, body = p.call("DELETE", "/zones/" + z)
            assert st == 204, body
            exist.remove(z)
        else:
            z = "z%d.t%d.test." % (rng.randrange(60), rng.randrange(2))
            st, _, body = p.call("POST", "/zones", {"name": z, "kind": "Native",
                                                    "nameservers": ["ns.example.net."]})
            if z in exist:
                assert st == 409, body
            else:
                assert st == 201, body
                exist.add(z)
    ptr, version, text = catalog_members(p)
    assert version == ['"2"']
    assert sorted(m for _, m in ptr) == sorted(exist)
    assert len({o for o, _ in ptr}) == len(ptr)  # unique labels
    listed = {z["name"] for z in p.json("GET", "/zones", expect=200)} - {"cat.example."}
    assert listed == exist
    # the catalog's own journal: chained, and replaying it gives the export
    st, _, body = p.journal("cat.example.", since=cat0)
    assert st == 200
    state = {tuple(l.split(None, 4)) for l in first.splitlines()}
    prev = cat0
    for e in json.loads(body)["entries"]:
        assert e["serial_from"] == prev
        prev = e["serial_to"]
        for r in e["removed"]:
            state.remove((r["name"], str(r["ttl"]), "IN", r["type"], r["content"]))
        for r in e["added"]:
            state.add((r["name"], str(r["ttl"]), "IN", r["type"], r["content"]))
    assert prev == p.serial("cat.example.")
    assert state == {tuple(l.split(None, 4)) for l in text.splitlines()}


def test_catalog_labels_stable_and_fresh_on_recreate(primary):
    primary.create_zone("a.test.", soa_edit_api="INCREASE")
    primary.create_zone("b.test.")
    labels = dict((m, o) for o, m in catalog_members(primary)[0])
    primary.patch("a.test.", [{"name": "x.a.test.", "type": "A", "ttl": 60,
                               "changetype": "REPLACE",
                               "records": [{"content": "192.0.2.1", "disabled": False}]}])
    assert dict((m, o) for o, m in catalog_members(primary)[0]) == labels
    st, _, _ = primary.call("DELETE", "/zones/a.test.")
    assert st == 204
    primary.create_zone("a.test.")
    again = dict((m, o) for o, m in catalog_members(primary)[0])
    assert again["b.test."] == labels["b.test."]
    assert again["a.test."] != labels["a.test."]  # RFC 9432: a new zone, a new member
