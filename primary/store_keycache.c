/*
 * The DNSSEC key cache (issue 15): a zone's private keys are unsealed
 * (AES-256-GCM under --dnssec-key-file's key) and imported into GnuTLS once
 * per key, not once per change, and kept in memory for the next change.
 *
 * An entry is found by (zone, key id) and must match the row byte for byte —
 * the DNSKEY rdata and the sealed private part — so a key rewritten under the
 * same id (a rolled-back insert whose id SQLite hands out again) is opened
 * afresh.  Entries of a zone whose key rows are gone are dropped at that
 * zone's next load (key deleted, rollover's remove step, DNSSEC switched
 * off); the cache is emptied when it would pass KC_MAX entries.  Dropping an
 * entry frees the GnuTLS key, whose private numbers GnuTLS wipes; the raw
 * bytes never outlive the import (explicit_bzero).
 *
 * Only the writer uses it (zkeys_load runs in the write transaction, under
 * st->wmu), so it takes no lock of its own.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KC_MAX 4096
#define KC_SEALED_MAX 64

struct kc_entry {
	int64_t zid, id;
	uint8_t dnskey[DNS_DNSSEC_DNSKEY_MAX];
	size_t dnskey_len;
	uint8_t sealed[KC_SEALED_MAX];
	size_t sealed_len;
	bool seen;                    /* matched by the current load of its zone */
	struct dns_dnssec_key *key;
};

struct keycache {
	struct kc_entry *v;
	size_t n, cap;
	uint64_t unseals;             /* keys opened (misses) */
};

static void
entry_drop(struct kc_entry *e)
{
	dns_dnssec_key_free(e->key);
	explicit_bzero(e, sizeof(*e));
}

void
keycache_free(struct store *st)
{
	struct keycache *kc = st->keycache;
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->n; i++)
		entry_drop(&kc->v[i]);
	free(kc->v);
	free(kc);
	st->keycache = NULL;
}

uint64_t
keycache_unseals(const struct store *st)
{
	return st->keycache != NULL ? st->keycache->unseals : 0;
}

static struct kc_entry *
find(struct keycache *kc, int64_t zid, const struct zkey *k, const uint8_t *sealed, size_t len)
{
	for (size_t i = 0; i < kc->n; i++) {
		struct kc_entry *e = &kc->v[i];
		if (e->zid == zid && e->id == k->id && e->dnskey_len == k->dnskey_len &&
		    memcmp(e->dnskey, k->dnskey, k->dnskey_len) == 0 && e->sealed_len == len &&
		    memcmp(e->sealed, sealed, len) == 0)
			return e;
	}
	return NULL;
}

/* Opens a sealed key: the GnuTLS key or NULL (wrong key file, bad row). */
static struct dns_dnssec_key *
open_key(struct store *st, const struct zkey *k, const uint8_t *sealed, size_t len)
{
	uint8_t raw[DNS_DNSSEC_RAW_MAX];
	struct dns_dnssec_key *key = NULL;
	if (dnssec_unseal(st->kek, sealed, len, k->dnskey, k->dnskey_len, raw) != 0)
		return NULL;
	if (dns_dnssec_key_from_raw(k->alg, k->flags, raw, sizeof(raw), k->dnskey + 4,
	                            k->dnskey_len - 4, &key) != 0)
		key = NULL;
	explicit_bzero(raw, sizeof(raw));
	return key;
}

struct dns_dnssec_key *
keycache_get(struct store *st, int64_t zid, const struct zkey *k, const uint8_t *sealed,
             size_t len)
{
	if (st->keycache == NULL && (st->keycache = calloc(1, sizeof(struct keycache))) == NULL)
		return NULL;
	struct keycache *kc = st->keycache;
	struct kc_entry *e = len <= KC_SEALED_MAX ? find(kc, zid, k, sealed, len) : NULL;
	if (e != NULL) {
		e->seen = true;
		return e->key;
	}
	struct dns_dnssec_key *key = open_key(st, k, sealed, len);
	kc->unseals++;
	if (key == NULL || len > KC_SEALED_MAX)
		return key;   /* not cached: the caller frees it (zkey.cached false) */
	if (kc->n == KC_MAX) {
		for (size_t i = 0; i < kc->n; i++)
			entry_drop(&kc->v[i]);
		kc->n = 0;
	}
	if (kc->n == kc->cap) {
		size_t cap = kc->cap ? kc->cap * 2 : 16;
		struct kc_entry *v = realloc(kc->v, cap * sizeof(*v));
		if (v == NULL)
			return key;
		kc->v = v;
		kc->cap = cap;
	}
	e = &kc->v[kc->n++];
	*e = (struct kc_entry){.zid = zid, .id = k->id, .dnskey_len = k->dnskey_len,
	                       .sealed_len = len, .seen = true, .key = key};
	memcpy(e->dnskey, k->dnskey, k->dnskey_len);
	memcpy(e->sealed, sealed, len);
	return key;
}

void
keycache_begin(struct store *st, int64_t zid)
{
	struct keycache *kc = st->keycache;
	for (size_t i = 0; kc != NULL && i < kc->n; i++)
		if (kc->v[i].zid == zid)
			kc->v[i].seen = false;
}

void
keycache_sweep(struct store *st, int64_t zid)
{
	struct keycache *kc = st->keycache;
	if (kc == NULL)
		return;
	size_t w = 0;
	for (size_t i = 0; i < kc->n; i++) {
		if (kc->v[i].zid == zid && !kc->v[i].seen) {
			entry_drop(&kc->v[i]);
			continue;
		}
		if (w != i) {
			kc->v[w] = kc->v[i];
			explicit_bzero(&kc->v[i], sizeof(kc->v[i]));
		}
		w++;
	}
	kc->n = w;
}
