/*
 * Binary <-> text encodings of RFC 4648: base64 (with padding), base32hex
 * (the "Extended Hex" alphabet, without padding, as NSEC3 uses it) and hex
 * (base16).  Decoders are strict: any character outside the alphabet,
 * misplaced padding or non-zero trailing bits is an error.  No allocation.
 *
 * Encoders write a NUL after the text and return the text length, or
 * -ENOSPC when `cap` cannot hold text plus NUL.  Decoders return the
 * number of octets written, -EINVAL for bad input, -EMSGSIZE when `cap` is
 * too small.
 */
#ifndef UTIL_BASE_H
#define UTIL_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Text lengths (without the NUL) of n encoded octets. */
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)
#define BASE32HEX_LEN(n) (((n) * 8 + 4) / 5)
#define HEX_LEN(n) ((n) * 2)

int base64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
int base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* Uppercase output; decoding accepts either case.  No '=' padding. */
int base32hex_encode(const uint8_t *in, size_t n, char *out, size_t cap);
int base32hex_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* `upper` picks the digit case of the output; decoding accepts either case. */
int hex_encode(const uint8_t *in, size_t n, bool upper, char *out, size_t cap);
int hex_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/*
 * Streaming decoders for text split over several tokens (zone files break
 * base64 and hex anywhere).  Initialise, feed each piece, then finish:
 *   struct base64_dec d; base64_dec_init(&d, out, cap);
 *   base64_dec_feed(&d, s1, n1); base64_dec_feed(&d, s2, n2);
 *   int n = base64_dec_finish(&d);      -- octets, -EINVAL or -EMSGSIZE
 * Once an error occurs it sticks and later calls return it.
 */
struct base64_dec {
	uint8_t *out;
	size_t cap, n;
	uint32_t acc;
	unsigned digits;   /* base64 digits in the current quantum, 0..3 */
	unsigned pad;      /* '=' seen in the current quantum */
	bool ended;        /* a padded quantum was completed */
	int err;
};
void base64_dec_init(struct base64_dec *d, uint8_t *out, size_t cap);
int base64_dec_feed(struct base64_dec *d, const char *in, size_t len);
int base64_dec_finish(struct base64_dec *d);

struct hex_dec {
	uint8_t *out;
	size_t cap, n;
	int hi;            /* pending high nibble, or -1 */
	int err;
};
void hex_dec_init(struct hex_dec *d, uint8_t *out, size_t cap);
int hex_dec_feed(struct hex_dec *d, const char *in, size_t len);
int hex_dec_finish(struct hex_dec *d);

#endif
