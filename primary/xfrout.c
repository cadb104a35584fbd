/*
 * Outgoing transfers (see xfrout.h).  A txn holds a copy of the request,
 * its TSIG state, and the RRs to send as up to three segments of wire RRs
 * (SOA, body, SOA), loaded once from one snapshot.  xfrout_next() packs as
 * many RRs as fit into one message (question repeated, names compressed,
 * room kept for the TSIG), signs it and moves on.  Policy, in one place:
 *   - responses, short messages: dropped (-EINVAL: close the stream);
 *   - unparsable: FORMERR; opcode other than QUERY and UPDATE: NOTIMP;
 *   - UPDATE (when conf.update is set): TSIG required (else REFUSED), then
 *     conf.update gives the rcode; the answer echoes the zone section;
 *     QDCOUNT != 1: FORMERR; class other than IN: REFUSED;
 *   - TSIG failures: NOTAUTH with the TSIG error (RFC 8945 §5.2);
 *   - qtype other than SOA, AXFR, IXFR: REFUSED (the primary is hidden);
 *   - SOA: answered with or without TSIG (it tells only the serial);
 *   - AXFR/IXFR: only with a key the zone allows (else REFUSED, logged);
 *     unknown zone: NOTAUTH; IXFR without an SOA in authority: FORMERR.
 */
#include "primary/xfrout.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/serial.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "net/addr.h"
#include "primary/pop_gate.h"
#include "primary/propagation.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/log.h"

#define REFUSE_SLOTS 256

struct xfrout {
	struct xfrout_conf conf;
	/* refusal log rate limit (refuse_log_due) */
	pthread_mutex_t refuse_lock;
	struct { uint64_t hash; int64_t ms; } refuse_seen[REFUSE_SLOTS];
};

enum txn_kind { K_ERROR, K_SOA, K_AXFR, K_IXFR, K_UPDATE };

struct seg {
	const uint8_t *p;
	size_t len;
	bool stream;                /* refilled from d.more into txn.chunk */
};

/* Bytes of records pulled from a streaming source at a time. */
#define XFROUT_CHUNK (64u << 10)

struct xfrout_txn {
	struct xfrout *x;
	uint8_t *q;                 /* copy of the request; m points into it */
	size_t qlen;
	struct dns_msg m;
	bool parsed;
	struct sockaddr_storage peer;
	char peer_text[ADDR_TEXT_MAX];
	char ip_text[ADDR_TEXT_MAX];
	const char *transport;
	char zone[DNS_NAME_TEXT_MAX];
	char keyname[DNS_NAME_TEXT_MAX];
	bool tsig_on;               /* sign responses (verified request or TSIG error) */
	bool verified;              /* the request's TSIG verified */
	struct dns_tsig_key key;
	struct dns_tsig_ctx tsig;

	enum txn_kind kind;
	unsigned rcode;             /* K_ERROR */
	struct xfrout_data d;
	struct seg seg[4];
	struct xfrout_buf chunk;    /* the streamed records being sent */
	size_t nstreamed;           /* records pulled from d.more so far */
	unsigned nseg, cur;
	size_t pos;
	bool done;
	bool full;                  /* IXFR answered with the whole zone */
	bool uptodate;              /* IXFR answered with the SOA only */
	bool nodata;                /* SOA asked below a zone's apex: its SOA in authority */
	uint32_t from;              /* IXFR: client's serial */
	const char *why_full;
	unsigned nmsg;
	size_t bytes;
	int64_t start_ms;
	bool failed;
	struct dns_msgw w;
};

/* ---- buffers ------------------------------------------------------------ */

