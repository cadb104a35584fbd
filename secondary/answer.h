/*
 * Authoritative answers from the zone database: one query in, one response
 * out, for UDP or TCP.  RFC 1034 §4.3.2 (AA, CNAME chains inside the zone,
 * referrals with NS in authority and glue in additional), RFC 2308
 * (NXDOMAIN/NODATA with the SOA at min(SOA TTL, MINIMUM)), RFC 4592
 * (wildcards, empty non-terminals), RFC 6672 (DNAME), RFC 8482 (ANY),
 * RFC 6891 (EDNS(0), BADVERS), RFC 5001 (NSID), CH TXT id.server /
 * hostname.bind / version.bind / version.server.
 *
 * The query path never allocates, locks or logs: scratch space is on the
 * stack and the zone data is read under RCU (secondary/zdb.h).  Response
 * names are compressed (RFC 1035 §4.1.4, and only in rdata of the RFC 1035
 * types, RFC 3597 §4); the question keeps the query's letter case.
 */
#ifndef SECONDARY_ANSWER_H
#define SECONDARY_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct zdb;

/* Our EDNS(0) UDP payload size (DNS flag day 2020). */
#define ANSWER_UDP_PAYLOAD 1232

/* Opcodes (RFC 6895 §2.2). */
enum { ANSWER_OP_QUERY = 0, ANSWER_OP_NOTIFY = 4, ANSWER_OP_UPDATE = 5 };

struct answer_opts {
	bool is_tcp;             /* TCP: no truncation, 65535-byte limit */
	const char *identity;    /* id.server / hostname.bind TXT and NSID; NULL: none */
	const char *version;     /* version.bind / version.server TXT; NULL: REFUSED */
	uint16_t udp_payload;    /* our EDNS UDP size; 0 means ANSWER_UDP_PAYLOAD */
};

/*
 * Kind of response, for response rate limiting (secondary/rrl.h keys its
 * buckets by it; the values equal enum rrl_class).  Decided by the first
 * step of the resolution: a CNAME chain keeps the class of its start.
 */
enum answer_class {
	ANSWER_CLS_ANSWER = 1,   /* data for the qname (or a CNAME/DNAME), CH answers */
	ANSWER_CLS_NODATA,       /* the name exists, the type does not */
	ANSWER_CLS_NXDOMAIN,     /* name: the zone's apex */
	ANSWER_CLS_REFERRAL,     /* name: the delegation point */
	ANSWER_CLS_WILDCARD,     /* name: the wildcard's closest encloser */
	ANSWER_CLS_ERROR,        /* any other rcode; name: the zone's apex, else the root */
};

/* What happened to one query, for per-worker counters and RRL. */
struct answer_stats {
	uint16_t qtype;          /* 0 when the question could not be read */
	uint8_t rcode;           /* final rcode incl. extended bits (BADVERS = 16) */
	bool aa, tc, edns, nsid; /* flags of the response; edns: OPT in the query */
	uint8_t cls;             /* enum answer_class; 0 when nothing is sent */
	uint16_t cls_name;       /* offset in the response of the class's name: a suffix of the
	                            question's (uncompressed) name; 0: no question (the root) */
};

/*
 * Answers query `q` (`qlen` bytes) into `out` (`cap` bytes; 65535 for TCP,
 * at least 512 always) from the zones of `db`.  The caller is an RCU reader
 * (online between its quiescent states).  `st` may be NULL.
 * Returns the response length, or 0 when no response must be sent: the
 * packet is a response (QR set), shorter than a header, its question cannot
 * be read (counts beyond the data: knotd drops these too), or `cap` < 512.
 * QDCOUNT != 1, answer or authority records in a query, a bad OPT get
 * FORMERR; opcodes other than QUERY get NOTIMP (NOTIFY is the caller's job:
 * see answer_peek_opcode); EDNS versions above 0 get BADVERS; AXFR over UDP
 * and qtype 0 get NOTIMP; names outside every zone, classes other than IN,
 * CH and ANY, and AXFR/IXFR over TCP get REFUSED (a secondary serves no
 * transfers); expired or unloaded zones SERVFAIL.  Over UDP the response is at most max(512, min(requester's EDNS
 * size, our payload)) bytes; what does not fit is cut at an rrset boundary
 * with TC set (additional data is dropped without TC).
 */
ssize_t answer_build(struct zdb *db, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap,
                     const struct answer_opts *o, struct answer_stats *st);

/*
 * Opcode of message `q` when it is a query (QR clear) with a full header,
 * else -1.  Lets the server hand NOTIFY (4) to its own handler.
 */
int answer_peek_opcode(const uint8_t *q, size_t qlen);

#endif
