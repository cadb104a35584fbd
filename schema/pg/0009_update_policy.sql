-- schema/sqlite/0009_update_policy.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS zone_update_policy (
	zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	pos BIGINT NOT NULL,
	key_name TEXT COLLATE "C" NOT NULL REFERENCES tsig_keys(name) ON DELETE CASCADE,
	match TEXT COLLATE "C" NOT NULL CHECK (match IN ('subdomain', 'name', 'pattern')),
	name TEXT COLLATE "C" NOT NULL,
	types TEXT COLLATE "C" NOT NULL DEFAULT '',
	PRIMARY KEY (zone_id, pos)
);
CREATE INDEX IF NOT EXISTS zone_update_policy_key ON zone_update_policy (zone_id, key_name);
