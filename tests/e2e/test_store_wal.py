"""The primary's SQLite WAL stays bounded under a stream of API writes (found
while fuzzing the PATCH path, issue 12): the checkpointer's connection never
read the database, so it never saw WAL mode and every checkpoint was a no-op;
the WAL grew by every PATCH (about 35 KB each here) until the disk filled.
Now the database file takes the changes and the WAL is truncated past about
4 MB."""
import os

from conftest import wait_until

ZONE = "example.com."


def test_wal_bounded_under_patches(primary):
    primary.create_zone(ZONE)
    wal = primary.db_path + "-wal"
    peak = 0
    for i in range(1200):
        primary.patch(ZONE, [{"name": "w%d.%s" % (i, ZONE), "type": "TXT", "ttl": 60,
                              "changetype": "REPLACE",
                              "records": [{"content": '"%s"' % ("x" * 200), "disabled": False}]}])
        if i % 50 == 0 and os.path.exists(wal):
            peak = max(peak, os.path.getsize(wal))
    # Base: about 40 MB of WAL here and a 4 KB database file.
    assert peak < 16 << 20, peak
    assert os.path.getsize(primary.db_path) > 256 << 10
    # Idle: the WAL is emptied.
    wait_until(lambda: os.path.getsize(wal) < 8 << 20, 10, what="WAL truncated when idle")
    assert len(primary.json("GET", "/zones/" + ZONE, expect=200)["rrsets"]) >= 1200
    primary.stop()
    text = primary.log()
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert bad not in text, text[text.index(bad) - 200:][:3000]
