"""Reseller scale (issue 18): SCALE_ZONES zones (default 100,000) of 10
records each, created through the API from 8 clients; then an empty POP
following the catalog over QUIC beside knotd as a catalog consumer of the
same primary over TCP (time until every zone answers, RSS); then the POP
restarted from its state directory (time until every zone answers).

"Answers" is checked by pipelined UDP queries for www.<zone> A: a sample of
SCALE_SAMPLE zones is polled until all of it answers, then every zone is
asked once, and the missing ones again until none is left.

Knobs (environment): SCALE_ZONES, SCALE_CLIENTS (8), SCALE_SAMPLE (400),
SCALE_TIMEOUT (seconds per phase, 1800), SCALE_KNOT (1: run knotd too).
"""
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))

from anycst_e2e import Knot, Primary, free_port  # noqa: E402
from anycst_e2e import xoq as xu  # noqa: E402

ZONES = int(os.environ.get("SCALE_ZONES", "100000"))
CLIENTS = int(os.environ.get("SCALE_CLIENTS", "8"))
SAMPLE = int(os.environ.get("SCALE_SAMPLE", "400"))
TIMEOUT = float(os.environ.get("SCALE_TIMEOUT", "1800"))
WITH_KNOT = os.environ.get("SCALE_KNOT", "1") == "1"
CATALOG = "catalog.anycst.invalid."


def zone_name(i):
    return "z%06d.scale.example." % i


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def wait_all(port, names, t0, what, alive=None):
    """Seconds from t0 until every name answers."""
    sample = random.sample(names, min(SAMPLE, len(names)))
    last = 0
    while True:
        if alive is not None:
            alive()
        if time.monotonic() - t0 > TIMEOUT:
            raise RuntimeError("%s: not all answering after %.0f s" % (what, TIMEOUT))
        got = len(xu.answering(port, sample, timeout=5))
        if got == len(sample):
            break
        if time.monotonic() - last > 10:
            print("  %s: %d/%d sampled answer after %.0f s" % (what, got, len(sample),
                                                               time.monotonic() - t0), flush=True)
            last = time.monotonic()
        time.sleep(0.2)
    missing = list(names)
    while missing:
        got = xu.answering(port, missing, timeout=60)
        missing = [n for n in missing if n not in got]
        if missing:
            if time.monotonic() - t0 > TIMEOUT:
                raise RuntimeError("%s: %d zones not answering" % (what, len(missing)))
            time.sleep(0.2)
    return time.monotonic() - t0


def load():
    return "load average %.1f" % os.getloadavg()[0]


def db_bytes(p):
    return sum(os.path.getsize(f) for f in (p.db_path, p.db_path + "-wal")
               if os.path.exists(f))


def main():
    tmp = tempfile.mkdtemp(prefix="anycst-scale-")
    names = [zone_name(i) for i in range(ZONES)]
    p = sec = knot = None
    sport = free_port()
    try:
        p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        p.allow_catalog(xu.KEY)
        secs, wal_peak = xu.create_zones_parallel(p, names, CLIENTS)
        print("scale: %d zones x 10 records created through the API from %d clients in %.1f s "
              "(%.0f zones/s); primary RSS %.0f MiB; database %.1f MB; largest WAL seen %.1f MB; %s"
              % (ZONES, CLIENTS, secs, ZONES / secs, rss_mib(p.proc.pid), db_bytes(p) / 1e6,
                 wal_peak / 1e6, load()), flush=True)

        sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport, name="pop",
                                extra=["--log-level", "info"])
        t0 = time.monotonic()
        sec.start()
        pop_s = wait_all(sec.port, names, t0, "POP", alive=lambda: sec._listening())
        pop_rss = rss_mib(sec.proc.pid)
        print("scale: empty POP following the catalog over QUIC: every zone answers after "
              "%.1f s (%.0f zones/s); POP RSS %.0f MiB (%.1f KiB a zone); %s"
              % (pop_s, ZONES / pop_s, pop_rss, pop_rss * 1024 / ZONES, load()), flush=True)

        knot_s = None
        if WITH_KNOT and shutil.which("knotd"):
            t0 = time.monotonic()
            knot = Knot.secondary(tmp, p.xfr_port, xu.KEY, secret, catalog=CATALOG,
                                  name="knotcat")
            knot_s = wait_all(knot.port, names, t0, "knotd")
            knot_rss = rss_mib(knot.proc.pid)
            print("scale: knotd following the same catalog over TCP: every zone answers after "
                  "%.1f s (%.0f zones/s); knotd RSS %.0f MiB; %s"
                  % (knot_s, ZONES / knot_s, knot_rss, load()), flush=True)
            print("scale: POP/knotd time %.2f, RSS %.2f" % (pop_s / knot_s, pop_rss / knot_rss),
                  flush=True)
            knot.stop()
            knot = None

        sec.stop()
        t0 = time.monotonic()
        sec.start(timeout=TIMEOUT)
        rs = wait_all(sec.port, names, t0, "POP restart", alive=lambda: sec._listening())
        print("scale: POP restarted from its state directory: every zone answers after %.1f s; "
              "POP RSS %.0f MiB; %s" % (rs, rss_mib(sec.proc.pid), load()), flush=True)
    finally:
        if knot is not None:
            knot.stop()
        if sec is not None and sec.proc is not None:
            sec.stop()
        if p is not None:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
