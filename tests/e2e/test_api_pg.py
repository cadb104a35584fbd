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

from anycst_e2e import Primary, free_port, pg_database, pg_wanted

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
