-- A zone's update_policy: per-key limits on what DNS UPDATE (RFC 2136) may
-- change, like BIND's update-policy grants or Knot's update-owner /
-- update-type ACLs.  A key in zone_update_tsig_keys (0008) with no rows here
-- may change any name and type of the zone; a key with rows may change only
-- what one of its rows allows: names matching `name` by `match` ('subdomain':
-- the name or below; 'name': exactly it; 'pattern': as many labels, a '*'
-- label matching any one label) and, when `types` is not '', only those types
-- (space-separated mnemonics).  `name` is absolute presentation, lower case.
-- `pos` keeps the order set through the API.  IF NOT EXISTS: re-running this
-- changes nothing.
CREATE TABLE IF NOT EXISTS zone_update_policy (
	zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	pos INTEGER NOT NULL,
	key_name TEXT NOT NULL REFERENCES tsig_keys(name) ON DELETE CASCADE,
	match TEXT NOT NULL CHECK (match IN ('subdomain', 'name', 'pattern')),
	name TEXT NOT NULL,
	types TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (zone_id, pos)
);
CREATE INDEX IF NOT EXISTS zone_update_policy_key ON zone_update_policy (zone_id, key_name);
