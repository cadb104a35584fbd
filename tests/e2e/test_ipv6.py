"""IPv6 only, on ::1 (issue 18.5): every listener of the primary ([::1] API,
--xfr, --quic, --metrics) and of a POP (--listen UDP/TCP, --http), NOTIFY
to a [v6]:port target, XoQ from a [v6]:port --primary, ALLOW-AXFR-FROM with
IPv6 prefixes; no IPv4 address is given to any daemon.  The chain measured:
the API's 204 -> journal -> NOTIFY -> IXFR over QUIC -> the POP answers the
new data over UDP and TCP on ::1."""
import json
import os
import re
import socket
import subprocess
import time
import urllib.request

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import pytest

from anycst_e2e import edge
from anycst_e2e import xoq as xu
from anycst_e2e import BIN, Primary, TmpDir, free_port, setns, wait_until


def v6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.fixture
def tmp():
    if not v6_loopback():
        pytest.skip("no IPv6 loopback")
    with TmpDir() as d:
        yield d


def axfr_rcode(p, zone, keyname, secret):
    q = dns.message.make_query(zone, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
               algorithm="hmac-sha256")
    return dns.query.tcp(q, "::1", port=p.xfr_port, timeout=3).rcode()


def test_ipv6_chain_on_loopback(tmp):
    sport, mport = free_port(), free_port()
    p = Primary(tmp, host="::1", notify=["[::1]:%d" % sport],
                extra=["--metrics", "[::1]:%d" % mport])
    sec = None
    try:
        log = p.log()
        for what, port in (("API", p.api_port), ("QUIC", p.quic_port)):
            assert re.search(r"notice: %s listening on \[::1\]:%d" % (what, port), log), log
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        xu.small_zone(p, "example.com.")
        xu.small_zone(p, "fenced.example.")
        # ALLOW-AXFR-FROM with IPv6 prefixes: ::1 inside one, outside the other
        m = "/zones/%s/metadata"
        p.json("POST", m % "example.com.", {"kind": "ALLOW-AXFR-FROM",
                                            "metadata": ["2001:db8::/32", "::1/128"]}, expect=201)
        p.json("POST", m % "fenced.example.", {"kind": "ALLOW-AXFR-FROM",
                                               "metadata": ["fd00:53::/64"]}, expect=201)
        assert axfr_rcode(p, "example.com.", xu.KEY, secret) == dns.rcode.NOERROR
        assert axfr_rcode(p, "fenced.example.", xu.KEY, secret) == dns.rcode.REFUSED
        assert "address not in the zone's ALLOW-AXFR-FROM" in p.log()

        sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport, zones=["example.com."])
        assert sec.args[sec.args.index("--primary") + 1] == "[::1]:%d" % p.quic_port
        assert sec.args[sec.args.index("--listen") + 1] == "[::1]:%d" % sport
        assert not any("127.0.0.1" in a for a in sec.args + p.args()), (sec.args, p.args())
        sec.start()
        xu.wait_serials(sec, {"example.com.": p.serial("example.com.")}, 30, what="AXFR over QUIC")
        assert "zone transfer, incoming AXFR over QUIC from ::1" in sec.logtext()

        # the chain, timed from the API's 204 to the POP's answer, five times
        lags = []
        for i in range(5):
            t0 = time.monotonic()
            p.patch("example.com.", [{"name": "v6.example.com.", "type": "AAAA", "ttl": 60,
                                      "changetype": "REPLACE",
                                      "records": [{"content": "2001:db8::%d" % (i + 1),
                                                   "disabled": False}]}])
            t204 = time.monotonic()
            serial = p.serial("example.com.")
            wait_until(lambda: sec.serial("example.com.") == serial, 10, step=0.005,
                       what="serial %d on the POP" % serial)
            lags.append(time.monotonic() - t204)
            assert t204 - t0 < 5
        # the journal holds the changes; the POP got them by NOTIFY and IXFR over QUIC
        st, _, body = p.journal("example.com.")
        assert st == 200 and len(json.loads(body)) >= 5, body
        slog = sec.logtext()
        assert re.search(r"\[example\.com\.\] notify, incoming, remote ::1@\d+, serial %d"
                         % serial, slog) or "remote ::1@" in slog, slog[-3000:]
        assert "zone transfer, incoming IXFR over QUIC from ::1" in slog, slog[-3000:]
        assert re.search(r"\[example\.com\.\] notify, outgoing, remote ::1@%d, serial %d"
                         % (sport, serial), p.log()), p.log()[-3000:]
        assert max(lags) < 2.0, lags
        for tcp in (False, True):
            r = sec.query("v6.example.com.", "AAAA", tcp=tcp)
            assert [rd.to_text() for rd in r.answer[0]] == ["2001:db8::5"]

        # the control tool against the API on http://[::1]:port
        env = dict(os.environ, ANYCST_API_URL=p.api_url, ANYCST_API_KEY_FILE=p.key_file,
                   ANYCSTC_CONFIG=os.path.join(tmp, "none.conf"))
        env.pop("ANYCST_API_KEY", None)
        open(env["ANYCSTC_CONFIG"], "w").close()
        assert p.api_url.startswith("http://[::1]:")
        r = subprocess.run([os.path.join(BIN, "anycstc"), "zone", "list"], capture_output=True,
                           text=True, env=env, timeout=30)
        assert r.returncode == 0 and "example.com." in r.stdout, (r.stdout, r.stderr)

        # the propagation table names the POP by its IPv6 address
        prop = json.dumps(p.api("GET", "/zones/example.com./propagation"))
        assert "::1" in prop, prop
        # metrics on [::1] (primary, no key) and the POP's HTTP on [::1]
        with urllib.request.urlopen("http://[::1]:%d/metrics" % mport, timeout=5) as r:
            assert b"anycst_" in r.read()
        st, body = sec.http("/healthz")
        assert st == 200, body
    finally:
        if sec is not None and sec.proc is not None:
            assert sec.stop() == 0
        assert p.stop() == 0
        xu.assert_clean(p)


