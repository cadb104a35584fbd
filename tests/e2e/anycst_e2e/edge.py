"""Helpers for the anycast edge e2e tests and bench/edge.sh: network
namespaces joined by veth pairs, BIRD 2 and knotd configurations, and
anycst-secondary started inside a namespace.

Topology of AnycastLab (every name carries a per-run tag):

    client c (10.0.3.2) ── router r (10.0.3.1, 10.0.1.1, 10.0.2.1; knotd, BIRD AS 65000)
                                │                    │
                 POP A a (10.0.1.2, AS 65101)   POP B b (10.0.2.2, AS 65102)
                 any0: 192.0.2.53/32            any0: 192.0.2.53/32
                 BIRD + anycst-secondary        BIRD + anycst-secondary

POP B prepends its AS twice, so the router prefers POP A while it announces.
Every process is started here and stopped by its own PID; every namespace
and temporary directory is removed by close().
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .core import BIN, stop_pid, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "edge_probe.py")
PY = "/usr/bin/python3"
ANYCAST = "192.0.2.53"

ZONE = """$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 %(refresh)d %(retry)d %(expire)d 300
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.1
big TXT "%s" "%s"
""".replace("%s", "x" * 250, 1).replace("%s", "y" * 250, 1)


def zone_text(refresh=3600, retry=600, expire=86400):
    return ZONE % {"refresh": refresh, "retry": retry, "expire": expire}


def can_run():
    """None when the lab can run here, else the reason to skip."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "knotd"):
        if shutil.which(tool) is None:
            return "%s is missing" % tool
    if not os.path.exists(os.path.join(BIN, "anycst-secondary")):
        return "bin/anycst-secondary not built"
    return None


def bird_missing():
    if not (os.path.exists("/usr/sbin/bird") or shutil.which("bird")):
        return "bird (Debian bird2) is missing"
    return None


def sh(*cmd, ns=None, check=True, timeout=30):
    if ns is not None:
        cmd = ("ip", "netns", "exec", ns) + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


