"""The whole chain over IPv6 only, on a real WireGuard mesh in network
namespaces (issue 18.5; root only, see anycst_e2e/mesh.py): the underlay in
2001:db8:99::/64, the mesh in fd00:53::/64 (--mesh-net), the primary's API
on [::1], no IPv4 address on any link.  POPs are registered with curl and
configured only from what the API returned (WireGuard config with /128
AllowedIPs, the [v6]:port command line); then API 204 -> journal -> NOTIFY
-> IXFR over QUIC -> every POP answers the new serial, timed; a POP's key
from another POP's address is refused; DELETE stops its NOTIFYs."""
import json
import re
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import pytest

from anycst_e2e import mesh as mesh_util

ZONE = "v6.example."


@pytest.fixture
def mesh():
    reason = mesh_util.why_not()
    if reason:
        pytest.skip(reason)
    m = mesh_util.Mesh(2, v6=True)
    try:
        m.build()
        yield m
    finally:
        m.close()


def serial_of(m, zone):
    st, body = m.api("GET", "/zones/%s?rrsets=false" % zone)
    assert st == 200, body
    return json.loads(body)["serial"]


def xfr_rcode(m, node, zone, reg):
    q = dns.message.make_query(zone, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({reg["tsig_key"]: reg["tsig_secret"]}),
               keyname=reg["tsig_key"], algorithm="hmac-sha256")
    with m.ns(node):
        return dns.query.tcp(q, "fd00:53::1", port=5300, timeout=3).rcode()


def test_mesh_ipv6_only(mesh):
    m = mesh
    t0 = time.monotonic()
    pops = ["pop0", "pop1"]
    # no IPv4 address anywhere but the namespaces' own loopback
    for node in ["primary"] + pops:
        v4 = m.nsrun(node, "ip", "-4", "-o", "addr", "show").stdout
        assert all(" lo " in line for line in v4.splitlines()), v4
    m.register_pops()
    assert [m.pops[p]["mesh_ip"] for p in pops] == ["fd00:53::2", "fd00:53::3"]
    for p in pops:
        reg = m.pops[p]
        assert reg["primary_mesh_ip"] == "fd00:53::1"
        assert "AllowedIPs = fd00:53::1/128\n" in reg["wireguard_config"]
        assert "--listen [%s]:53 " % reg["mesh_ip"] in reg["command"], reg["command"]
        assert re.search(r"--primary \[fd00:53::1\]:(8853|5300) ", reg["command"]), reg["command"]
    st, conf = m.api("GET", "/mesh/wireguard.conf")
    assert st == 200 and b"AllowedIPs = fd00:53::2/128\n" in conf, conf
    assert b"Address = fd00:53::1/64\n" in conf

    st, body = m.api("POST", "/zones", {
        "name": ZONE, "kind": "Native", "nameservers": ["ns1.example.net."],
        "rrsets": [{"name": "h%d.%s" % (i, ZONE), "type": "AAAA", "ttl": 60,
                    "changetype": "REPLACE",
                    "records": [{"content": "2001:db8::%x" % (i + 1), "disabled": False}]}
                   for i in range(40)]})
    assert st == 201, body
    want = serial_of(m, ZONE)
    for p in pops:
        mesh_util.wait_until(lambda: m.serial(p, ZONE) == want, 20,
                             what="%s serving %s" % (p, ZONE))
    lags = []
    for i in range(5):
        st, body = m.api("PATCH", "/zones/" + ZONE, {"rrsets": [{
            "name": "t." + ZONE, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
            "records": [{"content": '"change %d"' % i, "disabled": False}]}]})
        t204 = time.monotonic()
        assert st == 204, body
        want = serial_of(m, ZONE)
        for p in pops:
            mesh_util.wait_until(lambda: m.serial(p, ZONE, timeout=0.1) == want, 10, step=0.002,
                                 what="%s serving serial %d" % (p, want))
        lags.append(time.monotonic() - t204)
    print("IPv6 mesh, API 204 -> both POPs serving, s:", ["%.3f" % x for x in lags])
    assert max(lags) < 3.0, lags
    st, body = m.api("GET", "/zones/%s/journal" % ZONE)   # the changes, journaled
    assert st == 200 and len(json.loads(body)) >= 5, body
    quic = "--transport quic" in m.pops["pop0"]["command"]
    assert quic, m.pops["pop0"]["command"]   # the primary serves XoQ: the POPs pull over QUIC
    for p in pops:
        log = m.log(p)
        assert re.search(r"\[v6\.example\.\] zone transfer, completed successfully, "
                         r"serial \d+ -> \d+, IXFR,", log), log[-3000:]
        assert "incoming IXFR over QUIC from fd00:53::1" in log, log[-3000:]
        assert "remote fd00:53::1@" in log, log[-3000:]    # NOTIFY came from the mesh address
    plog = m.log("primary")
    assert "mesh fd00:53::/64, primary fd00:53::1" in plog, plog[:3000]
    assert re.search(r"notify, outgoing, remote fd00:53::3@53, serial %d" % want, plog), plog[-3000:]

    # the propagation table knows each POP by its IPv6 mesh address
    listing = {x["name"]: x for x in m.curl("GET", "/secondaries")[1]}
    for p in pops:
        assert listing[p]["mesh_ip"] == m.pops[p]["mesh_ip"]
        assert listing[p]["last_seen"] is not None, listing[p]
        assert listing[p]["zones"][ZONE]["up_to_date"] is True, listing[p]

    # a POP's key from another POP's address is refused; its own works
    r0, r1 = m.pops["pop0"], m.pops["pop1"]
    assert xfr_rcode(m, "pop1", ZONE, r0) == dns.rcode.REFUSED
    assert "TSIG key 'pop-pop0.' belongs to POP 'pop0' (fd00:53::2), not to fd00:53::3" in \
        m.log("primary")
    assert xfr_rcode(m, "pop1", ZONE, r1) == dns.rcode.NOERROR

    # DELETE: no more NOTIFY to it; the other goes on
    st, _ = m.curl("DELETE", "/secondaries/pop1")
    assert st == 204
    st, body = m.api("PATCH", "/zones/" + ZONE, {"rrsets": [{
        "name": "t." + ZONE, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
        "records": [{"content": '"after delete"', "disabled": False}]}]})
    assert st == 204
    want = serial_of(m, ZONE)
    mesh_util.wait_until(lambda: m.serial("pop0", ZONE) == want, 10, what="pop0 after delete")
    assert "remote fd00:53::3@53, serial %d" % want not in m.log("primary")
    for name in ["primary"] + pops:
        proc = m.primary if name == "primary" else m.pops[name]["proc"]
        m.stop(proc)
        assert proc.returncode == 0, (name, proc.returncode, m.log(name)[-2000:])
        assert "Sanitizer" not in m.log(name), m.log(name)[-4000:]
    assert time.monotonic() - t0 < 90
