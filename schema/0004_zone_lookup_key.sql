-- Each zone's name as a lookup key (dns/name.h: labels reversed, lower-cased,
-- 0-terminated), so that the zones at or below a name are one index range and
-- its ancestors are point lookups: the cross-account parent/child check of
-- zone creation (primary/store.c) never scans all zones.  Filled for existing
-- rows by the store at start (it needs the C key function).
ALTER TABLE zones ADD COLUMN lkey BLOB;
CREATE INDEX zones_lkey ON zones(lkey);
