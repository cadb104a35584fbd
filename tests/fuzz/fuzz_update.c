/*
 * libFuzzer target for dns/update.c.  Parses arbitrary bytes as a message
 * and, when that works, as a DNS UPDATE (whatever its opcode), then checks
 * what the parser promises: on success every prerequisite and update is a
 * known kind, owned by a name inside the zone, with rdata present exactly
 * when rdlen is not 0; on failure the rcode is one of FORMERR, NOTZONE,
 * NOTIMP, SERVFAIL and nothing is held.  Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_rr(const struct dns_update *u, const struct dns_update_rr *r, int maxkind)
{
	if (r->kind < 0 || r->kind > maxkind)
		abort();
	if (!dns_name_is_sub(r->owner, u->zone))
		abort();
	if ((r->rdlen == 0) != (r->rdata == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	if (dns_msg_parse(&m, data, size) != 0)
		return 0;
	struct dns_update u;
	char why[256];
	unsigned rc = dns_update_parse(&m, &u, why, sizeof(why));
	if (rc != 0) {
		if (rc != DNS_RCODE_FORMERR && rc != DNS_RCODE_NOTZONE && rc != DNS_RCODE_NOTIMP &&
		    rc != DNS_RCODE_SERVFAIL)
			abort();
		if (u.pre != NULL || u.upd != NULL || why[0] == '\0')
			abort();
		return 0;
	}
	if (u.npre != m.count[DNS_SEC_AN] || u.nupd != m.count[DNS_SEC_NS])
		abort();
	for (size_t i = 0; i < u.npre; i++)
		check_rr(&u, &u.pre[i], DNS_PRQ_NXDOMAIN);
	for (size_t i = 0; i < u.nupd; i++)
		check_rr(&u, &u.upd[i], DNS_UPD_DEL_RR);
	dns_update_clear(&u);
	return 0;
}
