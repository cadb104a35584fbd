"""Issue 12.5: the API under hostile clients.

- 600 connections trickling headers from 127.0.0.2 do not block a client on
  127.0.0.1 (per-address connection cap): every answer it gets is < 1 s.
- A request whose headers trickle in is closed at the header deadline, one
  whose body trickles in at the body deadline (MHD's idle timeout alone
  restarts on every byte).
- A body announced (Content-Length) over --api-max-body gets a prompt 413
  with a JSON error, before the body is sent.
- Every list in a request is bounded like the rrsets: 20,000 nameservers (or
  master_tsig_key_ids, comments, a zone text's records per rrset) get a 422 naming the
  field; a zone text's number of rrsets only by the body size.
"""
import http.client
import json
import select
import socket
import time

from anycst_e2e.slowloris import Trickler, raise_nofile

PFX = "/api/v1/servers/localhost"


def read_until_closed(s, timeout):
    """Reads until the peer closes or `timeout` s pass: (closed, bytes, seconds)."""
    t0 = time.monotonic()
    data = b""
    while time.monotonic() - t0 < timeout:
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        try:
            d = s.recv(65536)
        except OSError:
            return True, data, time.monotonic() - t0
        if not d:
            return True, data, time.monotonic() - t0
        data += d
    return False, data, time.monotonic() - t0


def timed_get(port, path, key, timeout=5):
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"X-API-Key": key})
        r = c.getresponse()
        body = r.read()
        return r.status, body, time.monotonic() - t0
    except OSError as e:
        return None, repr(e).encode(), time.monotonic() - t0
    finally:
        c.close()


def test_slowloris_from_one_address_does_not_block_others(primary):
    raise_nofile()
    primary.create_zone("slow.example.")
    endless = b"GET " + PFX.encode() + b"/zones HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 100000
    t = Trickler(primary.api_port, 600, endless)
    t.start()
    try:
        # let the attack build up to its 600 connections first
        deadline = time.monotonic() + 20
        while t.opened < 600 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert t.opened >= 600, t.opened
        times = []
        end = time.monotonic() + 12
        while time.monotonic() < end:
            st, body, dt = timed_get(primary.api_port, PFX + "/zones", primary.key)
            assert st == 200, (st, body[:200], dt)
            times.append(dt)
            time.sleep(0.05)
        print("during the attack: %d requests, slowest %.3f s, attacker connections opened %d"
              % (len(times), max(times), t.opened))
        assert len(times) >= 20
        assert max(times) < 1.0, sorted(times)[-5:]
    finally:
        t.stop.set()
        t.join(10)
    assert primary.proc.poll() is None


def test_header_deadline_closes_a_trickling_request(primary):
    s = socket.create_connection(("127.0.0.1", primary.api_port))
    try:
        req = b"GET " + PFX.encode() + b"/zones HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200
        t0 = time.monotonic()
        closed = False
        i = 0
        # the default header deadline is 10 s; MHD's idle timeout (60 s) never fires
        while time.monotonic() - t0 < 25 and i < len(req):
            try:
                s.send(req[i:i + 1])
            except OSError:
                closed = True
                break
            i += 1
            c, _, _ = read_until_closed(s, 0.5)
            if c:
                closed = True
                break
        dt = time.monotonic() - t0
        assert closed, "a request trickling its headers for %.1f s is still open" % dt
        assert 8 <= dt <= 16, dt
    finally:
        s.close()
    st, _, _ = primary.call("GET", "/zones")
    assert st == 200


