"""New zones never withdraw a POP, with real BGP (issue 13.1).

A router namespace runs anycst-primary, a delaying UDP relay (50 ms each way)
in front of its --quic port, and BIRD peering with one POP namespace (BIRD +
anycst-secondary following the catalog over QUIC through the relay, its
anycast /32 on a veth `any0`).  Five zones are created one per second through
the API: the router's route to the anycast address, polled every 50 ms, never
goes away, /healthz never leaves 200, BIRD never sees a withdrawal, and each
new zone is answered on the anycast address within 1 s of its creation.

The test process reaches into the namespaces with setns(2) on worker threads
(sockets belong to the namespace they are created in).
"""
import base64
import os
import time
from concurrent.futures import ThreadPoolExecutor

import dns.message
import dns.query
import dns.rcode
import pytest

from anycst_e2e import edge as eu
import anycst_e2e as e2e
from anycst_e2e.relays import DelayRelay, Poller, create_five

pytestmark = pytest.mark.skipif(bool(eu.can_run() or eu.bird_missing()),
                                reason=str(eu.can_run() or eu.bird_missing()))

KEY = "pop-a."
API_KEY = "health-bgp-test-key"
# the primary's API inside namespace r (used from the ex_r threads, which live there)
API = e2e.ApiClient("127.0.0.1", 8081, API_KEY, timeout=10)


def ns_executor(ns, workers=3):
    """Threads that live in namespace `ns`."""
    return ThreadPoolExecutor(max_workers=workers, initializer=e2e.setns, initargs=(ns,))


def zone_body(name):
    return {"name": name, "kind": "Native", "master_tsig_key_ids": [KEY],
            "rrsets": [{"name": name, "type": "NS", "ttl": 3600,
                        "records": [{"content": "ns1." + name, "disabled": False}]},
                       {"name": "ns1." + name, "type": "A", "ttl": 3600,
                        "records": [{"content": "192.0.2.1", "disabled": False}]}]}


def healthz():
    return e2e.http_get("http://127.0.0.1:8053/healthz", timeout=2)


def soa_ok(addr, zone):
    q = dns.message.make_query(zone, "SOA")
    try:
        r = dns.query.udp(q, addr, port=53, timeout=0.2)
    except Exception:   # noqa: BLE001 - no answer yet
        return False
    return r.rcode() == dns.rcode.NOERROR


def test_health_bgp_new_zones_never_withdraw():
    lab = eu.Lab(["r", "a"])
    ex_r = ex_a = relay = None
    try:
        lab.link("r", "ra0", "10.0.1.1/24", "a", "ar0", "10.0.1.2/24")
        eu.sh("ip", "-n", lab.ns["a"], "route", "add", "default", "via", "10.0.1.1")
        lab.anycast_iface("a")
        ex_r, ex_a = ns_executor(lab.ns["r"]), ns_executor(lab.ns["a"])
        keyfile, _ = e2e.write_api_key(lab.dir, API_KEY)
        lab.spawn("r", e2e.primary_argv(lab.dir, "127.0.0.1:8081", "10.0.1.1:5300",
                                        "10.0.1.1:8853", key_file=keyfile,
                                        extra=["--notify", "10.0.1.2:53"]), "primary.log")

        def up():
            try:
                return ex_r.submit(API.api, "GET", "").result()
            except (OSError, AssertionError):   # not listening, or not ready
                return None
        server = eu.wait_until(up, 10, what="primary API")
        secret = base64.b64encode(os.urandom(32)).decode()
        ex_r.submit(API.api, "POST", "/tsigkeys", {"name": KEY, "algorithm": "hmac-sha256",
                                               "key": secret}).result()
        ex_r.submit(API.api, "PUT", "/zones/catalog.anycst.invalid.",
                    {"master_tsig_key_ids": [KEY]}).result()
        ex_r.submit(API.api, "POST", "/zones", zone_body("base.example.")).result()
        relay = ex_r.submit(lambda: DelayRelay(("10.0.1.1", 8853), 0.05,
                                               host="10.0.1.1").start()).result()

        rc = eu.bird_router_conf(lab, [("10.0.1.1", "10.0.1.2", 65101)])
        eu.start_bird(lab, "r", rc, "router")
        ca = eu.bird_pop_conf(lab, "a", "10.0.1.2", "10.0.1.1", 65101, 65000)
        _, sock_a = eu.start_bird(lab, "a", ca, "a")
        lab.spawn("a", [os.path.join(eu.BIN, "anycst-secondary"), "--transport", "quic",
                        "--primary", "10.0.1.1:%d" % relay.port,
                        "--pin", server["quic_spki_pin"],
                        "--tsig-file", e2e.write_secret(
                            os.path.join(lab.dir, "pop-a.tsig"),
                            "%s:hmac-sha256:%s\n" % (KEY, secret)),
                        "--listen", "0.0.0.0:53", "--http", "127.0.0.1:8053",
                        "--state-dir", os.path.join(lab.dir, "state-a"),
                        "--identity", "pop-a", "--workers", "1",
                        "--anycast-iface", "any0", "--bird-socket", sock_a,
                        "--announce-holddown", "1"], "sec-a.log")

        def route_via():
            out = eu.sh("ip", "-n", lab.ns["r"], "-4", "route", "show", eu.ANYCAST + "/32",
                        check=False)
            t = out.split()
            return t[t.index("via") + 1] if "via" in t else None
        eu.wait_until(lambda: route_via() == "10.0.1.2", 40, what="POP A announced")
        eu.wait_until(lambda: ex_r.submit(soa_ok, eu.ANYCAST, "base.example.").result(), 10,
                      what="base zone on the anycast address")

        with Poller(lambda: ex_a.submit(healthz).result()) as hpoll, \
                Poller(lambda: (200 if route_via() == "10.0.1.2" else 0, "")) as rpoll:
            took = create_five(
                lambda n: ex_r.submit(API.api, "POST", "/zones", zone_body(n)).result(),
                lambda n: ex_r.submit(soa_ok, eu.ANYCAST, n).result())
            time.sleep(1.0)
        print("\nfirst answer on the anycast address after creation: %s; %d /healthz and "
              "%d route polls" % (", ".join("%s %.3f s" % (n, d if d is not None else -1)
                                            for n, d in took),
                                  len(hpoll.samples), len(rpoll.samples)))
        log = lab.log("sec-a.log")
        assert relay.forwarded > 0
        assert len(hpoll.samples) > 60 and len(rpoll.samples) > 30
        assert not hpoll.bad(), hpoll.bad()[:5]
        assert not rpoll.bad(), "route withdrawn: %s\n%s" % (rpoll.bad()[:3], log[-3000:])
        assert "POP withdrawn" not in log, log[-3000:]
        for name, dt in took:
            assert dt is not None and dt <= 1.0, (name, dt, log[-3000:])
        assert "over QUIC from 10.0.1.1" in log
    finally:
        if relay is not None:
            relay.stop()
        for ex in (ex_r, ex_a):
            if ex is not None:
                ex.shutdown(wait=True)
        lab.close()
