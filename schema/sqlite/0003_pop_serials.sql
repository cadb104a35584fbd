-- Propagation (primary/propagation.c): the last serial each registered POP
-- acknowledged for each zone (it asked IXFR from it, or was sent it), so a
-- restarted primary knows which POPs are behind and NOTIFYs them, and
-- GET /zones/{id}/propagation survives restarts.  Rows go with their POP
-- (DELETE /secondaries/{name}) and with their zone.  Written in batches,
-- about once a second, never inside a zone's change transaction.
-- Idempotent (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS pop_serials (
	pop TEXT NOT NULL REFERENCES secondaries(name) ON DELETE CASCADE,
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	serial INTEGER NOT NULL,
	how INTEGER NOT NULL,
	transport TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT '',
	at_ms INTEGER NOT NULL,
	PRIMARY KEY (pop, zone_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pop_serials_zone ON pop_serials(zone_id);
