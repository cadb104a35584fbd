"""bench/import.sh: one zone file loaded by anycstc, knotd and pdnsutil.

Each loader gets the same generated file (a hosting mix: A, AAAA, MX, TXT,
CNAME).  Times are wall seconds from the command's start to its return
(knotc -b waits for knotd to have loaded the zone); peak RSS is VmHWM of
the process (the tool's own by /usr/bin/time, the daemon's from /proc).
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from anycst_e2e import BIN, Primary, free_port, stop_pid, wait_until  # noqa: E402
from anycst_e2e.pdns import SCHEMA, pdns_available  # noqa: E402

N = int(os.environ.get("IMPORT_RECORDS", "1000000"))
ZONE = "bench.test."


def write_zone(path, n, serial):
    with open(path, "w") as f:
        f.write("$ORIGIN %s\n$TTL 3600\n@ IN SOA ns1 hostmaster %d 7200 1800 1209600 300\n"
                "@ IN NS ns1\nns1 IN A 10.255.255.1\n" % (ZONE, serial))
        out = []
        for i in range(n - 3):
            h, k = divmod(i, 5)
            if k == 0:
                out.append("host%d IN A 10.%d.%d.%d\n" % (h, h >> 16 & 255, h >> 8 & 255, h & 255))
            elif k == 1:
                out.append("host%d IN AAAA 2001:db8:%x::%x\n" % (h, h >> 16, h & 0xffff))
            elif k == 2:
                out.append("host%d IN MX 10 mail%d\n" % (h, h % 1000))
            elif k == 3:
                out.append('host%d IN TXT "v=spf1 ip4:10.%d.%d.0/24 -all" "id=%d"\n'
                           % (h, h >> 8 & 255, h & 255, h))
            else:
                out.append("www%d IN CNAME host%d\n" % (h, h))
            if len(out) >= 65536:
                f.writelines(out)
                out = []
        f.writelines(out)


def vm_hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def timed(argv, env=None, cwd=None):
    """(wall s, the tool's peak RSS MiB) of argv, which must succeed."""
    tf = tempfile.NamedTemporaryFile(delete=False)
    tf.close()
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + argv, env=env, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    with open(tf.name) as f:
        rss = int(f.read().split()[-1]) / 1024.0
    os.unlink(tf.name)
    if r.returncode != 0:
        raise SystemExit("import: %s failed:\n%s" % (" ".join(argv), r.stdout[-3000:]))
    return wall, rss


def run_anycst(tmp, zonefile):
    os.makedirs(os.path.join(tmp, "anycst"))
    p = Primary(os.path.join(tmp, "anycst"))
    try:
        env = dict(os.environ, ANYCST_API_URL=p.api_url, ANYCST_API_KEY_FILE=p.key_file,
                   ANYCSTC_CONFIG=os.devnull)
        env.pop("ANYCST_API_KEY", None)
        wall, rss = timed([os.path.join(BIN, "anycstc"), "zone", "import", ZONE, zonefile],
                          env=env)
        daemon = vm_hwm_mib(p.proc.pid)
        assert p.serial(ZONE) is not None
        return wall, rss, daemon
    finally:
        p.stop()


def knot_conf(d, port):
    return "\n".join([
        "server:", '    rundir: "%s"' % d, "    listen: 127.0.0.1@%d" % port,
        "    background-workers: 2",
        "log:", "  - target: stderr", "    any: warning",
        "database:", '    storage: "%s"' % d,
        "template:", "  - id: default", '    storage: "%s"' % d, "    zonefile-sync: -1",
        "    journal-content: none", "    semantic-checks: off",
        "zone:", "  - domain: %s" % ZONE, "    file: zone.txt", ""])


def run_knot(tmp, zonefile):
    d = os.path.join(tmp, "knot")
    os.makedirs(d)
    write_zone(os.path.join(d, "zone.txt"), 10, 1)   # a small zone first, then the reload
    port = free_port()
    with open(os.path.join(d, "knot.conf"), "w") as f:
        f.write(knot_conf(d, port))
    log = open(os.path.join(d, "knotd.log"), "w")
    proc = subprocess.Popen(["knotd", "-c", os.path.join(d, "knot.conf")], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        sock = os.path.join(d, "knot.sock")
        ctl = ["knotc", "-c", os.path.join(d, "knot.conf"), "-s", sock]
        wait_until(lambda: subprocess.run(ctl + ["zone-status", ZONE], capture_output=True)
                   .returncode == 0, 20, what="knotd up")
        shutil.copyfile(zonefile, os.path.join(d, "zone.txt"))
        wall, rss = timed(ctl + ["-b", "-t", "600", "zone-reload", ZONE])
        st = subprocess.run(ctl + ["zone-status", ZONE], capture_output=True, text=True).stdout
        assert "serial: 2" in st, st
        return wall, rss, vm_hwm_mib(proc.pid)
    finally:
        stop_pid(proc)


def run_pdns(tmp, zonefile):
    d = os.path.join(tmp, "pdns")
    os.makedirs(d)
    db = os.path.join(d, "pdns.sqlite3")
    with open(SCHEMA) as f, sqlite3.connect(db) as c:
        c.executescript(f.read())
    with open(os.path.join(d, "pdns.conf"), "w") as f:
        f.write("launch=gsqlite3\ngsqlite3-database=%s\n" % db)
    wall, rss = timed(["pdnsutil", "--config-dir=" + d, "load-zone", ZONE, zonefile])
    return wall, rss, None


def main():
    tmp = tempfile.mkdtemp(prefix="anycst-bench-import-")
    try:
        zonefile = os.path.join(tmp, "bench.test.zone")
        write_zone(zonefile, N, 2)
        print("import: %d records, %.1f MB zone file" % (N, os.path.getsize(zonefile) / 1e6),
              flush=True)
        rows = [("anycstc zone import (REST API, primary)",) + run_anycst(tmp, zonefile)]
        if shutil.which("knotd") and shutil.which("knotc"):
            rows.append(("knotc -b zone-reload (knotd)",) + run_knot(tmp, zonefile))
        if pdns_available() and shutil.which("pdnsutil"):
            rows.append(("pdnsutil load-zone (gsqlite3)",) + run_pdns(tmp, zonefile))
        print("%-42s %9s %14s %16s" % ("loader", "wall s", "tool RSS MiB", "daemon RSS MiB"))
        for name, wall, rss, daemon in rows:
            print("%-42s %9.2f %14.1f %16s" % (name, wall, rss,
                                              "-" if daemon is None else "%.1f" % daemon))
        base = rows[0][1]
        for name, wall, _, _ in rows[1:]:
            print("import: %s / anycst wall time: %.2f" % (name.split(" (")[0], wall / base))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
