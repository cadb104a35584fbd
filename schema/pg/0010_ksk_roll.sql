-- schema/sqlite/0010_ksk_roll.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS dnssec_key_roll (
	key_id BIGINT PRIMARY KEY REFERENCES dnssec_keys(id) ON DELETE CASCADE,
	t_ready BIGINT,
	t_ds BIGINT,
	cds BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS zone_unsign (
	zone_id BIGINT PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	t_unsign BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_sig_tag ON records(zone_id, substr(rdata, 17, 2))
	WHERE type = 46;
