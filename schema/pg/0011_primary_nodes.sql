-- schema/sqlite/0011_primary_nodes.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS primary_nodes (
	mesh_ip TEXT COLLATE "C" PRIMARY KEY,
	xfr_port BIGINT NOT NULL,
	quic_port BIGINT NOT NULL,
	quic_pin TEXT,
	public_key TEXT,
	wg_endpoint TEXT,
	started_at BIGINT NOT NULL
);