class Lab:
    """Namespaces and veth links; close() removes them and stops every process."""

    def __init__(self, names):
        self.tag = "%d%03d" % (os.getpid() % 10000, int(time.monotonic() * 1000) % 1000)
        self.ns = {n: "ae%s%s" % (self.tag, n) for n in names}
        self.dir = tempfile.mkdtemp(prefix="anycst-edge-")
        self.procs = []
        self.nlinks = 0
        try:
            for n in names:
                sh("ip", "netns", "add", self.ns[n])
                sh("ip", "-n", self.ns[n], "link", "set", "lo", "up")
                for k in ("all", "default"):
                    sh("sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % k, ns=self.ns[n])
        except Exception:
            self.close()
            raise

    def link(self, a, a_if, a_addr, b, b_if, b_addr):
        """veth between namespaces a and b; addresses "10.0.1.1/24", "2001:db8:1::1/64" or None."""
        tmp_a, tmp_b = "v%s%da" % (self.tag, self.nlinks), "v%s%db" % (self.tag, self.nlinks)
        self.nlinks += 1
        sh("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        sh("ip", "link", "set", tmp_a, "netns", self.ns[a], "name", a_if)
        sh("ip", "link", "set", tmp_b, "netns", self.ns[b], "name", b_if)
        for n, i, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            if addr:   # IPv6: nodad, usable at once
                sh("ip", "-n", self.ns[n], "addr", "add", addr, "dev", i,
                   *(["nodad"] if ":" in addr else []))
            sh("ip", "-n", self.ns[n], "link", "set", i, "up")

    def anycast_iface(self, n, iface="any0", addr=ANYCAST + "/32"):
        """A veth pair inside namespace n (the kernel has no dummy type): `iface`
        holds the anycast address, its peer stays up so the link has carrier."""
        peer = iface + "p"
        sh("ip", "-n", self.ns[n], "link", "add", iface, "type", "veth", "peer", "name", peer)
        sh("ip", "-n", self.ns[n], "addr", "add", addr, "dev", iface,
           *(["nodad"] if ":" in addr else []))
        sh("ip", "-n", self.ns[n], "link", "set", peer, "up")

    def spawn(self, n, cmd, log_name):
        log = open(os.path.join(self.dir, log_name), "a")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[n]] + list(cmd), stdout=log,
                             stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        for p in reversed(self.procs):
            stop_pid(p)
        for n in self.ns.values():
            subprocess.run(["ip", "netns", "del", n], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        # Under `make SAN=1` the daemons report memory errors in their logs.
        bad = []
        for name in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else ():
            if name.startswith("sec") and name.endswith(".log"):
                text = self.log(name)
                for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                               "runtime error:"):
                    if marker in text:
                        bad.append("%s: %s" % (name, text[text.index(marker):][:2000]))
        shutil.rmtree(self.dir, ignore_errors=True)
        if bad:
            raise AssertionError("\n".join(bad))


def knot_conf(lab, listen, acl_net, text=None):
    """knotd serving example.com over TCP/UDP on `listen` ("10.0.1.1@5300" list)."""
    d = os.path.join(lab.dir, "knot")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "example.com.zone"), "w") as f:
        f.write(text or zone_text())
    lines = ["server:", '    rundir: "%s"' % d, "    background-workers: 1"]
    lines += ["    listen: %s" % a for a in listen]
    lines += ["log:", "  - target: stderr", "    any: info",
              "database:", '    storage: "%s"' % d,
              "acl:", "  - id: xfr", "    address: %s" % acl_net, "    action: transfer",
              "template:", "  - id: default", '    storage: "%s"' % d,
              "    zonefile-sync: -1", "    semantic-checks: off",
              "zone:", "  - domain: example.com.", "    file: example.com.zone", "    acl: xfr"]
    path = os.path.join(d, "knot.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def bird_pop_conf(lab, name, local, peer, local_as, peer_as, prepend=0):
    """BIRD config of a POP: the anycast /32 from `protocol direct` on any0, to one peer."""
    pre = "".join("bgp_path.prepend(%d); " % local_as for _ in range(prepend))
    text = """
log stderr all;
router id %(local)s;
protocol device { scan time 10; }
protocol direct anycast { ipv4; interface "any0"; }
protocol bgp upstream {
    local %(local)s as %(las)d;
    neighbor %(peer)s as %(pas)d;
    connect delay time 1; connect retry time 2; error wait time 1, 2; hold time 9;
    ipv4 { import none; export filter { if proto = "anycast" then { %(pre)saccept; } reject; }; };
}
""" % {"local": local, "peer": peer, "las": local_as, "pas": peer_as, "pre": pre}
    path = os.path.join(lab.dir, "bird-%s.conf" % name)
    with open(path, "w") as f:
        f.write(text)
    return path


def bird_router_conf(lab, peers):
    """BIRD of the router: BGP with each (local, peer, peer_as), best route into the kernel."""
    parts = ["log stderr all;", "router id 10.0.3.1;", "protocol device { scan time 10; }",
             "protocol kernel { ipv4 { import none; export all; }; }"]
    for i, (local, peer, pas) in enumerate(peers):
        parts.append("""protocol bgp pop%d {
    local %s as 65000; neighbor %s as %d;
    connect delay time 1; connect retry time 2; error wait time 1, 2; hold time 9;
    ipv4 { import all; export none; };
}""" % (i, local, peer, pas))
    path = os.path.join(lab.dir, "bird-router.conf")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
    return path


def start_bird(lab, n, conf, name):
    sock = os.path.join(lab.dir, "bird-%s.ctl" % name)
    p = lab.spawn(n, ["bird", "-f", "-c", conf, "-s", sock,
                      "-P", os.path.join(lab.dir, "bird-%s.pid" % name)], "bird-%s.log" % name)
    wait_until(lambda: os.path.exists(sock) or p.poll() is not None, 10, what="bird " + name)
    if p.poll() is not None:
        raise AssertionError("bird %s exited: %s" % (name, lab.log("bird-%s.log" % name)))
    return p, sock


def probe(lab, n, *args, timeout=120):
    """Runs edge_probe.py inside namespace n; returns its stdout lines."""
    out = sh(PY, PROBE, *args, ns=lab.ns[n], timeout=timeout)
    return out.splitlines()


class AnycastLab:
    """Router, two POPs and a client; see the module comment."""

    def __init__(self, holddown=2, extra=(), soa=(3600, 600, 86400)):
        self.holddown = holddown
        self.soa = soa
        self.extra = list(extra)
        self.lab = Lab(["r", "a", "b", "c"])
        self.sec = {}
        try:
            self._build()
        except Exception:
            self.close()
            raise

    def _build(self):
        lab = self.lab
        lab.link("r", "ra0", "10.0.1.1/24", "a", "ar0", "10.0.1.2/24")
        lab.link("r", "rb0", "10.0.2.1/24", "b", "br0", "10.0.2.2/24")
        lab.link("r", "rc0", "10.0.3.1/24", "c", "cr0", "10.0.3.2/24")
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=lab.ns["r"])
        sh("ip", "-n", lab.ns["a"], "route", "add", "default", "via", "10.0.1.1")
        sh("ip", "-n", lab.ns["b"], "route", "add", "default", "via", "10.0.2.1")
        sh("ip", "-n", lab.ns["c"], "route", "add", "default", "via", "10.0.3.1")
        lab.anycast_iface("a")
        lab.anycast_iface("b")
        kc = knot_conf(lab, ["10.0.1.1@5300", "10.0.2.1@5300"], "10.0.0.0/16",
                       zone_text(*self.soa))
        self.knot = lab.spawn("r", ["knotd", "-c", kc], "knotd.log")
        rc = bird_router_conf(lab, [("10.0.1.1", "10.0.1.2", 65101),
                                    ("10.0.2.1", "10.0.2.2", 65102)])
        self.bird_r, self.sock_r = start_bird(lab, "r", rc, "router")
        ca = bird_pop_conf(lab, "a", "10.0.1.2", "10.0.1.1", 65101, 65000)
        cb = bird_pop_conf(lab, "b", "10.0.2.2", "10.0.2.1", 65102, 65000, prepend=2)
        self.bird_a, self.sock_a = start_bird(lab, "a", ca, "a")
        self.bird_b, self.sock_b = start_bird(lab, "b", cb, "b")
        self.start_pop("a")
        self.start_pop("b")

    def start_pop(self, n):
        primary = "10.0.1.1:5300" if n == "a" else "10.0.2.1:5300"
        sock = self.sock_a if n == "a" else self.sock_b
        cmd = [os.path.join(BIN, "anycst-secondary"), "--transport", "tcp",
               "--primary", primary, "--zone", "example.com",
               "--listen", "0.0.0.0:53", "--http", "127.0.0.1:8053",
               "--state-dir", os.path.join(self.lab.dir, "state-" + n),
               "--identity", "pop-" + n, "--workers", "1",
               "--anycast-iface", "any0", "--bird-socket", sock,
               "--announce-holddown", str(self.holddown)] + self.extra
        self.sec[n] = self.lab.spawn(n, cmd, "sec-%s.log" % n)
        return self.sec[n]

    def block_primary(self, n, on):
        """Drops POP n's zone transfers (TCP to port 5300) with nftables, or stops that."""
        ns = self.lab.ns[n]
        sh("nft", "delete", "table", "inet", "edgeblock", ns=ns, check=False)
        if on:
            for rule in ("add table inet edgeblock",
                         "add chain inet edgeblock out { type filter hook output priority 0; }",
                         "add rule inet edgeblock out tcp dport 5300 drop"):
                sh("nft", rule, ns=ns)

    def kill_pop(self, n, sig=signal.SIGKILL):
        stop_pid(self.sec[n], sig)

    def route_via(self):
        """Next hop of the router's route to the anycast address, or None."""
        out = sh("ip", "-n", self.lab.ns["r"], "-4", "route", "show", ANYCAST + "/32",
                 check=False)
        for tok_line in out.splitlines():
            t = tok_line.split()
            if "via" in t:
                return t[t.index("via") + 1]
        return None

    def wait_route(self, via, timeout):
        return wait_until(lambda: self.route_via() == via, timeout, step=0.02,
                          what="route to %s via %s (now %s)" % (ANYCAST, via, self.route_via()))

    def ask_id(self):
        """id.server as seen from the client, or None."""
        lines = probe(self.lab, "c", "id", ANYCAST)
        return lines[0] if lines and lines[0] != "LOST" else None

    def close(self):
        self.lab.close()


