/* LOC (RFC 1876) presentation <-> wire. */
#include "dns/rdata_int.h"
#include "util/err.h"

int
rd_loc_parse(struct rd_pctx *c)
{
	return rd_fail(c, c->i, "LOC text is not supported yet");
}

int
rd_loc_check(const uint8_t *rd, size_t len)
{
	return len == 16 && rd[0] == 0 ? 0 : ERR_RDATA;
}

void
rd_loc_text(const uint8_t *rd, struct rd_tbuf *b)
{
	(void)rd;
	b->over = true;
}
