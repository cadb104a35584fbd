/*
 * RR type and class codes, and their mnemonics.  Unknown types are spelled
 * TYPEnnn and unknown classes CLASSnnn (RFC 3597 §5).
 */
#ifndef DNS_RRTYPE_H
#define DNS_RRTYPE_H

#include <stddef.h>
#include <stdint.h>

enum {
	DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_PTR = 12,
	DNS_T_HINFO = 13, DNS_T_MX = 15, DNS_T_TXT = 16, DNS_T_AAAA = 28, DNS_T_LOC = 29,
	DNS_T_SRV = 33, DNS_T_NAPTR = 35, DNS_T_DNAME = 39, DNS_T_OPT = 41, DNS_T_DS = 43,
	DNS_T_SSHFP = 44, DNS_T_RRSIG = 46, DNS_T_NSEC = 47, DNS_T_DNSKEY = 48,
	DNS_T_NSEC3 = 50, DNS_T_NSEC3PARAM = 51, DNS_T_TLSA = 52, DNS_T_SMIMEA = 53,
	DNS_T_CDS = 59, DNS_T_CDNSKEY = 60, DNS_T_OPENPGPKEY = 61, DNS_T_ZONEMD = 63,
	DNS_T_SVCB = 64, DNS_T_HTTPS = 65, DNS_T_SPF = 99, DNS_T_TSIG = 250,
	DNS_T_IXFR = 251, DNS_T_AXFR = 252, DNS_T_ANY = 255, DNS_T_CAA = 257,
	/* RFC 1035 mailbox types and others whose rdata holds names (RFC 3597 §4) */
	DNS_T_MD = 3, DNS_T_MF = 4, DNS_T_MB = 7, DNS_T_MG = 8, DNS_T_MR = 9,
	DNS_T_NULL = 10, DNS_T_MINFO = 14, DNS_T_RP = 17, DNS_T_AFSDB = 18, DNS_T_RT = 21,
	DNS_T_SIG = 24, DNS_T_PX = 26, DNS_T_NXT = 30, DNS_T_KX = 36, DNS_T_CSYNC = 62,
	DNS_T_URI = 256, DNS_T_MAILB = 253, DNS_T_MAILA = 254,
	DNS_T_X25 = 19, DNS_T_KEY = 25, DNS_T_DHCID = 49, DNS_T_NINFO = 56, DNS_T_NID = 104,
	DNS_T_L32 = 105, DNS_T_L64 = 106, DNS_T_LP = 107, DNS_T_EUI48 = 108, DNS_T_EUI64 = 109,
	DNS_T_AVC = 258, DNS_T_TA = 32768, DNS_T_DLV = 32769,
	DNS_T_NSAP_PTR = 23, DNS_T_EID = 31, DNS_T_NIMLOC = 32, DNS_T_TALINK = 58,
	DNS_T_DSYNC = 66, DNS_T_HHIT = 67, DNS_T_BRID = 68, DNS_T_RESINFO = 261,
	DNS_T_WALLET = 262, DNS_T_ISDN = 20, DNS_T_NSAP = 22, DNS_T_CERT = 37, DNS_T_APL = 42,
	DNS_T_IPSECKEY = 45, DNS_T_DOA = 259, DNS_T_AMTRELAY = 260, DNS_T_GPOS = 27, DNS_T_HIP = 55,
	DNS_T_WKS = 11,
};

enum { DNS_C_IN = 1, DNS_C_CH = 3, DNS_C_HS = 4, DNS_C_NONE = 254, DNS_C_ANY = 255 };

/* Longest mnemonic text incl. NUL ("TYPE65535", "CLASS65535"). */
#define DNS_RRTYPE_TEXT_MAX 16

/* Mnemonic (any case) or TYPEnnn -> code.  Returns 0 or ERR_TYPE. */
int dns_rrtype_from_text(const char *s, size_t len, uint16_t *type);
/* Writes the mnemonic or TYPEnnn; returns the length. buf >= DNS_RRTYPE_TEXT_MAX. */
int dns_rrtype_to_text(uint16_t type, char *buf, size_t cap);
/* Static mnemonic or NULL for types without one. */
const char *dns_rrtype_name(uint16_t type);
/* True for meta/q-types that never appear in zone data (OPT, TSIG, AXFR...). */
int dns_rrtype_is_meta(uint16_t type);

/* IN, CH, HS, NONE, ANY or CLASSnnn.  Returns 0 or ERR_TYPE. */
int dns_rrclass_from_text(const char *s, size_t len, uint16_t *rclass);
/* Writes IN, CH, HS, NONE, ANY or CLASSnnn; returns the length. buf >= DNS_RRTYPE_TEXT_MAX. */
int dns_rrclass_to_text(uint16_t rclass, char *buf, size_t cap);

#endif
