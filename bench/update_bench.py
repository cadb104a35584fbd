"""bench/update.sh: DNS UPDATE through TCP from several clients, anycst-primary
beside knotd and named (see update.sh).  The servers are pinned to CPU 0 and the
clients to CPU 1.  Every UPDATE must be answered NOERROR; the figures are
wall-clock UPDATEs/s over all clients and the latency of each UPDATE (send to
answer) at p50 and p99."""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
os.environ.setdefault("ANYCST_BIN", os.path.join(os.path.dirname(__file__), "..", "bin"))
import anycst_e2e as u  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.tsig  # noqa: E402
import dns.update  # noqa: E402

RECORDS = int(os.environ.get("UPDATE_RECORDS", "20000"))
CLIENTS = int(os.environ.get("UPDATE_CLIENTS", "8"))
EACH = int(os.environ.get("UPDATE_EACH", "250"))
ZONE = "bench.test."
UPDLOAD = os.path.join(u.TOOLS, "anycst-updload")
# "c" (default when built): the C client; "python": dnspython threads in this process
CLIENT = os.environ.get("UPDATE_CLIENT", "c" if os.access(UPDLOAD, os.X_OK) else "python")
# a directory: the C client writes every UPDATE's send time and latency to DIR/NAME.lat
DUMP = os.environ.get("UPDATE_DUMP", "")


def pin(pid, cpu):
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], capture_output=True)


def zone_text():
    lines = ["$ORIGIN %s" % ZONE, "$TTL 300",
             "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1", "ns1 IN A 192.0.2.1"]
    lines += ["h%d IN A 198.51.%d.%d" % (i, (i >> 8) & 255, i & 255) for i in range(RECORDS)]
    return "\n".join(lines) + "\n"


def client(port, n, idx, lat, errors):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        for i in range(n):
            m = dns.update.Update(ZONE, keyring=u.KEYRING, keyname=u.KEY_NAME,
                                  keyalgorithm=dns.tsig.HMAC_SHA256)
            m.add("u%d-%d-%d" % (port, idx, i), 60, "TXT", '"v%d"' % i)
            t0 = time.perf_counter()
            r = dns.query.tcp(m, "127.0.0.1", port=port, sock=s, timeout=10)
            lat.append(time.perf_counter() - t0)
            if r.rcode() != dns.rcode.NOERROR:
                errors.append(dns.rcode.to_text(r.rcode()))
    finally:
        s.close()


def run_c(name, port):
    """The C client (build/tools-bin/anycst-updload), pinned to CPU 1."""
    r = subprocess.run(["taskset", "-c", "1", UPDLOAD, "-s", "127.0.0.1:%d" % port, "-z", ZONE,
                        "-y", "%s:hmac-sha256:%s" % (u.KEY_NAME, u.KEY_SECRET),
                        "-c", str(CLIENTS), "-n", str(EACH), "-t", name[:8]] +
                       (["-d", os.path.join(DUMP, name + ".lat")] if DUMP else []),
                       capture_output=True, text=True, timeout=600)
    f = r.stdout.split()
    v = dict(zip(f[0::2], f[1::2]))
    if "rate" not in v:
        print("%-14s client failed: %s" % (name, (r.stdout + r.stderr).strip()))
        return None
    print("%-14s %6s UPDATEs in %6.2f s: %7.0f UPDATEs/s, p50 %6.2f ms, p99 %6.2f ms%s" % (
        name, v["updates"], float(v["seconds"]), float(v["rate"]), float(v["p50_ms"]),
        float(v["p99_ms"]), ", %s errors" % v["errors"] if v["errors"] != "0" else ""))
    return float(v["rate"]), float(v["p99_ms"])


def run(name, port):
    if CLIENT == "c":
        return run_c(name, port)
    lat, errors, threads = [], [], []
    t0 = time.perf_counter()
    for c in range(CLIENTS):
        t = threading.Thread(target=client, args=(port, EACH, c, lat, errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    n = len(lat)
    print("%-14s %6d UPDATEs in %6.2f s: %7.0f UPDATEs/s, p50 %6.2f ms, p99 %6.2f ms%s" % (
        name, n, wall, n / wall, 1000 * statistics.median(lat), 1000 * lat[int(n * 0.99) - 1],
        ", %d errors (%s)" % (len(errors), errors[0]) if errors else ""))
    return n / wall, 1000 * lat[int(n * 0.99) - 1]


def main():
    tmp = tempfile.mkdtemp(prefix="anycst-update-bench-")
    text = zone_text()
    p = k = n = None
    try:
        p = u.Primary(tmp, extra=["--api-max-body", "100000000", "--log-level", "warning"])
        p.api("POST", "/tsigkeys", {"name": u.KEY_NAME, "algorithm": "hmac-sha256",
                                    "key": u.KEY_SECRET})
        p.api("POST", "/zones", {"name": ZONE, "kind": "Native", "zone": text,
                                 "soa_edit_api": "INCREASE",
                                 "update_tsig_key_ids": [u.KEY_NAME]})
        pin(p.proc.pid, "0")
        k = u.Knot(tmp, {ZONE: text}).start()
        pin(k.proc.pid, "0")
        n = u.Named.primary(tmp, {ZONE: text})
        pin(n.proc.pid, "0")
        os.sched_setaffinity(0, {1})
        print("DNS UPDATE, %d clients x %d UPDATEs over TCP, zone of %d records, %s client" %
              (CLIENTS, EACH, RECORDS, "C (anycst-updload)" if CLIENT == "c" else "Python"))
        ours = run("anycst", p.xfr_port)
        peers = [r for r in (run("knotd", k.port), run("named", n.port)) if r is not None]
        if ours is not None and peers:
            best = max(r[0] for r in peers)
            print("ratio anycst/better peer: %.2f (goal >= 2), anycst p99 %.2f ms (goal < 10 ms)"
                  % (ours[0] / best, ours[1]))
    finally:
        for d in (n, k, p):
            if d is not None:
                d.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
