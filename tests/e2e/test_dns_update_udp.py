"""DNS UPDATEs over UDP are answered by the UPDATE workers the TCP path uses
(issue 16), not on the NOTIFY thread: UPDATEs from several UDP clients at
once wait for the store's group commit together (before, that thread took
them one at a time, so no two ever shared a transaction), each still gets
its own serial and journal entry, and the NOTIFYs of those changes still go
out (knotd as a TSIG secondary follows)."""
import json
import threading

import dns.exception
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from anycst_e2e.core import metric
from anycst_e2e import Knot, Primary, TmpDir, assert_san_clean, free_port, wait_until

ZONE = "udp.example."
XFR_KEY = "xfr-key."
UPD_KEY = "upd-key."
CLIENTS = 8
EACH = 25


def client(port, ring, idx, out):
    for i in range(EACH):
        u = dns.update.Update(ZONE, keyring=ring, keyname=UPD_KEY,
                              keyalgorithm=dns.tsig.HMAC_SHA256)
        name = "u%d-%d" % (idx, i)
        u.add(name, 60, "TXT", '"v%d-%d"' % (idx, i))
        r = None
        for _ in range(5):   # UDP: a lost datagram is sent again (an applied one is answered)
            try:
                r = dns.query.udp(u, "127.0.0.1", port=port, timeout=5)
                break
            except dns.exception.Timeout:
                continue
        out.append((name, r.rcode() if r is not None else None))


def test_udp_updates_grouped_each_own_serial():
    with TmpDir() as tmp:
        kport = free_port(also_udp=True)
        p = Primary(tmp, notify=["127.0.0.1:%d" % kport])
        k = None
        try:
            xs = p.add_key(XFR_KEY)
            us = p.add_key(UPD_KEY)
            p.add_zone(ZONE, keys=[XFR_KEY])
            p.api("PUT", "/zones/" + ZONE, {"update_tsig_key_ids": [UPD_KEY]})
            k = Knot.secondary(tmp, p.xfr_port, XFR_KEY, xs, zones=[ZONE], port=kport)
            start = p.serial(ZONE)
            wait_until(lambda: k.serial(ZONE) == start, 10, what="knotd's first AXFR")
            ring = dns.tsigkeyring.from_text({UPD_KEY: ("hmac-sha256", us)})
            results, threads = [], []
            for c in range(CLIENTS):
                t = threading.Thread(target=client, args=(p.xfr_port, ring, c, results))
                t.start()
                threads.append(t)
            for t in threads:
                t.join(120)
                assert not t.is_alive()
            assert len(results) == CLIENTS * EACH
            for n, rc in results:
                assert rc == dns.rcode.NOERROR, (n, rc)
            applied = len(results)
            end = p.serial(ZONE)
            assert end == start + applied
            st, _, body = p.journal(ZONE, since=start)
            assert st == 200
            entries = json.loads(body)["entries"]
            assert [(e["serial_from"], e["serial_to"]) for e in entries] == \
                [(start + i, start + i + 1) for i in range(applied)]
            text = p.export(ZONE)
            for n, _ in results:
                assert ("\n%s.%s" % (n, ZONE)) in text, n
            mt = p.metrics_text()
            assert metric(mt, "anycst_dns_update_applied_total") == applied
            groups = metric(mt, "anycst_group_commits_total")
            grouped = metric(mt, "anycst_group_commit_changes_total")
            print("groups %d holding %d of %d changes" % (groups, grouped, applied))
            # base: 0 groups (one UDP UPDATE at a time on the NOTIFY thread)
            assert groups >= 1 and grouped >= 2 * groups
            # the NOTIFYs still go out: knotd follows to the last serial
            wait_until(lambda: k.serial(ZONE) == end, 20, what="knotd at serial %d" % end)
        finally:
            if k is not None:
                k.stop()
            p.stop()
        assert_san_clean(p.log())
