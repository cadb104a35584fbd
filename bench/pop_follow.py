"""An empty POP following the catalog, binary against binary (issue 18): one
primary with POPF_ZONES zones of 10 records (created as bench/scale.sh does),
then for each round and each directory of binaries in POPF_BINS an empty
anycst-secondary following its catalog over QUIC, timed until every zone
answers; beside the wall time, the CPU seconds the POP and the primary spent
meanwhile (a measure that holds on a busy machine) and, with POPF_PERF=1,
the POP's system calls and context switches (perf stat attached to it).

Knobs (environment): POPF_ZONES (20000), POPF_BINS (colon-separated bin
directories, default this tree's bin/), POPF_ROUNDS (2), POPF_PERF (1),
POPF_RECORD (a directory: perf record -g of each POP and of the primary
meanwhile there), POPF_STRACE (a directory: strace -c -f of each POP and of
the primary meanwhile there, slow), and
POPF_KEEP (1: keep the logs), POPF_RESTART (1: then the POP restarted from
its state directory, timed until every zone answers), and
bench/scale_bench.py's SCALE_CLIENTS, SCALE_SAMPLE, SCALE_TIMEOUT.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import scale_bench as sb  # noqa: E402
from anycst_e2e import Primary, cpu_seconds, free_port  # noqa: E402
from anycst_e2e import xoq as xu  # noqa: E402

ZONES = int(os.environ.get("POPF_ZONES", "20000"))
BINS = [b for b in os.environ.get("POPF_BINS", os.path.join(HERE, "..", "bin")).split(":") if b]
ROUNDS = int(os.environ.get("POPF_ROUNDS", "2"))
PERF = os.environ.get("POPF_PERF", "1") == "1" and shutil.which("perf")
RECORD = os.environ.get("POPF_RECORD")
STRACE = os.environ.get("POPF_STRACE")
RESTART = os.environ.get("POPF_RESTART") == "1"


def perf_attach(pid, out, record=False):
    if record:
        cmd = ["perf", "record", "-g", "-q", "-o", out, "-p", str(pid)]
    else:
        cmd = ["perf", "stat", "-x", ",", "-o", out, "-e",
               "raw_syscalls:sys_enter,context-switches", "-p", str(pid)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_counts(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\d+),[^,]*,([^,]+),", line)
            if m:
                out[m.group(2)] = int(m.group(1))
    return out


def follow(tmp, p, pin, secret, bin_dir, tag):
    """One empty POP from `bin_dir` until every zone answers; a dict of figures."""
    sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=free_port(), name="pop-" + tag,
                            extra=["--log-level", "info"])
    sec.args[0] = os.path.join(bin_dir, "anycst-secondary")
    names = [sb.zone_name(i) for i in range(ZONES)]
    pc0 = cpu_seconds(p.proc.pid)
    t0 = time.monotonic()
    sec.start()
    watchers = []
    if PERF:
        watchers.append(perf_attach(sec.proc.pid, os.path.join(tmp, tag + ".stat")))
    if RECORD:
        watchers.append(perf_attach(sec.proc.pid, os.path.join(RECORD, tag + ".pop.data"), True))
        watchers.append(perf_attach(p.proc.pid, os.path.join(RECORD, tag + ".primary.data"),
                                    True))
    if STRACE:
        for what, pid in (("pop", sec.proc.pid), ("primary", p.proc.pid)):
            watchers.append(subprocess.Popen(["strace", "-c", "-f", "-o",
                                              os.path.join(STRACE, "%s.%s.strace" % (tag, what)),
                                              "-p", str(pid)],
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL))
    try:
        secs = sb.wait_all(sec.port, names, t0, "POP " + tag, alive=lambda: sec._listening())
        cpu = cpu_seconds(sec.proc.pid)
        pcpu = cpu_seconds(p.proc.pid) - pc0
        rss = sb.rss_mib(sec.proc.pid)
    finally:
        for w in watchers:
            w.send_signal(signal.SIGINT)
            w.wait(60)
        sec.stop()
    fig = {"secs": secs, "cpu": cpu, "pcpu": pcpu, "rss": rss}
    if RESTART:
        t0 = time.monotonic()
        sec.start(timeout=sb.TIMEOUT)
        try:
            fig["restart"] = sb.wait_all(sec.port, names, t0, "POP restart " + tag,
                                         alive=lambda: sec._listening())
        finally:
            sec.stop()
    if PERF:
        c = perf_counts(os.path.join(tmp, tag + ".stat"))
        fig["sys"] = c.get("raw_syscalls:sys_enter", 0)
        fig["cs"] = c.get("context-switches", 0)
    with open(sec.log_path) as f:
        fig["loglines"] = sum(1 for _ in f)
    shutil.rmtree(sec.state_dir, ignore_errors=True)
    return fig


def show(bin_dir, tag, f):
    k = ZONES / 1000.0
    line = ("pop_follow %s [%s]: %d zones in %.1f s; POP CPU %.2f s (%.3f s per 1,000 zones), "
            "primary CPU %.2f s; RSS %.0f MiB; %d log lines"
            % (tag, bin_dir, ZONES, f["secs"], f["cpu"], f["cpu"] / k, f["pcpu"], f["rss"],
               f["loglines"]))
    if "restart" in f:
        line += "; restarted from its state directory, every zone answers after %.1f s" % (
            f["restart"])
    if "sys" in f:
        line += "; %.1f syscalls and %.1f context switches a zone" % (f["sys"] / ZONES,
                                                                    f["cs"] / ZONES)
    print(line + "; " + sb.load(), flush=True)


def main():
    tmp = tempfile.mkdtemp(prefix="anycst-popf-")
    p = None
    try:
        p = Primary(tmp)
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        p.allow_catalog(xu.KEY)
        names = [sb.zone_name(i) for i in range(ZONES)]
        secs, _ = xu.create_zones_parallel(p, names, sb.CLIENTS)
        print("pop_follow: %d zones created in %.1f s; %s" % (ZONES, secs, sb.load()), flush=True)
        res = {}
        for r in range(ROUNDS):
            for i, b in enumerate(BINS):
                tag = "r%d-b%d" % (r, i)
                f = follow(tmp, p, pin, secret, os.path.abspath(b), tag)
                res.setdefault(i, []).append(f)
                show(b, tag, f)
        for i, b in enumerate(BINS):
            fs = res[i]
            print("pop_follow [%s] median of %d: %.1f s, POP CPU %.3f s per 1,000 zones%s"
                  % (b, len(fs), sorted(x["secs"] for x in fs)[len(fs) // 2],
                     sorted(x["cpu"] for x in fs)[len(fs) // 2] / (ZONES / 1000.0),
                     ", %.1f syscalls a zone" % (sorted(x["sys"] for x in fs)[len(fs) // 2] / ZONES)
                     if PERF else ""), flush=True)
    finally:
        if p is not None:
            p.stop()
        if os.environ.get("POPF_KEEP") == "1":
            print("pop_follow: logs kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
