/*
 * U-labels refused with their A-label suggested (see api/idn.h).  The only
 * file that includes <idn2.h>.
 */
#include "api/idn.h"

#include <errno.h>
#include <idn2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/rdata.h"

static bool
has_high(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++) {
		if (b[i] >= 0x80)
			return true;
	}
	return false;
}

/*
 * The message for UTF-8 text `u` (NUL-terminated, trailing dot or not):
 * its A-label through libidn2, or why there is none.
 */
static void
refuse(const char *what, const char *u, char *err, size_t errcap)
{
	size_t len = strlen(u);
	bool dot = len > 1 && u[len - 1] == '.';
	char tmp[DNS_NAME_TEXT_MAX * 4];
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(dot ? len - 1 : len), u);
	char *a = NULL;
	int rc = idn2_to_ascii_8z(tmp, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc == IDN2_OK && a != NULL && !has_high(a, strlen(a)))
		snprintf(err, errcap, "%s '%.300s' is not ASCII: use its A-label '%.300s%s'", what, u, a,
		         dot ? "." : "");
	else
		snprintf(err, errcap, "%s '%.300s' is not ASCII and has no IDNA2008 A-label (%s): "
		         "names must be ASCII", what, u, idn2_strerror(rc));
	idn2_free(a);
}

int
api_idn_check_text(const char *what, const char *s, size_t len, char *err, size_t errcap)
{
	if (!has_high(s, len))
		return 0;
	char u[DNS_NAME_TEXT_MAX * 4];
	snprintf(u, sizeof(u), "%.*s", (int)(len < sizeof(u) - 1 ? len : sizeof(u) - 1), s);
	refuse(what, u, err, errcap);
	return -EINVAL;
}

int
api_idn_check_wire(const char *what, const uint8_t *name, char *err, size_t errcap)
{
	size_t nl = dns_name_len(name);
	if (!has_high(name, nl))
		return 0;
	/* raw UTF-8 text when every label is plain (no dot, backslash or
	 * control octet inside), else the escaped presentation form */
	char u[DNS_NAME_TEXT_MAX];
	size_t n = 0;
	bool plain = true;
	for (const uint8_t *p = name; *p != 0 && plain; p += *p + 1) {
		for (size_t i = 1; i <= *p; i++) {
			if (p[i] == '.' || p[i] == '\\' || p[i] <= ' ' || p[i] == 0x7f)
				plain = false;
		}
		if (n + *p + 2 > sizeof(u))
			plain = false;
		if (!plain)
			break;
		memcpy(u + n, p + 1, *p);
		n += *p;
		u[n++] = '.';
	}
	u[n] = '\0';
	if (!plain) {
		dns_name_to_text(name, u, sizeof(u));
		snprintf(err, errcap, "%s '%.300s' is not ASCII: names must be ASCII (A-labels)", what,
		         u);
		return -EINVAL;
	}
	refuse(what, u, err, errcap);
	return -EINVAL;
}

int
api_idn_check_rdata(uint16_t type, const uint8_t *rd, size_t rdlen, char *err, size_t errcap)
{
	uint16_t offs[16];
	size_t n = dns_rdata_names(type, rd, rdlen, offs, NULL, 16);
	for (size_t i = 0; i < n; i++) {
		if (api_idn_check_wire("name", rd + offs[i], err, errcap) != 0)
			return -EINVAL;
	}
	return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table), 0 if none. */
static size_t
utf8_seq(const uint8_t *p)
{
	uint8_t c = p[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)   /* also stops at the NUL */
			return 0;
	}
	return n;
}

void
api_idn_sanitize(char *msg)
{
	uint8_t *p = (uint8_t *)msg;
	while (*p != 0) {
		if (*p < 0x20) {
			*p++ = '?';
		} else if (*p < 0x80) {
			p++;
		} else {
			size_t n = utf8_seq(p);
			if (n == 0)
				*p++ = '?';
			else
				p += n;
		}
	}
}
