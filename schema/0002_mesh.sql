-- WireGuard mesh registry (primary/mesh.c): the DNS port NOTIFYs go to on
-- each POP's mesh address.  The POP's own TSIG key lives in tsig_keys
-- (named pop-<name>.); the primary's WireGuard private key is never stored.
ALTER TABLE secondaries ADD COLUMN dns_port INTEGER NOT NULL DEFAULT 53;
