"""The primary's SQLite WAL stays bounded under a stream of API writes (found
while fuzzing the PATCH path, issue 12): the checkpointer's connection never
read the database, so it never saw WAL mode and every checkpoint was a no-op;
the WAL grew by every PATCH (about 35 KB each here) until the disk filled.
Now the database file takes the changes and the WAL is truncated past about
4 MB."""
import os

from anycst_e2e import wait_until

ZONE = "example.com."


def test_wal_bounded_under_patches(primary):
    primary.create_zone(ZONE)
    wal = primary.db_path + "-wal"
    for batch in range(4):
        for i in range(300):
            primary.patch(ZONE, [{"name": "w%d-%d.%s" % (batch, i, ZONE), "type": "TXT",
                                  "ttl": 60, "changetype": "REPLACE",
                                  "records": [{"content": '"%s"' % ("x" * 200),
                                               "disabled": False}]}])
        # Each batch writes about 10 MB of WAL; a moment later it is copied
        # back and truncated (base: it only ever grows, 40 MB after 4).
        wait_until(lambda: os.path.getsize(wal) < 4 << 20, 10,
                   what="WAL truncated after batch %d (%d bytes)" % (batch, os.path.getsize(wal)))
    assert os.path.getsize(primary.db_path) > 256 << 10   # base: 4 KB, nothing copied back
    assert len(primary.json("GET", "/zones/" + ZONE, expect=200)["rrsets"]) >= 1200
    primary.stop()
    text = primary.log()
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert bad not in text, text[text.index(bad) - 200:][:3000]
