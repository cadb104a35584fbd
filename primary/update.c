/*
 * DNS UPDATE behind xfrout (see update.h): scope, then the RFC 2136 message
 * as store prerequisites and ops, then one store_zone_patch_if.
 */
#include "primary/update.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/rrtype.h"
#include "dns/update.h"
#include "primary/store.h"
#include "util/log.h"
#include "util/strbuf.h"

/* Counters, read by update_metrics; updated with atomic adds. */
struct update {
	struct store *st;
	uint64_t received;
	uint64_t applied;      /* NOERROR, serial bumped */
	uint64_t unchanged;    /* NOERROR, nothing to change */
	uint64_t by_rcode[16];
};

static void
bump(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* What one UPDATE becomes for the store; arrays sized by the message. */
struct plan {
	struct store_prereq *pre;
	unsigned *pre_rcode;      /* the rcode when pre[i] fails */
	size_t npre;
	struct store_rec *recs;   /* one per prerequisite or update RR */
	size_t nrecs;
	struct store_op *ops;
	size_t nops;
};

static void
plan_free(struct plan *p)
{
	free(p->pre);
	free(p->pre_rcode);
	free(p->recs);
	free(p->ops);
}

static struct store_rec *
rec_of(struct plan *p, const struct dns_update_rr *r)
{
	struct store_rec *rec = &p->recs[p->nrecs++];
	rec->rdata = r->rdata;
	rec->rdlen = r->rdlen;
	rec->disabled = false;
	return rec;
}

/*
 * The prerequisites: the value-independent ones in order, then one per
 * (owner, type) of the value-dependent ones (RFC 2136 §3.2.5: their RRs form
 * rrsets compared whole), whose records are laid out together.
 */
static void
plan_prereqs(struct plan *p, const struct dns_update *u)
{
	static const unsigned fail_rcode[] = {
		[DNS_PRQ_YXRRSET] = DNS_RCODE_NXRRSET, [DNS_PRQ_YXRRSET_VALUE] = DNS_RCODE_NXRRSET,
		[DNS_PRQ_NXRRSET] = DNS_RCODE_YXRRSET, [DNS_PRQ_YXDOMAIN] = DNS_RCODE_NXDOMAIN,
		[DNS_PRQ_NXDOMAIN] = DNS_RCODE_YXDOMAIN,
	};
	static const enum store_prereq_kind kinds[] = {
		[DNS_PRQ_YXRRSET] = STORE_PRQ_YXRRSET, [DNS_PRQ_YXRRSET_VALUE] = STORE_PRQ_YXRRSET_VALUE,
		[DNS_PRQ_NXRRSET] = STORE_PRQ_NXRRSET, [DNS_PRQ_YXDOMAIN] = STORE_PRQ_YXDOMAIN,
		[DNS_PRQ_NXDOMAIN] = STORE_PRQ_NXDOMAIN,
	};
	for (size_t i = 0; i < u->npre; i++) {
		const struct dns_update_rr *r = &u->pre[i];
		if (r->kind == DNS_PRQ_YXRRSET_VALUE)
			continue;
		p->pre_rcode[p->npre] = fail_rcode[r->kind];
		p->pre[p->npre++] = (struct store_prereq){.kind = kinds[r->kind], .owner = r->owner,
		                                          .type = r->type};
	}
	bool *done = calloc(u->npre ? u->npre : 1, sizeof(*done));
	for (size_t i = 0; i < u->npre && done != NULL; i++) {
		const struct dns_update_rr *r = &u->pre[i];
		if (r->kind != DNS_PRQ_YXRRSET_VALUE || done[i])
			continue;
		struct store_prereq *q = &p->pre[p->npre];
		p->pre_rcode[p->npre++] = DNS_RCODE_NXRRSET;
		*q = (struct store_prereq){.kind = STORE_PRQ_YXRRSET_VALUE, .owner = r->owner,
		                           .type = r->type, .recs = &p->recs[p->nrecs]};
		for (size_t j = i; j < u->npre; j++) {
			const struct dns_update_rr *o = &u->pre[j];
			if (o->kind == DNS_PRQ_YXRRSET_VALUE && !done[j] && o->type == r->type &&
			    dns_name_equal(o->owner, r->owner)) {
				done[j] = true;
				rec_of(p, o);
				q->nrecs++;
			}
		}
	}
	free(done);
}

/* The updates as store ops (RFC 2136 §3.4.2); those the RFC ignores are left out. */
static void
plan_updates(struct plan *p, const struct dns_update *u)
{
	for (size_t i = 0; i < u->nupd; i++) {
		const struct dns_update_rr *r = &u->upd[i];
		bool apex = dns_name_equal(r->owner, u->zone);
		struct store_op *op = &p->ops[p->nops];
		memset(op, 0, sizeof(*op));
		op->owner = r->owner;
		op->type = r->type;
		snprintf(op->label, sizeof(op->label), "update %zu", i);
		switch (r->kind) {
		case DNS_UPD_ADD:
			if (r->type == DNS_T_SOA && !apex)
				continue;   /* §3.4.2.2: an SOA only replaces the zone's */
			/* §3.4.2.2: an SOA or a CNAME replaces the one there (singletons) */
			op->kind = r->type == DNS_T_SOA || r->type == DNS_T_CNAME ? STORE_OP_REPLACE
			                                                          : STORE_OP_EXTEND;
			op->ttl = r->ttl;
			op->has_ttl = true;
			op->soa_if_newer = r->type == DNS_T_SOA;
			op->recs = rec_of(p, r);
			op->nrecs = 1;
			break;
		case DNS_UPD_DEL_RRSET:
			if (r->type == DNS_T_SOA || (apex && r->type == DNS_T_NS))
				continue;   /* §3.4.2.3 */
			op->kind = STORE_OP_DELETE;
			break;
		case DNS_UPD_DEL_NAME:
			op->kind = STORE_OP_DELETE_NAME;
			break;
		default:   /* DNS_UPD_DEL_RR */
			if (r->type == DNS_T_SOA)
				continue;   /* §3.4.2.4 */
			op->kind = STORE_OP_PRUNE;
			op->recs = rec_of(p, r);
			op->nrecs = 1;
			break;
		}
		p->nops++;
	}
}

static int
plan_make(struct plan *p, const struct dns_update *u)
{
	memset(p, 0, sizeof(*p));
	size_t n = u->npre + u->nupd + 1;
	p->pre = calloc(n, sizeof(*p->pre));
	p->pre_rcode = calloc(n, sizeof(*p->pre_rcode));
	p->recs = calloc(n, sizeof(*p->recs));
	p->ops = calloc(n, sizeof(*p->ops));
	if (p->pre == NULL || p->pre_rcode == NULL || p->recs == NULL || p->ops == NULL) {
		plan_free(p);
		return -ENOMEM;
	}
	plan_prereqs(p, u);
	plan_updates(p, u);
	return 0;
}

static unsigned
run(void *ctx, const struct dns_msg *m, const uint8_t *keyw, const char *peer)
{
	struct update *up = ctx;
	struct store *st = up->st;
	char zone[DNS_NAME_TEXT_MAX], key[DNS_NAME_TEXT_MAX], why[512];
	dns_name_to_text(m->qname, zone, sizeof(zone));
	dns_name_to_text(keyw, key, sizeof(key));
	struct dns_update u;
	unsigned rc = dns_update_parse(m, &u, why, sizeof(why));
	if (rc != 0) {
		log_warning(zone, "DNS UPDATE from %s, key '%s', refused (rcode %u), %s", peer, key, rc,
		            why);
		return rc;
	}
	struct plan p;
	if (plan_make(&p, &u) != 0) {
		dns_update_clear(&u);
		return DNS_RCODE_SERVFAIL;
	}
	struct store_result res;
	size_t failed = 0;
	char err[512] = "";
	/* the zone, the catalog and the key's grant are checked in the change's
	 * transaction, before its prerequisites */
	int ret = store_zone_update_dns(st, u.zone, key, p.pre, p.npre, &failed, p.ops, p.nops, &res,
	                                err, sizeof(err));
	if (ret == 0 && res.changed) {
		log_info(zone, "DNS UPDATE from %s, key '%s', %zu prerequisites, %zu updates, "
		         "serial %u -> %u", peer, key, u.npre, u.nupd, res.old_serial, res.new_serial);
		rc = DNS_RCODE_NOERROR;
		bump(&up->applied);
	} else if (ret == 0) {
		log_info(zone, "DNS UPDATE from %s, key '%s', nothing changed", peer, key);
		rc = DNS_RCODE_NOERROR;
		bump(&up->unchanged);
	} else if (ret == -ECANCELED) {
		rc = p.pre_rcode[failed];
		log_info(zone, "DNS UPDATE from %s, key '%s', prerequisite not met (rcode %u)", peer,
		         key, rc);
	} else if (ret == -EPERM) {
		rc = DNS_RCODE_REFUSED;   /* RFC 2136 §3.3: outside the key's update_policy */
		log_warning(zone, "DNS UPDATE from %s, key '%s', refused, %s", peer, key, err);
	} else if (ret == -EACCES) {
		rc = DNS_RCODE_NOTAUTH;
		log_warning(zone, "DNS UPDATE from %s, key '%s', refused, key not in the zone's "
		            "update_tsig_key_ids", peer, key);
	} else if (ret == -EINVAL) {
		rc = DNS_RCODE_REFUSED;
		log_warning(zone, "DNS UPDATE from %s, key '%s', refused, %s", peer, key, err);
	} else if (ret == -ENOENT) {
		rc = DNS_RCODE_NOTAUTH;
		log_warning(zone, "DNS UPDATE from %s, key '%s', refused, zone not served", peer, key);
	} else {
		rc = DNS_RCODE_SERVFAIL;
		log_error(zone, "DNS UPDATE from %s, key '%s', failed, %s", peer, key,
		          err[0] ? err : "store error");
	}
	plan_free(&p);
	dns_update_clear(&u);
	return rc;
}

static void
count(void *ctx, unsigned rcode)
{
	struct update *up = ctx;
	bump(&up->received);
	bump(&up->by_rcode[rcode < 16 ? rcode : 0]);
}

struct update *
update_new(struct store *st)
{
	struct update *u = calloc(1, sizeof(*u));
	if (u != NULL)
		u->st = st;
	return u;
}

void
update_free(struct update *u)
{
	free(u);
}

void
update_hook(struct update *u, struct xfrout_update *out)
{
	out->ctx = u;
	out->run = run;
	out->count = count;
}

static uint64_t
get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* One labelled counter family: the rcodes of `codes`, 0 when none yet. */
static void
family(struct strbuf *b, const struct update *u, const char *name, const char *help,
       const unsigned *codes, size_t n)
{
	static const char *const rcode_names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
		"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};
	strbuf_printf(b, "# HELP anycst_dns_update_%s_total %s\n# TYPE anycst_dns_update_%s_total "
	              "counter\n", name, help, name);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(b, "anycst_dns_update_%s_total{rcode=\"%s\"} %" PRIu64 "\n", name,
		              rcode_names[codes[i]], get(&u->by_rcode[codes[i]]));
}

int
update_metrics(struct update *u, char *buf, size_t cap)
{
	static const unsigned pre[] = {DNS_RCODE_NXDOMAIN, DNS_RCODE_YXDOMAIN, DNS_RCODE_YXRRSET,
	                               DNS_RCODE_NXRRSET};
	static const unsigned refused[] = {DNS_RCODE_FORMERR, DNS_RCODE_NOTIMP, DNS_RCODE_REFUSED,
	                                   DNS_RCODE_NOTAUTH, DNS_RCODE_NOTZONE};
	static const unsigned failed[] = {DNS_RCODE_SERVFAIL};
	struct strbuf b;
	strbuf_init(&b);
	strbuf_printf(&b, "# HELP anycst_dns_update_received_total DNS UPDATE messages received on "
	              "the transfer listeners.\n# TYPE anycst_dns_update_received_total counter\n"
	              "anycst_dns_update_received_total %" PRIu64 "\n", get(&u->received));
	strbuf_printf(&b, "# HELP anycst_dns_update_applied_total DNS UPDATEs that changed a zone "
	              "(one serial each).\n# TYPE anycst_dns_update_applied_total counter\n"
	              "anycst_dns_update_applied_total %" PRIu64 "\n", get(&u->applied));
	strbuf_printf(&b, "# HELP anycst_dns_update_unchanged_total DNS UPDATEs answered NOERROR "
	              "that changed nothing.\n# TYPE anycst_dns_update_unchanged_total counter\n"
	              "anycst_dns_update_unchanged_total %" PRIu64 "\n", get(&u->unchanged));
	family(&b, u, "prerequisite_failed", "DNS UPDATEs whose prerequisite failed, by rcode "
	       "(RFC 2136 3.2).", pre, sizeof(pre) / sizeof(pre[0]));
	family(&b, u, "refused", "DNS UPDATEs refused, by rcode (TSIG, scope, policy, malformed).",
	       refused, sizeof(refused) / sizeof(refused[0]));
	family(&b, u, "failed", "DNS UPDATEs that failed on the server's side, by rcode.", failed,
	       sizeof(failed) / sizeof(failed[0]));
	int ret = -1;
	const char *t = strbuf_str(&b);
	if (t != NULL && b.len < cap) {
		memcpy(buf, t, b.len + 1);
		ret = (int)b.len;
	}
	strbuf_clear(&b);
	return ret;
}
