#!/usr/bin/python3
"""REST API benchmark (issue 3): anycst-primary beside PowerDNS 4.7 with its
gsqlite3 backend (Debian's pdns-server + pdns-backend-sqlite3), both on
loopback with a temp SQLite database, same requests, same load generator.

  1. one-rrset PATCH (REPLACE of an A rrset, soa_edit_api INCREASE) on a zone
     of RECORDS records, 8 concurrent clients: PATCH/s, p50, p99, errors;
     PowerDNS also in its best case (1 client, empty zone), the bar of
     the issue being 2x that with p99 under 10 ms;
  2. creating ZONES zones of 10 records each through the API, 8 clients;
  3. GET /zones with LIST zones: time to first byte and total.

Load: 8 client processes (no GIL between them), keep-alive HTTP/1.1.
Usage: bench/api.py [--duration S] [--records N] [--zones N] [--list N] [--no-pdns]
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.environ.get("ANYCST_BIN", os.path.join(ROOT, "bin"))
PFX = "/api/v1/servers/localhost"
KEY = "bench-key"


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_api(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/v1/servers", headers={"X-API-Key": KEY})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("API on port %d did not come up" % port)


def call(conn, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, PFX + path, body=data,
                 headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    r = conn.getresponse()
    payload = r.read()
    return r.status, payload


class Anycst:
    name = "anycst"

    def __init__(self, d):
        self.port = free_port()
        fd = os.open(os.path.join(d, "api.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:   # 0600, or the primary refuses it
            f.write(KEY + "\n")
        self.log = open(os.path.join(d, "anycst.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "anycst-primary"), "--db", os.path.join(d, "anycst.db"),
             "--api", "127.0.0.1:%d" % self.port, "--api-key-file", os.path.join(d, "api.key"),
             "--xfr", "127.0.0.1:%d" % free_port(), "--quic", "127.0.0.1:%d" % free_port(
                 socket.SOCK_DGRAM), "--tls-key", os.path.join(d, "tls.key"),
             "--log-level", "warning", "--api-max-rrsets", "200000"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_api(self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


class PowerDNS:
    name = "pdns"

    def __init__(self, d):
        self.port = free_port()
        self.db = os.path.join(d, "pdns.db")
        schema = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"
        db = sqlite3.connect(self.db)
        db.executescript(open(schema).read())
        db.close()
        conf = os.path.join(d, "pdns.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "launch=gsqlite3", "gsqlite3-database=" + self.db, "api=yes", "api-key=" + KEY,
                "webserver=yes", "webserver-address=127.0.0.1",
                "webserver-port=%d" % self.port, "webserver-allow-from=127.0.0.0/8",
                "local-address=127.0.0.1", "local-port=%d" % free_port(),
                "socket-dir=" + d, "guardian=no", "daemon=no", "disable-syslog=yes",
                "loglevel=3", "webserver-max-bodysize=256", ""]))
        self.log = open(os.path.join(d, "pdns.log"), "w")
        self.proc = subprocess.Popen(["/usr/sbin/pdns_server", "--config-dir=" + d],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_api(self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def create_big_zone(srv, zone, n):
    """A zone of n records (A records in rrsets of 1), created through the API."""
    rrsets = [{"name": "h%d.%s" % (i, zone), "type": "A", "ttl": 300, "changetype": "REPLACE",
               "records": [{"content": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                            "disabled": False}]} for i in range(n)]
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
    t = time.monotonic()
    st, body = call(conn, "POST", "/zones", {"name": zone, "kind": "Native",
                                             "nameservers": ["ns1.example.net."],
                                             "soa_edit_api": "INCREASE", "rrsets": rrsets})
    conn.close()
    if st != 201:
        raise RuntimeError("%s: zone create %d %s" % (srv.name, st, body[:300]))
    return time.monotonic() - t


def patch_worker(port, zone, cid, duration, q):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rng = random.Random(cid)
    lat, errors = [], 0
    end = time.monotonic() + duration
    i = 0
    while time.monotonic() < end:
        body = {"rrsets": [{"name": "w%d-%d.%s" % (cid, i % 50, zone), "type": "A", "ttl": 60,
                            "changetype": "REPLACE",
                            "records": [{"content": "192.0.2.%d" % rng.randrange(1, 255),
                                         "disabled": False}]}]}
        t = time.perf_counter()
        try:
            st, _ = call(conn, "PATCH", "/zones/" + zone, body)
        except (OSError, http.client.HTTPException):
            st = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        dt = time.perf_counter() - t
        if st == 204:
            lat.append(dt)
        else:
            errors += 1
        i += 1
    q.put((lat, errors))


def run_clients(target, args_list):
    q = mp.Queue()
    procs = [mp.Process(target=target, args=a + (q,)) for a in args_list]
    t = time.monotonic()
    for p in procs:
        p.start()
    res = [q.get() for _ in procs]
    for p in procs:
        p.join()
    return res, time.monotonic() - t


HTTPLOAD = None


def build_httpload(d):
    """bench/httpload.c, the C load generator; None when no compiler."""
    global HTTPLOAD
    exe = os.path.join(d, "httpload")
    r = subprocess.run(["cc", "-O2", "-pthread", "-o", exe,
                        os.path.join(ROOT, "bench", "httpload.c")], capture_output=True)
    HTTPLOAD = exe if r.returncode == 0 else None


def patch_bench(srv, zone, clients, duration):
    if HTTPLOAD:
        out = subprocess.run([HTTPLOAD, str(srv.port), KEY, zone, str(clients), str(duration)],
                             capture_output=True, text=True, timeout=duration + 120).stdout
        r = json.loads(out)
        return {"ok": r["ok"], "rate": r["ok"] / duration, "errors": r["errors"],
                "p50": r["p50_ms"], "p99": r["p99_ms"]}
    res, elapsed = run_clients(patch_worker, [(srv.port, zone, c, duration)
                                              for c in range(clients)])
    lat = sorted(x for r in res for x in r[0])
    errors = sum(r[1] for r in res)
    if not lat:
        return {"ok": 0, "rate": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": errors}
    return {"ok": len(lat), "rate": len(lat) / duration, "errors": errors,
            "p50": lat[len(lat) // 2] * 1000, "p99": lat[min(len(lat) - 1,
                                                            int(len(lat) * 0.99))] * 1000}


def create_worker(port, base, count, deadline, q):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    done, errors = 0, 0
    for i in range(count):
        if time.monotonic() > deadline:
            break
        z = "z%d.bench%d.test." % (base + i, base % 7)
        rrsets = [{"name": "r%d.%s" % (k, z), "type": "A", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "192.0.2.%d" % (k + 1), "disabled": False}]}
                  for k in range(8)]
        st, _ = call(conn, "POST", "/zones", {"name": z, "kind": "Native",
                                              "nameservers": ["ns1.example.net."],
                                              "rrsets": rrsets})
        if st == 201:
            done += 1
        else:
            errors += 1
    q.put((done, errors))


def create_bench(srv, total, clients, limit_s):
    per = total // clients
    deadline = time.monotonic() + limit_s
    res, elapsed = run_clients(create_worker, [(srv.port, c * per, per, deadline)
                                               for c in range(clients)])
    done = sum(r[0] for r in res)
    return {"zones": done, "errors": sum(r[1] for r in res), "rate": done / elapsed,
            "seconds": elapsed}


def list_bench(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
    best = None
    for _ in range(3):
        t = time.perf_counter()
        conn.request("GET", PFX + "/zones", headers={"X-API-Key": KEY})
        r = conn.getresponse()
        first = r.read(1)
        ttfb = time.perf_counter() - t
        rest = r.read()
        total = time.perf_counter() - t
        n = len(json.loads(first + rest))
        if best is None or total < best[1]:
            best = (ttfb, total, n)
    conn.close()
    return {"ttfb_ms": best[0] * 1000, "total_ms": best[1] * 1000, "zones": best[2]}


def fill_pdns_zones(srv, n):
    """PowerDNS zones straight into its database (its API takes minutes for this)."""
    db = sqlite3.connect(srv.db)
    cur = db.execute("SELECT count(*) FROM domains").fetchone()[0]
    rows = [("f%d.fill.test." % i).rstrip(".") for i in range(max(0, n - cur))]
    db.executemany("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')", [(r,) for r in rows])
    db.execute("INSERT INTO records (domain_id, name, type, content, ttl, disabled, auth) "
               "SELECT id, name, 'SOA', 'ns1.example.net. hostmaster.example.net. 1 10800 3600 "
               "604800 3600', 3600, 0, 1 FROM domains WHERE name LIKE '%.fill.test'")
    db.commit()
    db.close()


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def fill_anycst_sql(srv, d, n):
    """Our zones straight into our database too (with the server stopped), as for
    PowerDNS: GET /zones reads only the zones table."""
    srv.stop()
    db = sqlite3.connect(os.path.join(d, "anycst.db"))
    cur = db.execute("SELECT count(*) FROM zones").fetchone()[0]
    now = int(time.time())
    rows = [("f%d.fill.test." % i, name_wire("f%d.fill.test." % i), now, now)
            for i in range(max(0, n - cur))]
    db.executemany("INSERT INTO zones (name, wire, kind, account, soa_edit_api, serial, "
                   "created_at, updated_at) VALUES (?, ?, 'Native', '', 'DEFAULT', 1, ?, ?)",
                   rows)
    db.commit()
    db.close()
    srv.__init__(d)


def fill_anycst_zones(srv, n, clients=8):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
    st, body = call(conn, "GET", "/zones")
    have = len(json.loads(body))
    conn.close()
    need = n - have
    if need <= 0:
        return 0.0
    per = need // clients + 1
    t = time.monotonic()
    q = mp.Queue()
    procs = [mp.Process(target=fill_worker, args=(srv.port, c, per, q)) for c in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:
        q.get()
    for p in procs:
        p.join()
    return time.monotonic() - t


def fill_worker(port, cid, count, q):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(count):
        call(conn, "POST", "/zones", {"name": "f%d-%d.fill.test." % (cid, i), "kind": "Native"})
    q.put(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--zones", type=int, default=10000)
    ap.add_argument("--list", type=int, default=100000)
    ap.add_argument("--no-pdns", action="store_true")
    ap.add_argument("--only-pdns", action="store_true")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="anycst-bench-api-")
    build_httpload(d)
    print("load generator: %s" % ("bench/httpload.c" if HTTPLOAD else "python"), flush=True)
    servers = []
    try:
        out = {}
        kinds = ([] if a.only_pdns else [Anycst]) + ([] if a.no_pdns else [PowerDNS])
        for kind in kinds:
            sd = os.path.join(d, kind.name)
            os.mkdir(sd)
            srv = kind(sd)
            servers.append(srv)
            r = out[srv.name] = {}
            print("== %s" % srv.name, flush=True)
            if srv.name == "pdns":
                create_big_zone(srv, "empty.test.", 0)
                r["best"] = patch_bench(srv, "empty.test.", 1, a.duration)
                print("  PATCH, 1 client, empty zone: %(rate).1f/s p50 %(p50).2f ms "
                      "p99 %(p99).2f ms errors %(errors)d" % r["best"], flush=True)
            t = create_big_zone(srv, "big.test.", a.records)
            print("  created a %d-record zone in %.1f s" % (a.records, t), flush=True)
            r["patch8"] = patch_bench(srv, "big.test.", 8, a.duration)
            print("  PATCH, 8 clients, %d records: %.1f/s p50 %.2f ms p99 %.2f ms, %d ok, "
                  "%d errors" % (a.records, r["patch8"]["rate"], r["patch8"]["p50"],
                                 r["patch8"]["p99"], r["patch8"]["ok"], r["patch8"]["errors"]),
                  flush=True)
            r["create"] = create_bench(srv, a.zones, 8, 120)
            print("  created %(zones)d zones of 10 records in %(seconds).1f s: %(rate).1f zones/s,"
                  " %(errors)d errors" % r["create"], flush=True)
            if srv.name == "pdns":
                fill_pdns_zones(srv, a.list)
            else:
                fill_anycst_sql(srv, sd, a.list)
            r["list"] = list_bench(srv)
            print("  GET /zones, %(zones)d zones: first byte %(ttfb_ms).1f ms, total "
                  "%(total_ms).1f ms" % r["list"], flush=True)
            srv.stop()
            servers.remove(srv)
        if "pdns" in out and "anycst" in out:
            o, p = out["anycst"], out["pdns"]
            print("== ratios (anycst / PowerDNS)")
            print("  PATCH/s, 8 clients on %d records vs PowerDNS same load: %.1fx" % (
                a.records, o["patch8"]["rate"] / max(p["patch8"]["rate"], 0.01)))
            print("  PATCH/s, 8 clients on %d records vs PowerDNS best case (1 client, empty "
                  "zone): %.2fx (aim >= 2x), our p99 %.2f ms (aim < 10 ms)" % (
                      a.records, o["patch8"]["rate"] / max(p["best"]["rate"], 0.01),
                      o["patch8"]["p99"]))
            print("  zones created/s: %.2fx" % (o["create"]["rate"] / max(p["create"]["rate"],
                                                                          0.01)))
            print("  GET /zones total time: PowerDNS/anycst %.2fx, first byte %.2fx" % (
                p["list"]["total_ms"] / o["list"]["total_ms"],
                p["list"]["ttfb_ms"] / o["list"]["ttfb_ms"]))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
