/*
 * DNS UPDATE (RFC 2136) messages, parsed: the zone section, the
 * prerequisites (§2.4, checked as §3.2 says) and the updates (§2.5,
 * prescanned as §3.4.1 says).  Pure: no store, no policy.  Every RR's owner
 * is decompressed and every non-empty rdata decompressed into canonical
 * uncompressed wire form (dns_rdata_unpack); an empty rdata stays empty
 * (the deletes of class ANY and the prerequisites of class ANY and NONE).
 */
#ifndef DNS_UPDATE_H
#define DNS_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/msg.h"
#include "dns/name.h"

/* What a prerequisite asks (RFC 2136 §2.4.1-§2.4.5). */
enum dns_prereq_kind {
	DNS_PRQ_YXRRSET,       /* class ANY, type T: an rrset (name, T) exists */
	DNS_PRQ_YXRRSET_VALUE, /* class IN: the rrset equals these RRs exactly */
	DNS_PRQ_NXRRSET,       /* class NONE, type T: no rrset (name, T) */
	DNS_PRQ_YXDOMAIN,      /* class ANY, type ANY: name has RRs */
	DNS_PRQ_NXDOMAIN,      /* class NONE, type ANY: name has none */
};

/* What an update does (RFC 2136 §2.5.1-§2.5.4). */
enum dns_upd_kind {
	DNS_UPD_ADD,           /* class IN: add the RR to its rrset */
	DNS_UPD_DEL_RRSET,     /* class ANY, type T: delete the rrset (name, T) */
	DNS_UPD_DEL_NAME,      /* class ANY, type ANY: delete every rrset at name */
	DNS_UPD_DEL_RR,        /* class NONE: delete the RR from its rrset */
};

struct dns_update_rr {
	int kind;                 /* enum dns_prereq_kind or enum dns_upd_kind */
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type;
	uint32_t ttl;
	uint8_t *rdata;           /* malloc'd, canonical wire; NULL when rdlen is 0 */
	uint16_t rdlen;
};

struct dns_update {
	uint8_t zone[DNS_NAME_MAX];   /* the zone section's name, case as sent */
	struct dns_update_rr *pre;    /* prerequisites, in message order */
	size_t npre;
	struct dns_update_rr *upd;    /* updates, in message order */
	size_t nupd;
};

/*
 * Parses the UPDATE `m` (opcode UPDATE, parsed by dns_msg_parse; the TSIG
 * and OPT of its additional section are skipped) into `u`.  Returns 0, or
 * the rcode to answer with and a reason in `why`: FORMERR (ZOCOUNT not 1,
 * zone type not SOA, malformed RR or one §3.2 / §3.4.1 forbids), NOTZONE (a
 * name outside the zone), NOTIMP (a zone class other than IN), SERVFAIL
 * (out of memory).  On error `u` holds nothing to free; on success free it
 * with dns_update_clear.
 */
unsigned dns_update_parse(const struct dns_msg *m, struct dns_update *u, char *why, size_t cap);
void dns_update_clear(struct dns_update *u);

#endif
