"""DNS UPDATEs over UDP are answered by the UPDATE workers the TCP path uses
(issue 16), not on the NOTIFY thread: UPDATEs from several UDP clients at
once wait for the store's group commit together (before, that thread took
them one at a time, so no two ever shared a transaction), each still gets
its own serial and journal entry, and the NOTIFYs of those changes still go
out (knotd as a TSIG secondary follows)."""
import dns.exception
import dns.query
import dns.rcode
import dns.tsig
import dns.update

from anycst_e2e import TmpDir, wait_until
from anycst_e2e.update import (assert_serial_chain, group_commits, join_clients, start_clients,
                               update_primary)

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
    with TmpDir() as tmp, update_primary(tmp, ZONE, XFR_KEY, UPD_KEY) as (p, k, _, _, ring):
        start = p.serial(ZONE)
        threads, results = start_clients(CLIENTS, client, p.xfr_port, ring)
        join_clients(threads)
        assert len(results) == CLIENTS * EACH
        for n, rc in results:
            assert rc == dns.rcode.NOERROR, (n, rc)
        applied = len(results)
        end = assert_serial_chain(p, ZONE, start, applied)
        text = p.export(ZONE)
        for n, _ in results:
            assert ("\n%s.%s" % (n, ZONE)) in text, n
        groups, grouped = group_commits(p, applied)
        # base: 0 groups (one UDP UPDATE at a time on the NOTIFY thread)
        assert groups >= 1 and grouped >= 2 * groups
        # the NOTIFYs still go out: knotd follows to the last serial
        wait_until(lambda: k.serial(ZONE) == end, 20, what="knotd at serial %d" % end)
