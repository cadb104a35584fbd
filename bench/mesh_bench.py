"""Propagation across a real WireGuard mesh (bench/mesh.sh; root only).

The mesh of tests/e2e/anycst_e2e/mesh.py: a primary and three POPs in network
namespaces, wireguard-go everywhere (MESH_V6=1: IPv6 only, fd00:53::/64).
The zone holds MESH_FILL names (default 100,000) besides SOA and NS.  For
each of MESH_CHANGES changes (default 200), spaced MESH_GAP_MS apart
(default 300): the clock starts when the change is acknowledged and stops
when all three POPs answer the new serial to SOA queries (asked inside each
POP's namespace, on its mesh address).

The POPs first run the command line the API returned (QUIC with the pin when
the primary serves it), then the same command over TCP; anycst's clock starts
at the API's 204.  Then the same with Debian's knotd: one knotd as primary on
the primary's mesh address, changed with `knotc zone-begin / zone-set /
zone-commit` (a DNS UPDATE would make knotd hold its NOTIFY about 1 s: the
figure would be that wait), its clock started when `zone-commit` returns;
three knotd secondaries on the POPs' mesh addresses (NOTIFY + IXFR over TCP,
TSIG).  Prints median, p95 and p99 side by side and the ratios.
"""
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

from anycst_e2e import mesh as mesh_util  # noqa: E402

N = int(os.environ.get("MESH_CHANGES", "200"))
GAP = int(os.environ.get("MESH_GAP_MS", "300")) / 1000.0
FILL = int(os.environ.get("MESH_FILL", "100000"))   # names beside SOA and NS
V6 = os.environ.get("MESH_V6", "0") == "1"
ZONE = "bench.example."
KNOT_KEY = ("bench-key.", "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=")


class Poller:
    """One UDP socket per POP, made inside its namespace; SOA serial polling."""

    def __init__(self, m, targets):
        self.targets = targets          # node -> (ip, port)
        self.socks = {}
        for node in targets:
            fam = socket.AF_INET6 if ":" in targets[node][0] else socket.AF_INET
            with m.ns(node):
                s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setblocking(False)
            self.socks[node] = s

    def wait_all(self, serial, timeout=30.0, t0=None):
        """Seconds from t0 (default now) until every POP answers `serial`; None on timeout."""
        t0 = time.monotonic() if t0 is None else t0
        pending = set(self.targets)
        q = dns.message.make_query(ZONE, "SOA")
        while pending:
            now = time.monotonic()
            if now - t0 > timeout:
                return None
            q.id = (q.id + 1) & 0xffff
            wire = q.to_wire()
            for node in pending:
                try:
                    self.socks[node].sendto(wire, self.targets[node])
                except OSError:
                    pass
            deadline = time.monotonic() + 0.005
            waiting = set(pending)
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([self.socks[n] for n in waiting], [], [], left)
                for s in r:
                    node = [n for n in waiting if self.socks[n] is s][0]
                    try:
                        data = s.recv(4096)
                        msg = dns.message.from_wire(data)
                    except Exception:   # noqa: BLE001 - a stale or odd answer: ask again
                        continue
                    if msg.id != q.id:
                        continue
                    waiting.discard(node)
                    for rrset in msg.answer:
                        if rrset.rdtype == dns.rdatatype.SOA and rrset[0].serial == serial:
                            pending.discard(node)
            if pending:
                # 1 ms between rounds: a hotter loop steals the CPU (2 cores here) from
                # wireguard-go and the daemons, and measures itself
                time.sleep(0.001)
        return time.monotonic() - t0

    def close(self):
        for s in self.socks.values():
            s.close()


def summary(xs):
    """(median, p95, p99) in ms."""
    if not xs:
        return 0.0, 0.0, 0.0
    xs = sorted(xs)

    def pct(p):
        return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] * 1000
    return statistics.median(xs) * 1000, pct(0.95), pct(0.99)


