/*
 * Internal seam between dns/rdata.c (descriptor-driven fields) and the
 * files that handle the types with a grammar of their own
 * (dns/rdata_loc.c, dns/rdata_svcb.c).  Not for use outside dns/rdata*.c.
 */
#ifndef DNS_RDATA_INT_H
#define DNS_RDATA_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/lex.h"
#include "dns/rdata.h"
#include "dns/wire.h"

/* Parse state: tokens t[i..n) are left, wire output goes to w. */
struct rd_pctx {
	uint16_t type;
	const struct dns_tok *t;
	size_t n, i;
	const uint8_t *origin;
	struct wire w;
	struct dns_rdata_err *e;
};

/* Text output with a sticky overflow flag. */
struct rd_tbuf {
	char *p;
	size_t cap, n;
	bool over;
};

/* Fills e->what (printf style) and e->tok; returns ERR_RDATA. */
int rd_fail(struct rd_pctx *c, size_t tok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Mnemonic of the type being parsed ("MX", "TYPE999"), for messages. */
const char *rd_tname(uint16_t type, char *buf, size_t cap);
/* At most 40 characters of a token, for messages: "%.*s", RD_TOKFMT(t). */
#define RD_TOKFMT(tk) (int)((tk)->len > 40 ? 40 : (tk)->len), (tk)->s

void rd_putc(struct rd_tbuf *b, char c);
void rd_puts(struct rd_tbuf *b, const char *s, size_t len);
void rd_printf(struct rd_tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal without printf (the printer's hot path). */
void rd_putu(struct rd_tbuf *b, uint32_t v);
/* Writes octets as a BIND character-string body: \" \\ and \DDD for non-printables. */
void rd_put_escaped(struct rd_tbuf *b, const uint8_t *s, size_t len);

/* LOC (RFC 1876), in dns/rdata_loc.c. */
int rd_loc_parse(struct rd_pctx *c);
int rd_loc_check(const uint8_t *rd, size_t len);
void rd_loc_text(const uint8_t *rd, struct rd_tbuf *b);

/* SvcParams of SVCB/HTTPS (RFC 9460), in dns/rdata_svcb.c.  `prio` is SvcPriority. */
int rd_svcb_parse(struct rd_pctx *c, uint16_t prio);
int rd_svcb_check(const uint8_t *p, size_t len, uint16_t prio);
void rd_svcb_text(const uint8_t *p, size_t len, struct rd_tbuf *b);

/* IPSECKEY, AMTRELAY, APL, HIP and WKS, in dns/rdata_misc.c: the whole rdata each. */
int rd_ipseckey_parse(struct rd_pctx *c);
int rd_ipseckey_check(const uint8_t *rd, size_t len);
void rd_ipseckey_text(const uint8_t *rd, size_t len, struct rd_tbuf *b);
int rd_amtrelay_parse(struct rd_pctx *c);
int rd_amtrelay_check(const uint8_t *rd, size_t len);
void rd_amtrelay_text(const uint8_t *rd, size_t len, struct rd_tbuf *b);
int rd_apl_parse(struct rd_pctx *c);
int rd_apl_check(const uint8_t *rd, size_t len);
void rd_apl_text(const uint8_t *rd, size_t len, struct rd_tbuf *b);
int rd_hip_parse(struct rd_pctx *c);
int rd_hip_check(const uint8_t *rd, size_t len);
void rd_hip_text(const uint8_t *rd, size_t len, struct rd_tbuf *b);
int rd_wks_parse(struct rd_pctx *c);
int rd_wks_check(const uint8_t *rd, size_t len);
void rd_wks_text(const uint8_t *rd, size_t len, struct rd_tbuf *b);

#endif
