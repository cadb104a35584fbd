"""The primary keeps, in its database, the serial each registered POP last
acknowledged per zone (issue 13, points 3 and 4), with the real daemons:
anycst-primary and anycst-secondary (started with the command line the
registry API returned) in two network namespaces of this test, joined by one
veth pair that carries the mesh addresses (10.53.0.1 primary, 10.53.0.2 the
POP), so the POP transfers from its own mesh address with its own key.

- A change committed while NOTIFY cannot get out (the POP is stopped), then
  SIGKILL of the primary: the POP, started again on its old serial (long SOA
  refresh and retry), serves the change within 2 s of the primary's
  restart, because the restarted primary NOTIFYs every POP behind the
  database.  /propagation names the POP (registry name, address beside it)
  before and after the restart.
- A deleted POP: absent from /propagation at once and after a restart, its
  rows gone from the database, no NOTIFY to it, its transfers refused.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import pytest

from anycst_e2e import mesh as mesh_util
from anycst_e2e import primary_argv, write_api_key

ZONE = "durable.example."
PRIMARY_IP = "10.53.0.1"
POP_IP = "10.53.0.2"
DNS_PORT = 5353


def soa_rrset(zone):
    # refresh 3600 s, retry 600 s: only a NOTIFY brings a change within the test
    return {"name": zone, "type": "SOA", "ttl": 60, "changetype": "REPLACE",
            "records": [{"content": "ns1.example.net. hostmaster.example.net. 1 3600 600 "
                                    "1209600 60", "disabled": False}]}


class Pair(mesh_util.Mesh):
    """The primary and one POP in two namespaces joined by a veth pair (no WireGuard:
    what matters here is that the POP's packets come from its mesh address)."""

    def __init__(self):
        super().__init__(npops=1)
        self.pops = {}

    def build(self, extra_primary=()):
        for node, ip in (("primary", PRIMARY_IP), ("pop0", POP_IP)):
            ns = "anycst%d-%s" % (self.id, node)
            self._add_ns(ns)
            self.nodes[node] = {"ns": ns, "ip": ip, "link": None,
                                "wg": "none-%d-%s" % (self.id, node)}
        veth_p, veth_s = "%sp" % self.tag, "%ss" % self.tag
        mesh_util.run("ip", "link", "add", veth_p, "netns", self.nodes["primary"]["ns"], "type",
                      "veth", "peer", "name", veth_s, "netns", self.nodes["pop0"]["ns"])
        for node, dev in (("primary", veth_p), ("pop0", veth_s)):
            ns = self.nodes[node]["ns"]
            mesh_util.run("ip", "-n", ns, "addr", "add", self.nodes[node]["ip"] + "/24", "dev",
                          dev)
            mesh_util.run("ip", "-n", ns, "link", "set", dev, "up")
        _, self.api_key = write_api_key(self.dir, prefix="prop-")
        self.extra_primary = list(extra_primary)
        self.start_primary()

    def start_primary(self):
        self.close_api()
        self.primary = self.start("primary", primary_argv(
            self.dir, "127.0.0.1:8081", PRIMARY_IP + ":5300", PRIMARY_IP + ":8853",
            extra=self.extra_primary), node="primary")
        started = time.monotonic()
        mesh_util.wait_until(lambda: self._api_up(), 10, step=0.01, what="the primary's API")
        return started

    def kill_primary(self):
        self.primary.send_signal(signal.SIGKILL)
        self.primary.wait(10)
        self.close_api()

    def register(self, name):
        st, reg = self.curl("POST", "/secondaries", {
            "name": name, "public_key": self.genkey()[1],
            "endpoint": "192.0.2.10:51820", "dns_port": DNS_PORT})
        assert st == 201, (st, reg)
        assert reg["mesh_ip"] == POP_IP, reg
        self.pops["pop0"] = reg
        return reg

    def stop_pop(self):
        self.stop(self.pops["pop0"]["proc"])

    def json(self, method, path, body=None, expect=200):
        st, payload = self.api(method, path, body)
        assert st == expect, (method, path, st, payload)
        return json.loads(payload) if payload else None

    def serial(self, node, zone, timeout=0.3):
        return super().serial(node, zone, timeout)

    def db_rows(self):
        db = sqlite3.connect(os.path.join(self.dir, "anycst.db"), timeout=10)
        try:
            return db.execute("SELECT p.pop, z.name, p.serial, p.address FROM pop_serials p "
                              "JOIN zones z ON z.id = p.zone_id ORDER BY z.name").fetchall()
        finally:
            db.close()


@pytest.fixture
def pair():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    m = Pair()
    try:
        m.build()
        yield m
    finally:
        m.close()


def primary_serial(m, zone):
    return m.json("GET", "/zones/%s?rrsets=false" % zone)["serial"]


def patch_txt(m, zone, value):
    m.json("PATCH", "/zones/" + zone, {"rrsets": [{
        "name": "t." + zone, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
        "records": [{"content": '"%s"' % value, "disabled": False}]}]}, expect=204)
    return primary_serial(m, zone)


def targets(m, zone):
    return m.json("GET", "/zones/%s/propagation" % zone)["targets"]


def pop_target(m, zone, name):
    """The POP's entry in /propagation, named by its registry name, address beside it."""
    ts = [t for t in targets(m, zone) if t.get("target") == name]
    assert len(ts) == 1, targets(m, zone)
    t = ts[0]
    assert t["pop"] == name and t["address"] == POP_IP, t
    # no second entry for the same POP under its bare address
    assert not [x for x in targets(m, zone) if x.get("target") == POP_IP], targets(m, zone)
    return t


def xfr_rcode(m, zone, keyname, secret):
    """AXFR from the POP's namespace (its mesh address), signed with its key."""
    q = dns.message.make_query(zone, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
               algorithm="hmac-sha256")
    with m.ns("pop0"):
        try:
            return dns.query.tcp(q, PRIMARY_IP, port=5300, timeout=3).rcode()
        except dns.message.UnknownTSIGKey:
            return "unknown key"
        except dns.tsig.PeerBadKey:
            return "BADKEY"
        except dns.tsig.PeerError as e:
            return type(e).__name__


def create_zone(m):
    m.json("POST", "/zones", {"name": ZONE, "kind": "Native",
                              "nameservers": ["ns1.example.net."],
                              "rrsets": [soa_rrset(ZONE)]}, expect=201)
    return primary_serial(m, ZONE)


def wait_serial(m, zone, serial, timeout):
    mesh_util.wait_until(lambda: m.serial("pop0", zone) == serial, timeout, step=0.02,
                         what="the POP serving %s serial %s" % (zone, serial))


def use_tcp(reg):
    """The POP's command line, transferring over TCP instead of QUIC."""
    argv = reg["command"].split()
    i = argv.index("--pin")
    del argv[i:i + 2]
    argv[argv.index("--transport") + 1] = "tcp"
    argv[argv.index("--primary") + 1] = PRIMARY_IP + ":5300"
    reg["command"] = " ".join(argv)


@pytest.mark.parametrize("transport", ["QUIC", "TCP"])
def test_change_before_crash_reaches_pop_after_restart(pair, transport):
    m = pair
    s1 = create_zone(m)
    reg = m.register("tokyo")
    if transport == "TCP":
        use_tcp(reg)
    m.start_pop("pop0")
    wait_serial(m, ZONE, s1, 20)
    # /propagation names the POP by its registry name
    mesh_util.wait_until(lambda: pop_target(m, ZONE, "tokyo")["serial"] == s1, 5,
                         what="/propagation showing tokyo at %d" % s1)
    assert pop_target(m, ZONE, "tokyo")["up_to_date"] is True
    assert pop_target(m, ZONE, "tokyo")["transport"] == transport
    # ... durably: the flusher writes it within about a second
    mesh_util.wait_until(lambda: ("tokyo", ZONE, s1, POP_IP) in m.db_rows(), 5,
                         what="tokyo's serial in the database")

    # The POP is down: the NOTIFY of this change cannot get out; then the primary dies.
    m.stop_pop()
    s2 = patch_txt(m, ZONE, "committed before the crash")
    assert s2 != s1
    m.kill_primary()

    # The POP comes back on its old serial from its state dir (refresh 3600 s).
    m.start_pop("pop0")
    wait_serial(m, ZONE, s1, 10)
    time.sleep(1)   # its start-up refresh has failed (no primary), a retry is 600 s away
    assert m.serial("pop0", ZONE) == s1

    restarted = m.start_primary()
    # survives the restart, by name, before the POP has come back for anything
    t = pop_target(m, ZONE, "tokyo")
    assert t["serial"] in (s1, s2), t
    wait_serial(m, ZONE, s2, 10)
    took = time.monotonic() - restarted
    print("the POP served the change %.3f s after the restart" % took)
    assert took <= 2.0, "the POP served the change %.2f s after the restart" % took
    assert re.search(r"\[%s\] notify, outgoing, remote %s@%d, serial %d"
                     % (re.escape(ZONE), re.escape(POP_IP), DNS_PORT, s2), m.log("primary"))
    mesh_util.wait_until(lambda: pop_target(m, ZONE, "tokyo")["serial"] == s2, 5,
                         what="/propagation showing tokyo at %d" % s2)
    assert pop_target(m, ZONE, "tokyo")["up_to_date"] is True
    mesh_util.wait_until(lambda: ("tokyo", ZONE, s2, POP_IP) in m.db_rows(), 5,
                         what="tokyo's new serial in the database")

    # An up-to-date POP gets no NOTIFY at the next start (nothing is behind).
    m.kill_primary()
    before = len(re.findall(r"notify, outgoing, remote %s@" % re.escape(POP_IP),
                            m.log("primary")))
    m.start_primary()
    assert pop_target(m, ZONE, "tokyo")["serial"] == s2
    time.sleep(1.5)
    after = len(re.findall(r"notify, outgoing, remote %s@" % re.escape(POP_IP),
                           m.log("primary")))
    assert after == before, m.log("primary")


def test_deleted_pop_is_gone_and_stays_gone(pair):
    m = pair
    s0 = create_zone(m)
    reg = m.register("osaka")
    m.start_pop("pop0")
    wait_serial(m, ZONE, s0, 20)
    # while registered, a change reaches it by NOTIFY (so the checks below can see one)
    s1 = patch_txt(m, ZONE, "while registered")
    wait_serial(m, ZONE, s1, 5)
    mesh_util.wait_until(lambda: re.search(r"\[%s\] notify, incoming" % re.escape(ZONE),
                                           m.log("pop0")), 5, what="the POP logging a NOTIFY")
    mesh_util.wait_until(lambda: [t for t in targets(m, ZONE) if t.get("target") == "osaka"],
                         5, what="/propagation showing osaka")
    mesh_util.wait_until(lambda: [r for r in m.db_rows() if r[0] == "osaka"], 5,
                         what="osaka's serial in the database")

    st, _ = m.api("DELETE", "/secondaries/osaka")
    assert st == 204

    def gone():
        ts = targets(m, ZONE)
        assert not [t for t in ts if t.get("target") in ("osaka", POP_IP)
                    or t.get("pop") == "osaka" or t.get("address") == POP_IP], ts
        assert not [r for r in m.db_rows() if r[0] == "osaka"], m.db_rows()

    gone()
    notifies = r"notify, outgoing, remote %s@" % re.escape(POP_IP)
    sent_before = len(re.findall(notifies, m.log("primary")))
    incoming = r"notify, incoming"
    got_before = len(re.findall(incoming, m.log("pop0")))
    s2 = patch_txt(m, ZONE, "after the retirement")
    assert s2 != s1
    rc = xfr_rcode(m, ZONE, reg["tsig_key"], reg["tsig_secret"])
    assert rc in (dns.rcode.NOTAUTH, dns.rcode.REFUSED, "BADKEY", "unknown key"), rc
    time.sleep(1.5)   # past any NOTIFY that would have gone out, and a flush
    assert len(re.findall(notifies, m.log("primary"))) == sent_before, m.log("primary")
    assert len(re.findall(incoming, m.log("pop0"))) == got_before, m.log("pop0")
    assert m.serial("pop0", ZONE) == s1   # nothing told it, nothing served it
    gone()

    # ... and after a restart of the primary
    m.kill_primary()
    m.start_primary()
    gone()
    s3 = patch_txt(m, ZONE, "after the restart")
    rc = xfr_rcode(m, ZONE, reg["tsig_key"], reg["tsig_secret"])
    assert rc in (dns.rcode.NOTAUTH, dns.rcode.REFUSED, "BADKEY", "unknown key"), rc
    time.sleep(1.5)
    assert len(re.findall(notifies, m.log("primary"))) == sent_before, m.log("primary")
    assert len(re.findall(incoming, m.log("pop0"))) == got_before, m.log("pop0")
    assert m.serial("pop0", ZONE) == s1, s3
    gone()
