/*
 * Domain names in wire and presentation form.  All functions work on the
 * caller's buffers and never allocate.  Wire names passed in are trusted to
 * be well formed (checked by dns_name_check, dns_name_unpack or
 * dns_name_from_text when they entered the process).
 */
#include "dns/name.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

const uint8_t dns_root_name[1] = {0};

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t
dns_name_len(const uint8_t *name)
{
	const uint8_t *p = name;
	while (*p != 0)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

int
dns_name_check(const uint8_t *p, size_t len)
{
	size_t pos = 0;
	for (;;) {
		if (pos >= len)
			return ERR_TRUNC;
		uint8_t l = p[pos];
		if (l == 0)
			break;
		if (l & 0xc0)
			return (l & 0xc0) == 0xc0 ? ERR_NAME_PTR : ERR_NAME_LABEL;
		pos += (size_t)l + 1;
		if (pos + 1 > DNS_NAME_MAX)
			return ERR_NAME_LONG;
	}
	return (int)pos + 1;
}

int
dns_name_from_text(const char *s, size_t len, const uint8_t *origin, uint8_t *out)
{
	if (len == 0)
		return -EINVAL;
	if (len == 1 && s[0] == '@') {
		if (origin == NULL)
			origin = dns_root_name;
		size_t ol = dns_name_len(origin);
		memmove(out, origin, ol);
		return (int)ol;
	}
	if (len == 1 && s[0] == '.') {
		out[0] = 0;
		return 1;
	}
	size_t pos = 0;       /* where the current label's length byte is */
	size_t llen = 0;
	bool absolute = false;
	out[0] = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == '.') {
			if (llen == 0)
				return ERR_NAME_LABEL;
			out[pos] = (uint8_t)llen;
			pos += llen + 1;
			llen = 0;
			if (i == len - 1) {
				absolute = true;
				break;
			}
			continue;
		}
		if (c == '\\') {
			if (i + 1 >= len)
				return ERR_NAME_ESCAPE;
			if (isdigit((unsigned char)s[i + 1])) {
				if (i + 3 >= len || !isdigit((unsigned char)s[i + 2]) ||
				    !isdigit((unsigned char)s[i + 3]))
					return ERR_NAME_ESCAPE;
				unsigned v = (unsigned)(s[i + 1] - '0') * 100 +
				             (unsigned)(s[i + 2] - '0') * 10 + (unsigned)(s[i + 3] - '0');
				if (v > 255)
					return ERR_NAME_ESCAPE;
				c = (uint8_t)v;
				i += 3;
			} else {
				c = (uint8_t)s[i + 1];
				i += 1;
			}
		}
		if (llen >= DNS_LABEL_MAX)
			return ERR_NAME_LABEL;
		if (pos + llen + 3 > DNS_NAME_MAX)
			return ERR_NAME_LONG;
		out[pos + 1 + llen] = c;
		llen++;
	}
	if (!absolute) {
		/* trailing label without a dot */
		out[pos] = (uint8_t)llen;
		pos += llen + 1;
		if (origin == NULL)
			origin = dns_root_name;
		size_t ol = dns_name_len(origin);
		if (pos + ol > DNS_NAME_MAX)
			return ERR_NAME_LONG;
		memmove(out + pos, origin, ol);
		return (int)(pos + ol);
	}
	if (pos + 1 > DNS_NAME_MAX)
		return ERR_NAME_LONG;
	out[pos] = 0;
	return (int)pos + 1;
}

int
dns_name_to_text(const uint8_t *name, char *buf, size_t cap)
{
	size_t n = 0;
	const uint8_t *p = name;
	if (*p == 0) {
		if (cap < 2)
			return -ENOSPC;
		buf[0] = '.';
		buf[1] = '\0';
		return 1;
	}
	while (*p != 0) {
		uint8_t l = *p++;
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = p[i];
			if (n + 5 > cap)
				return -ENOSPC;
			if (c <= 0x20 || c >= 0x7f) {
				n += (size_t)snprintf(buf + n, cap - n, "\\%03u", c);
			} else if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' ||
			           c == ')' || c == '@' || c == '$') {
				buf[n++] = '\\';
				buf[n++] = (char)c;
			} else {
				buf[n++] = (char)c;
			}
		}
		if (n + 2 > cap)
			return -ENOSPC;
		buf[n++] = '.';
		p += l;
	}
	buf[n] = '\0';
	return (int)n;
}

