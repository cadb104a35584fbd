-- WireGuard mesh registry (primary/mesh.c): the DNS port NOTIFYs go to on
-- each POP's mesh address, beside its row in `secondaries`.  The POP's own
-- TSIG key lives in tsig_keys (named pop-<name>.); the primary's WireGuard
-- private key is never stored.  Idempotent (IF NOT EXISTS), so re-running
-- it on a database that already has it changes nothing.
CREATE TABLE IF NOT EXISTS secondary_ports (
	name TEXT PRIMARY KEY REFERENCES secondaries(name) ON DELETE CASCADE,
	dns_port INTEGER NOT NULL DEFAULT 53
);
