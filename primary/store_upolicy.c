/*
 * A zone's update_policy (schema 0009): per-key limits on what DNS UPDATE
 * may change, stored as rows (zone, pos, key, match, name, types), written
 * with the zone's settings and checked inside the UPDATE's own write
 * transaction (store_zone_update_dns in store_zone.c calls upolicy_check).
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/rrtype.h"

static const char *const match_names[] = {
	[STORE_UPM_SUBDOMAIN] = "subdomain", [STORE_UPM_NAME] = "name",
	[STORE_UPM_PATTERN] = "pattern",
};

const char *
store_upolicy_match_name(enum store_upolicy_match m)
{
	return (unsigned)m < sizeof(match_names) / sizeof(match_names[0]) ? match_names[m] : "?";
}

int
store_upolicy_match_parse(const char *s, enum store_upolicy_match *m)
{
	for (size_t i = 0; i < sizeof(match_names) / sizeof(match_names[0]); i++) {
		if (strcasecmp(s, match_names[i]) == 0) {
			*m = (enum store_upolicy_match)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Each label of `pat` equals the one of `name` at its place, or is '*'. */
static bool
pattern_match(const uint8_t *name, const uint8_t *pat)
{
	if (dns_name_labels(name) != dns_name_labels(pat))
		return false;
	while (pat[0] != 0) {
		bool star = pat[0] == 1 && pat[1] == '*';
		if (!star && (pat[0] != name[0] || strncasecmp((const char *)pat + 1,
		                                               (const char *)name + 1, pat[0]) != 0))
			return false;
		pat += pat[0] + 1;
		name += name[0] + 1;
	}
	return true;
}

bool
store_upolicy_allows(const struct store_upolicy_rule *r, const uint8_t *owner, uint16_t type)
{
	bool name_ok = false;
	switch (r->match) {
	case STORE_UPM_SUBDOMAIN:
		name_ok = dns_name_is_sub(owner, r->name);
		break;
	case STORE_UPM_NAME:
		name_ok = dns_name_equal(owner, r->name);
		break;
	case STORE_UPM_PATTERN:
		name_ok = pattern_match(owner, r->name);
		break;
	}
	if (!name_ok)
		return false;
	if (r->ntypes == 0)
		return true;
	for (size_t i = 0; i < r->ntypes; i++)
		if (r->types[i] == type)
			return true;
	return false;
}

/* A row of DBQ_UPOLICY_ZONE / DBQ_UPOLICY_KEY into `r`: 0 or -EIO (a row not ours). */
static int
rule_from_row(struct db_stmt *s, struct store_upolicy_rule *r)
{
	memset(r, 0, sizeof(*r));
	const char *key = db_col_text(s, 0), *match = db_col_text(s, 1);
	const char *name = db_col_text(s, 2), *types = db_col_text(s, 3);
	if (key == NULL || match == NULL || name == NULL || types == NULL ||
	    store_upolicy_match_parse(match, &r->match) != 0 ||
	    dns_name_from_text(name, strlen(name), NULL, r->name) <= 0)
		return -EIO;
	copy_text(r->key, sizeof(r->key), key);
	for (const char *p = types; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n > 0) {
			if (r->ntypes == STORE_UPOLICY_TYPES ||
			    dns_rrtype_from_text(p, n, &r->types[r->ntypes]) != 0)
				return -EIO;
			r->ntypes++;
		}
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

static int
rule_rows(struct db_stmt *s, store_upolicy_fn fn, void *ctx)
{
	int rc, ret = 0;
	struct store_upolicy_rule r;
	while ((rc = db_step(s)) == DB_ROW) {
		ret = rule_from_row(s, &r);
		if (ret == 0)
			ret = fn(ctx, &r);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

int
store_snap_zone_update_policy(struct store_snap *sn, const struct store_zone *z,
                              store_upolicy_fn fn, void *ctx)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_UPOLICY_ZONE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	return rule_rows(s, fn, ctx);
}

/* The rule's types as stored: space-separated mnemonics. */
static int
types_text(const struct store_upolicy_rule *r, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < r->ntypes; i++) {
		char t[32];
		if (dns_rrtype_to_text(r->types[i], t, sizeof(t)) < 0)
			return -EINVAL;
		size_t tl = strlen(t);
		if (len + tl + 2 > cap)
			return -EINVAL;
		if (len > 0)
			buf[len++] = ' ';
		memcpy(buf + len, t, tl + 1);
		len += tl;
	}
	return 0;
}

int
upolicy_write(struct store *st, const struct store_zone *z, const struct store_upolicy_rule *rules,
              size_t n, char *err, size_t errcap)
{
	if (n > STORE_UPOLICY_MAX) {
		set_err(err, errcap, "update_policy: more than %d rules", STORE_UPOLICY_MAX);
		return -EINVAL;
	}
	struct db_stmt *s = db_q(st->w, DBQ_UPOLICY_CLEAR);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	if (db_run(s) != 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		const struct store_upolicy_rule *r = &rules[i];
		char key[DNS_NAME_TEXT_MAX], name[DNS_NAME_TEXT_MAX], types[STORE_UPOLICY_TYPES * 24];
		uint8_t kw[DNS_NAME_MAX];
		if (dns_name_from_text(r->key, strlen(r->key), NULL, kw) <= 0 || kw[0] == 0 ||
		    name_text(kw, key, sizeof(key)) < 0) {
			set_err(err, errcap, "update_policy[%zu]: bad key name '%s'", i, r->key);
			return -EINVAL;
		}
		if (!dns_name_is_sub(r->name, z->name) || name_text(r->name, name, sizeof(name)) < 0) {
			set_err(err, errcap, "update_policy[%zu]: name not inside zone '%s'", i, z->text);
			return -EINVAL;
		}
		if (types_text(r, types, sizeof(types)) != 0) {
			set_err(err, errcap, "update_policy[%zu]: bad types", i);
			return -EINVAL;
		}
		s = db_q(st->w, DBQ_UPOLICY_INSERT);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, z->id);
		db_bind_i64(s, 2, (int64_t)i);
		db_bind_text(s, 3, key);
		db_bind_text(s, 4, store_upolicy_match_name(r->match));
		db_bind_text(s, 5, name);
		db_bind_text(s, 6, types);
		if (db_run(s) != 0) {
			set_err(err, errcap, "update_policy[%zu]: TSIG key '%s' does not exist", i, r->key);
			return -EINVAL;
		}
	}
	return 0;
}

