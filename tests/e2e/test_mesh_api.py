"""POP registry over the API, on loopback (no root needed): registration
returns a mesh address, a TSIG key, the POP's wg-quick config and its
command line; bad input is a 4xx naming the fault with nothing allocated;
DELETE revokes the key; a POP's key works only from that POP's mesh address.
The real mesh (namespaces, wireguard-go) is in test_mesh.py.
"""
import base64
import os
import re

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring

PUBS = [base64.b64encode(bytes([i]) * 31 + b"\0").decode() for i in range(1, 8)]


def register(p, name, pub, endpoint="192.0.2.10:51820", expect=201, **extra):
    body = {"name": name, "endpoint": endpoint, "public_key": pub}
    body.update(extra)
    return p.json("POST", "/secondaries", body, expect=expect)


def counts(p):
    return (int(p.sql("SELECT count(*) FROM secondaries")[0][0]),
            int(p.sql("SELECT count(*) FROM tsig_keys")[0][0]))


def test_register_list_conf_delete(primary):
    r = register(primary, "tokyo", PUBS[0], dns_port=5353)
    assert r["mesh_ip"] == "10.53.0.2"
    assert r["tsig_key"] == "pop-tokyo."
    assert r["dns_port"] == 5353
    conf = r["wireguard_config"]
    assert "[Interface]\nAddress = 10.53.0.2/24\nPrivateKey = <" in conf
    assert "ListenPort = 51820\n" in conf
    assert "AllowedIPs = 10.53.0.1/32\n" in conf
    assert "PersistentKeepalive = 25\n" in conf
    cmd = r["command"].split()
    assert cmd[0] == "anycst-secondary"
    # the primary serves XoQ, so the POP pulls over QUIC with the primary's pin
    pin = primary.json("GET", "", expect=200)["quic_spki_pin"]
    assert cmd[cmd.index("--primary") + 1] == "10.53.0.1:%d" % primary.quic_port
    assert cmd[cmd.index("--transport") + 1] == "quic"
    assert cmd[cmd.index("--pin") + 1] == pin
    # the secret goes into a file, never on the command line (ps shows it to every user)
    assert "--tsig" not in cmd and r["tsig_secret"] not in r["command"]
    assert cmd[cmd.index("--tsig-file") + 1] == r["tsig_file"] == "/etc/anycst/pop-tokyo.tsig"
    assert r["tsig_file_content"] == "pop-tokyo.:hmac-sha256:" + r["tsig_secret"] + "\n"
    assert cmd[cmd.index("--listen") + 1] == "10.53.0.2:5353"
    assert len(base64.b64decode(r["tsig_secret"])) == 32

    r2 = register(primary, "frankfurt", PUBS[1], endpoint="[2001:db8::7]:51999")
    assert r2["mesh_ip"] == "10.53.0.3"
    assert "ListenPort = 51999\n" in r2["wireguard_config"]
    assert r2["tsig_secret"] != r["tsig_secret"]

    # the key exists like any /tsigkeys key, hmac-sha256
    keys = {k["name"]: k for k in primary.json("GET", "/tsigkeys", expect=200)}
    assert keys["pop-tokyo"]["algorithm"] == "hmac-sha256"

    pops = primary.json("GET", "/secondaries", expect=200)
    assert [x["name"] for x in pops] == ["tokyo", "frankfurt"]
    assert all("last_seen" in x and "zones" in x for x in pops)
    one = primary.json("GET", "/secondaries/frankfurt", expect=200)
    assert one["mesh_ip"] == "10.53.0.3" and "tsig_secret" not in one

    st, hdrs, body = primary.call("GET", "/mesh/wireguard.conf")
    assert st == 200 and hdrs["content-type"].startswith("text/plain")
    text = body.decode()
    assert "Address = 10.53.0.1/24\n" in text
    assert "PublicKey = %s\nAllowedIPs = 10.53.0.2/32\nEndpoint = 192.0.2.10:51820\n" % PUBS[0] \
        in text
    assert "Endpoint = [2001:db8::7]:51999\n" in text

    st, _, _ = primary.call("DELETE", "/secondaries/tokyo")
    assert st == 204
    st, _, body = primary.call("DELETE", "/secondaries/tokyo")
    assert st == 404 and b"tokyo" in body
    assert primary.json("GET", "/secondaries/tokyo", expect=404)
    assert "pop-tokyo" not in {k["name"] for k in primary.json("GET", "/tsigkeys", expect=200)}
    assert PUBS[0] not in primary.call("GET", "/mesh/wireguard.conf")[2].decode()
    # the freed address is handed out again; the registry survives a restart
    assert register(primary, "osaka", PUBS[2])["mesh_ip"] == "10.53.0.2"
    primary.restart()
    assert [x["name"] for x in primary.json("GET", "/secondaries", expect=200)] == \
        ["frankfurt", "osaka"]
    assert counts(primary) == (2, 2)


