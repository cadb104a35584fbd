"""POP health is the catalog as a whole (issue 13.1).

- Five zones created one per second through the API while a catalog-following
  POP sits 100 ms round trip from the primary (a delaying UDP relay in front
  of the primary's --quic port; NOTIFY goes straight to the POP): /healthz,
  polled every 50 ms, never leaves 200, and each new zone is answered within
  1 s of its creation.
- A zone the POP may never transfer (its master_tsig_key_ids name another
  key): the POP stays healthy, answers SERVFAIL for it, and names it in
  /healthz and in /metrics (anycst_secondary_zone_unloadable).
"""
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from anycst_e2e.relays import DelayRelay, Poller, create_five
from anycst_e2e import Primary, Secondary, TmpDir, free_port, tsig_file_args, wait_until

KEY = "pop-key."
OTHER = "other-key."
DELAY = 0.05            # each way: 100 ms round trip


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def healthz(sec):
    """(status, body) of /healthz, (None, reason) while HTTP is not up yet."""
    try:
        return sec.http("/healthz")
    except OSError as e:
        return None, repr(e)


def soa_rcode(addr, port, zone, timeout=0.2):
    q = dns.message.make_query(zone, "SOA")
    try:
        r = dns.query.udp(q, addr, port=port, timeout=timeout)
    except Exception:   # noqa: BLE001 - no answer yet
        return None
    return r.rcode()


def quic_secondary(tmp, p, secret, relay_port, sport, extra=()):
    pin = p.api("GET", "")["quic_spki_pin"]
    sec = Secondary(tmp, relay_port, port=sport, tsig=False, name="secw",
                    extra=tsig_file_args(tmp, KEY, secret) + ["--pin", pin]
                    + list(extra))
    i = sec.args.index("--transport")
    sec.args[i + 1] = "quic"
    return sec


def test_health_new_zones_over_wan_stay_healthy(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    relay = DelayRelay(("127.0.0.1", p.quic_port), delay=DELAY).start()
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone("base.example.", keys=[KEY])
        sec = quic_secondary(tmp, p, secret, relay.port, sport).start()
        wait_until(lambda: sec.serial("base.example.") == p.serial("base.example."), 20,
                   what="first zone over the slow link")
        wait_until(lambda: sec.http("/healthz")[0] == 200, 10, what="healthy")
        # The relay really delays: a SOA query of the POP's refresh takes >= 100 ms.
        with Poller(lambda: sec.http("/healthz")) as poll:
            took = create_five(lambda n: p.add_zone(n, keys=[KEY]),
                               lambda n: soa_rcode("127.0.0.1", sec.port, n) ==
                               dns.rcode.NOERROR)
            time.sleep(1.0)
        print("\nfirst answer after creation: %s; %d /healthz polls"
              % (", ".join("%s %.3f s" % (n, d if d is not None else -1) for n, d in took),
                 len(poll.samples)))
        assert relay.forwarded > 0
        assert len(poll.samples) > 60
        assert not poll.bad(), poll.bad()[:5]
        for name, dt in took:
            assert dt is not None and dt <= 1.0, (name, dt, sec.logtext()[-3000:])
        log = sec.logtext()
        assert "over QUIC from 127.0.0.1" in log
    finally:
        if sec:
            sec.stop()
        relay.stop()
        p.stop()


def test_health_zone_never_transferable_is_reported_not_withdrawn(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_key(OTHER)
        for z in ("good1.example.", "good2.example."):
            p.add_zone(z, keys=[KEY])
        sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                        extra=tsig_file_args(tmp, KEY, secret))
        sec.start()
        wait_until(lambda: sec.serial("good2.example.") == p.serial("good2.example."), 10,
                   what="good zones")
        wait_until(lambda: sec.http("/healthz")[0] == 200, 10, what="healthy")
        # The primary refuses this zone to the POP's key, for good.  (Named to sort
        # first among the members: the catalog's NOTIFY is signed with the catalog's
        # own key, not with its first member's, which this POP does not hold.)
        t0 = time.monotonic()
        with Poller(lambda: sec.http("/healthz"), period=0.05) as poll:
            p.add_zone("abroken.example.", keys=[OTHER])
            wait_until(lambda: "[abroken.example.] refresh" in sec.logtext(), 10,
                       what="refresh of the broken zone tried")
            time.sleep(max(0.0, t0 + 3.0 - time.monotonic()))
        assert len(poll.samples) > 30
        assert not poll.bad(), poll.bad()[:5]
        assert sec.query("abroken.example.", "SOA").rcode() == dns.rcode.SERVFAIL
        assert sec.query("good1.example.", "SOA").rcode() == dns.rcode.NOERROR
        status, body = sec.http("/healthz")
        assert status == 200, body
        assert "zone abroken.example. not loaded, new (" in body, body
        status, m = sec.http("/metrics")
        assert 'anycst_secondary_zone_unloadable{pop="pop-test",zone="abroken.example."} 1' in m
        assert 'anycst_secondary_zone_unloadable{pop="pop-test",zone="good1.example."} 0' in m
        assert 'anycst_secondary_zones_unloadable{pop="pop-test"} 1' in m

        # Restarted, the POP finds it in its first catalog version: no grace, it
        # counts as bad at once, within the budget (1% of 3, at least one zone).
        assert sec.stop() == 0
        sec.start()
        wait_until(lambda: healthz(sec)[0] == 200, 10, what="healthy after restart")
        wait_until(lambda: sec.query("good1.example.", "SOA").rcode() == dns.rcode.NOERROR, 5,
                   what="good zone served")
        with Poller(lambda: sec.http("/healthz"), period=0.05) as poll:
            time.sleep(1.5)
        assert not poll.bad(), poll.bad()[:5]
        assert sec.query("abroken.example.", "SOA").rcode() == dns.rcode.SERVFAIL
        status, body = sec.http("/healthz")
        assert body.startswith("ok, 4 zones, 1 answered SERVFAIL (1 bad, at most 1 allowed)\n"), \
            body
        assert "zone abroken.example. not loaded\n" in body, body
        status, m = sec.http("/metrics")
        assert 'anycst_secondary_zone_unloadable{pop="pop-test",zone="abroken.example."} 1' in m
        assert 'anycst_secondary_zones_bad{pop="pop-test"} 1' in m
        assert 'anycst_secondary_healthy{pop="pop-test"} 1' in m

        # Two such zones exceed the budget: withdrawn, both named.
        p.add_zone("abroken2.example.", keys=[OTHER])
        wait_until(lambda: "[abroken2.example.] refresh" in sec.logtext(), 10,
                   what="second broken zone seen")
        assert sec.http("/healthz")[0] == 200      # new: within --health-grace
        assert sec.stop() == 0
        sec.start()
        wait_until(lambda: healthz(sec)[0] == 503, 10, what="over the budget")
        body = sec.http("/healthz")[1]
        assert "2 of 4 zones missing, expired or lagging (at most 1 allowed)\n" in body, body
        assert "zone abroken2.example. not loaded\n" in body, body
    finally:
        if sec:
            sec.stop()
        p.stop()
