"""tools/anycst-sqlite2pg (issue 19): a primary's SQLite database copied into
PostgreSQL (a throwaway server, anycst_e2e/pg.py) and verified zone by zone;
a primary started on the copy serves the same zones, serials, journal, keys,
and goes on changing them (ids and journal sequences past the copied ones).
One zone is signed: its dnssec_names rows (schema 0012) are copied and
verified with it, and the primary on the copy goes on signing it."""
import json
import os
import subprocess

from anycst_e2e import BIN, Primary, pg_database, pg_sql


def run_tool(*args):
    return subprocess.run([os.path.join(BIN, "anycst-sqlite2pg")] + list(args),
                          capture_output=True, text=True, timeout=300)


def test_copy_verify_and_serve(tmp_path):
    d1, d2 = str(tmp_path / "one"), str(tmp_path / "two")
    os.mkdir(d1)
    os.mkdir(d2)
    src = os.path.join(d1, "anycst.db")
    kf = os.path.join(d1, "dnssec.key")
    p1 = Primary(d1, db=src, extra=["--dnssec-key-file", kf])
    try:
        p1.add_key("xfr-key")
        p1.add_zone("a.test.", keys=["xfr-key"])
        p1.add_zone("b.test.")
        p1.api("PUT", "/zones/b.test.", {"dnssec": True})
        p1.create_zone("gone.test.")
        p1.api("DELETE", "/zones/gone.test.")
        for i in range(5):
            p1.patch("a.test.", [{"name": "w%d.a.test." % i, "type": "TXT", "ttl": 60,
                                  "changetype": "REPLACE",
                                  "records": [{"content": '"Mixed Case %d"' % i,
                                               "disabled": i == 3}]}])
        key = p1.json("POST", "/apikeys", {"account": "acme"}, expect=201)["key"]
        want = {z: (p1.serial(z), p1.export(z), p1.journal(z)[2]) for z in ("a.test.", "b.test.")}
        tsig = p1.json("GET", "/tsigkeys", expect=200)
    finally:
        p1.stop()

    url = pg_database()
    r = run_tool(src, url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "copy verified" in r.stdout
    assert "zone a.test. serial %d sha256 " % want["a.test."][0] in r.stdout
    assert "DIFFERS" not in r.stdout
    # the check alone sees a record changed behind its back, and names the zone
    assert run_tool("--verify", src, url).returncode == 0
    pg_sql(url, "UPDATE records SET ttl = 61 WHERE ttl = 60 AND zone_id = "
                "(SELECT id FROM zones WHERE name = 'a.test.')")
    bad = run_tool("--verify", src, url)
    assert bad.returncode == 1 and "zone a.test." in bad.stdout and "DIFFERS" in bad.stdout
    assert "zone b.test." in bad.stdout and bad.stdout.count("DIFFERS") == 1, bad.stdout
    pg_sql(url, "UPDATE records SET ttl = 60 WHERE ttl = 61")
    # the signed zone's names are in the digest: a signature's row changed is seen
    names = int(pg_sql(url, "SELECT count(*) FROM dnssec_names WHERE zone_id = "
                            "(SELECT id FROM zones WHERE name = 'b.test.') AND ctype = 47 "
                            "AND length(sigs) > 0"))
    assert names >= 2, names
    pg_sql(url, "UPDATE dnssec_names SET cttl = cttl + 1 WHERE okey = (SELECT okey FROM "
                "dnssec_names WHERE zone_id = (SELECT id FROM zones WHERE name = 'b.test.') "
                "ORDER BY okey LIMIT 1)")
    bad = run_tool("--verify", src, url)
    assert bad.returncode == 1 and "zone b.test." in bad.stdout, bad.stdout
    assert bad.stdout.count("DIFFERS") == 1, bad.stdout
    pg_sql(url, "UPDATE dnssec_names SET cttl = cttl - 1 WHERE okey = (SELECT okey FROM "
                "dnssec_names WHERE zone_id = (SELECT id FROM zones WHERE name = 'b.test.') "
                "ORDER BY okey LIMIT 1)")
    assert run_tool("--verify", src, url).returncode == 0
    # a second copy into the same database is refused
    again = run_tool(src, url)
    assert again.returncode == 1 and "holds 3 zones already" in again.stderr, again.stderr

    p2 = Primary(d2, db=url, key=open(os.path.join(d1, "api.key")).read().strip(),
                 extra=["--dnssec-key-file", kf])
    try:
        for z, (serial, export, journal) in want.items():
            assert p2.serial(z) == serial
            assert p2.export(z) == export
            assert p2.journal(z)[2] == journal
        assert p2.json("GET", "/tsigkeys", expect=200) == tsig
        st, _, body = p2.call("GET", "/zones", key=key)
        assert st == 200 and json.loads(body) == [], body
        # it goes on: a new zone gets a new id (its catalog member label is new),
        # a change a new journal row
        p2.create_zone("c.test.")
        p2.patch("a.test.", [{"name": "after.a.test.", "type": "A", "ttl": 60,
                              "changetype": "REPLACE",
                              "records": [{"content": "192.0.2.9", "disabled": False}]}])
        assert p2.serial("a.test.") == want["a.test."][0] + 1
        # the signed zone goes on signing from the copied rows: one name more
        p2.patch("b.test.", [{"name": "new.b.test.", "type": "A", "ttl": 60,
                              "changetype": "REPLACE",
                              "records": [{"content": "192.0.2.8", "disabled": False}]}])
        assert p2.serial("b.test.") == want["b.test."][0] + 1
        after = int(pg_sql(url, "SELECT count(*) FROM dnssec_names WHERE zone_id = "
                                "(SELECT id FROM zones WHERE name = 'b.test.') AND ctype = 47 "
                                "AND length(sigs) > 0"))
        assert after == names + 1, (names, after)
        ids = p2.sql("SELECT id FROM zones ORDER BY id")
        assert len(ids) == len(set(ids)) == 4
    finally:
        p2.stop()


def test_refuses_unmigrated_source(tmp_path):
    src = str(tmp_path / "old.db")
    subprocess.run(["sqlite3", src, "CREATE TABLE t (x); PRAGMA user_version = 3"], check=True)
    r = run_tool(src, pg_database())
    assert r.returncode == 1
    assert "schema version 3" in r.stderr and "start anycst-primary on it" in r.stderr
