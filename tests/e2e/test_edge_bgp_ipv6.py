"""The anycast announcement over IPv6 only (issue 18.5; root, BIRD 2 and
knotd; skipped otherwise).  Router r (knotd on [2001:db8:1::1]:5300, BIRD
AS 65000, BGP over IPv6 only) and POP a (BIRD AS 65101 with `protocol static`
2001:db8:53::53/128 via "any0", anycst-secondary --primary [v6]:port
--listen [::]:53) and a client c, no IPv4 address on any link.

Checks: healthy, the router has the /128 via the POP and the client's
id.server to [2001:db8:53::53] answers pop-a (from the anycast address);
the secondary killed, its watchdog lowers any0 and the route goes; the
anycast IPv6 address stays on any0 while it is down (Linux drops IPv6
addresses of a downed interface unless keep_addr_on_down, which the
secondary sets), so a new secondary announces and answers again."""
import os
import signal
import subprocess

import pytest

from anycst_e2e import BIN, wait_until
from anycst_e2e import edge

ANY6 = "2001:db8:53::53"

ROUTER = """log stderr all;
router id 10.0.3.1;
protocol device { scan time 10; }
protocol kernel { ipv6 { import none; export all; }; }
protocol bgp pop_a {
    local 2001:db8:1::1 as 65000; neighbor 2001:db8:1::2 as 65101;
    connect delay time 1; connect retry time 2; error wait time 1, 2; hold time 9;
    ipv6 { import all; export none; };
}
"""

POP = """log stderr all;
router id 10.0.1.2;
protocol device { scan time 10; }
protocol static anycast6 {
    ipv6;
    route %s/128 via "any0";
}
protocol bgp upstream6 {
    local 2001:db8:1::2 as 65101; neighbor 2001:db8:1::1 as 65000;
    connect delay time 1; connect retry time 2; error wait time 1, 2; hold time 9;
    ipv6 { import none; export filter { if proto = "anycast6" then accept; reject; }; };
}
""" % ANY6


@pytest.fixture
def lab():
    reason = edge.can_run() or edge.bird_missing()
    if reason is None and not os.path.exists("/usr/bin/dig"):
        reason = "dig is missing"
    if reason:
        pytest.skip(reason)
    lab = edge.Lab(["r", "a", "c"])
    try:
        yield lab
    finally:
        lab.close()


def route_via(lab):
    out = edge.sh("ip", "-n", lab.ns["r"], "-6", "route", "show", ANY6 + "/128", check=False)
    for line in out.splitlines():
        t = line.split()
        if "via" in t:
            return t[t.index("via") + 1]
    return None


def ask_id(lab):
    r = subprocess.run(["ip", "netns", "exec", lab.ns["c"], "dig", "+short", "+time=1",
                        "+tries=1", "-p", "53", "@" + ANY6, "id.server", "CH", "TXT"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
    return r.stdout.strip().strip('"') if r.returncode == 0 else None


def start_pop(lab, sock):
    return lab.spawn("a", [os.path.join(BIN, "anycst-secondary"), "--transport", "tcp",
                           "--primary", "[2001:db8:1::1]:5300", "--zone", "example.com",
                           "--listen", "[::]:53", "--http", "[::1]:8053",
                           "--state-dir", os.path.join(lab.dir, "state-a"),
                           "--identity", "pop-a", "--workers", "1",
                           "--anycast-iface", "any0", "--bird-socket", sock,
                           "--announce-holddown", "1"], "sec-a.log")


def test_anycast_ipv6_static_route(lab):
    lab.link("r", "ra0", "2001:db8:1::1/64", "a", "ar0", "2001:db8:1::2/64")
    lab.link("r", "rc0", "2001:db8:3::1/64", "c", "cr0", "2001:db8:3::2/64")
    edge.sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns=lab.ns["r"])
    edge.sh("ip", "-n", lab.ns["a"], "-6", "route", "add", "default", "via", "2001:db8:1::1")
    edge.sh("ip", "-n", lab.ns["c"], "-6", "route", "add", "default", "via", "2001:db8:3::1")
    lab.anycast_iface("a", addr=ANY6 + "/128")
    for n in ("r", "a", "c"):   # IPv6 only: no IPv4 address but loopback's
        v4 = edge.sh("ip", "-n", lab.ns[n], "-4", "-o", "addr", "show")
        assert all(" lo " in line for line in v4.splitlines()), v4
    kc = edge.knot_conf(lab, ["2001:db8:1::1@5300"], "2001:db8::/32", edge.zone_text())
    lab.spawn("r", ["knotd", "-c", kc], "knotd.log")
    paths = {}
    for name, text in (("router", ROUTER), ("a", POP)):
        paths[name] = os.path.join(lab.dir, "bird-%s.conf" % name)
        with open(paths[name], "w") as f:
            f.write(text)
    edge.start_bird(lab, "r", paths["router"], "router")
    _, sock = edge.start_bird(lab, "a", paths["a"], "a")

    sec = start_pop(lab, sock)
    wait_until(lambda: route_via(lab) == "2001:db8:1::2", 30, step=0.05,
               what="the router's route to %s via the POP (%s)" % (ANY6, lab.log("sec-a.log")))
    wait_until(lambda: ask_id(lab) == "pop-a", 10, what="id.server over IPv6 anycast")
    log = lab.log("sec-a.log")
    assert "notice: announce, interface any0 up, POP announced" in log, log
    assert "incoming AXFR" in log and "2001:db8:1::1" in log, log

    # killed: the watchdog lowers any0, BIRD withdraws the static route
    sec.send_signal(signal.SIGKILL)
    sec.wait(10)
    wait_until(lambda: route_via(lab) is None, 10, step=0.05, what="the route withdrawn")
    addrs = edge.sh("ip", "-n", lab.ns["a"], "-6", "addr", "show", "dev", "any0")
    assert ANY6 + "/128" in addrs, addrs     # kept while any0 is down
    assert ask_id(lab) is None

    # a new secondary: announced again, and it answers on the anycast address
    start_pop(lab, sock)
    wait_until(lambda: route_via(lab) == "2001:db8:1::2", 30, step=0.05, what="announced again")
    wait_until(lambda: ask_id(lab) == "pop-a", 10,
               what="id.server over IPv6 anycast after the restart (any0: %s)" % edge.sh(
                   "ip", "-n", lab.ns["a"], "-6", "addr", "show", "dev", "any0"))