def test_bad_input_allocates_nothing(primary_factory):
    p = primary_factory(extra=["--mesh-net", "10.99.0.0/30"])   # one POP address
    assert register(p, "only", PUBS[0])["mesh_ip"] == "10.99.0.2"
    before = counts(p)
    cases = [
        ({"name": "a", "endpoint": "192.0.2.1:1", "public_key": "short"}, 422, "public_key"),
        ({"name": "a", "endpoint": "192.0.2.1:1", "public_key": PUBS[3][:-2] + "!="}, 422,
         "public_key"),
        ({"name": "a", "endpoint": "192.0.2.1:1",
          "public_key": base64.b64encode(b"x" * 33).decode()}, 422, "public_key"),
        ({"name": "a", "endpoint": "192.0.2.1", "public_key": PUBS[3]}, 422, "endpoint"),
        ({"name": "a", "endpoint": "2001:db8::1:53", "public_key": PUBS[3]}, 422, "endpoint"),
        ({"name": "a", "endpoint": "192.0.2.1:70000", "public_key": PUBS[3]}, 422, "endpoint"),
        ({"name": "a", "endpoint": "[::1]", "public_key": PUBS[3]}, 422, "endpoint"),
        ({"name": "A b", "endpoint": "192.0.2.1:1", "public_key": PUBS[3]}, 422, "name"),
        ({"endpoint": "192.0.2.1:1", "public_key": PUBS[3]}, 422, "name"),
        ({"name": "a", "endpoint": 5, "public_key": PUBS[3]}, 422, "endpoint"),
        ({"name": "a", "endpoint": "192.0.2.1:1", "public_key": PUBS[3], "dns_port": 0}, 422,
         "dns_port"),
        ({"name": "only", "endpoint": "192.0.2.1:1", "public_key": PUBS[3]}, 409, "name"),
        ({"name": "a", "endpoint": "192.0.2.1:1", "public_key": PUBS[0]}, 409, "public_key"),
        ({"name": "a", "endpoint": "192.0.2.1:1", "public_key": PUBS[3]}, 422, "pool"),
    ]
    for body, status, word in cases:
        st, _, payload = p.call("POST", "/secondaries", body)
        assert st == status, (body, st, payload)
        assert word in payload.decode(), (body, payload)
    st, _, payload = p.call("POST", "/secondaries", raw=b"{not json")
    assert st == 400
    assert counts(p) == before
    assert len(p.json("GET", "/secondaries", expect=200)) == 1
    # account keys cannot touch the registry
    st, _, _ = p.call("GET", "/secondaries", key="wrong")
    assert st == 401


def axfr(addr, zone, keyname, secret):
    host, port = addr.rsplit(":", 1)
    q = dns.message.make_query(zone, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
               algorithm="hmac-sha256")
    try:
        r = dns.query.tcp(q, host, port=int(port), timeout=5)
        return r.rcode()
    except dns.message.UnknownTSIGKey:
        return "badkey"
    except Exception as e:   # noqa: BLE001 - a refused TSIG answer may not verify
        return type(e).__name__


def test_pop_key_only_from_its_mesh_address(primary):
    primary.create_zone("mesh-acl.example.")
    r = register(primary, "tokyo", PUBS[0])
    # Our address is 127.0.0.1, not 10.53.0.2: the POP's own key is refused here.
    rc = axfr(primary.xfr_addr, "mesh-acl.example.", "pop-tokyo.", r["tsig_secret"])
    assert rc == dns.rcode.REFUSED, rc
    assert re.search(r"refused AXFR from 127\.0\.0\.1@\d+, TSIG key 'pop-tokyo\.' belongs to "
                     r"POP 'tokyo' \(10\.53\.0\.2\)", primary.log())
    # an ordinary transfer key still works from anywhere
    primary.json("POST", "/tsigkeys", {"name": "plain", "algorithm": "hmac-sha256",
                                       "key": base64.b64encode(os.urandom(32)).decode()},
                 expect=201)
    k = primary.json("GET", "/tsigkeys/plain.", expect=200)
    primary.call("PUT", "/zones/mesh-acl.example.", {"master_tsig_key_ids": ["plain."]})
    assert axfr(primary.xfr_addr, "mesh-acl.example.", "plain.", k["key"]) == dns.rcode.NOERROR
    # after DELETE the key is gone: the transfer is not even verified
    st, _, _ = primary.call("DELETE", "/secondaries/tokyo")
    assert st == 204
    rc = axfr(primary.xfr_addr, "mesh-acl.example.", "pop-tokyo.", r["tsig_secret"])
    assert rc != dns.rcode.NOERROR
