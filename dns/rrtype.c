/*
 * RR type and class mnemonics.  The table holds every type BIND 9.18 names
 * (so type bitmaps and owner lines print as named-checkzone prints them,
 * whether or not dns/rdata.c has a text form for the type), sorted by code
 * so lookups by code are a binary search.
 */
#include "dns/rrtype.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

struct rrtype_name {
	uint16_t type;
	const char *name;
};

static const struct rrtype_name types[] = {
	{ 1, "A" },
	{ 2, "NS" },
	{ 3, "MD" },
	{ 4, "MF" },
	{ 5, "CNAME" },
	{ 6, "SOA" },
	{ 7, "MB" },
	{ 8, "MG" },
	{ 9, "MR" },
	{ 10, "NULL" },
	{ 11, "WKS" },
	{ 12, "PTR" },
	{ 13, "HINFO" },
	{ 14, "MINFO" },
	{ 15, "MX" },
	{ 16, "TXT" },
	{ 17, "RP" },
	{ 18, "AFSDB" },
	{ 19, "X25" },
	{ 20, "ISDN" },
	{ 21, "RT" },
	{ 22, "NSAP" },
	{ 23, "NSAP-PTR" },
	{ 24, "SIG" },
	{ 25, "KEY" },
	{ 26, "PX" },
	{ 27, "GPOS" },
	{ 28, "AAAA" },
	{ 29, "LOC" },
	{ 30, "NXT" },
	{ 31, "EID" },
	{ 32, "NIMLOC" },
	{ 33, "SRV" },
	{ 34, "ATMA" },
	{ 35, "NAPTR" },
	{ 36, "KX" },
	{ 37, "CERT" },
	{ 38, "A6" },
	{ 39, "DNAME" },
	{ 40, "SINK" },
	{ 41, "OPT" },
	{ 42, "APL" },
	{ 43, "DS" },
	{ 44, "SSHFP" },
	{ 45, "IPSECKEY" },
	{ 46, "RRSIG" },
	{ 47, "NSEC" },
	{ 48, "DNSKEY" },
	{ 49, "DHCID" },
	{ 50, "NSEC3" },
	{ 51, "NSEC3PARAM" },
	{ 52, "TLSA" },
	{ 53, "SMIMEA" },
	{ 55, "HIP" },
	{ 56, "NINFO" },
	{ 57, "RKEY" },
	{ 58, "TALINK" },
	{ 59, "CDS" },
	{ 60, "CDNSKEY" },
	{ 61, "OPENPGPKEY" },
	{ 62, "CSYNC" },
	{ 63, "ZONEMD" },
	{ 64, "SVCB" },
	{ 65, "HTTPS" },
	{ 66, "DSYNC" },
	{ 67, "HHIT" },
	{ 68, "BRID" },
	{ 99, "SPF" },
	{ 100, "UINFO" },
	{ 101, "UID" },
	{ 102, "GID" },
	{ 103, "UNSPEC" },
	{ 104, "NID" },
	{ 105, "L32" },
	{ 106, "L64" },
	{ 107, "LP" },
	{ 108, "EUI48" },
	{ 109, "EUI64" },
	{ 249, "TKEY" },
	{ 250, "TSIG" },
	{ 251, "IXFR" },
	{ 252, "AXFR" },
	{ 253, "MAILB" },
	{ 254, "MAILA" },
	{ 255, "ANY" },
	{ 256, "URI" },
	{ 257, "CAA" },
	{ 258, "AVC" },
	{ 259, "DOA" },
	{ 260, "AMTRELAY" },
	{ 261, "RESINFO" },
	{ 262, "WALLET" },
	{ 32768, "TA" },
	{ 32769, "DLV" },
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

static bool
eq_nocase(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s[i], b = word[i];
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 32);
		if (a != b)
			return false;
	}
	return true;
}

/* Parses the decimal suffix of TYPEnnn / CLASSnnn: 1..5 digits, <= 65535. */
static int
parse_num_suffix(const char *s, size_t len, size_t plen, const char *prefix, uint16_t *out)
{
	if (len <= plen || len > plen + 5)
		return ERR_TYPE;
	for (size_t i = 0; i < plen; i++) {
		char a = s[i];
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 32);
		if (a != prefix[i])
			return ERR_TYPE;
	}
	unsigned long v = 0;
	for (size_t i = plen; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_TYPE;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return ERR_TYPE;
	*out = (uint16_t)v;
	return 0;
}

int
dns_rrtype_from_text(const char *s, size_t len, uint16_t *type)
{
	for (size_t i = 0; i < NTYPES; i++) {
		if (eq_nocase(s, len, types[i].name)) {
			*type = types[i].type;
			return 0;
		}
	}
	return parse_num_suffix(s, len, 4, "TYPE", type);
}

const char *
dns_rrtype_name(uint16_t type)
{
	size_t lo = 0, hi = NTYPES;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (types[mid].type == type)
			return types[mid].name;
		if (types[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
dns_rrtype_to_text(uint16_t type, char *buf, size_t cap)
{
	const char *n = dns_rrtype_name(type);
	int r = n != NULL ? snprintf(buf, cap, "%s", n) : snprintf(buf, cap, "TYPE%u", type);
	if (r < 0 || (size_t)r >= cap)
		return -ENOSPC;
	return r;
}

int
dns_rrtype_is_meta(uint16_t type)
{
	/* RFC 6895 §3.1: 128-255 are q-types and meta-types; OPT is meta too. */
	return type == DNS_T_OPT || (type >= 128 && type <= 255);
}

static const struct rrtype_name classes[] = {
	{ DNS_C_IN, "IN" }, { DNS_C_CH, "CH" }, { DNS_C_HS, "HS" },
	{ DNS_C_NONE, "NONE" }, { DNS_C_ANY, "ANY" },
};

int
dns_rrclass_from_text(const char *s, size_t len, uint16_t *rclass)
{
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (eq_nocase(s, len, classes[i].name)) {
			*rclass = classes[i].type;
			return 0;
		}
	}
	/* CHAOS and HESIOD are the long spellings BIND also accepts */
	if (eq_nocase(s, len, "CHAOS")) {
		*rclass = DNS_C_CH;
		return 0;
	}
	if (eq_nocase(s, len, "HESIOD")) {
		*rclass = DNS_C_HS;
		return 0;
	}
	return parse_num_suffix(s, len, 5, "CLASS", rclass);
}

int
dns_rrclass_to_text(uint16_t rclass, char *buf, size_t cap)
{
	const char *n = NULL;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (classes[i].type == rclass)
			n = classes[i].name;
	int r = n != NULL ? snprintf(buf, cap, "%s", n) : snprintf(buf, cap, "CLASS%u", rclass);
	if (r < 0 || (size_t)r >= cap)
		return -ENOSPC;
	return r;
}
