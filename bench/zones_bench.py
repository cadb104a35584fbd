#!/usr/bin/python3
"""POST of many zones in a row from 8 clients (bench/zones.sh): SCALE_ZONES
zones of 10 records (SOA, NS, 8 A) created through the API of one
anycst-primary; prints zones/s, the primary's RSS (now and peak), the largest
WAL seen while creating, the database size per zone after a checkpoint-free
stop, and GET /zones of every zone (first byte, total, RSS growth)."""
import os
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api as b  # noqa: E402  (bench/api.py: the primary, its clients)

ZONES = int(os.environ.get("SCALE_ZONES", "100000"))
CLIENTS = 8


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(field + r":\s+(\d+) kB", f.read()).group(1))


def main():
    d = tempfile.mkdtemp(prefix="anycst-zones-bench-")
    srv = None
    try:
        srv = b.Anycst(d)
        pid = srv.proc.pid
        db = os.path.join(d, "anycst.db")
        rss0 = status_kib(pid, "VmRSS")
        wal_max = [0]
        stop = threading.Event()

        def watch_wal():
            while not stop.is_set():
                try:
                    wal_max[0] = max(wal_max[0], os.path.getsize(db + "-wal"))
                except OSError:
                    pass
                time.sleep(0.1)
        w = threading.Thread(target=watch_wal)
        w.start()
        r = b.create_bench(srv, ZONES, CLIENTS, 3600)
        stop.set()
        w.join()
        rss = status_kib(pid, "VmRSS")
        hwm = status_kib(pid, "VmHWM")
        print("zones: %d zones of 10 records POSTed by %d clients in %.1f s: %.0f zones/s, "
              "%d errors" % (r["zones"], CLIENTS, r["seconds"], r["rate"], r["errors"]))
        print("zones: primary RSS %.1f MiB after (%.1f MiB at start, peak %.1f MiB), "
              "%.2f KiB per zone" % (rss / 1024, rss0 / 1024, hwm / 1024,
                                     (rss - rss0) / max(r["zones"], 1)))
        size = os.path.getsize(db)
        wal = os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0
        print("zones: database %.1f MiB + WAL %.1f MiB (largest WAL seen %.1f MiB), "
              "%.2f KiB per zone" % (size / 2**20, wal / 2**20, wal_max[0] / 2**20,
                                     (size + wal) / 1024 / max(r["zones"], 1)))
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        base = status_kib(pid, "VmRSS")
        lst = b.list_bench(srv)
        print("zones: GET /zones of %d zones: first byte %.1f ms, total %.0f ms, RSS growth "
              "%.1f MiB" % (lst["zones"], lst["ttfb_ms"], lst["total_ms"],
                            (status_kib(pid, "VmHWM") - base) / 1024))
    finally:
        if srv is not None:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
