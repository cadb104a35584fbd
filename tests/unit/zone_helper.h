/*
 * Test helper: records from one-line text "owner TTL TYPE rdata" (absolute
 * owner, rdata in presentation form, relative names under `origin`), and
 * zones built from arrays of such lines.  Included by test_zone.c,
 * test_zdb.c and test_answer.c only.
 */
#ifndef TESTS_ZONE_HELPER_H
#define TESTS_ZONE_HELPER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rr.h"
#include "dns/rrtype.h"
#include "secondary/zone.h"

struct trr {
	struct dns_rr rr;
	uint8_t owner[DNS_NAME_MAX];
	uint8_t rdata[4096];
};

/* Fills `t` from `line`; fails the test on a parse error. */
static inline void
trr_parse(struct trr *t, const char *line)
{
	const char *s = line, *e;
	char err[160];
	e = strchr(s, ' ');
	if (e == NULL || dns_name_from_text(s, (size_t)(e - s), NULL, t->owner) < 0) {
		fprintf(stderr, "bad owner in '%s'\n", line);
		abort();
	}
	s = e + 1;
	char *end;
	unsigned long ttl = strtoul(s, &end, 10);
	s = end + 1;
	e = strchr(s, ' ');
	size_t tl = e ? (size_t)(e - s) : strlen(s);
	uint16_t type;
	if (dns_rrtype_from_text(s, tl, &type) != 0) {
		fprintf(stderr, "bad type in '%s'\n", line);
		abort();
	}
	const char *rd = e ? e + 1 : "";
	int n = dns_rdata_from_str(type, rd, strlen(rd), t->owner, t->rdata, sizeof(t->rdata), err,
	                           sizeof(err));
	if (n < 0) {
		fprintf(stderr, "bad rdata in '%s': %s\n", line, err);
		abort();
	}
	t->rr.owner = t->owner;
	t->rr.type = type;
	t->rr.rclass = 1;
	t->rr.ttl = (uint32_t)ttl;
	t->rr.rdlen = (uint16_t)n;
	t->rr.rdata = t->rdata;
}

/* Builds a version of `apex` (text) from `lines`; returns NULL with `err` on failure. */
static inline struct zone *
tzone_build(const char *apex, const char *const *lines, size_t n, char *err, size_t errcap)
{
	uint8_t a[DNS_NAME_MAX];
	if (dns_name_from_text(apex, strlen(apex), NULL, a) < 0)
		abort();
	struct zone_builder *b = zone_builder_new(a);
	struct trr t;
	for (size_t i = 0; i < n; i++) {
		trr_parse(&t, lines[i]);
		if (zone_builder_add(b, &t.rr, err, errcap) != 0) {
			zone_builder_free(b);
			return NULL;
		}
	}
	struct zone *z;
	if (zone_builder_finish(b, &z, err, errcap) != 0)
		return NULL;
	return z;
}

#endif
