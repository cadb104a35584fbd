/*
 * RR type and class mnemonics.  The table holds every type this project
 * reads or prints by name (the same set BIND 9.18 prints by name, for those
 * we support), sorted by code so lookups by code are a binary search.
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
	{ DNS_T_A, "A" },
	{ DNS_T_NS, "NS" },
	{ DNS_T_MD, "MD" },
	{ DNS_T_MF, "MF" },
	{ DNS_T_CNAME, "CNAME" },
	{ DNS_T_SOA, "SOA" },
	{ DNS_T_MB, "MB" },
	{ DNS_T_MG, "MG" },
	{ DNS_T_MR, "MR" },
	{ DNS_T_NULL, "NULL" },
	{ DNS_T_PTR, "PTR" },
	{ DNS_T_HINFO, "HINFO" },
	{ DNS_T_MINFO, "MINFO" },
	{ DNS_T_MX, "MX" },
	{ DNS_T_TXT, "TXT" },
	{ DNS_T_RP, "RP" },
	{ DNS_T_AFSDB, "AFSDB" },
	{ DNS_T_X25, "X25" },
	{ DNS_T_RT, "RT" },
	{ DNS_T_SIG, "SIG" },
	{ DNS_T_KEY, "KEY" },
	{ DNS_T_PX, "PX" },
	{ DNS_T_AAAA, "AAAA" },
	{ DNS_T_LOC, "LOC" },
	{ DNS_T_NXT, "NXT" },
	{ DNS_T_SRV, "SRV" },
	{ DNS_T_NAPTR, "NAPTR" },
	{ DNS_T_KX, "KX" },
	{ DNS_T_DNAME, "DNAME" },
	{ DNS_T_OPT, "OPT" },
	{ DNS_T_DS, "DS" },
	{ DNS_T_SSHFP, "SSHFP" },
	{ DNS_T_RRSIG, "RRSIG" },
	{ DNS_T_NSEC, "NSEC" },
	{ DNS_T_DNSKEY, "DNSKEY" },
	{ DNS_T_DHCID, "DHCID" },
	{ DNS_T_NSEC3, "NSEC3" },
	{ DNS_T_NSEC3PARAM, "NSEC3PARAM" },
	{ DNS_T_TLSA, "TLSA" },
	{ DNS_T_SMIMEA, "SMIMEA" },
	{ DNS_T_NINFO, "NINFO" },
	{ DNS_T_CDS, "CDS" },
	{ DNS_T_CDNSKEY, "CDNSKEY" },
	{ DNS_T_OPENPGPKEY, "OPENPGPKEY" },
	{ DNS_T_CSYNC, "CSYNC" },
	{ DNS_T_ZONEMD, "ZONEMD" },
	{ DNS_T_SVCB, "SVCB" },
	{ DNS_T_HTTPS, "HTTPS" },
	{ DNS_T_SPF, "SPF" },
	{ DNS_T_NID, "NID" },
	{ DNS_T_L32, "L32" },
	{ DNS_T_L64, "L64" },
	{ DNS_T_LP, "LP" },
	{ DNS_T_EUI48, "EUI48" },
	{ DNS_T_EUI64, "EUI64" },
	{ DNS_T_TSIG, "TSIG" },
	{ DNS_T_IXFR, "IXFR" },
	{ DNS_T_AXFR, "AXFR" },
	{ DNS_T_MAILB, "MAILB" },
	{ DNS_T_MAILA, "MAILA" },
	{ DNS_T_ANY, "ANY" },
	{ DNS_T_URI, "URI" },
	{ DNS_T_CAA, "CAA" },
	{ DNS_T_AVC, "AVC" },
	{ DNS_T_TA, "TA" },
	{ DNS_T_DLV, "DLV" },
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
