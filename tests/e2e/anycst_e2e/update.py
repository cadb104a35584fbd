"""The DNS UPDATE group tests' setup and checks (test_dns_update_group.py,
test_dns_update_udp.py): a primary granting UPDATE on one zone with knotd as
its TSIG secondary, client threads, and the one-serial-one-entry chain."""
import contextlib
import json
import threading

import dns.tsigkeyring

from .core import free_port, metric, wait_until
from .daemons import Primary, assert_san_clean
from .peers import Knot


@contextlib.contextmanager
def update_primary(tmp, zone, xfr_key, upd_key):
    """A primary holding `zone`, DNS UPDATE granted to `upd_key`, NOTIFYing
    knotd, its secondary over TSIG `xfr_key`, which has made its first AXFR.
    Yields (primary, knotd, knotd's port, the UPDATE key's secret, a keyring
    of it); both are stopped after, and the primary's log checked clean."""
    kport = free_port(also_udp=True)
    p = Primary(tmp, notify=["127.0.0.1:%d" % kport])
    k = None
    try:
        xs = p.add_key(xfr_key)
        us = p.add_key(upd_key)
        p.add_zone(zone, keys=[xfr_key])
        p.api("PUT", "/zones/" + zone, {"update_tsig_key_ids": [upd_key]})
        k = Knot.secondary(tmp, p.xfr_port, xfr_key, xs, zones=[zone], port=kport)
        start = p.serial(zone)
        wait_until(lambda: k.serial(zone) == start, 10, what="knotd's first AXFR")
        yield p, k, kport, us, dns.tsigkeyring.from_text({upd_key: ("hmac-sha256", us)})
    finally:
        if k is not None:
            k.stop()
        p.stop()
    assert_san_clean(p.log())


def start_clients(n, target, *args):
    """n threads running target(*args, index, results); (threads, results)."""
    results, threads = [], []
    for c in range(n):
        t = threading.Thread(target=target, args=args + (c, results))
        t.start()
        threads.append(t)
    return threads, results


def join_clients(threads, timeout=120):
    for t in threads:
        t.join(timeout)
        assert not t.is_alive()


def assert_serial_chain(p, zone, start, applied):
    """Each of `applied` changes since serial `start` has a serial and a
    journal entry of its own, in one unbroken chain; the last serial."""
    end = p.serial(zone)
    assert end == start + applied
    st, _, body = p.journal(zone, since=start)
    assert st == 200
    entries = json.loads(body)["entries"]
    assert [(e["serial_from"], e["serial_to"]) for e in entries] == \
        [(start + i, start + i + 1) for i in range(applied)]
    return end


def group_commits(p, applied):
    """The UPDATE metrics after `applied` UPDATEs: (group commits, changes
    they held), checked against `applied`."""
    mt = p.metrics_text()
    assert metric(mt, "anycst_dns_update_applied_total") == applied
    groups = metric(mt, "anycst_group_commits_total")
    grouped = metric(mt, "anycst_group_commit_changes_total")
    print("groups %d holding %d of %d changes" % (groups, grouped, applied))
    return groups, grouped
