"""Failover benchmark (issue 8): in the namespace lab of tests/e2e/edge_util.py
(BIRD router, POP A preferred, POP B, client), RUNS times: the client sends a
CH TXT id.server query every INTERVAL ms, POP A's secondary is SIGKILLed, and
we measure the time until the router's route moves to POP B, the time until
the first answer from POP B, and the queries lost; then POP A is restarted
and must return after its hold-down.  Prints each run and the medians.

  /usr/bin/python3 bench/edge_failover.py [RUNS=10] [INTERVAL_MS=5]
Needs root and bird (Debian bird2).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import edge_util as eu  # noqa: E402


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