def test_body_deadline_closes_a_trickling_body(primary_factory):
    p = primary_factory(extra=["--api-body-timeout", "3"])
    s = socket.create_connection(("127.0.0.1", p.api_port))
    try:
        s.sendall(b"POST " + PFX.encode() + b"/zones HTTP/1.1\r\nHost: x\r\nX-API-Key: "
                  + p.key.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 15:
            try:
                s.send(b" ")
            except OSError:
                closed = True
                break
            c, _, _ = read_until_closed(s, 0.5)
            if c:
                closed = True
                break
        dt = time.monotonic() - t0
        assert closed and 2 <= dt <= 7, (closed, dt)
    finally:
        s.close()
    # the line is written just after the close: wait for it
    deadline = time.monotonic() + 5
    while "past their header or body deadline" not in p.log() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "past their header or body deadline" in p.log()
    st, _, body = p.call("GET", "/metrics", prefix=False)
    assert st == 200 and "anycst_api_deadline_closed_total 1\n" in body.decode(), body[-500:]


def test_announced_body_over_the_limit_gets_a_prompt_413(primary):
    s = socket.create_connection(("127.0.0.1", primary.api_port))
    try:
        t0 = time.monotonic()
        s.sendall(b"POST " + PFX.encode() + b"/zones HTTP/1.1\r\nHost: x\r\nX-API-Key: "
                  + primary.key.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000000\r\n\r\n{\"name\": ")
        closed, data, _ = read_until_closed(s, 5)
        dt = time.monotonic() - t0
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 413"), data[:300]
    assert dt < 2, dt
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower()
    err = json.loads(body)["error"]
    assert "100000000" in err and "16777216" in err, err
    st, _, _ = primary.call("GET", "/zones")
    assert st == 200


def test_every_list_in_a_request_is_bounded(primary_factory, primary):
    ns = ["ns%d.example.net." % i for i in range(20000)]
    st, _, body = primary.call("POST", "/zones", {"name": "ns.example.", "kind": "Native",
                                                  "nameservers": ns})
    assert st == 422, (st, body[:300])
    err = json.loads(body)["error"]
    assert err.startswith("nameservers:") and "20000" in err and "10000" in err, err
    st, _, _ = primary.call("GET", "/zones/ns.example.")
    assert st == 404
    st, _, body = primary.call("POST", "/zones", {
        "name": "keys.example.", "kind": "Native", "nameservers": ["ns1.example.net."],
        "master_tsig_key_ids": ["k%d" % i for i in range(10001)]})
    assert st == 422 and "master_tsig_key_ids" in json.loads(body)["error"], body[:300]

    p = primary_factory(extra=["--api-max-rrsets", "2", "--api-max-records", "3"])
    p.create_zone("small.example.")
    rr = {"name": "a.small.example.", "type": "A", "ttl": 60, "changetype": "REPLACE",
          "records": [{"content": "192.0.2.1", "disabled": False}],
          "comments": [{"content": "c%d" % i, "account": ""} for i in range(4)]}
    st, _, body = p.call("PATCH", "/zones/small.example.", {"rrsets": [rr]})
    assert st == 422, body
    assert json.loads(body)["error"].startswith("rrsets[0].comments:"), body
    st, _, body = p.call("POST", "/zones", {"name": "ns2.example.", "kind": "Native",
                                            "nameservers": ["ns%d.example.net." % i
                                                            for i in range(4)]})
    assert st == 422 and json.loads(body)["error"].startswith("nameservers:"), body
    st, _, body = p.call("POST", "/zones", {"name": "m.example.", "kind": "Native",
                                            "masters": ["192.0.2.%d" % i for i in range(4)]})
    assert st == 422 and json.loads(body)["error"].startswith("masters:"), body
    zone = ("$ORIGIN zt.example.\n$TTL 60\n"
            "@ SOA ns1.example.net. h.example.net. 1 3600 600 86400 300\n"
            "@ NS ns1.example.net.\n" + "".join("a A 192.0.2.%d\n" % i for i in range(4)))
    st, _, body = p.call("POST", "/zones", {"name": "zt.example.", "kind": "Native",
                                            "zone": zone})
    assert st == 422 and "records, more than the limit" in json.loads(body)["error"], body
    # a zone text's number of rrsets is bounded only by the body size: any zone imports
    zone = ("$ORIGIN zt.example.\n$TTL 60\n"
            "@ SOA ns1.example.net. h.example.net. 1 3600 600 86400 300\n"
            "@ NS ns1.example.net.\n" + "".join("a%d A 192.0.2.1\n" % i for i in range(5)))
    st, _, body = p.call("POST", "/zones", {"name": "zt.example.", "kind": "Native",
                                            "zone": zone})
    assert st == 201, body
    # within the limits all is well
    st, _, body = p.call("POST", "/zones", {"name": "ok.example.", "kind": "Native",
                                            "nameservers": ["ns%d.example.net." % i
                                                            for i in range(3)]})
    assert st == 201, body
