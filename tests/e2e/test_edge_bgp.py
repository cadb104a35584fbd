"""Anycast failover through real BGP (issue 8): a router namespace running
BIRD peers with two POPs (BIRD + anycst-secondary, same 192.0.2.53/32 on a
veth `any0`, POP A preferred: POP B prepends its AS twice) and a client
behind the router.

- The client's queries reach POP A (CH TXT id.server).
- SIGKILL POP A's secondary: its watchdog lowers any0, BIRD withdraws, and
  within 3 s the router's route and the client's answers move to POP B;
  the queries lost in between are counted and printed.
- Restart POP A: the route returns only after the hold-down.
- POP A's zone expires (its transfers blocked): withdrawn within 3 s;
  transfers allowed again: announced again after the hold-down.
"""
import time

import pytest

from anycst_e2e import edge as eu

HOLDDOWN = 2

pytestmark = pytest.mark.skipif(bool(eu.can_run() or eu.bird_missing()),
                                reason=str(eu.can_run() or eu.bird_missing()))


@pytest.fixture
def lab():
    al = eu.AnycastLab(holddown=HOLDDOWN, soa=(1, 1, 4))
    try:
        yield al
    finally:
        al.close()


def test_edge_bgp_failover_and_return(lab):
    t0 = time.monotonic()
    lab.wait_route("10.0.1.2", 30)
    assert lab.ask_id() == "pop-a"
    st = eu.sh("birdc", "-s", lab.sock_r, "show", "route", "all", "192.0.2.53/32")
    assert "AS65101" in st and "AS65102" in st, st   # both POPs announce; A is best

    # Kill POP A (SIGKILL: no chance to clean up; the watchdog withdraws).
    r = eu.failover_once(lab, run_s=5.0, kill_after=1.0, interval_ms=10)
    print("\nfailover: route withdrawn %.3f s after the kill, first answer from pop-b "
          "after %.3f s, %d queries lost (%d answered by pop-a, %d by pop-b)"
          % (r["withdraw_s"], r["failover_s"] or -1, r["lost"], r["answered_a"],
             r["answered_b"]))
    assert r["withdraw_s"] < 3.0
    assert r["failover_s"] is not None and r["failover_s"] < 3.0
    assert r["answered_a"] > 0 and r["answered_b"] > 0
    assert "daemon gone, interface any0 down, POP withdrawn" in lab.lab.log("sec-a.log")
    assert lab.ask_id() == "pop-b"

    # Restart POP A: its zone comes from the state directory at once, but the
    # route waits for the hold-down.
    t_start = time.monotonic()
    lab.start_pop("a")
    time.sleep(HOLDDOWN * 0.6)
    assert lab.route_via() == "10.0.2.2", "announced before the hold-down"
    lab.wait_route("10.0.1.2", HOLDDOWN + 5)
    back = time.monotonic() - t_start
    print("POP A announced again %.2f s after its restart (hold-down %d s)" % (back, HOLDDOWN))
    assert back >= HOLDDOWN * 0.9
    assert lab.ask_id() == "pop-a"
    assert time.monotonic() - t0 < 60


def test_edge_bgp_zone_expiry_withdraws(lab):
    lab.wait_route("10.0.1.2", 30)
    assert lab.ask_id() == "pop-a"
    # POP A can no longer refresh: its zone (EXPIRE 4 s) expires, it withdraws.
    lab.block_primary("a", True)
    t_block = time.monotonic()
    eu.wait_until(lambda: "zone expired" in lab.lab.log("sec-a.log"), 15,
                  what="POP A's zone to expire")
    t_exp = time.monotonic()
    lab.wait_route("10.0.2.2", 3)
    withdraw = time.monotonic() - t_exp
    print("\nzone expired %.1f s after the block, route withdrawn %.3f s later"
          % (t_exp - t_block, withdraw))
    assert lab.ask_id() == "pop-b"
    log = lab.lab.log("sec-a.log")
    assert "POP withdrawn (zone example.com. expired)" in log, log[-2000:]
    # Healthy again: announced after the hold-down, within 2 s past it.
    lab.block_primary("a", False)
    eu.wait_until(lambda: "zone is no longer expired" in lab.lab.log("sec-a.log"), 15,
                  what="POP A's zone to be refreshed")
    t_ok = time.monotonic()
    lab.wait_route("10.0.1.2", HOLDDOWN + 3)
    print("healthy again, announced %.2f s later" % (time.monotonic() - t_ok))
    assert lab.ask_id() == "pop-a"
