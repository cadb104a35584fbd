"""DNS UPDATEs from several TCP clients at once (the store's group commit may
write several in one transaction): each applied UPDATE gets a serial of its own
and a journal entry of its own, in one unbroken chain; an UPDATE whose
prerequisite fails answers its rcode and changes nothing, whatever was written
with it; knotd as a TSIG secondary follows by IXFR to the same zone, and
nsupdate still works in between."""
import re
import subprocess

import dns.query
import dns.rcode
import dns.tsig
import dns.update

from anycst_e2e import Primary, TmpDir, assert_san_clean, axfr_set, export_set, wait_until
from anycst_e2e.update import (assert_serial_chain, group_commits, join_clients, start_clients,
                               update_primary)

ZONE = "grp.example."
XFR_KEY = "xfr-key."
UPD_KEY = "upd-key."
CLIENTS = 8
EACH = 30


def count_ixfr(knot):
    return len(re.findall(r"\[%s\] IXFR, incoming.*finished" % re.escape(ZONE), knot.log()))


def client(port, ring, idx, out):
    """EACH UPDATEs on one connection; every 4th has a prerequisite that fails
    (nxdomain on the zone's ns1, which exists); the others add a TXT record."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        for i in range(EACH):
            u = dns.update.Update(ZONE, keyring=ring, keyname=UPD_KEY,
                                  keyalgorithm=dns.tsig.HMAC_SHA256)
            name = "c%d-%d" % (idx, i)
            bad = i % 4 == 3
            if bad:
                u.absent("ns1")
            u.add(name, 60, "TXT", '"v%d-%d"' % (idx, i))
            r = dns.query.tcp(u, "127.0.0.1", port=port, sock=s, timeout=20)
            out.append((name, bad, r.rcode()))
    finally:
        s.close()


def client_one(port, ring, name, out):
    u = dns.update.Update(ZONE, keyring=ring, keyname=UPD_KEY,
                          keyalgorithm=dns.tsig.HMAC_SHA256)
    u.add(name, 60, "TXT", '"%s"' % name)
    r = dns.query.tcp(u, "127.0.0.1", port=port, timeout=20)
    out.append((name, False, r.rcode()))


def test_concurrent_updates_each_own_serial_and_journal_entry():
    with TmpDir() as tmp, update_primary(tmp, ZONE, XFR_KEY, UPD_KEY) as (p, k, kport, us, ring):
        start = p.serial(ZONE)
        threads, results = start_clients(CLIENTS, client, p.xfr_port, ring)
        # nsupdate in the middle of the load: a prerequisite and an add
        r = subprocess.run(["nsupdate", "-y", "hmac-sha256:%s:%s" % (UPD_KEY.rstrip("."), us),
                            "-t", "20", "-v"],
                           input="server 127.0.0.1 %d\nzone %s\nprereq nxdomain ns.%s\n"
                                 "update add ns.%s 60 A 192.0.2.53\nsend\n" %
                                 (p.xfr_port, ZONE, ZONE, ZONE),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        join_clients(threads)
        assert len(results) == CLIENTS * EACH
        good = [n for n, bad, rc in results if not bad]
        for n, bad, rc in results:
            want = dns.rcode.YXDOMAIN if bad else dns.rcode.NOERROR
            assert rc == want, (n, dns.rcode.to_text(rc))
        # one serial and one journal entry per applied UPDATE (and the nsupdate)
        applied = len(good) + 1
        end = assert_serial_chain(p, ZONE, start, applied)
        # what failed its prerequisite left nothing behind
        text = p.export(ZONE)
        for n, bad, _ in results:
            assert (("\n%s.%s" % (n, ZONE)) in text) != bad, n
        groups, grouped = group_commits(p, applied)
        assert grouped >= 2 * groups and grouped <= applied
        # knotd follows to the same zone; when it fell behind by more
        # changes than the zone holds records its IXFR got the whole zone
        # (RFC 1995 §2), so one more UPDATE shows it following by IXFR
        wait_until(lambda: k.serial(ZONE) == end, 20, what="knotd at serial %d" % end)
        before = count_ixfr(k)
        out = []
        client_one(p.xfr_port, ring, "after", out)
        assert out == [("after", False, dns.rcode.NOERROR)]
        end += 1
        assert p.serial(ZONE) == end
        wait_until(lambda: k.serial(ZONE) == end, 20, what="knotd at serial %d" % end)
        wait_until(lambda: count_ixfr(k) > before, 10, what="knotd's IXFR to %d" % end)
        assert export_set(p.export(ZONE), ZONE) == axfr_set(kport, ZONE)


def test_key_not_granted_learns_nothing_from_prerequisites():
    """The zone's grant is checked first in the change's transaction: a key not
    in update_tsig_key_ids gets NOTAUTH whether its prerequisite would hold or
    fail (YXDOMAIN would tell that the name exists)."""
    with TmpDir() as tmp:
        p = Primary(tmp)
        try:
            p.add_zone(ZONE)
            us = p.add_key(UPD_KEY)
            other = p.add_key("other-key.")
            p.api("PUT", "/zones/" + ZONE, {"update_tsig_key_ids": [UPD_KEY]})
            start = p.serial(ZONE)
            for key, secret, want in (("other-key.", other, dns.rcode.NOTAUTH),
                                      (UPD_KEY, us, dns.rcode.YXDOMAIN)):
                for name in ("ns1", "free"):
                    u = dns.update.Update(ZONE, keyring=dns.tsigkeyring.from_text(
                        {key: ("hmac-sha256", secret)}), keyname=key,
                        keyalgorithm=dns.tsig.HMAC_SHA256)
                    u.absent(name)
                    u.add("x-" + name, 60, "TXT", '"x"')
                    r = dns.query.tcp(u, "127.0.0.1", port=p.xfr_port, timeout=10)
                    exp = want if (name == "ns1" or want == dns.rcode.NOTAUTH) \
                        else dns.rcode.NOERROR
                    assert r.rcode() == exp, (key, name, dns.rcode.to_text(r.rcode()))
            assert p.serial(ZONE) == start + 1   # only the granted key's free name
        finally:
            p.stop()
        assert_san_clean(p.log())
