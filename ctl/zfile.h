/*
 * anycstc's zone files: mapped, parsed with dns/zonetext, each record handed
 * on as the API's text fields (owner, TTL, type, content).
 */
#ifndef CTL_ZFILE_H
#define CTL_ZFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"

struct zfile {
	const char *path;
	const char *text;      /* the mapped file (or a caller's buffer) */
	size_t len;
	bool mapped;
	uint8_t origin[DNS_NAME_MAX];
	char origin_text[DNS_NAME_TEXT_MAX];
};

/* One record as text; pointers die when the callback returns. */
struct zrec {
	const char *owner, *type, *content;
	uint32_t ttl;
	uint16_t rtype;
	bool at_apex;
};

typedef int (*zrec_fn)(void *ctx, const struct zrec *r);

/* Maps `path` (or uses text/len when path is NULL) with `origin`.  0 or an exit code. */
int zfile_open(struct zfile *z, const char *path, const char *text, size_t len, const char *origin);
void zfile_close(struct zfile *z);
/*
 * Parses the file: each record in the zone goes to fn (NULL: only check);
 * counts records and SOAs.  A syntax error, a record outside the zone or a
 * class other than IN is reported ("FILE:LINE:COL: error: ...") and gives
 * CTL_EFAIL; fn's non-zero return stops the parse and is returned.
 */
int zfile_parse(struct zfile *z, zrec_fn fn, void *ctx, size_t *records, size_t *soas);

#endif