def zone_text(serial=1):
    lines = ["$ORIGIN %s" % ZONE, "$TTL 60",
             "@ SOA ns1.example.net. h.example.net. %d 3600 600 86400 60" % serial,
             "@ NS ns1.example.net."]
    lines += ["h%d A 192.0.%d.%d" % (i, (i >> 8) & 255, i & 255) for i in range(FILL)]
    return "\n".join(lines) + "\n"


def setup_anycst(m):
    m.register_pops()
    st, body = m.api("POST", "/zones", {"name": ZONE, "kind": "Native", "zone": zone_text(),
                                        "soa_edit_api": "INCREASE"})
    assert st == 201, body


def to_tcp(m):
    """Restarts the POPs with the same command over TCP to the --xfr port."""
    for node, reg in m.pops.items():
        m.stop(reg["proc"])
        argv = reg["command"].split()
        if "--pin" in argv:
            i = argv.index("--pin")
            del argv[i:i + 2]
        argv[argv.index("--transport") + 1] = "tcp"
        argv[argv.index("--primary") + 1] = m.hostport(m.primary_ip, 5300)
        reg["command"] = " ".join(argv)
        m.start_pop(node)


def bench_anycst(m):
    targets = {n: (r["mesh_ip"], r["dns_port"]) for n, r in m.pops.items()}
    poll = Poller(m, targets)
    times, lost = [], 0
    try:
        st, body = m.api("GET", "/zones/%s?rrsets=false" % ZONE)
        assert st == 200, body
        serial = json.loads(body)["serial"]
        assert poll.wait_all(serial, 120) is not None, "POPs never got the zone"
        for i in range(N):
            st, body = m.api("PATCH", "/zones/" + ZONE, {"rrsets": [{
                "name": "r.%s" % ZONE, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
                "records": [{"content": '"change %d"' % i, "disabled": False}]}]})
            t_ack = time.monotonic()         # the API's 204
            assert st == 204, body
            serial = int(m.last_headers["x-pdns-new-serial"])
            dt = poll.wait_all(serial, t0=t_ack)
            if dt is None:
                lost += 1
            else:
                times.append(dt)
            time.sleep(GAP)
    finally:
        poll.close()
    return times, lost


