/* SVCB/HTTPS SvcParams (RFC 9460) presentation <-> wire. */
#include "dns/rdata_int.h"
#include "util/err.h"

int
rd_svcb_parse(struct rd_pctx *c, uint16_t prio)
{
	(void)prio;
	if (c->i < c->n)
		return rd_fail(c, c->i, "SVCB params are not supported yet");
	return 0;
}

int
rd_svcb_check(const uint8_t *p, size_t len, uint16_t prio)
{
	(void)p;
	(void)prio;
	return len == 0 ? 0 : ERR_RDATA;
}

void
rd_svcb_text(const uint8_t *p, size_t len, struct rd_tbuf *b)
{
	(void)p;
	(void)len;
	(void)b;
}