def test_rrl_ipv6_prefix_56_default(tmp):
    """--rrl-ipv6-prefix defaults to /56: two clients of one /56 share a
    bucket, a client of the next /56 has its own (root: a namespace with the
    addresses on its loopback; knotd is the primary, over IPv6 too)."""
    reason = edge.can_run()
    if reason:
        pytest.skip(reason)
    server = "2001:db8:ffff::53"
    same1, same2, other = "2001:db8:0:ff00::1", "2001:db8:0:ffab::99", "2001:db8:0:fe00::1"
    lab = edge.Lab(["x"])
    try:
        ns = lab.ns["x"]
        for a in (server, same1, same2, other):
            edge.sh("ip", "-n", ns, "addr", "add", a + "/128", "dev", "lo", "nodad")
        kc = edge.knot_conf(lab, ["%s@5300" % server], "2001:db8::/32", edge.zone_text())
        lab.spawn("x", ["knotd", "-c", kc], "knotd.log")
        lab.spawn("x", [os.path.join(BIN, "anycst-secondary"), "--transport", "tcp",
                        "--primary", "[%s]:5300" % server, "--zone", "example.com",
                        "--listen", "[%s]:5353" % server, "--workers", "1",
                        "--state-dir", os.path.join(lab.dir, "state"),
                        "--rrl-rate", "5", "--rrl-slip", "0"], "sec.log")
        self_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            setns(ns)
            socks = {}
            for a in (same1, same2, other):
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                s.bind((a, 0))
                s.settimeout(0.2)
                socks[a] = s

            def answered(srcs, n):
                """n queries from each of srcs, interleaved, sent at once: answers per source."""
                ids = {src: set() for src in srcs}
                for i in range(n):
                    for src in srcs:
                        q = dns.message.make_query("www.example.com.", "A")
                        ids[src].add(q.id)
                        socks[src].sendto(q.to_wire(), (server, 5353))
                got = {}
                for src in srcs:
                    got[src] = set()
                    try:
                        while True:
                            r = dns.message.from_wire(socks[src].recv(4096))
                            if r.id in ids[src] and r.rcode() == dns.rcode.NOERROR and r.answer:
                                got[src].add(r.id)
                    except (socket.timeout, OSError):
                        pass
                return [len(got[src]) for src in srcs]

            wait_until(lambda: answered([other], 1) == [1], 20, step=0.3,
                       what="the zone served (%s)" % lab.log("sec.log")[-1500:])
            time.sleep(1.5)   # the probe's bucket refills
            # two addresses of one /56 share a bucket; the next /56 has its own
            first, second, third = answered([same1, same2, other], 20)
            for s in socks.values():
                s.close()
        finally:
            setns(self_ns)
            os.close(self_ns)
        print("\nanswers of 20 from one /56, another address of it, the next /56:",
              first, second, third)
        log = lab.log("sec.log")
        assert "prefixes /24 and /56" in log, log[-2000:]
        # rate 5: about 5 for the /56 of the first two together, 5 for the other
        # (twice that if the burst straddles a second)
        assert 1 <= third <= 12, (first, second, third)
        assert 1 <= first + second <= third + 2, (first, second, third)
    finally:
        lab.close()


def test_notify_target_of_the_other_family_refused(tmp):
    """NOTIFYs leave from the --xfr address: with --xfr on [::1], an IPv4
    --notify target (which it could never reach) stops the start with a
    message naming it, as does an IPv6 --mesh-net beside an IPv4 --xfr."""
    with pytest.raises(RuntimeError) as e:
        Primary(tmp, host="::1", notify=["127.0.0.1:5353"])
    assert "--notify 127.0.0.1:5353: an IPv4 target, but NOTIFYs leave from the --xfr " \
        "address, which is IPv6" in str(e.value), str(e.value)
    with pytest.raises(RuntimeError) as e:
        Primary(tmp, extra=["--mesh-net", "fd00:53::/64"])
    assert "--mesh-net fd00:53::/64 is IPv6 but --xfr 127.0.0.1:" in str(e.value), str(e.value)


def test_primary_on_the_ipv6_wildcard(tmp):
    """--api, --xfr, --quic and --metrics on [::]:port: reached on ::1, the
    zone transferred over TCP from there."""
    mport = free_port()
    p = Primary(tmp, host="::", extra=["--metrics", "[::]:%d" % mport])
    try:
        log = p.log()
        assert "notice: API listening on [::]:%d" % p.api_port in log, log
        assert "zone transfers listening on [::]:%d (TCP)" % p.xfr_port in log, log
        assert "QUIC listening on [::]:%d" % p.quic_port in log, log
        secret = p.add_key(xu.KEY)
        xu.small_zone(p, "example.com.")
        q = dns.message.make_query("example.com.", "AXFR")
        q.use_tsig(dns.tsigkeyring.from_text({xu.KEY: secret}), keyname=xu.KEY,
                   algorithm="hmac-sha256")
        r = dns.query.tcp(q, "::1", port=p.xfr_port, timeout=3)
        assert r.rcode() == dns.rcode.NOERROR and len(r.answer) >= 8, r   # rrsets
        with urllib.request.urlopen("http://[::1]:%d/metrics" % mport, timeout=5) as resp:
            assert b"anycst_" in resp.read()
    finally:
        assert p.stop() == 0
        xu.assert_clean(p)
