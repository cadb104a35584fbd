-- Each zone's name as a lookup key (dns/name.h: labels reversed, lower-cased,
-- 0-terminated), so that the zones below a name are one index range and its
-- ancestors are point lookups: the cross-account parent/child check of zone
-- creation (primary/store.c) never scans all zones.  The store fills the keys
-- of zones that have none at start (it needs the C key function).  A table of
-- its own (no ALTER TABLE), so re-running this changes nothing.
CREATE TABLE IF NOT EXISTS zone_lkeys (
	zone_id INTEGER PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
	lkey BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS zone_lkeys_lkey ON zone_lkeys(lkey);
