"""Property test (issue 3): 1,000 random PATCHes (adds, replaces, deletes,
extends, prunes, mixed types, several rrsets per request).  A model of the
zone predicts every answer; replaying the journal from the first version
reproduces the current zone exactly, and every entry's old serial equals the
previous entry's new one."""
import json
import random

Z = "prop.test."
NAMES = [Z] + ["n%d.%s" % (i, Z) for i in range(12)]
TTLS = [60, 300, 3600]


def content(rng, typ):
    if typ == "A":
        return "192.0.2.%d" % rng.randrange(1, 8)
    if typ == "AAAA":
        return "2001:db8::%x" % rng.randrange(1, 8)
    if typ == "TXT":
        return '"v%d"' % rng.randrange(0, 6)
    return "%d mx%d.example.net." % (rng.randrange(0, 3) * 10, rng.randrange(0, 3))


def zone_set(primary):
    z = primary.json("GET", "/zones/" + Z, expect=200)
    out = set()
    for r in z["rrsets"]:
        for rec in r["records"]:
            if not rec["disabled"]:
                out.add((r["name"], r["type"], r["ttl"], rec["content"]))
    return z["serial"], out


def apply_model(model, op):
    """model: {(name, type): (ttl, set(contents))}."""
    key = (op["name"], op["type"])
    new = {c["content"] for c in op.get("records", [])}
    ct = op["changetype"]
    if ct == "REPLACE":
        if new:
            model[key] = (op["ttl"], set(new))
        else:
            model.pop(key, None)
    elif ct == "DELETE":
        model.pop(key, None)
    elif ct == "EXTEND":
        ttl, cur = model.get(key, (op["ttl"], set()))
        model[key] = (op["ttl"], cur | new)
    elif ct == "PRUNE":
        if key in model:
            ttl, cur = model[key]
            cur = cur - new
            if cur:
                model[key] = (ttl, cur)
            else:
                model.pop(key)


def model_set(model):
    return {(n, t, ttl, c) for (n, t), (ttl, cs) in model.items() for c in cs}


def test_random_patches_journal_replays(primary_factory):
    p = primary_factory(extra=["--journal-keep", "5000"])
    rng = random.Random(20261126)
    p.create_zone(Z, soa_edit_api="INCREASE", nameservers=["ns1.example.net."])
    serial0, start = zone_set(p)
    model = {}
    for (n, t, ttl, c) in start:
        if t != "SOA":
            model.setdefault((n, t), (ttl, set()))[1].add(c)
    soa0 = [r for r in start if r[1] == "SOA"]
    bumps = 0
    for i in range(1000):
        ops = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            name = rng.choice(NAMES[1:])
            typ = rng.choice(["A", "AAAA", "TXT", "MX"])
            ct = rng.choice(["REPLACE", "REPLACE", "DELETE", "EXTEND", "EXTEND", "PRUNE"])
            recs = sorted({content(rng, typ) for _ in range(rng.randrange(1, 4))})
            op = {"name": name, "type": typ, "changetype": ct, "ttl": rng.choice(TTLS),
                  "records": [{"content": c, "disabled": False} for c in recs]}
            if ct == "REPLACE" and rng.random() < 0.1:
                op["records"] = []
            ops.append(op)
        before = model_set(model)
        for op in ops:
            apply_model(model, op)
        st, h, body = p.call("PATCH", "/zones/" + Z, {"rrsets": ops})
        assert st == 204, (i, ops, body)
        changed = model_set(model) != before
        old, new = int(h["x-pdns-old-serial"]), int(h["x-pdns-new-serial"])
        if changed:
            assert new == old + 1, (i, old, new)
            bumps += 1
        else:
            assert new == old, (i, ops)
    serial, final = zone_set(p)
    assert serial == serial0 + bumps
    assert {r for r in final if r[1] != "SOA"} == model_set(model)
    # replay the journal from the first version
    st, _, body = p.journal(Z, since=serial0)
    assert st == 200, body
    entries = json.loads(body)["entries"]
    assert len(entries) == bumps
    state = set(start)
    prev = serial0
    for e in entries:
        assert e["serial_from"] == prev
        assert e["serial_to"] == prev + 1
        prev = e["serial_to"]
        rem = [(r["name"], r["type"], r["ttl"], r["content"]) for r in e["removed"]]
        add = [(r["name"], r["type"], r["ttl"], r["content"]) for r in e["added"]]
        assert rem[0][1] == "SOA" and add[0][1] == "SOA"
        assert int(rem[0][3].split()[2]) == e["serial_from"]
        assert int(add[0][3].split()[2]) == e["serial_to"]
        for r in rem:
            assert r in state, ("removed record not present", r)
            state.remove(r)
        for r in add:
            assert r not in state, ("added record already present", r)
            state.add(r)
    assert state == final
    assert soa0 and soa0[0] not in final