int
dns_name_unpack(const uint8_t *pkt, size_t pktlen, size_t *pos, uint8_t *out)
{
	size_t p = *pos;
	size_t n = 0;
	size_t limit = p;   /* a pointer must go strictly below this */
	bool jumped = false;
	for (;;) {
		if (p >= pktlen)
			return ERR_TRUNC;
		uint8_t l = pkt[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= pktlen)
				return ERR_TRUNC;
			size_t target = ((size_t)(l & 0x3f) << 8) | pkt[p + 1];
			if (target >= limit)
				return ERR_NAME_PTR;
			if (!jumped) {
				*pos = p + 2;
				jumped = true;
			}
			limit = target;
			p = target;
			continue;
		}
		if (l & 0xc0)
			return ERR_NAME_LABEL;
		if (l == 0) {
			if (n + 1 > DNS_NAME_MAX)
				return ERR_NAME_LONG;
			out[n++] = 0;
			if (!jumped)
				*pos = p + 1;
			return (int)n;
		}
		if (p + 1 + l > pktlen)
			return ERR_TRUNC;
		if (n + 1 + l + 1 > DNS_NAME_MAX)
			return ERR_NAME_LONG;
		memcpy(out + n, pkt + p, (size_t)l + 1);
		n += (size_t)l + 1;
		p += (size_t)l + 1;
	}
}

unsigned
dns_name_labels(const uint8_t *name)
{
	unsigned n = 0;
	while (*name != 0) {
		name += *name + 1;
		n++;
	}
	return n;
}

bool
dns_name_equal(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		if (*a != *b)
			return false;
		uint8_t l = *a;
		if (l == 0)
			return true;
		for (uint8_t i = 1; i <= l; i++) {
			if (lower(a[i]) != lower(b[i]))
				return false;
		}
		a += l + 1;
		b += l + 1;
	}
}

/* Fills `lab` with pointers to each label, returns the count. */
static unsigned
label_ptrs(const uint8_t *name, const uint8_t *lab[128])
{
	unsigned n = 0;
	while (*name != 0 && n < 128) {
		lab[n++] = name;
		name += *name + 1;
	}
	return n;
}

int
dns_name_cmp(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[128], *lb[128];
	unsigned na = label_ptrs(a, la), nb = label_ptrs(b, lb);
	while (na > 0 && nb > 0) {
		const uint8_t *x = la[--na], *y = lb[--nb];
		uint8_t lx = x[0], ly = y[0];
		uint8_t m = lx < ly ? lx : ly;
		for (uint8_t i = 1; i <= m; i++) {
			uint8_t cx = lower(x[i]), cy = lower(y[i]);
			if (cx != cy)
				return cx < cy ? -1 : 1;
		}
		if (lx != ly)
			return lx < ly ? -1 : 1;
	}
	if (na == nb)
		return 0;
	return na < nb ? -1 : 1;
}

bool
dns_name_is_sub(const uint8_t *name, const uint8_t *parent)
{
	unsigned n = dns_name_labels(name), p = dns_name_labels(parent);
	if (n < p)
		return false;
	while (n > p) {
		name += *name + 1;
		n--;
	}
	return dns_name_equal(name, parent);
}

void
dns_name_lower(uint8_t *name)
{
	while (*name != 0) {
		uint8_t l = *name;
		for (uint8_t i = 1; i <= l; i++)
			name[i] = lower(name[i]);
		name += l + 1;
	}
}

const uint8_t *
dns_name_parent(const uint8_t *name)
{
	if (*name == 0)
		return name;
	return name + *name + 1;
}

bool
dns_name_is_wildcard(const uint8_t *name)
{
	return name[0] == 1 && name[1] == '*';
}

size_t
dns_name_to_lookup(const uint8_t *name, uint8_t *key)
{
	const uint8_t *lab[128];
	unsigned n = label_ptrs(name, lab);
	size_t k = 0;
	while (n > 0) {
		const uint8_t *l = lab[--n];
		for (uint8_t i = 1; i <= l[0]; i++) {
			uint8_t c = lower(l[i]);
			if (c <= 1) {
				key[k++] = 1;
				key[k++] = (uint8_t)(c + 1);
			} else {
				key[k++] = c;
			}
		}
		key[k++] = 0;
	}
	return k;
}

int
dns_name_from_lookup(const uint8_t *key, size_t keylen, uint8_t *out)
{
	/* Collect label boundaries in key order, then write them reversed. */
	size_t starts[128], ends[128];
	unsigned n = 0;
	size_t s = 0;
	for (size_t i = 0; i < keylen; i++) {
		if (key[i] == 1) {
			i++;
			continue;
		}
		if (key[i] == 0) {
			if (n >= 127)
				return ERR_FORMERR;
			starts[n] = s;
			ends[n] = i;
			n++;
			s = i + 1;
		}
	}
	if (s != keylen)
		return ERR_FORMERR;
	size_t o = 0;
	while (n > 0) {
		n--;
		size_t lp = o++;
		uint8_t l = 0;
		for (size_t i = starts[n]; i < ends[n]; i++) {
			uint8_t c = key[i];
			if (c == 1)
				c = (uint8_t)(key[++i] - 1);
			if (o >= DNS_NAME_MAX - 1)
				return ERR_NAME_LONG;
			out[o++] = c;
			l++;
		}
		if (l == 0 || l > DNS_LABEL_MAX)
			return ERR_NAME_LABEL;
		out[lp] = l;
	}
	out[o++] = 0;
	return (int)o;
}
