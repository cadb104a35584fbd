"""The API on PostgreSQL (ANYCST_DB=pg; skipped on SQLite), issue 19: a
connection lost during COMMIT answers 503 "outcome unknown", never a guess,
and the next request connects again."""
import json
import os
import socket
import struct
import tempfile
import threading
import urllib.parse

import pytest

from anycst_e2e import Primary, free_port, pg_database, pg_sql, pg_wanted

Z = "lost.test."


def test_commit_lost_answers_503(primary):
    if not primary.is_pg:
        pytest.skip("PostgreSQL only (ANYCST_DB=pg)")
    primary.add_zone(Z)
    s0 = primary.serial(Z)
    # a deferred constraint trigger ends the server process at COMMIT
    primary.sql("CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS "
                "$$BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); "
                "RETURN NULL; END$$; CREATE CONSTRAINT TRIGGER die AFTER INSERT ON journal "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die()")
    rr = [{"name": "a." + Z, "type": "A", "ttl": 60, "changetype": "REPLACE",
           "records": [{"content": "192.0.2.7", "disabled": False}]}]
    st, _, body = primary.call("PATCH", "/zones/" + Z, {"rrsets": rr})
    assert st == 503, body
    assert "outcome unknown" in json.loads(body)["error"]
    primary.sql("DROP TRIGGER die ON journal")
    # the client re-reads: here the change did not commit; a retry is safe
    assert primary.serial(Z) == s0
    _, h, _ = primary.call("GET", "/zones/" + Z)
    primary.patch(Z, rr, headers={"If-Match": h["etag"]})
    assert primary.serial(Z) == s0 + 1


def _refusing_server(sock, stop):
    """A PostgreSQL look-alike that reads each startup packet and refuses the
    login (FATAL 28P01), as a host of a multi-host URL that answers but lets
    nobody in."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = sock.accept()
        except OSError:
            continue
        with c:
            c.settimeout(5)
            try:
                n = struct.unpack("!I", c.recv(4))[0]
                c.recv(n - 4)
                fields = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0"
                c.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)
            except OSError:
                pass


@pytest.mark.skipif(not pg_wanted(), reason="PostgreSQL only (ANYCST_DB=pg)")
def test_multi_host_login_refused_tries_the_next():
    url = pg_database()
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    port = free_port(also_udp=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen(8)
    stop = threading.Event()
    t = threading.Thread(target=_refusing_server, args=(sock, stop), daemon=True)
    t.start()
    # the refusing host first, the real server (its unix socket) second
    multi = ("postgresql:///anycst?host=127.0.0.1,%s&port=%d,5432&user=%s&sslmode=disable"
             "&target_session_attrs=read-write&options=%s"
             % (q["host"][0], port, q["user"][0], urllib.parse.quote(q["options"][0])))
    d = tempfile.mkdtemp(prefix="anycst-e2e-")
    p = None
    try:
        p = Primary(d, db=multi)
        p.add_zone(Z)
        assert p.serial(Z) > 0
    finally:
        if p is not None:
            p.stop()
        stop.set()
        t.join(5)
        sock.close()


def _own_database(name):
    """A database of its own on the test server (its connections can be cut
    and refused without touching the other tests'): (its URL, an admin URL)."""
    admin = pg_database().split("&options=")[0]
    pg_sql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    pg_sql(admin, "CREATE DATABASE %s" % name)
    return admin.replace("/anycst?", "/%s?" % name, 1), admin


def _cut(admin, name):
    pg_sql(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                  "WHERE datname = '%s' AND pid <> pg_backend_pid()" % name)


@pytest.mark.skipif(not pg_wanted(), reason="PostgreSQL only (ANYCST_DB=pg)")
def test_database_down_answers_503_and_read_only_server_left():
    """During a failover no writable server answers: 503 "database unavailable"
    (nothing changed, a retry is safe), not a 500; the next request connects
    again.  A server that went read-only under an open connection (25006, a
    primary demoted in place) is left at the next request for a writable one."""
    name = "anycst_down_%d" % os.getpid()
    url, admin = _own_database(name)
    d = tempfile.mkdtemp(prefix="anycst-e2e-")
    p = None
    rr = [{"name": "a." + Z, "type": "A", "ttl": 60, "changetype": "REPLACE",
           "records": [{"content": "192.0.2.8", "disabled": False}]}]
    try:
        p = Primary(d, db=url)
        p.add_zone(Z)
        s0 = p.serial(Z)
        # no server lets us in: 503 for writes and reads
        pg_sql(admin, "ALTER DATABASE %s ALLOW_CONNECTIONS false" % name)
        _cut(admin, name)
        st, _, body = p.call("PATCH", "/zones/" + Z, {"rrsets": rr})
        assert st == 503, body
        assert "database unavailable" in json.loads(body)["error"], body
        st, _, body = p.call("GET", "/zones/" + Z)
        assert st == 503, body
        pg_sql(admin, "ALTER DATABASE %s ALLOW_CONNECTIONS true" % name)
        p.patch(Z, rr)
        assert p.serial(Z) == s0 + 1
        # the server is read-only for the connection made next: 503, then left
        pg_sql(admin, "ALTER DATABASE %s SET default_transaction_read_only = on" % name)
        _cut(admin, name)
        rr[0]["records"][0]["content"] = "192.0.2.9"
        st, _, body = p.call("PATCH", "/zones/" + Z, {"rrsets": rr})
        assert st == 503, body
        assert "database unavailable" in json.loads(body)["error"], body
        pg_sql(admin, "ALTER DATABASE %s RESET default_transaction_read_only" % name)
        p.patch(Z, rr)
        assert p.serial(Z) == s0 + 2
        assert "database unavailable" in p.log() or "read-only" in p.log()
    finally:
        if p is not None:
            p.stop()
        pg_sql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