def failover_once(al, run_s=6.0, kill_after=1.0, interval_ms=10):
    """Kills POP A while the client queries every interval; returns a dict:
    withdraw_s (kill -> router's route via POP B), failover_s (kill -> first
    answer by pop-b), lost (queries unanswered between), answered_a, answered_b."""
    lab = al.lab
    out_path = os.path.join(lab.dir, "probe-%d.txt" % int(time.monotonic() * 1000))
    p = subprocess.Popen(["ip", "netns", "exec", lab.ns["c"], PY, PROBE, "stream", ANYCAST,
                          str(run_s), str(interval_ms), out_path])
    lab.procs.append(p)
    time.sleep(kill_after)
    t_kill = time.time()
    al.kill_pop("a")
    al.wait_route("10.0.2.2", 10)
    withdraw_s = time.time() - t_kill
    p.wait(run_s + 30)
    res = {"withdraw_s": withdraw_s, "lost": 0, "answered_a": 0, "answered_b": 0,
           "failover_s": None}
    with open(out_path) as f:
        for line in f:
            t, who = line.split()
            t = float(t)
            if who == "pop-a":
                res["answered_a"] += 1
            elif who == "pop-b":
                res["answered_b"] += 1
                if t >= t_kill and res["failover_s"] is None:
                    res["failover_s"] = t - t_kill
            elif who == "LOST":
                res["lost"] += 1
    return res


if __name__ == "__main__":
    sys.exit("import this module")
