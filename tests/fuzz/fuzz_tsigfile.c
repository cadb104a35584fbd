/*
 * libFuzzer target for the TSIG key file parser (dns_tsig_key_parse_text,
 * what anycst-secondary --tsig-file reads).  Any input: no crash, no read
 * past `size`; a key that parses has a name, an algorithm and a secret, and
 * an error message never quotes the input.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dns/tsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tsig_key k;
	char err[200];
	err[0] = '\0';
	int ret = dns_tsig_key_parse_text(&k, (const char *)data, size, err, sizeof(err));
	if (ret == 0) {
		assert(k.name[0] != 0 && k.secret_len > 0 && k.alg != DNS_TSIG_ALG_NONE);
		(void)dns_tsig_reserve(&k);
	} else {
		assert(err[0] != '\0');
	}
	return 0;
}
