/* SOA rdata (dns/soa.h). */
#include "dns/soa.h"

#include "dns/name.h"
#include "dns/wire.h"
#include "util/err.h"

int
dns_soa_parse(const uint8_t *rdata, size_t len, struct dns_soa *out)
{
	int a = dns_name_check(rdata, len);
	if (a <= 0)
		return ERR_RDATA;
	int b = dns_name_check(rdata + a, len - (size_t)a);
	if (b <= 0 || len - (size_t)a - (size_t)b != 20)
		return ERR_RDATA;
	const uint8_t *p = rdata + a + b;
	out->mname = rdata;
	out->rname = rdata + a;
	out->serial_off = (size_t)(a + b);
	out->serial = rd_u32(p);
	out->refresh = rd_u32(p + 4);
	out->retry = rd_u32(p + 8);
	out->expire = rd_u32(p + 12);
	out->minimum = rd_u32(p + 16);
	return 0;
}