/* The key's rules for zone z, kept by upolicy_check. */
struct key_rules {
	struct store_upolicy_rule r[STORE_UPOLICY_MAX];
	size_t n;
};

static int
keep_rule(void *ctx, const struct store_upolicy_rule *r)
{
	struct key_rules *k = ctx;
	if (k->n == STORE_UPOLICY_MAX)
		return 0;
	k->r[k->n++] = *r;
	return 0;
}

/* The op's type as the policy sees it: a name's deletion is ANY. */
static uint16_t
op_type(const struct store_op *op)
{
	return op->kind == STORE_OP_DELETE_NAME ? DNS_T_ANY : op->type;
}

/* upolicy_key, with the key's name as stored (`kn`, DNS_NAME_TEXT_MAX). */
static int
key_allowed(struct store *st, const struct store_zone *z, const char *key, char *kn)
{
	uint8_t kw[DNS_NAME_MAX];
	if (dns_name_from_text(key, strlen(key), NULL, kw) <= 0 || kw[0] == 0 ||
	    name_text(kw, kn, DNS_NAME_TEXT_MAX) < 0)
		return -EACCES;
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_UTSIG_HAS);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_text(s, 2, kn);
	int rc = db_step(s);
	db_done(s);
	if (rc == DB_DONE)
		return -EACCES;
	return rc == DB_ROW ? 0 : -EIO;
}

int
upolicy_key(struct store *st, const struct store_zone *z, const char *key)
{
	char kn[DNS_NAME_TEXT_MAX];
	return key_allowed(st, z, key, kn);
}

int
upolicy_check(struct store *st, const struct store_zone *z, const char *key,
              const struct store_op *ops, size_t nops, char *err, size_t errcap)
{
	char kn[DNS_NAME_TEXT_MAX];
	int rc = key_allowed(st, z, key, kn);
	if (rc != 0)
		return rc;
	struct db_stmt *s = db_q(st->w, DBQ_UPOLICY_KEY);
	if (s == NULL)
		return -EIO;
	struct key_rules *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		db_done(s);
		return -ENOMEM;
	}
	db_bind_i64(s, 1, z->id);
	db_bind_text(s, 2, kn);
	int ret = rule_rows(s, keep_rule, k);
	for (size_t i = 0; ret == 0 && k->n > 0 && i < nops; i++) {
		bool ok = false;
		for (size_t j = 0; j < k->n && !ok; j++)
			ok = store_upolicy_allows(&k->r[j], ops[i].owner, op_type(&ops[i]));
		if (!ok) {
			char owner[DNS_NAME_TEXT_MAX], type[32];
			name_text(ops[i].owner, owner, sizeof(owner));
			if (dns_rrtype_to_text(op_type(&ops[i]), type, sizeof(type)) < 0)
				copy_text(type, sizeof(type), "?");
			set_err(err, errcap, "%s: %s %s is outside the key's update_policy", ops[i].label,
			        owner, type);
			ret = -EPERM;
		}
	}
	free(k);
	return ret;
}
