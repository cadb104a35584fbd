-- The primary nodes of one database (issue 19 item 4, primary/mesh.c): each
-- anycst-primary records itself here when it starts, so that a POP's
-- registration lists every node: its mesh address (--mesh-ip), the ports of
-- --xfr and --quic, its QUIC SPKI pin (NULL: no QUIC), its WireGuard public
-- key and endpoint (NULL: none).  A node is its mesh address; starting again
-- replaces its row (on SQLite, one node: every row).  Idempotent (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS primary_nodes (
	mesh_ip TEXT PRIMARY KEY,
	xfr_port INTEGER NOT NULL,
	quic_port INTEGER NOT NULL,
	quic_pin TEXT,
	public_key TEXT,
	wg_endpoint TEXT,
	started_at INTEGER NOT NULL
);