def knot_conf(m, d, listen, role, pops=()):
    name, secret = KNOT_KEY
    lines = ["server:", '    rundir: "%s"' % d, "    listen: %s" % listen,
             "    background-workers: 1",
             "control:", '    listen: "%s"' % os.path.join(d, "knot.sock"),
             "log:", "  - target: stderr", "    any: info",
             "database:", '    storage: "%s"' % d,
             "key:", "  - id: %s" % name, "    algorithm: hmac-sha256", "    secret: %s" % secret,
             "acl:", "  - id: mesh", "    address: %s" % m.MESH_NET, "    key: %s" % name,
             "    action: [transfer, notify]"]
    if role == "primary":
        lines += ["remote:"]
        for i, ip in enumerate(pops):
            lines += ["  - id: pop%d" % i, "    address: %s@53" % ip, "    key: %s" % name]
        lines += ["template:", "  - id: default", '    storage: "%s"' % d,
                  "    zonefile-sync: -1", "    semantic-checks: off",
                  "zone:", "  - domain: %s" % ZONE, "    file: zone.txt", "    acl: mesh",
                  "    notify: [%s]" % ", ".join("pop%d" % i for i in range(len(pops)))]
    else:
        lines += ["remote:", "  - id: primary", "    address: %s@5300" % m.primary_ip,
                  "    key: %s" % name,
                  "template:", "  - id: default", '    storage: "%s"' % d,
                  "    zonefile-sync: -1", "    semantic-checks: off",
                  "zone:", "  - domain: %s" % ZONE, "    master: primary", "    acl: mesh"]
    with open(os.path.join(d, "knot.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return os.path.join(d, "knot.conf")


def knotc(sock, *args):
    r = subprocess.run(["knotc", "-s", sock, "-t", "10"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0 and "error" not in r.stdout.lower(), (args, r.stdout)
    return r.stdout


def bench_knot(m):
    # our daemons go; the mesh and its addresses stay
    for node, reg in m.pops.items():
        m.stop(reg["proc"])
    m.stop(m.primary)
    ips = [m.pops["pop%d" % i]["mesh_ip"] for i in range(m.npops)]
    d = os.path.join(m.dir, "knot-primary")
    os.makedirs(d)
    with open(os.path.join(d, "zone.txt"), "w") as f:
        f.write(zone_text())
    m.start("knot-primary", ["knotd", "-c", knot_conf(m, d, "%s@5300" % m.primary_ip, "primary",
                                                       ips)], node="primary")
    for i, ip in enumerate(ips):
        di = os.path.join(m.dir, "knot-pop%d" % i)
        os.makedirs(di)
        m.start("knot-pop%d" % i, ["knotd", "-c", knot_conf(m, di, ip + "@53", "secondary")],
                node="pop%d" % i)
    targets = {"pop%d" % i: (ip, 53) for i, ip in enumerate(ips)}
    poll = Poller(m, targets)
    sock = os.path.join(d, "knot.sock")
    times, lost = [], 0
    try:
        assert poll.wait_all(1, 120) is not None, "knotd secondaries never loaded the zone"
        serial = 1
        for i in range(N):
            knotc(sock, "zone-begin", ZONE)
            knotc(sock, "zone-set", ZONE, "r", "60", "TXT", '"change %d"' % i)
            knotc(sock, "zone-commit", ZONE)
            t_ack = time.monotonic()         # the commit returned
            serial += 1                      # knotd increments an unchanged SOA's serial
            dt = poll.wait_all(serial, t0=t_ack)
            if dt is None:
                lost += 1
            else:
                times.append(dt)
            time.sleep(GAP)
    finally:
        poll.close()
    return times, lost


def main():
    reason = mesh_util.why_not()
    if reason is None and subprocess.run(["which", "knotd"], stdout=subprocess.DEVNULL).returncode:
        reason = "knotd is not installed"
    if reason:
        print("mesh bench skipped: " + reason)
        return 0
    m = mesh_util.Mesh(3, v6=V6)
    runs = []
    try:
        m.build()
        t = time.monotonic()
        setup_anycst(m)
        print("zone of %d names created through the API in %.1f s" % (FILL, time.monotonic() - t))
        transport = m.pops["pop0"].get("transport", "tcp").upper()
        runs.append(("anycst, API 204 -> NOTIFY -> IXFR/%s" % transport,) + bench_anycst(m))
        if transport != "TCP":
            to_tcp(m)
            runs.append(("anycst, API 204 -> NOTIFY -> IXFR/TCP",) + bench_anycst(m))
        runs.append(("knotd, zone-commit -> NOTIFY -> IXFR/TCP",) + bench_knot(m))
    finally:
        m.close()
    print("propagation over a WireGuard mesh (wireguard-go, %s), 3 POPs, zone of %d names, "
          "%d changes %d ms apart, ack -> all POPs serve the new serial"
          % ("IPv6" if V6 else "IPv4", FILL, N, GAP * 1000))
    print("  %-42s %10s %10s %10s %5s" % ("", "median ms", "p95 ms", "p99 ms", "lost"))
    figures = []
    for label, times, lost in runs:
        f = summary(times)
        figures.append(f)
        print("  %-42s %10.2f %10.2f %10.2f %5d" % ((label,) + f + (lost,)))
    k = figures[-1]
    for (label, _, _), a in zip(runs[:-1], figures[:-1]):
        print("  knotd / anycst %s: median %.2fx, p95 %.2fx, p99 %.2fx (above 1: anycst is faster)"
              % (label.split("/")[-1], k[0] / a[0] if a[0] else 0, k[1] / a[1] if a[1] else 0,
                 k[2] / a[2] if a[2] else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
