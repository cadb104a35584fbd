"""bench/xfr.sh: AXFR and IXFR of anycst-primary beside knotd (see xfr.sh).

The zone is loaded into the primary through the API (PATCHes of 2,000 rrsets)
and exported; knotd serves that very export as its primary zone, so both send
the same records.  Servers are pinned to CPU 0 and dig to CPU 1 (BENCH.md).
Times are dig's own "Query time" for the whole transfer, median of XFR_RUNS;
every run is printed too.  The primary's first AXFR of a version reads it from
SQLite (cold); later ones of the same version come from its version cache, as
when many secondaries fetch a change: both figures matter.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
os.environ.setdefault("ANYCST_BIN", os.path.join(os.path.dirname(__file__), "..", "bin"))
import anycst_e2e as u  # noqa: E402

N = int(os.environ.get("XFR_RECORDS", "1000000"))
RUNS = int(os.environ.get("XFR_RUNS", "3"))
ZONE = "bench.test."
KEY = "bench-key."
CPU_SERVER, CPU_CLIENT = "0", "1"


def pin(pid, cpu):
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], capture_output=True)


def dig(port, secret, *args):
    cmd = ["taskset", "-c", CPU_CLIENT, "dig", "@127.0.0.1", "-p", str(port), "+stats",
           "+time=60", "+tries=1", "-y", "hmac-sha256:%s:%s" % (KEY.rstrip("."), secret)]
    t0 = time.monotonic()
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    out = r.stdout
    m = re.search(r"Query time: (\d+) msec", out)
    size = re.search(r"XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)", out)
    if not m:
        raise RuntimeError("dig failed: " + out[-2000:] + r.stderr[-500:])
    return int(m.group(1)) / 1000.0, wall, size.groups() if size else None


def median_runs(fn):
    vals = [fn() for _ in range(RUNS)]
    print("   runs (s): %s" % " ".join("%.3f" % v[0] for v in vals))
    return statistics.median(v[0] for v in vals), vals[-1]


def main():
    tmp = tempfile.mkdtemp(prefix="anycst-xfr-bench-")
    p = k = None
    try:
        p = u.Primary(tmp, extra=["--api-max-body", "1000000000", "--api-max-rrsets", "10000000",
                                  "--api-max-records", "10000000", "--log-level", os.environ.get("XFR_LOG", "notice")])
        p.timeout = 600
        secret = p.add_key(KEY)
        p.add_zone(ZONE, keys=[KEY])
        t0 = time.monotonic()
        step = 2000
        for b in range(0, N, step):
            ops = [{"name": "h%d.%s" % (i, ZONE), "type": "A", "ttl": 300,
                    "changetype": "REPLACE",
                    "records": [{"content": "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255,
                                                             i & 255), "disabled": False}]}
                   for i in range(b, min(N, b + step))]
            p.api("PATCH", "/zones/" + ZONE, {"rrsets": ops})
        print("loaded %d records into the primary in %.1f s" % (N, time.monotonic() - t0))
        pin(p.proc.pid, CPU_SERVER)

        # knotd as primary of the same records (our export as its zone file).
        kdir = os.path.join(tmp, "knot")
        os.makedirs(kdir)
        with open(os.path.join(kdir, "bench.zone"), "w") as f:
            f.write(p.export(ZONE))
        kport = u.free_port(also_udp=True)
        conf = os.path.join(kdir, "knot.conf")
        with open(conf, "w") as f:
            f.write("""server:
    rundir: {d}
    listen: 127.0.0.1@{port}
    tcp-workers: 1
    udp-workers: 1
log:
  - target: {d}/knotd.log
    any: notice
database:
    storage: {d}
key:
  - id: {key}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: xfr
    address: 127.0.0.1
    key: {key}
    action: transfer
zone:
  - domain: {zone}
    storage: {d}
    file: bench.zone
    acl: xfr
    journal-content: changes
    zonefile-sync: -1
""".format(d=kdir, port=kport, key=KEY, secret=secret, zone=ZONE))
        kout = open(os.path.join(kdir, "out"), "w")
        k = subprocess.Popen(["knotd", "-c", conf], stdout=kout, stderr=subprocess.STDOUT)
        pin(k.pid, CPU_SERVER)
        serial0 = p.serial(ZONE)
        u.wait_until(lambda: u.soa_serial(kport, ZONE) == serial0, 300, step=0.2,
                     what="knotd loading the zone")

        ours, last = median_runs(lambda: dig(p.xfr_port, secret, ZONE, "AXFR"))
        print("AXFR anycst-primary: %.3f s (dig wall %.3f s), %s records, %s messages, "
              "%s bytes" % ((ours, last[1]) + tuple(last[2])))
        theirs, last = median_runs(lambda: dig(kport, secret, ZONE, "AXFR"))
        print("AXFR knotd:          %.3f s (dig wall %.3f s), %s records, %s messages, "
              "%s bytes" % ((theirs, last[1]) + tuple(last[2])))
        print("AXFR ratio anycst/knotd: %.2f (below 1 is faster)" % (ours / theirs))

        # One-record change on both, then IXFR from the old serial.
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
            {"name": "changed." + ZONE, "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.99", "disabled": False}]}]})
        knotc = ["knotc", "-c", conf]
        subprocess.run(knotc + ["zone-begin", ZONE], check=True, capture_output=True)
        subprocess.run(knotc + ["zone-set", ZONE, "changed", "300", "A", "192.0.2.99"],
                       check=True, capture_output=True)
        subprocess.run(knotc + ["zone-commit", ZONE], check=True, capture_output=True)
        kserial = serial0 + 1
        u.wait_until(lambda: u.soa_serial(kport, ZONE) == kserial, 300, step=0.05,
                     what="knotd committing the change")
        ours, last = median_runs(lambda: dig(p.xfr_port, secret, ZONE, "IXFR=%d" % serial0))
        print("IXFR (1 record) anycst-primary: %.3f s (dig wall %.3f s)" % (ours, last[1]))
        theirs, last = median_runs(lambda: dig(kport, secret, ZONE, "IXFR=%d" % serial0))
        print("IXFR (1 record) knotd:          %.3f s (dig wall %.3f s)" % (theirs, last[1]))
        if theirs > 0:
            print("IXFR ratio anycst/knotd: %.2f" % (ours / theirs))
        else:
            print("IXFR: both under dig's 1 ms resolution" if ours == 0 else
                  "IXFR: knotd under 1 ms, anycst %.3f s" % ours)
        # The first transfer of a version streams from the store; the second
        # also copies it into the cache; later ones are served from the cache.
        p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
            {"name": "bump." + ZONE, "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.98", "disabled": False}]}]})
        seq = [dig(p.xfr_port, secret, ZONE, "AXFR")[0] for _ in range(3)]
        print("AXFR anycst-primary first (streamed): %.3f s, second (streamed, copied to the "
              "cache): %.3f s, cached: %.3f s" % tuple(seq))
    finally:
        if os.environ.get("XFR_LOG") and p is not None:
            print("".join(l for l in p.log().splitlines(True) if "zone transfer" in l)[-3000:])
        if k is not None:
            k.terminate()
            k.wait(10)
        if p is not None:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
