"""End to end on a real WireGuard mesh (root only; see mesh_util.py): the
primary and three POPs in network namespaces on a bridged underlay,
wireguard-go everywhere, configured only from what the API returned, and
anycst-secondary started with the command line the API returned.

Checks, in order: every POP serves each new serial; nothing of the primary
is reachable on its underlay address; a POP signing with another POP's key
is refused; a POP cut off keeps serving and catches up by IXFR; after DELETE
the retired POP's transfers are refused while the others go on.
"""
import json
import os
import re
import socket
import time

import dns.message
import dns.query
import dns.exception
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import pytest

from anycst_e2e import mesh as mesh_util

ZONES = ["alpha.example.", "beta.example."]


def fill_rrsets(zone, n=40):
    # enough records that a one-record change is a real incremental IXFR (RFC 1995)
    return [{"name": "h%d.%s" % (i, zone), "type": "A", "ttl": 60, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.%d" % (i + 1), "disabled": False}]}
            for i in range(n)]


def soa_rrset(zone):
    # short refresh/retry so a POP that was cut off catches up within seconds
    return {"name": zone, "type": "SOA", "ttl": 60, "changetype": "REPLACE",
            "records": [{"content": "ns1.example.net. hostmaster.example.net. 1 2 1 600 60",
                         "disabled": False}]}


def patch_txt(m, zone, value):
    st, body = m.api("PATCH", "/zones/" + zone, {"rrsets": [{
        "name": "t." + zone, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
        "records": [{"content": '"%s"' % value, "disabled": False}]}]})
    assert st == 204, (st, body)
    return primary_serial(m, zone)


def primary_serial(m, zone):
    st, body = m.api("GET", "/zones/%s?rrsets=false" % zone)
    assert st == 200, body
    return json.loads(body)["serial"]


def xoq(m, node, remote, zone, keyname, secret, pin):
    """AXFR over QUIC with anycst-xoq from inside `node`: (exit code, output)."""
    argv = [os.path.join(mesh_util.TOOLS, "anycst-xoq"), "--remote", remote, "--pin", pin,
            "-y", "%s:hmac-sha256:%s" % (keyname, secret), "--timeout", "3000", zone, "AXFR"]
    r = m.nsrun(node, *argv, check=False)
    return r.returncode, r.stdout + r.stderr


def wait_serial(m, nodes, zone, serial, timeout=5):
    for node in nodes:
        mesh_util.wait_until(lambda: m.serial(node, zone) == serial, timeout,
                             what="%s serving %s serial %s" % (node, zone, serial))


def txt_at(m, node, zone):
    reg = m.pops[node]
    q = dns.message.make_query("t." + zone, "TXT")
    with m.ns(node):
        r = dns.query.udp(q, reg["mesh_ip"], port=reg["dns_port"], timeout=1)
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def xfr_rcode(m, node, zone, keyname, secret, host="10.53.0.1", port=5300):
    """AXFR asked from inside `node`'s namespace, signed with the given key."""
    q = dns.message.make_query(zone, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
               algorithm="hmac-sha256")
    with m.ns(node):
        try:
            return dns.query.tcp(q, host, port=port, timeout=2).rcode()
        except dns.message.UnknownTSIGKey:
            return "unknown key"
        except dns.tsig.PeerBadKey:
            return "BADKEY"
        except dns.tsig.PeerError as e:
            return type(e).__name__
        except (dns.exception.Timeout, OSError) as e:
            if host != "10.53.0.1":
                raise
            return "unreachable (%s)" % type(e).__name__


@pytest.fixture
def mesh():
    reason = mesh_util.why_not()
    if reason:
        pytest.skip(reason)
    m = mesh_util.Mesh(3)
    try:
        m.build()
        yield m
    finally:
        m.close()


def test_mesh_end_to_end(mesh):
    m = mesh
    t0 = time.monotonic()
    pops = ["pop0", "pop1", "pop2"]
    m.register_pops()
    # the primary put every peer on its interface by itself
    peers = m.nsrun("primary", "wg", "show", m.nodes["primary"]["wg"], "peers").stdout.split()
    assert sorted(peers) == sorted(m.pops[p]["public_key"] for p in pops)
    assert [m.pops[p]["mesh_ip"] for p in pops] == ["10.53.0.2", "10.53.0.3", "10.53.0.4"]

    # --- zones created and changed through the API reach every POP ---------------------
    for z in ZONES:
        st, body = m.api("POST", "/zones", {"name": z, "kind": "Native",
                                            "nameservers": ["ns1.example.net."],
                                            "rrsets": [soa_rrset(z)] + fill_rrsets(z)})
        assert st == 201, body
    for z in ZONES:
        wait_serial(m, pops, z, primary_serial(m, z), timeout=10)
    for i in range(5):
        z = ZONES[i % 2]
        serial = patch_txt(m, z, "change %d" % i)
        wait_serial(m, pops, z, serial)
    cmd = m.pops["pop0"]["command"].split()
    quic = cmd[cmd.index("--transport") + 1] == "quic"
    pin = cmd[cmd.index("--pin") + 1] if quic else None
    served_pin = json.loads(m.api("GET", "")[1]).get("quic_spki_pin")
    assert pin == served_pin   # QUIC with the pin whenever the primary serves it
    for p in pops:
        assert txt_at(m, p, ZONES[0]) == ['"change 4"']
        if quic:   # the primary serves XoQ: the POPs pull over QUIC across the mesh
            assert "incoming IXFR over QUIC from 10.53.0.1" in m.log(p)
        assert re.search(r"\[alpha\.example\.\] zone transfer, completed successfully, "
                         r"serial \d+ -> \d+, IXFR,", m.log(p)), m.log(p)
    listing = {x["name"]: x for x in m.curl("GET", "/secondaries")[1]}
    for p in pops:
        assert listing[p]["last_seen"] is not None
        assert listing[p]["zones"][ZONES[0]]["up_to_date"] is True, listing[p]

    # --- the underlay reaches nothing: transfers and QUIC are on the mesh address only ----
    under = m.nodes["primary"]["ip"]
    for port in (5300, 8853):
        with m.ns("outside"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1)
            with pytest.raises(OSError):
                s.connect((under, port))
            s.close()
            q = dns.message.make_query(ZONES[0], "SOA")
            with pytest.raises((dns.exception.Timeout, OSError)):
                dns.query.udp(q, under, port=port, timeout=0.5)
    with m.ns("outside"):   # and the mesh address is not routed from outside
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1)
        with pytest.raises(OSError):
            s.connect(("10.53.0.1", 5300))
        s.close()
    # even with a POP's key, from the underlay: nothing
    r0 = m.pops["pop0"]
    with pytest.raises((OSError, dns.exception.Timeout)):
        xfr_rcode(m, "outside", ZONES[0], r0["tsig_key"], r0["tsig_secret"], host=under)

    # --- a POP using another POP's key is refused; its own key works -------------------
    assert xfr_rcode(m, "pop1", ZONES[0], r0["tsig_key"], r0["tsig_secret"]) == dns.rcode.REFUSED
    assert "TSIG key 'pop-pop0.' belongs to POP 'pop0' (10.53.0.2), not to 10.53.0.3" in \
        m.log("primary")
    r1 = m.pops["pop1"]
    assert xfr_rcode(m, "pop1", ZONES[0], r1["tsig_key"], r1["tsig_secret"]) == dns.rcode.NOERROR
    if quic:   # the same over QUIC
        rc, out = xoq(m, "pop1", "10.53.0.1:8853", ZONES[0], r0["tsig_key"], r0["tsig_secret"], pin)
        assert rc != 0 and "REFUSED" in out, out
        rc, out = xoq(m, "pop1", "10.53.0.1:8853", ZONES[0], r1["tsig_key"], r1["tsig_secret"], pin)
        assert rc == 0 and out.startswith("ok "), out
        rc, out = xoq(m, "outside", under + ":8853", ZONES[0], r0["tsig_key"], r0["tsig_secret"],
                      pin)
        assert rc != 0, out

    # --- a POP cut off keeps serving and catches up by IXFR ----------------------------
    before = m.serial("pop2", ZONES[0])
    m.link("pop2", up=False)
    for i in range(3):
        serial = patch_txt(m, ZONES[0], "while cut %d" % i)
    wait_serial(m, ["pop0", "pop1"], ZONES[0], serial)
    assert m.serial("pop2", ZONES[0]) == before            # still answering, old data
    assert txt_at(m, "pop2", ZONES[0]) == ['"change 4"']
    done_ixfr = r"\[alpha\.example\.\] zone transfer, completed successfully, serial %d -> %d, IXFR,"
    m.link("pop2", up=True)
    wait_serial(m, ["pop2"], ZONES[0], serial, timeout=10)    # SOA refresh 2 s, retry 1 s
    assert txt_at(m, "pop2", ZONES[0]) == ['"while cut 2"']
    # one incremental IXFR covering the three changes it missed
    assert re.search(done_ixfr % (before, serial), m.log("pop2")), m.log("pop2")[-3000:]

    # --- DELETE: refused at once, no more NOTIFY, peer gone; the others go on ----------
    r2 = m.pops["pop2"]
    st, _ = m.curl("DELETE", "/secondaries/pop2")
    assert st == 204
    assert xfr_rcode(m, "pop2", ZONES[1], r2["tsig_key"], r2["tsig_secret"]) != dns.rcode.NOERROR
    peers = m.nsrun("primary", "wg", "show", m.nodes["primary"]["wg"], "peers").stdout.split()
    assert r2["public_key"] not in peers and len(peers) == 2
    before = m.serial("pop2", ZONES[1])
    serial = patch_txt(m, ZONES[1], "after delete")
    wait_serial(m, ["pop0", "pop1"], ZONES[1], serial)
    time.sleep(1.0)
    assert m.serial("pop2", ZONES[1]) == before
    log = m.log("primary")
    assert "[beta.example.] notify, outgoing, remote 10.53.0.4@53, serial %d" % serial not in log
    assert "[beta.example.] notify, outgoing, remote 10.53.0.3@53, serial %d" % serial in log
    assert [x["name"] for x in m.curl("GET", "/secondaries")[1]] == ["pop0", "pop1"]
    # the primary's private key never leaves it: not served, never written to the database
    st, conf = m.api("GET", "/mesh/wireguard.conf")
    assert st == 200 and m.primary_priv.encode() not in conf
    assert b"PrivateKey = <contents of " + os.path.join(m.dir, "primary-wg.key").encode() + b">" \
        in conf
    for suffix in ("", "-wal"):
        path = os.path.join(m.dir, "anycst.db" + suffix)
        if os.path.exists(path):
            with open(path, "rb") as f:
                assert m.primary_priv.encode() not in f.read()
    # a clean shutdown, and nothing for the sanitizers to say (ANYCST_BIN=bin-san)
    for name in ["primary"] + pops:
        proc = m.primary if name == "primary" else m.pops[name]["proc"]
        m.stop(proc)
        assert proc.returncode == 0, (name, proc.returncode, m.log(name)[-2000:])
        assert "Sanitizer" not in m.log(name), m.log(name)[-4000:]
    assert time.monotonic() - t0 < 90