static int
buf_grow(struct xfrout_buf *b, size_t more)
{
	if (b->cap == 0 && b->data != NULL)
		return -EINVAL;   /* borrowed: read-only */
	if (b->cap - b->len >= more)
		return 0;
	size_t cap = b->cap != 0 ? b->cap : 4096;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	uint8_t *p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
xfrout_buf_raw(struct xfrout_buf *b, const void *p, size_t len, size_t nrrs)
{
	if (buf_grow(b, len) != 0)
		return -ENOMEM;
	if (len > 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->nrrs += nrrs;
	return 0;
}

int
xfrout_buf_rr(struct xfrout_buf *b, const struct dns_rr *rr)
{
	size_t olen = dns_name_len(rr->owner);
	size_t need = olen + 10 + rr->rdlen;
	if (buf_grow(b, need) != 0)
		return -ENOMEM;
	uint8_t *p = b->data + b->len;
	memcpy(p, rr->owner, olen);
	p += olen;
	wr_u16(p, rr->type);
	wr_u16(p + 2, rr->rclass);
	wr_u32(p + 4, rr->ttl);
	wr_u16(p + 8, rr->rdlen);
	if (rr->rdlen > 0)
		memcpy(p + 10, rr->rdata, rr->rdlen);
	b->len += need;
	b->nrrs++;
	return 0;
}

void
xfrout_buf_clear(struct xfrout_buf *b)
{
	if (b->cap != 0)
		free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Reads one wire RR at *pos of p[0..len); 1, 0 at the end, ERR_FORMERR. */
static int
rr_next(const uint8_t *p, size_t len, size_t *pos, struct dns_rr *rr)
{
	if (*pos >= len)
		return 0;
	int n = dns_name_check(p + *pos, len - *pos);
	if (n < 0)
		return ERR_FORMERR;
	struct wire w;
	wire_init(&w, p + *pos + n, len - *pos - (size_t)n);
	rr->owner = p + *pos;
	rr->type = wire_u16(&w);
	rr->rclass = wire_u16(&w);
	rr->ttl = wire_u32(&w);
	rr->rdlen = wire_u16(&w);
	rr->rdata = wire_ptr(&w);
	wire_skip(&w, rr->rdlen);
	if (w.err)
		return ERR_FORMERR;
	*pos += (size_t)n + w.pos;
	return 1;
}

/* ---- server ------------------------------------------------------------- */

struct xfrout *
xfrout_new(const struct xfrout_conf *conf)
{
	struct xfrout *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->conf = *conf;
	pthread_mutex_init(&x->refuse_lock, NULL);
	return x;
}

void
xfrout_free(struct xfrout *x)
{
	if (x == NULL)
		return;
	pthread_mutex_destroy(&x->refuse_lock);
	free(x);
}

static uint64_t
now_s(const struct xfrout *x)
{
	return x->conf.now != NULL ? x->conf.now() : (uint64_t)time(NULL);
}

static const char *
kind_name(const struct xfrout_txn *t)
{
	switch (t->kind) {
	case K_AXFR: return "AXFR";
	case K_IXFR: return "IXFR";
	case K_SOA: return "SOA";
	case K_UPDATE: return "UPDATE";
	default: break;
	}
	return "query";
}

static const char *
qtype_text(uint16_t qtype, char *buf, size_t cap)
{
	dns_rrtype_to_text(qtype, buf, cap);
	return buf;
}

/* Refusal or failure before any data is sent: one error message. */
static void
set_error(struct xfrout_txn *t, unsigned rcode)
{
	t->rcode = rcode;
	t->nseg = 0;
	t->failed = true;
}

/*
 * Refusal lines are rate-limited to one per (remote address, zone, kind,
 * reason) per minute (STYLE §6), so a client hammering the port cannot
 * flood the log; repeats go to debug.  A small hash table of last times,
 * collisions only ever let a line through early.
 */
/* FNV-1a continued over `s` (util/hash.h's constants), to chain fields. */
static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * HASH_FNV_PRIME;
	return h;
}

static bool
refuse_log_due(const struct xfrout_txn *t, const char *why)
{
	uint64_t h = fnv(fnv(fnv(fnv(HASH_FNV_OFFSET, t->ip_text), t->zone), kind_name(t)),
	                 why);
	int64_t now = propagation_now_ms();
	struct xfrout *x = t->x;
	pthread_mutex_lock(&x->refuse_lock);
	unsigned slot = (unsigned)(h % REFUSE_SLOTS);
	bool due = x->refuse_seen[slot].hash != h || now - x->refuse_seen[slot].ms >= 60000;
	if (due) {
		x->refuse_seen[slot].hash = h;
		x->refuse_seen[slot].ms = now;
	}
	pthread_mutex_unlock(&x->refuse_lock);
	return due;
}

static void
refuse(struct xfrout_txn *t, unsigned rcode, const char *why)
{
	log_msg(refuse_log_due(t, why) ? LOG_WARNING : LOG_DEBUG,
	        t->zone[0] != '\0' ? t->zone : NULL, "zone transfer, refused %s from %s, %s",
	        kind_name(t), t->peer_text, why);
	set_error(t, rcode);
}

/* Verifies the request's TSIG.  Returns 0 to go on, 1 when the answer is set. */
static int
check_tsig(struct xfrout_txn *t)
{
	struct xfrout *x = t->x;
	dns_tsig_ctx_init(&t->tsig, NULL);
	if (!t->m.has_tsig)
		return 0;
	dns_name_to_text(t->m.tsig.key, t->keyname, sizeof(t->keyname));
	size_t nkeys = 0;
	int ret = x->conf.src.key(x->conf.src.ctx, t->m.tsig.key, &t->key);
	if (ret == 0)
		nkeys = 1;
	else if (ret != -ENOENT) {
		log_error(t->zone[0] != '\0' ? t->zone : NULL, "%s from %s, TSIG key '%s' not read (%s)",
		          kind_name(t), t->peer_text, t->keyname, err_str(ret));
		set_error(t, DNS_RCODE_SERVFAIL);
		return 1;
	}
	ret = dns_tsig_verify_request(&t->tsig, &t->m, nkeys != 0 ? &t->key : NULL, nkeys,
	                              now_s(x));
	if (ret == 0) {
		t->tsig_on = true;
		t->verified = true;
		return 0;
	}
	if (ret == 1)
		return 0;
	char why[DNS_NAME_TEXT_MAX + 64];
	switch (ret) {
	case ERR_TSIG_BADKEY:
		snprintf(why, sizeof(why), "TSIG key '%s' unknown (BADKEY)", t->keyname);
		break;
	case ERR_TSIG_BADSIG:
		snprintf(why, sizeof(why), "TSIG key '%s', signature does not verify (BADSIG)",
		         t->keyname);
		break;
	case ERR_TSIG_BADTIME:
		snprintf(why, sizeof(why), "TSIG key '%s', time outside the fudge (BADTIME)",
		         t->keyname);
		break;
	default:
		snprintf(why, sizeof(why), "malformed TSIG");
		refuse(t, DNS_RCODE_FORMERR, why);
		return 1;
	}
	t->tsig_on = true;   /* the error TSIG (unsigned, or signed for BADTIME) */
	refuse(t, DNS_RCODE_NOTAUTH, why);
	return 1;
}

/* The client's serial from the SOA in the authority section of an IXFR. */
static int
ixfr_serial(struct xfrout_txn *t, uint32_t *serial)
{
	if (t->m.count[DNS_SEC_NS] < 1)
		return -ENOENT;
	struct dns_msg_iter it;
	struct dns_rr rr;
	uint8_t owner[DNS_NAME_MAX];
	uint8_t rd[DNS_RDATA_MAX];
	dns_msg_iter_init(&it, &t->m, DNS_SEC_NS);
	if (dns_msg_iter_next(&it, &rr, owner, rd, sizeof(rd)) != 1)
		return -EINVAL;
	if (rr.type != DNS_T_SOA || !dns_name_equal(rr.owner, t->m.qname))
		return -ENOENT;
	/* SOA rdata: mname, rname, then serial. */
	int n1 = dns_name_check(rr.rdata, rr.rdlen);
	if (n1 < 0)
		return -EINVAL;
	int n2 = dns_name_check(rr.rdata + n1, rr.rdlen - (size_t)n1);
	if (n2 < 0 || (size_t)(n1 + n2) + 20 > rr.rdlen)
		return -EINVAL;
	*serial = rd_u32(rr.rdata + n1 + n2);
	return 0;
}

static void
setup_segments(struct xfrout_txn *t, const struct xfrout_buf *body)
{
	t->seg[0] = (struct seg){t->d.soa.data, t->d.soa.len, false};
	t->nseg = 1;
	if (body != NULL) {
		t->seg[t->nseg++] = (struct seg){body->data, body->len, false};
		if (body == &t->d.rrs && t->d.more != NULL)
			t->seg[t->nseg++] = (struct seg){NULL, 0, true};
		t->seg[t->nseg++] = (struct seg){t->d.soa.data, t->d.soa.len, false};
	}
}

static void
load_fail(struct xfrout_txn *t, int ret)
{
	if (ret == -ENOENT) {
		if (t->kind == K_SOA)
			refuse(t, DNS_RCODE_REFUSED, "zone not served");
		else
			refuse(t, DNS_RCODE_NOTAUTH, "zone not served");
	} else {
		log_error(t->zone, "zone transfer, %s to %s failed, %s", kind_name(t), t->peer_text,
		          err_str(ret));
		set_error(t, DNS_RCODE_SERVFAIL);
	}
}

/* An SOA query: the zone's SOA, or for a name below one of our zones NOERROR
 * without an answer and that zone's SOA in authority (lego and certbot walk
 * up to the apex). */
static void
plan_soa(struct xfrout_txn *t)
{
	struct xfrout *x = t->x;
	const struct xfrout_source *src = &x->conf.src;
	const uint8_t *qname = t->m.qname;
	int ret = src->load(src->ctx, qname, XFROUT_LOAD_SOA, 0, &t->d);
	for (const uint8_t *up = qname; ret == -ENOENT && up[0] != 0;) {
		up = dns_name_parent(up);
		ret = src->load(src->ctx, up, XFROUT_LOAD_SOA, 0, &t->d);
		t->nodata = ret == 0;
	}
	if (ret != 0) {
		load_fail(t, ret);
		return;
	}
	setup_segments(t, NULL);
	if (x->conf.prop != NULL && !t->nodata)
		propagation_seen(x->conf.prop, t->zone, t->ip_text, t->transport,
		                 t->keyname[0] != '\0' ? t->keyname : NULL, PROP_SOA_ASKED,
		                 t->d.serial, propagation_now_ms());
}

/* An UPDATE: signed by a known key, then handed to conf.update for its rcode. */
static void
plan_update_run(struct xfrout_txn *t)
{
	if (check_tsig(t) != 0)
		return;
	if (!t->verified) {
		refuse(t, DNS_RCODE_REFUSED, "not TSIG-signed");
		return;
	}
	if (t->m.qclass != DNS_C_IN || t->m.qtype != DNS_T_SOA) {
		refuse(t, DNS_RCODE_FORMERR, "zone section not of type SOA, class IN");
		return;
	}
	const struct xfrout_update *u = &t->x->conf.update;
	t->rcode = u->run(u->ctx, &t->m, t->key.name, t->peer_text);
	t->nseg = 0;
}

static void
plan_update(struct xfrout_txn *t)
{
	t->kind = K_UPDATE;
	plan_update_run(t);
	const struct xfrout_update *u = &t->x->conf.update;
	if (u->count != NULL)
		u->count(u->ctx, t->rcode);
}

/* AXFR and IXFR: the key, the zone's ACL, ALLOW-AXFR-FROM and the POP gate;
 * false when refused (answered). */
static bool
acl_allows(struct xfrout_txn *t)
{
	const struct xfrout_source *src = &t->x->conf.src;
	const struct dns_msg *m = &t->m;
	int ret;
	if (!t->tsig_on) {
		refuse(t, DNS_RCODE_REFUSED, "no TSIG key");
		return false;
	}
	const struct sockaddr *peer = (const struct sockaddr *)&t->peer;
	if (src->access != NULL) {
		ret = src->access(src->ctx, m->qname, t->key.name, peer);
	} else {
		ret = src->allowed(src->ctx, m->qname, t->key.name);
		if (ret == 1 && src->from_allowed != NULL) {
			ret = src->from_allowed(src->ctx, m->qname, t->key.name, peer);
			if (ret == 0)
				ret = XFROUT_FROM_REFUSED;
		}
	}
	if (ret < 0) {
		load_fail(t, ret);
		return false;
	}
	if (ret == 0) {
		char why[DNS_NAME_TEXT_MAX + 64];
		snprintf(why, sizeof(why), "TSIG key '%s' not allowed for this zone", t->keyname);
		refuse(t, DNS_RCODE_REFUSED, why);
		return false;
	}
	if (ret == XFROUT_FROM_REFUSED) {
		refuse(t, DNS_RCODE_REFUSED, "address not in the zone's ALLOW-AXFR-FROM");
		return false;
	}
	/* Mesh: a POP's key only from that POP's mesh address (mesh.h). */
	char mwhy[DNS_NAME_TEXT_MAX * 2 + 96];
	if (!pop_gate_xfr_check(t->x->conf.gate, t->ip_text, t->keyname, mwhy, sizeof(mwhy))) {
		refuse(t, DNS_RCODE_REFUSED, mwhy);
		return false;
	}
	return true;
}

static void
plan(struct xfrout_txn *t)
{
	struct xfrout *x = t->x;
	const struct xfrout_source *src = &x->conf.src;
	struct dns_msg *m = &t->m;
	char tbuf[DNS_RRTYPE_TEXT_MAX];

	if (m->flags & DNS_F_QR) {
		t->done = true;   /* never answer a response */
		return;
	}
	bool update = dns_msg_opcode(m) == DNS_OP_UPDATE && x->conf.update.run != NULL;
	if (dns_msg_opcode(m) != DNS_OP_QUERY && !update) {
		set_error(t, DNS_RCODE_NOTIMP);
		return;
	}
	if (m->count[DNS_SEC_QD] != 1) {
		snprintf(tbuf, sizeof(tbuf), "%u", m->count[DNS_SEC_QD]);
		char why[64];
		snprintf(why, sizeof(why), "malformed query, QDCOUNT %s", tbuf);
		refuse(t, DNS_RCODE_FORMERR, why);
		return;
	}
	dns_name_to_text(m->qname, t->zone, sizeof(t->zone));
	if (update) {
		plan_update(t);
		return;
	}
	if (m->qtype == DNS_T_AXFR)
		t->kind = K_AXFR;
	else if (m->qtype == DNS_T_IXFR)
		t->kind = K_IXFR;
	else if (m->qtype == DNS_T_SOA)
		t->kind = K_SOA;
	if (check_tsig(t) != 0)
		return;
	if (m->qclass != DNS_C_IN) {
		refuse(t, DNS_RCODE_REFUSED, "class not IN");
		return;
	}
	if (t->kind == K_ERROR) {
		/* A plain query to a hidden primary: refused, logged at debug only. */
		log_debug(t->zone, "query %s from %s refused, only SOA, AXFR and IXFR are served",
		          qtype_text(m->qtype, tbuf, sizeof(tbuf)), t->peer_text);
		set_error(t, DNS_RCODE_REFUSED);
		return;
	}
	int ret;
	if (t->kind == K_SOA) {
		plan_soa(t);
		return;
	}
	if (!acl_allows(t))
		return;
	if (t->kind == K_AXFR) {
		ret = src->load(src->ctx, m->qname, XFROUT_LOAD_ZONE, 0, &t->d);
		if (ret != 0) {
			load_fail(t, ret);
			return;
		}
		log_debug(t->zone, "zone transfer, AXFR to %s, %zu records read in %lld ms%s",
		          t->peer_text, t->d.rrs.nrrs + 1,
		          (long long)(propagation_now_ms() - t->start_ms),
		          t->d.more != NULL ? ", the rest streamed" : "");
		setup_segments(t, &t->d.rrs);
		return;
	}
	ret = ixfr_serial(t, &t->from);
	if (ret != 0) {
		refuse(t, DNS_RCODE_FORMERR, "malformed IXFR, no SOA in the authority section");
		return;
	}
	ret = src->load(src->ctx, m->qname, XFROUT_LOAD_DIFF, t->from, &t->d);
	if (ret != 0) {
		load_fail(t, ret);
		return;
	}
	if (x->conf.prop != NULL)
		propagation_seen(x->conf.prop, t->zone, t->ip_text, t->transport, t->keyname,
		                 PROP_IXFR_ASKED, t->from, propagation_now_ms());
	if (dns_serial_cmp(t->from, t->d.serial) >= 0 && dns_serial_cmp(t->from, t->d.serial) != 2) {
		/* Current (or ahead of us): the SOA alone (RFC 1995 §2). */
		t->uptodate = true;
		setup_segments(t, NULL);
	} else if (t->d.journal_gap || t->d.diff_larger || t->d.ndiffs == 0) {
		t->full = true;
		t->why_full = t->d.journal_gap ? "journal does not reach back" : "diff larger than zone";
		setup_segments(t, &t->d.rrs);
	} else {
		setup_segments(t, &t->d.diff);
	}
}

int
xfrout_begin(struct xfrout *x, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
             const char *transport, struct xfrout_txn **out)
{
	if (qlen < DNS_HDR_LEN)
		return -EINVAL;
	struct xfrout_txn *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->q = malloc(qlen);
	if (t->q == NULL) {
		free(t);
		return -ENOMEM;
	}
	memcpy(t->q, q, qlen);
	t->qlen = qlen;
	t->x = x;
	t->transport = transport;
	t->start_ms = propagation_now_ms();
	memcpy(&t->peer, peer, addr_len(peer));
	addr_fmt(peer, t->peer_text, sizeof(t->peer_text));
	addr_fmt_ip(peer, t->ip_text, sizeof(t->ip_text));
	dns_tsig_ctx_init(&t->tsig, NULL);

	int ret = dns_msg_parse(&t->m, t->q, qlen);
	if (ret != 0) {
		if (t->m.flags & DNS_F_QR) {
			xfrout_end(t);
			return -EINVAL;
		}
		log_debug(NULL, "xfr, malformed request from %s, %s", t->peer_text, err_str(ret));
		set_error(t, DNS_RCODE_FORMERR);
	} else {
		t->parsed = true;
		plan(t);
		if (t->done) {
			xfrout_end(t);
			return -EINVAL;
		}
	}
	*out = t;
	return 0;
}

/* A FORMERR for a request that did not parse: header only, id echoed. */
static ssize_t
unparsed_error(struct xfrout_txn *t, uint8_t *buf, size_t cap)
{
	if (cap < DNS_HDR_LEN)
		return -EMSGSIZE;
	memset(buf, 0, DNS_HDR_LEN);
	memcpy(buf, t->q, 2);
	uint16_t qflags = rd_u16(t->q + 2);
	uint16_t flags = DNS_F_QR | (qflags & (DNS_F_OPCODE_MASK | DNS_F_RD)) | (uint16_t)t->rcode;
	wr_u16(buf + 2, flags);
	return DNS_HDR_LEN;
}

static ssize_t
finish_msg(struct xfrout_txn *t, uint8_t *buf, size_t cap)
{
	ssize_t len = (ssize_t)t->w.len;
	if (t->tsig_on) {
		len = dns_tsig_sign(&t->tsig, buf, (size_t)len, cap, now_s(t->x));
		if (len < 0)
			return len;
	}
	t->nmsg++;
	t->bytes += (size_t)len;
	return len;
}

/* Starts the next message of t's answer in buf, `size` bytes. */
static int
start_msg(struct xfrout_txn *t, uint8_t *buf, size_t size)
{
	unsigned rcode = t->nseg == 0 ? t->rcode : DNS_RCODE_NOERROR;
	/* AA on data answers; errors carry only the rcode. */
	int ret = dns_msgw_init_response(&t->w, buf, size, &t->m, t->nseg != 0 ? DNS_F_AA : 0,
	                                 rcode);
	if (ret == 0 && t->tsig_on && t->nseg != 0)
		ret = dns_msgw_reserve(&t->w, dns_tsig_reserve(&t->key));
	return ret;
}

/* The next records of a streamed segment into t->chunk: 1, 0 at the end, <0. */
static int
refill(struct xfrout_txn *t, struct seg *s)
{
	t->chunk.len = 0;
	t->chunk.nrrs = 0;
	int ret = t->d.more(t->d.stream, &t->chunk, XFROUT_CHUNK);
	if (ret < 0)
		return ret;
	s->p = t->chunk.data;
	s->len = t->chunk.len;
	t->pos = 0;
	t->nstreamed += t->chunk.nrrs;
	return ret == 1 && t->chunk.len > 0 ? 1 : 0;
}

ssize_t
xfrout_next(struct xfrout_txn *t, uint8_t *buf, size_t cap)
{
	if (t->done)
		return 0;
	if (cap > XFROUT_MSG_MAX)
		cap = XFROUT_MSG_MAX;
	if (!t->parsed) {
		t->done = true;
		t->nmsg++;
		return unparsed_error(t, buf, cap);
	}
	/* Messages are filled to `fill` bytes: compression pointers reach only
	 * the first 16 KiB of a message, and clients parse small messages
	 * faster (Knot sends about 16 KiB too).  An RR too big for that gets a
	 * message of up to `cap` bytes of its own. */
	size_t fill = t->x->conf.msg_size != 0 ? t->x->conf.msg_size : XFROUT_MSG_DEFAULT;
	if (fill > cap)
		fill = cap;
	int ret = start_msg(t, buf, fill);
	if (ret != 0)
		return ret;
	unsigned added = 0;
	bool alone = false;
	while (t->cur < t->nseg) {
		struct seg *s = &t->seg[t->cur];
		if (t->pos >= s->len && s->stream) {
			ret = refill(t, s);
			if (ret < 0) {
				log_error(t->zone, "zone transfer, %s to %s, reading the zone failed, %s",
				          kind_name(t), t->peer_text, err_str(ret));
				t->failed = true;
				return ERR_XFR;
			}
			if (ret == 1)
				continue;
		}
		if (t->pos >= s->len) {
			t->cur++;
			t->pos = 0;
			continue;
		}
		struct dns_rr rr;
		size_t pos = t->pos;
		ret = rr_next(s->p, s->len, &pos, &rr);
		if (ret != 1) {
			log_error(t->zone, "zone transfer, %s to %s, stored record malformed",
			          kind_name(t), t->peer_text);
			t->failed = true;
			return ERR_XFR;
		}
		ret = dns_msgw_rr(&t->w, t->nodata ? DNS_SEC_NS : DNS_SEC_AN, &rr);
		if (ret == -EMSGSIZE && added > 0)
			break;
		if (ret == -EMSGSIZE && fill < cap) {
			/* A big RR alone in a bigger message. */
			fill = cap;
			alone = true;
			ret = start_msg(t, buf, cap);
			if (ret == 0)
				ret = dns_msgw_rr(&t->w, DNS_SEC_AN, &rr);
		}
		if (ret != 0) {
			t->failed = true;
			return ret;
		}
		t->pos = pos;
		added++;
		if (alone)
			break;   /* the big RR goes alone */
	}
	if (t->cur >= t->nseg)
		t->done = true;
	return finish_msg(t, buf, cap);
}

static void
log_done(struct xfrout_txn *t)
{
	int64_t ms = propagation_now_ms() - t->start_ms;
	struct xfrout *x = t->x;
	if (t->failed || (t->kind != K_AXFR && t->kind != K_IXFR))
		return;
	/* The transport, as the secondary says "incoming IXFR over QUIC from". */
	const char *via = t->transport != NULL ? t->transport : "TCP";
	if (!t->done) {
		log_warning(t->zone, "zone transfer, outgoing %s over %s to %s, serial %u, failed "
		            "after %u messages, %lld ms (connection closed)", kind_name(t), via,
		            t->peer_text, t->d.serial, t->nmsg, (long long)ms);
		return;
	}
	/* Knot's words: "zone transfer, outgoing IXFR to ADDR, serial 5 -> 7,
	 * 3 messages, 2 ms" with "over QUIC|TCP" before "to", details after that. */
	if (t->kind == K_AXFR) {
		log_info(t->zone, "zone transfer, outgoing AXFR over %s to %s, serial %u, "
		         "%u messages, %lld ms, %zu bytes", via, t->peer_text, t->d.serial, t->nmsg,
		         (long long)ms, t->bytes);
	} else if (t->uptodate) {
		log_info(t->zone, "zone transfer, outgoing IXFR over %s to %s, serial %u, up to date",
		         via, t->peer_text, t->from);
	} else if (t->full) {
		log_info(t->zone, "zone transfer, outgoing IXFR over %s to %s, serial %u -> %u, "
		         "%u messages, %lld ms, %zu bytes, full zone (%s)", via, t->peer_text,
		         t->from, t->d.serial, t->nmsg, (long long)ms, t->bytes, t->why_full);
	} else {
		log_info(t->zone, "zone transfer, outgoing IXFR over %s to %s, serial %u -> %u, "
		         "%u messages, %lld ms, %zu bytes", via, t->peer_text, t->from, t->d.serial,
		         t->nmsg, (long long)ms, t->bytes);
	}
	if (x->conf.prop != NULL && !t->uptodate)
		propagation_seen(x->conf.prop, t->zone, t->ip_text, t->transport, t->keyname,
		                 t->kind == K_IXFR && !t->full ? PROP_IXFR_DONE : PROP_FULL_DONE,
		                 t->d.serial, propagation_now_ms());
}

bool
xfrout_verified(const struct xfrout_txn *t)
{
	return t->verified;
}

void
xfrout_undelivered(struct xfrout_txn *t)
{
	if (t != NULL)
		t->done = false;
}

void
xfrout_end(struct xfrout_txn *t)
{
	if (t == NULL)
		return;
	log_done(t);
	dns_tsig_ctx_clear(&t->tsig);
	xfrout_buf_clear(&t->d.soa);
	xfrout_buf_clear(&t->d.rrs);
	xfrout_buf_clear(&t->d.diff);
	xfrout_buf_clear(&t->chunk);
	if (t->d.more_end != NULL)
		t->d.more_end(t->d.stream);
	if (t->d.release != NULL)
		t->d.release(t->d.ref);
	free(t->q);
	free(t);
}

int
xfrout_serve(struct xfrout *x, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
             const char *transport, xfrout_send_fn send, void *ctx)
{
	struct xfrout_txn *t;
	int ret = xfrout_begin(x, q, qlen, peer, transport, &t);
	if (ret != 0)
		return ret;
	uint8_t *buf = malloc(XFROUT_MSG_MAX);
	if (buf == NULL) {
		xfrout_end(t);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = xfrout_next(t, buf, XFROUT_MSG_MAX);
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		ret = send(ctx, buf, (size_t)n);
		if (ret != 0)
			break;
	}
	free(buf);
	xfrout_end(t);
	return ret;
}
