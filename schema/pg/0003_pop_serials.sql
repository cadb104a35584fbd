-- schema/sqlite/0003_pop_serials.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS pop_serials (
	pop TEXT COLLATE "C" NOT NULL REFERENCES secondaries(name) ON DELETE CASCADE,
	zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	serial BIGINT NOT NULL,
	how BIGINT NOT NULL,
	transport TEXT COLLATE "C" NOT NULL DEFAULT '',
	address TEXT COLLATE "C" NOT NULL DEFAULT '',
	at_ms BIGINT NOT NULL,
	PRIMARY KEY (pop, zone_id)
);
CREATE INDEX IF NOT EXISTS pop_serials_zone ON pop_serials(zone_id);
