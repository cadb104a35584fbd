/*
 * libFuzzer target for dns/dnssec.c, the parts that read bytes from outside
 * (a DNSKEY or RRSIG from an import or a transfer, an NSEC bitmap).  The
 * first octet picks the part, the rest is the input:
 *   0: an NSEC type bitmap; when it decodes, encoding the types must give
 *      the same octets back (the encoding is unique, RFC 4034 §4.1.2);
 *   1: DNSKEY rdata; when it makes a key, the key's DNSKEY and tag must
 *      equal the input's and a garbage RRSIG must not verify;
 *   2: RRSIG rdata, verified over www.example.net. A 192.0.2.1 with the
 *      RFC 6605 §6.1 key (the seed is the RFC's signature, which verifies).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnssec.h"
#include "dns/name.h"
#include "dns/rrtype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t rfc6605_dnskey[] = {
	0x01, 0x01, 0x03, 0x0d, 0x1a, 0x88, 0xc8, 0x86, 0x15, 0xd4, 0x37, 0xfb, 0xb8, 0xbf,
	0x9e, 0x19, 0x42, 0xa1, 0x92, 0x9f, 0x28, 0x56, 0x27, 0x06, 0xae, 0x6c, 0x2b, 0xd3,
	0x99, 0xe7, 0xb1, 0xbf, 0xb6, 0xd1, 0xe9, 0xe7, 0x5b, 0x92, 0xb4, 0xaa, 0x42, 0x91,
	0x7a, 0xe1, 0xc6, 0x1b, 0x70, 0x1e, 0xf0, 0x35, 0xc3, 0xfe, 0x7b, 0xe3, 0x00, 0x9c,
	0xba, 0xfe, 0x5a, 0x2f, 0x71, 0x31, 0x6c, 0x90, 0x2d, 0xcf, 0x0d, 0x00};
static const uint8_t zone[] = "\007example\003net";
static const uint8_t owner[] = "\003www\007example\003net";
static const uint8_t a[] = {192, 0, 2, 1};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_dnssec_ctx *cx;
	static struct dns_dnssec_key *k;
	if (cx == NULL) {
		cx = dns_dnssec_ctx_new();
		if (cx == NULL || dns_dnssec_key_from_dnskey(rfc6605_dnskey, sizeof(rfc6605_dnskey),
		                                            &k) != 0)
			abort();
	}
	if (size < 1 || size > 70000)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	const uint8_t *rds[] = {a};
	uint16_t lens[] = {4};
	struct dns_dnssec_rrset rs = {owner, DNS_T_A, DNS_C_IN, 3600, 1, rds, lens};
	switch (data[0]) {
	case 0: {
		static uint16_t types[65536];
		static uint8_t bm[DNS_DNSSEC_BITMAP_MAX];
		int c = dns_dnssec_bitmap_decode(p, n, types, 65536);
		if (c >= 0) {
			int l = dns_dnssec_bitmap_encode(types, (size_t)c, bm, sizeof(bm));
			if (l < 0 || (size_t)l != n || (n > 0 && memcmp(bm, p, n) != 0))
				abort();
			for (int i = 0; i < c; i++) {
				if (!dns_dnssec_bitmap_has(p, n, types[i]))
					abort();
			}
		}
		break;
	}
	case 1: {
		struct dns_dnssec_key *dk;
		if (dns_dnssec_key_from_dnskey(p, n, &dk) == 0) {
			size_t l;
			const uint8_t *d = dns_dnssec_key_dnskey(dk, &l);
			if (l != n || memcmp(d, p, n) != 0 ||
			    dns_dnssec_key_tag(dk) != dns_dnssec_keytag(p, n))
				abort();
			uint8_t sig[18 + sizeof(zone) + 64] = {0, 1, dns_dnssec_key_alg(dk), 3};
			sig[16] = (uint8_t)(dns_dnssec_key_tag(dk) >> 8);
			sig[17] = (uint8_t)dns_dnssec_key_tag(dk);
			memcpy(sig + 18, zone, sizeof(zone));
			sig[10] = 0x7f;   /* expiration far ahead */
			if (dns_dnssec_verify(cx, dk, zone, &rs, sig, sizeof(sig), 1000) == 0)
				abort();
			dns_dnssec_key_free(dk);
		}
		break;
	}
	default:
		(void)dns_dnssec_verify(cx, k, zone, &rs, p, n, 1283000000);
		break;
	}
	return 0;
}
