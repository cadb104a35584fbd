-- schema/sqlite/0002_mesh.sql on PostgreSQL.
CREATE TABLE IF NOT EXISTS secondary_ports (
	name TEXT COLLATE "C" PRIMARY KEY REFERENCES secondaries(name) ON DELETE CASCADE,
	dns_port BIGINT NOT NULL DEFAULT 53
);
