-- The audit log of API changes (issue 17.5): one row per request that changed
-- something (a 2xx answer to POST, PUT, PATCH or DELETE), written by the API
-- after the change committed.  key_id is the API key's id (0: the admin key),
-- account the key's account ('' for the admin key); zone is the zone the
-- request named ('' for server-wide changes: TSIG keys, API keys, POPs);
-- what is "METHOD path" below /api/v1/servers/localhost; old_serial and
-- new_serial are the zone's serials around the change (NULL when none).
-- IF NOT EXISTS: re-running this changes nothing.
CREATE TABLE IF NOT EXISTS audit (
	id INTEGER PRIMARY KEY,
	at_ms INTEGER NOT NULL,
	key_id INTEGER NOT NULL,
	account TEXT NOT NULL,
	zone TEXT NOT NULL,
	what TEXT NOT NULL,
	status INTEGER NOT NULL,
	old_serial INTEGER,
	new_serial INTEGER
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at_ms);
CREATE INDEX IF NOT EXISTS audit_zone ON audit(zone, at_ms);
