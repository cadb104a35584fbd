"""named (BIND 9.18, Debian's) as a secondary of our primary, with named's default
configuration and TSIG.  named starts every refresh, also one a NOTIFY asks for,
with a TSIG-signed SOA query over UDP to the primary: the primary answers it
signed (when the TSIG verifies), so named follows each change at once instead of
waiting ~30 s for the UDP query to time out and falling back to TCP."""
import time

from anycst_e2e import Named, Primary, free_port, wait_until

ZONE = "bind.example."
KEY = "named-key."


def test_named_follows_five_changes(tmp_path):
    tmp = str(tmp_path)
    port = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % port])
    try:
        secret = p.add_key(KEY)
        p.add_zone(ZONE, keys=[KEY])
        n = Named.secondary(tmp, p.xfr_port, KEY, secret, [ZONE], port=port)
        try:
            wait_until(lambda: n.serial(ZONE) == p.serial(ZONE), 20, what="named loads the zone")
            for i in range(5):
                ip = "192.0.2.%d" % (10 + i)
                t0 = time.monotonic()
                p.patch(ZONE, [{"name": "www." + ZONE, "type": "A", "ttl": 60,
                                "changetype": "REPLACE",
                                "records": [{"content": ip, "disabled": False}]}])
                wait_until(lambda: n.query("www." + ZONE) == [ip], 5,
                           what="named serves change %d" % i)
                took = time.monotonic() - t0
                assert took < 1.0, "change %d reached named after %.2f s" % (i, took)
            assert n.serial(ZONE) == p.serial(ZONE)
        finally:
            n.stop()
    finally:
        p.stop()
