"""Failover benchmark (issue 8): in the namespace lab of tests/e2e/anycst_e2e/edge.py
(BIRD router, POP A preferred, POP B, client), RUNS times: the client sends a
CH TXT id.server query every INTERVAL ms, POP A's secondary is SIGKILLed, and
we measure the time until the router's route moves to POP B, the time until
the first answer from POP B, and the queries lost; then POP A is restarted
and must return after its hold-down.  Prints each run and the medians.

Then the same with POP A made unhealthy instead of killed (issue 13): its
transfers are blocked until its zone (SOA expire 4 s) expires, the daemon
still running; we measure the time from the expiry (logged) to the route
moving to POP B, and the queries lost meanwhile.

  /usr/bin/python3 bench/edge_failover.py [RUNS=10] [INTERVAL_MS=5]
Needs root and bird (Debian bird2).
"""
import os
import subprocess
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from anycst_e2e import edge as eu  # noqa: E402


def unhealthy_once(al, interval_ms, run_s=9.0, block_after=0.5):
    """Blocks POP A's transfers under a query stream until its zone expires and
    it withdraws itself; returns withdraw_s (expiry logged -> route via POP B),
    lost, answered_a, answered_b; then unblocks and waits for A's return."""
    lab = al.lab
    out_path = os.path.join(lab.dir, "probe-u-%d.txt" % int(time.monotonic() * 1000))
    n_exp = lab.log("sec-a.log").count("zone expired")
    p = subprocess.Popen(["ip", "netns", "exec", lab.ns["c"], eu.PY, eu.PROBE, "stream",
                          eu.ANYCAST, str(run_s), str(interval_ms), out_path])
    lab.procs.append(p)
    time.sleep(block_after)
    al.block_primary("a", True)
    eu.wait_until(lambda: lab.log("sec-a.log").count("zone expired") > n_exp, 20, step=0.005,
                  what="POP A's zone to expire")
    t_exp = time.time()
    al.wait_route("10.0.2.2", 10)
    res = {"withdraw_s": time.time() - t_exp, "lost": 0, "answered_a": 0, "answered_b": 0}
    p.wait(run_s + 30)
    al.block_primary("a", False)
    with open(out_path) as f:
        for line in f:
            _, who = line.split()
            if who == "pop-a":
                res["answered_a"] += 1
            elif who == "pop-b":
                res["answered_b"] += 1
            elif who == "LOST":
                res["lost"] += 1
    t = time.monotonic()
    al.wait_route("10.0.1.2", 20)
    res["return_s"] = time.monotonic() - t
    return res


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    why = eu.can_run() or eu.bird_missing()
    if why:
        print("failover benchmark skipped: " + why)
        return 0
    al = eu.AnycastLab(holddown=1)
    try:
        al.wait_route("10.0.1.2", 30)
        res = []
        for i in range(runs):
            assert al.ask_id() == "pop-a"
            r = eu.failover_once(al, run_s=3.0, kill_after=1.0, interval_ms=interval)
            t = time.monotonic()
            al.start_pop("a")
            al.wait_route("10.0.1.2", 15)
            r["return_s"] = time.monotonic() - t
            res.append(r)
            print("run %2d: withdrawn %6.1f ms, first answer from POP B %6.1f ms, lost %d of %d,"
                  " POP A back %.2f s after restart (hold-down 1 s)"
                  % (i + 1, r["withdraw_s"] * 1000, (r["failover_s"] or -1) * 1000, r["lost"],
                     r["lost"] + r["answered_a"] + r["answered_b"], r["return_s"]), flush=True)
        med = lambda k: statistics.median(x[k] for x in res if x[k] is not None)  # noqa: E731
        print("failover median over %d runs (query every %g ms): route withdrawn %.1f ms, "
              "POP B answers %.1f ms after the kill, %g queries lost"
              % (runs, interval, med("withdraw_s") * 1000, med("failover_s") * 1000, med("lost")))
    finally:
        al.close()

    # POP A made unhealthy (zone expired), not killed.
    al = eu.AnycastLab(holddown=1, soa=(1, 1, 4))
    try:
        al.wait_route("10.0.1.2", 30)
        res = []
        for i in range(runs):
            assert al.ask_id() == "pop-a"
            r = unhealthy_once(al, interval)
            res.append(r)
            print("unhealthy run %2d: withdrawn %6.1f ms after the zone expired, lost %d of %d,"
                  " POP A back %.2f s after its transfers resumed"
                  % (i + 1, r["withdraw_s"] * 1000, r["lost"],
                     r["lost"] + r["answered_a"] + r["answered_b"], r["return_s"]), flush=True)
        med = lambda k: statistics.median(x[k] for x in res)  # noqa: E731
        print("unhealthy POP median over %d runs (query every %g ms): route withdrawn %.1f ms "
              "after the health fault, %g queries lost"
              % (runs, interval, med("withdraw_s") * 1000, med("lost")))
    finally:
        al.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
