/*
 * Record content as PowerDNS's API presents it (issue 16): the named-checkzone
 * form of dns_rdata_to_text, then per type what PowerDNS 4.7 writes
 * differently, so that content a client sent in PowerDNS's form comes back
 * byte for byte:
 *   - hex (DS CDS DLV TA SSHFP TLSA SMIMEA ZONEMD NSEC3PARAM salt, "\#"
 *     data) in lower case, in one piece;
 *   - base64 (DNSKEY CDNSKEY KEY CERT OPENPGPKEY DHCID IPSECKEY RRSIG SIG)
 *     in one piece;
 *   - CERT's type and algorithm as numbers;
 *   - LOC's size and precisions with two decimals ("10000.00m");
 *   - L64 and NID locators as four groups of four upper-case hex digits;
 *   - SVCB/HTTPS alpn values unquoted when they need no quotes.
 * Names keep the case of the wire rdata.
 */
#include "dns/rdata.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rrtype.h"
#include "util/err.h"

struct tail_rule {
	uint16_t type;
	uint8_t fixed;   /* leading tokens kept as they are */
	bool hex;        /* the rest is hex (lower-cased), else base64 */
};

static const struct tail_rule rules[] = {
	{DNS_T_DS, 3, true},      {DNS_T_CDS, 3, true},     {DNS_T_DLV, 3, true},
	{DNS_T_TA, 3, true},      {DNS_T_SSHFP, 2, true},   {DNS_T_TLSA, 3, true},
	{DNS_T_SMIMEA, 3, true},  {DNS_T_ZONEMD, 3, true},  {DNS_T_NSEC3PARAM, 3, true},
	{DNS_T_DNSKEY, 3, false}, {DNS_T_CDNSKEY, 3, false}, {DNS_T_KEY, 3, false},
	{DNS_T_CERT, 3, false},   {DNS_T_OPENPGPKEY, 0, false}, {DNS_T_DHCID, 0, false},
	{DNS_T_IPSECKEY, 4, false}, {DNS_T_RRSIG, 8, false}, {DNS_T_SIG, 8, false},
};

/* Joins the tokens of text[0..n) after the first `fixed` into one (lower-cased
 * when hex); returns the new length (never longer). */
static size_t
join_tail(char *text, size_t n, size_t fixed, bool hex)
{
	size_t i = 0, tok = 0;
	while (i < n && tok < fixed) {
		while (i < n && text[i] != ' ')
			i++;
		if (i < n)
			i++;   /* the space after the token */
		tok++;
	}
	size_t o = i;
	for (; i < n; i++) {
		if (text[i] == ' ')
			continue;
		text[o++] = hex ? (char)tolower((unsigned char)text[i]) : text[i];
	}
	text[o] = '\0';
	return o;
}

/* LOC: "... alt size hp vp" with every metre value as "%.2fm". */
static int
loc_sizes(char *text, size_t n, size_t cap)
{
	char out[256];
	size_t o = 0, i = 0, tok = 0;
	while (i < n && o < sizeof(out) - 16) {
		size_t j = i;
		while (j < n && text[j] != ' ')
			j++;
		if (tok >= 9 && j > i && text[j - 1] == 'm') {
			char num[32];
			size_t l = j - i - 1 < sizeof(num) - 1 ? j - i - 1 : sizeof(num) - 1;
			memcpy(num, text + i, l);
			num[l] = '\0';
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%.2fm", strtod(num, NULL));
		} else {
			size_t l = j - i < sizeof(out) - 16 - o ? j - i : sizeof(out) - 16 - o;
			memcpy(out + o, text + i, l);
			o += l;
		}
		if (j < n)
			out[o++] = ' ';
		i = j + 1;
		tok++;
	}
	if (o + 1 > cap)
		return -ENOSPC;
	memcpy(text, out, o);
	text[o] = '\0';
	return (int)o;
}

/* SVCB/HTTPS: alpn="h2,h3" -> alpn=h2,h3 when the value needs no quoting. */
static size_t
svcb_alpn(char *text, size_t n)
{
	char *p = strstr(text, "alpn=\"");
	if (p == NULL)
		return n;
	char *v = p + 6, *q = v;
	while (*q != '\0' && *q != '"' && *q != ' ' && *q != '\\')
		q++;
	if (*q != '"')
		return n;
	size_t vl = (size_t)(q - v);
	memmove(p + 5, v, vl);
	memmove(p + 5 + vl, q + 1, strlen(q + 1) + 1);
	return n - 2;
}

int
dns_rdata_to_text_pdns(uint16_t type, const uint8_t *rd, size_t rdlen, char *buf, size_t cap)
{
	int r = dns_rdata_to_text(type, rd, rdlen, buf, cap);
	if (r < 0)
		return r;
	size_t n = (size_t)r;
	if (n >= 3 && memcmp(buf, "\\# ", 3) == 0)
		return (int)join_tail(buf, n, 2, true);
	if ((type == DNS_T_L64 || type == DNS_T_NID) && rdlen == 10) {
		int w = snprintf(buf, cap, "%u %02X%02X:%02X%02X:%02X%02X:%02X%02X",
		                 (unsigned)(rd[0] << 8 | rd[1]), rd[2], rd[3], rd[4], rd[5], rd[6],
		                 rd[7], rd[8], rd[9]);
		return w < 0 || (size_t)w >= cap ? -ENOSPC : w;
	}
	if (type == DNS_T_LOC)
		return loc_sizes(buf, n, cap);
	if (type == DNS_T_SVCB || type == DNS_T_HTTPS)
		return (int)svcb_alpn(buf, n);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (rules[i].type != type)
			continue;
		n = join_tail(buf, n, rules[i].fixed, rules[i].hex);
		if (type == DNS_T_CERT && rdlen >= 5) {
			/* type and algorithm as numbers (PowerDNS reads no mnemonics) */
			char head[32];
			int hl = snprintf(head, sizeof(head), "%u %u %u", (unsigned)(rd[0] << 8 | rd[1]),
			                  (unsigned)(rd[2] << 8 | rd[3]), rd[4]);
			size_t skip = 0;
			for (int t = 0; t < 3 && skip < n; t++) {
				while (skip < n && buf[skip] != ' ')
					skip++;
				if (t < 2 && skip < n)
					skip++;
			}
			size_t rest = n - skip;
			if ((size_t)hl + rest + 1 > cap)
				return -ENOSPC;
			memmove(buf + hl, buf + skip, rest + 1);
			memcpy(buf, head, (size_t)hl);
			n = (size_t)hl + rest;
		}
		return (int)n;
	}
	return (int)n;
}
