/*
 * RFC 4648 encodings.  Invariant of the streaming decoders: `n` octets of
 * `out` are final, the partial quantum lives in `acc`, and `err` is sticky.
 */
#include "util/base.h"

#include <errno.h>

static const char b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b32_alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b32_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'V')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'v')
		return c - 'a' + 10;
	return -1;
}

int
base64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t need = BASE64_LEN(n);
	if (cap < need + 1)
		return -ENOSPC;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64_alpha[(v >> 18) & 63];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alpha[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64_alpha[v & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

void
base64_dec_init(struct base64_dec *d, uint8_t *out, size_t cap)
{
	d->out = out;
	d->cap = cap;
	d->n = 0;
	d->acc = 0;
	d->digits = 0;
	d->pad = 0;
	d->ended = false;
	d->err = 0;
}

/* Writes the octets of a complete quantum of `digits` digits (2, 3 or 4). */
static void
b64_flush(struct base64_dec *d)
{
	size_t k = d->digits - 1;
	uint32_t acc = d->acc << (6 * (4 - d->digits));
	/* "xx==" carries 4 spare bits, "xxx=" 2: they must be zero (canonical). */
	if ((k == 1 && (acc & 0xffff) != 0) || (k == 2 && (acc & 0xff) != 0)) {
		d->err = -EINVAL;
		return;
	}
	if (d->cap - d->n < k) {
		d->err = -EMSGSIZE;
		return;
	}
	for (size_t i = 0; i < k; i++)
		d->out[d->n++] = (uint8_t)(acc >> (16 - 8 * i));
	d->acc = 0;
	d->digits = 0;
}

int
base64_dec_feed(struct base64_dec *d, const char *in, size_t len)
{
	for (size_t i = 0; i < len && d->err == 0; i++) {
		char c = in[i];
		if (d->ended) {
			d->err = -EINVAL;   /* nothing may follow a padded quantum */
			break;
		}
		if (c == '=') {
			if (d->digits < 2) {
				d->err = -EINVAL;
				break;
			}
			d->pad++;
			if (d->digits + d->pad == 4) {
				b64_flush(d);
				d->ended = true;
			}
			continue;
		}
		int v = b64_val(c);
		if (v < 0 || d->pad > 0) {
			d->err = -EINVAL;
			break;
		}
		d->acc = (d->acc << 6) | (uint32_t)v;
		d->digits++;
		if (d->digits == 4)
			b64_flush(d);
	}
	return d->err;
}

int
base64_dec_finish(struct base64_dec *d)
{
	if (d->err != 0)
		return d->err;
	if (d->digits != 0 || (d->pad != 0 && !d->ended))
		return -EINVAL;
	return (int)d->n;
}

int
base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	struct base64_dec d;
	base64_dec_init(&d, out, cap);
	base64_dec_feed(&d, in, len);
	return base64_dec_finish(&d);
}

int
base32hex_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t need = BASE32HEX_LEN(n);
	if (cap < need + 1)
		return -ENOSPC;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_alpha[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32_alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return (int)o;
}

int
base32hex_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	/* Valid unpadded lengths leave 0, 2, 4, 5 or 7 characters in the last group. */
	size_t r = len % 8;
	if (r == 1 || r == 3 || r == 6)
		return -EINVAL;
	size_t n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b32_val(in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -EMSGSIZE;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;   /* non-zero spare bits: not canonical */
	return (int)n;
}

int
hex_encode(const uint8_t *in, size_t n, bool upper, char *out, size_t cap)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	if (cap < 2 * n + 1)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
	return (int)(2 * n);
}

void
hex_dec_init(struct hex_dec *d, uint8_t *out, size_t cap)
{
	d->out = out;
	d->cap = cap;
	d->n = 0;
	d->hi = -1;
	d->err = 0;
}

int
hex_dec_feed(struct hex_dec *d, const char *in, size_t len)
{
	for (size_t i = 0; i < len && d->err == 0; i++) {
		int v = hex_val(in[i]);
		if (v < 0) {
			d->err = -EINVAL;
		} else if (d->hi < 0) {
			d->hi = v;
		} else if (d->n >= d->cap) {
			d->err = -EMSGSIZE;
		} else {
			d->out[d->n++] = (uint8_t)((d->hi << 4) | v);
			d->hi = -1;
		}
	}
	return d->err;
}

int
hex_dec_finish(struct hex_dec *d)
{
	if (d->err != 0)
		return d->err;
	if (d->hi >= 0)
		return -EINVAL;
	return (int)d->n;
}

int
hex_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	struct hex_dec d;
	hex_dec_init(&d, out, cap);
	hex_dec_feed(&d, in, len);
	return hex_dec_finish(&d);
}
