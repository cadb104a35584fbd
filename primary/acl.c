/*
 * Transfer ACL (see acl.h).  Reads the store inside the caller's snapshot,
 * so the decision and the transferred data come from one version.
 */
#include "primary/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "primary/store.h"

bool
acl_key_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

struct key_match {
	const char *key;
	bool found;
};

static int
match_key(void *ctx, const struct store_tsig_key *k)
{
	struct key_match *km = ctx;
	if (acl_key_equal(km->key, k->name)) {
		km->found = true;
		return 1;   /* stop */
	}
	return 0;
}

int
acl_xfr_allowed(struct store_snap *sn, const struct store_zone *z, const char *key,
                bool is_pop)
{
	/* A registered POP's own key transfers every zone and the catalog (mesh.h). */
	if (is_pop)
		return 1;
	/*
	 * The catalog lists every account's zones: besides the POPs' keys only
	 * the keys the admin put in the catalog's own master_tsig_key_ids (a
	 * zone's key is not enough, issue 12).
	 */
	struct key_match km = {.key = key};
	int ret = store_snap_zone_tsig_keys(sn, z, match_key, &km);
	if (ret < 0)
		return ret;
	return km.found ? 1 : 0;
}

int
acl_prefix_match(const char *spec, const struct sockaddr *peer)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(spec, '/');
	size_t n = slash ? (size_t)(slash - spec) : strlen(spec);
	if (n == 0 || n >= sizeof(ip))
		return -1;
	memcpy(ip, spec, n);
	ip[n] = '\0';
	uint8_t want[16];
	int fam, bits;
	if (inet_pton(AF_INET, ip, want) == 1) {
		fam = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, ip, want) == 1) {
		fam = AF_INET6;
		bits = 128;
	} else {
		return -1;
	}
	if (slash != NULL) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > bits)
			return -1;
		bits = (int)b;
	}
	if (peer == NULL)
		return 0;
	const uint8_t *have;
	uint8_t mapped[4];
	if (peer->sa_family == AF_INET6) {
		have = ((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr.s6_addr;
		static const uint8_t v4pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (fam == AF_INET && memcmp(have, v4pfx, 12) == 0) {
			memcpy(mapped, have + 12, 4);
			have = mapped;
		} else if (fam != AF_INET6) {
			return 0;
		}
	} else if (peer->sa_family == AF_INET && fam == AF_INET) {
		have = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
	} else {
		return 0;
	}
	int full = bits / 8, rest = bits % 8;
	if (memcmp(have, want, (size_t)full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((have[full] & mask) != (want[full] & mask))
			return 0;
	}
	return 1;
}

struct from_match {
	const struct sockaddr *peer;
	bool any;      /* the zone has ALLOW-AXFR-FROM values */
	bool found;
};

static int
match_from(void *ctx, const char *kind, const char *value)
{
	(void)kind;
	struct from_match *fm = ctx;
	fm->any = true;
	if (acl_prefix_match(value, fm->peer) == 1) {
		fm->found = true;
		return 1;   /* stop */
	}
	return 0;
}

int
acl_xfr_from_allowed(struct store_snap *sn, const struct store_zone *z,
                     const struct sockaddr *peer, bool is_pop)
{
	if (is_pop)
		return 1;
	struct from_match fm = {.peer = peer};
	int ret = store_snap_metadata(sn, z, "ALLOW-AXFR-FROM", match_from, &fm);
	if (ret < 0)
		return ret;
	return !fm.any || fm.found ? 1 : 0;
}
