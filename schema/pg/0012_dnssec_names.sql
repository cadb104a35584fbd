-- schema/sqlite/0012_dnssec_names.sql on PostgreSQL.  The RRSIG rows are
-- packed here in SQL as anycst_sigpack() and anycst_sigexp() pack them
-- there (primary/dn_rows.h): TTL and RDLENGTH in network order, the rdata
-- in bytea order (SQLite's blob order), `exp` from rdata octets 9-12.
CREATE TABLE IF NOT EXISTS dnssec_names (
	zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
	okey BYTEA NOT NULL,
	owner BYTEA NOT NULL,
	ctype BIGINT NOT NULL DEFAULT 0,
	cttl BIGINT NOT NULL DEFAULT 0,
	chain BYTEA NOT NULL DEFAULT ''::bytea,
	sigs BYTEA NOT NULL DEFAULT ''::bytea,
	exp BIGINT NOT NULL DEFAULT 4294967296,
	PRIMARY KEY (zone_id, okey)
);
CREATE INDEX IF NOT EXISTS dnssec_names_exp ON dnssec_names(zone_id, exp);
CREATE INDEX IF NOT EXISTS dnssec_names_nsec3 ON dnssec_names(zone_id, okey) WHERE ctype = 50;
-- TTL: the low 4 octets of the bigint (uint32 as in SQLite); RDLENGTH and
-- rdata cut at 65535 octets as there; exp 4294967296 under 18 octets; the
-- least owner by array_agg (no min(bytea) before PostgreSQL 18)
INSERT INTO dnssec_names (zone_id, okey, owner, sigs, exp)
	SELECT zone_id, okey, (array_agg(owner ORDER BY owner))[1],
		string_agg(substring(int8send(ttl) from 5 for 4) ||
			substring(int4send(least(length(rdata), 65535)) from 3 for 2) ||
			substring(rdata from 1 for 65535), ''::bytea ORDER BY rdata),
		min(CASE WHEN length(rdata) >= 18 THEN get_byte(rdata, 8)::bigint * 16777216 +
			get_byte(rdata, 9) * 65536 + get_byte(rdata, 10) * 256 + get_byte(rdata, 11)
			ELSE 4294967296 END)
	FROM records WHERE type = 46 GROUP BY zone_id, okey;
-- one chain record a name (ON CONFLICT may not update a row twice): NSEC3
-- before NSEC, then the latest row
INSERT INTO dnssec_names (zone_id, okey, owner, ctype, cttl, chain)
	SELECT DISTINCT ON (zone_id, okey) zone_id, okey, owner, type, ttl, rdata
	FROM records WHERE type IN (47, 50) ORDER BY zone_id, okey, type DESC, id DESC
	ON CONFLICT (zone_id, okey) DO UPDATE SET ctype = excluded.ctype, cttl = excluded.cttl,
	chain = excluded.chain;
DELETE FROM record_text WHERE type IN (46, 47, 50);
DELETE FROM records WHERE type IN (46, 47, 50);
DROP INDEX IF EXISTS records_chain;
DROP INDEX IF EXISTS records_sig_exp;
DROP INDEX IF EXISTS records_sig_tag;
