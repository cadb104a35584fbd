/*
 * Transfer client (RFC 1995, RFC 5936, RFC 7766, RFC 8945 §5.3.1).
 *
 * One refresh is one connection: SOA query, then IXFR or AXFR when the
 * remote serial is newer.  Answer records run through a small state machine
 * that recognises the three IXFR answer shapes (single SOA, difference
 * sequences, full zone) and the AXFR shape, and checks the SOA chain as it
 * goes; the result is handed back only when the closing SOA arrived, every
 * message verified, and the serial moved forward.  Nothing here knows the
 * zone database.
 */
#include "secondary/xfrin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns/msg.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/soa.h"
#include "dns/serial.h"
#include "dns/wire.h"
#include "net/doq.h"
#include "net/tcp.h"
#include "util/err.h"

/* ---- TCP transport ---- */

static int
tcp_open(struct xfr_conn *c, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	int fd = tcp_connect(sa, len, deadline, c->cancel_fd);
	if (fd < 0)
		return fd;
	c->fd = fd;
	return 0;
}

static int
tcp_send(struct xfr_conn *c, const uint8_t *msg, size_t len, int64_t deadline)
{
	return tcp_send_msg(c->fd, msg, len, deadline, c->cancel_fd);
}

static ssize_t
tcp_recv(struct xfr_conn *c, uint8_t *buf, size_t cap, int64_t deadline)
{
	return tcp_recv_msg(c->fd, buf, cap, deadline, c->cancel_fd);
}

static void
tcp_close(struct xfr_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

const struct xfr_transport xfr_transport_tcp = {
	.name = "TCP",
	.open = tcp_open,
	.send = tcp_send,
	.recv = tcp_recv,
	.close = tcp_close,
};

/* ---- results ---- */

void
xfr_result_init(struct xfr_result *r)
{
	memset(r, 0, sizeof(*r));
	arena_init(&r->arena, 16 << 10);   /* grows geometrically */
}

void
xfr_result_clear(struct xfr_result *r)
{
	arena_clear(&r->arena);
	memset(r, 0, sizeof(*r));
}

/* ---- the record state machine ---- */

enum phase {
	PH_FIRST,       /* expecting the opening SOA */
	PH_SECOND,      /* opening SOA seen; the next RR decides the shape */
	PH_AXFR,        /* full zone body */
	PH_DEL,         /* IXFR: records removed in the current difference */
	PH_ADD,         /* IXFR: records added in the current difference */
	PH_DONE,
};

struct xstate {
	const struct xfr_params *p;
	struct xfr_result *r;
	enum phase ph;
	bool ixfr;              /* we asked IXFR */
	uint32_t new_serial;    /* from the opening SOA */
	struct xfr_rr *first_soa;
	struct xfr_diff *cur, *last;
	size_t nrr;
	char *why;
	size_t whycap;
};

static int
fail(struct xstate *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(struct xstate *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why, s->whycap, fmt, ap);
	va_end(ap);
	return code;
}

static struct xfr_rr *
copy_rr(struct xfr_result *r, const struct dns_rr *rr)
{
	size_t ol = dns_name_len(rr->owner);
	struct xfr_rr *x = arena_alloc(&r->arena, sizeof(*x) + ol + rr->rdlen);
	if (x == NULL)
		return NULL;
	uint8_t *p = (uint8_t *)(x + 1);
	memcpy(p, rr->owner, ol);
	if (rr->rdlen > 0)
		memcpy(p + ol, rr->rdata, rr->rdlen);
	x->next = NULL;
	x->rr = *rr;
	x->rr.owner = p;
	x->rr.rdata = p + ol;
	return x;
}

static void
list_add(struct xfr_rrlist *l, struct xfr_rr *x)
{
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	l->count++;
}

static uint32_t
soa_serial(const struct dns_rr *rr)
{
	struct dns_soa soa = {0};
	dns_soa_parse(rr->rdata, rr->rdlen, &soa);
	return soa.serial;
}

static int
start_diff(struct xstate *s, struct xfr_rr *soa_from)
{
	struct xfr_diff *d = arena_alloc(&s->r->arena, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->soa_from = soa_from;
	d->from = soa_serial(&soa_from->rr);
	if (s->last != NULL)
		s->last->next = d;
	else
		s->r->diffs = d;
	s->last = d;
	s->cur = d;
	s->r->ndiffs++;
	s->ph = PH_DEL;
	return 0;
}

/* Feeds one answer RR.  Returns 0 or an error with s->why set. */
static int
feed(struct xstate *s, const struct dns_rr *rr)
{
	const uint8_t *zone = s->p->zone;
	bool is_soa = rr->type == DNS_T_SOA;
	s->nrr++;
	if (rr->rclass != DNS_C_IN)
		return fail(s, ERR_XFR, "record %zu has class %u, not IN", s->nrr, rr->rclass);
	if (!dns_name_is_sub(rr->owner, zone)) {
		char t[DNS_NAME_TEXT_MAX];
		dns_name_to_text(rr->owner, t, sizeof(t));
		return fail(s, ERR_XFR, "record %zu owner %s is outside the zone", s->nrr, t);
	}
	if (is_soa) {
		if (!dns_name_equal(rr->owner, zone))
			return fail(s, ERR_XFR, "SOA record %zu is not at the zone apex", s->nrr);
		struct dns_soa soa;
		if (dns_soa_parse(rr->rdata, rr->rdlen, &soa) != 0)
			return fail(s, ERR_XFR, "SOA record %zu is malformed", s->nrr);
	} else if (dns_rrtype_is_meta(rr->type)) {
		return fail(s, ERR_XFR, "record %zu has meta type %u", s->nrr, rr->type);
	}
	struct xfr_rr *x = copy_rr(s->r, rr);
	if (x == NULL)
		return fail(s, -ENOMEM, "out of memory");
	uint32_t serial = is_soa ? soa_serial(rr) : 0;

	switch (s->ph) {
	case PH_FIRST:
		if (!is_soa)
			return fail(s, ERR_XFR, "first record is not the zone's SOA");
		s->first_soa = x;
		s->new_serial = serial;
		s->ph = PH_SECOND;
		return 0;
	case PH_SECOND:
		if (s->ixfr && is_soa && serial == s->p->serial && s->new_serial != s->p->serial) {
			s->r->kind = XFR_IXFR;
			return start_diff(s, x);
		}
		s->r->kind = XFR_AXFR;
		list_add(&s->r->full, s->first_soa);
		s->ph = PH_AXFR;
		/* this RR is the first of the AXFR body */
		__attribute__((fallthrough));
	case PH_AXFR:
		if (is_soa) {
			if (serial != s->new_serial)
				return fail(s, ERR_XFR, "closing SOA serial %u differs from opening %u",
				            serial, s->new_serial);
			s->ph = PH_DONE;
			return 0;
		}
		list_add(&s->r->full, x);
		return 0;
	case PH_DEL:
		if (!is_soa) {
			list_add(&s->cur->del, x);
			return 0;
		}
		s->cur->soa_to = x;
		s->cur->to = serial;
		if (!dns_serial_gt(serial, s->cur->from))
			return fail(s, ERR_SERIAL_BACKWARDS, "serial %u -> %u moves backwards (RFC 1982)",
			            s->cur->from, serial);
		s->ph = PH_ADD;
		return 0;
	case PH_ADD:
		if (!is_soa) {
			list_add(&s->cur->add, x);
			return 0;
		}
		if (serial == s->new_serial && s->cur->to == s->new_serial) {
			s->ph = PH_DONE;
			return 0;
		}
		if (serial != s->cur->to)
			return fail(s, ERR_XFR, "difference starts at serial %u, expected %u", serial,
			            s->cur->to);
		return start_diff(s, x);
	case PH_DONE:
		return fail(s, ERR_XFR, "records after the closing SOA");
	}
	return fail(s, ERR_XFR, "internal state");
}

/* ---- messages ---- */

struct session {
	const struct xfr_params *p;
	struct xfr_conn conn;
	uint8_t *buf;           /* TCP_MSG_MAX */
	uint8_t *rdbuf;         /* DNS_RDATA_MAX */
	uint8_t owner[DNS_NAME_MAX];
	int64_t deadline;
	char *why;
	size_t whycap;
};

static int
sfail(struct session *ss, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
sfail(struct session *ss, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ss->why, ss->whycap, fmt, ap);
	va_end(ap);
	return code;
}

static uint16_t
random_id(void)
{
	uint16_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(time(NULL) ^ getpid());
	return id;
}

/* Builds the query (SOA, AXFR, or IXFR with our SOA in authority) into ss->buf. */
static ssize_t
build_query(struct session *ss, uint16_t id, uint16_t qtype)
{
	const struct xfr_params *p = ss->p;
	if (qtype != DNS_T_IXFR)
		return dns_msg_make_query(ss->buf, TCP_MSG_MAX, id, p->zone, qtype, DNS_C_IN, 0, NULL);
	/* RFC 1995 §3: the authority section carries the SOA of our version. */
	struct dns_msgw *wp = malloc(sizeof(*wp));   /* ~64 KiB: not on the stack */
	if (wp == NULL)
		return -ENOMEM;
	uint8_t rd[2 + 20];
	rd[0] = 0;      /* MNAME "." */
	rd[1] = 0;      /* RNAME "." */
	wr_u32(rd + 2, p->serial);
	memset(rd + 6, 0, 16);
	struct dns_rr soa = {.owner = p->zone, .type = DNS_T_SOA, .rclass = DNS_C_IN,
	                     .ttl = 0, .rdlen = sizeof(rd), .rdata = rd};
	ssize_t ret = -EMSGSIZE;
	if (dns_msgw_init(wp, ss->buf, TCP_MSG_MAX) == 0) {
		dns_msgw_set_id(wp, id);
		dns_msgw_set_flags(wp, 0);
		if (dns_msgw_question(wp, p->zone, DNS_T_IXFR, DNS_C_IN) == 0 &&
		    dns_msgw_rr(wp, DNS_SEC_NS, &soa) == 0)
			ret = (ssize_t)wp->len;
	}
	free(wp);
	return ret;
}

static const char *
rcode_name(unsigned rc)
{
	static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
	                                "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
	                                "NOTZONE"};
	return rc < sizeof(n) / sizeof(n[0]) ? n[rc] : "error";
}

/* One request, padded and signed as the transport and key want, sent.  0 or an sfail. */
static int
send_request(struct session *ss, uint16_t qtype, uint16_t id, const char *qn,
             struct dns_tsig_ctx *tctx)
{
	const struct xfr_params *p = ss->p;
	ssize_t qlen = build_query(ss, id, qtype);
	if (qlen < 0)
		return sfail(ss, (int)qlen, "cannot build the %s", qn);
	if (p->transport->pad_block > 0) {
		/* Padding goes in before TSIG, which must stay the last record. */
		long padded = doq_pad(ss->buf, (size_t)qlen, TCP_MSG_MAX, p->transport->pad_block);
		if (padded < 0)
			return sfail(ss, (int)padded, "cannot pad the %s", qn);
		qlen = (ssize_t)padded;
	}
	if (tctx != NULL) {
		qlen = dns_tsig_sign(tctx, ss->buf, (size_t)qlen, TCP_MSG_MAX, (uint64_t)time(NULL));
		if (qlen < 0)
			return sfail(ss, (int)qlen, "cannot sign the %s (%s)", qn, err_str((int)qlen));
	}
	int ret = p->transport->send(&ss->conn, ss->buf, (size_t)qlen, ss->deadline);
	if (ret != 0)
		return sfail(ss, ret, "%s not sent (%s)", qn, strerror(-ret));
	return 0;
}

/* Answer message `m` (`n` bytes in ss->buf) parsed into `msg` and checked: id, TSIG, rcode, question. */
static int
check_answer(struct session *ss, struct dns_msg *msg, ssize_t n, uint16_t id, uint16_t qtype,
             size_t m, const char *qn, struct dns_tsig_ctx *tctx)
{
	const struct xfr_params *p = ss->p;
	int pr = dns_msg_parse(msg, ss->buf, (size_t)n);
	if (pr != 0)
		return sfail(ss, ERR_FORMERR, "%s answer message %zu is malformed (%s)", qn, m,
		             err_str(pr));
	if (msg->id != id || !(msg->flags & DNS_F_QR) || dns_msg_opcode(msg) != DNS_OP_QUERY)
		return sfail(ss, ERR_FORMERR, "%s answer message %zu has a wrong id or opcode", qn, m);
	if (tctx != NULL) {
		int v = dns_tsig_verify(tctx, msg, (uint64_t)time(NULL));
		if (v != 0 && msg->has_tsig && msg->tsig.error != 0) {
			/* The primary did not accept our key: say so plainly. */
			unsigned te = msg->tsig.error;
			return sfail(ss, v, "primary answered the %s with TSIG %s", qn,
			             te == DNS_RCODE_BADKEY ? "BADKEY, key name or algorithm unknown"
			             : te == DNS_RCODE_BADTIME ? "BADTIME, clocks differ"
			             : te == DNS_RCODE_BADSIG ? "BADSIG, wrong secret"
			                                      : "error");
		}
		if (v != 0)
			return sfail(ss, v, "TSIG on %s answer message %zu does not verify (%s)", qn, m,
			             err_str(v));
	}
	unsigned rc = dns_msg_rcode(msg);
	if (rc != DNS_RCODE_NOERROR)
		return sfail(ss, rc == DNS_RCODE_NOTAUTH ? ERR_NOTAUTH : ERR_REFUSED,
		             "primary answered the %s with %s", qn, rcode_name(rc));
	/* The question is echoed in the first message and may be omitted after. */
	if (msg->count[DNS_SEC_QD] > 1 ||
	    (msg->count[DNS_SEC_QD] == 1 &&
	     (!dns_name_equal(msg->qname, p->zone) || msg->qtype != qtype)) ||
	    (m == 1 && msg->count[DNS_SEC_QD] != 1))
		return sfail(ss, ERR_FORMERR, "%s answer message %zu has a wrong question", qn, m);
	return 0;
}

/*
 * The answer records of `msg`: fed to `st`, or (st NULL) searched for the
 * zone's SOA, whose serial goes to *soa_serial (returns 1 when found).
 */
static int
read_answer(struct session *ss, const struct dns_msg *msg, struct xstate *st,
            uint32_t *soa_serial, size_t m, const char *qn, size_t *in_msg)
{
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, msg, DNS_SEC_AN);
	struct dns_rr rr;
	int got, ret = 0;
	while ((got = dns_msg_iter_next(&it, &rr, ss->owner, ss->rdbuf, DNS_RDATA_MAX)) == 1) {
		(*in_msg)++;
		if (st == NULL) {
			struct dns_soa soa;
			if (rr.type == DNS_T_SOA && dns_name_equal(rr.owner, ss->p->zone) &&
			    dns_soa_parse(rr.rdata, rr.rdlen, &soa) == 0) {
				*soa_serial = soa.serial;
				ret = 1;   /* found */
			}
			continue;
		}
		ret = feed(st, &rr);
		if (ret != 0)
			return ret;
	}
	if (got < 0)
		return sfail(ss, ERR_FORMERR, "%s answer message %zu: bad record (%s)", qn, m,
		             err_str(got));
	return ret;
}

/*
 * Sends one request (signed when a key is set) and feeds every answer
 * message to `st` until it is done; with st NULL (SOA query) reads one
 * message and returns the answer's SOA serial in *soa_serial.
 */
static int
transaction(struct session *ss, uint16_t qtype, struct xstate *st, uint32_t *soa_serial,
            size_t *nmsg, size_t *nbytes)
{
	const struct xfr_params *p = ss->p;
	struct dns_tsig_ctx tctx;
	struct dns_tsig_ctx *tc = p->tsig != NULL ? &tctx : NULL;
	uint16_t id = p->transport->zero_id ? 0 : random_id();
	const char *qn = qtype == DNS_T_SOA ? "SOA query" : qtype == DNS_T_IXFR ? "IXFR" : "AXFR";
	if (tc != NULL)
		dns_tsig_ctx_init(tc, p->tsig);
	int ret = send_request(ss, qtype, id, qn, tc);
	for (size_t m = 1; ret == 0; m++) {
		ssize_t n = p->transport->recv(&ss->conn, ss->buf, TCP_MSG_MAX, ss->deadline);
		if (n < 0) {
			if (n == -ECONNRESET)
				ret = sfail(ss, (int)n, "connection closed during the %s (message %zu)", qn, m);
			else
				ret = sfail(ss, (int)n, "%s failed (%s)", qn,
				            n == -ETIMEDOUT ? "timed out" : strerror((int)-n));
			goto out;
		}
		/* Progress: a large transfer may take long, as long as messages keep coming. */
		int64_t idle = tcp_now_ms() + (p->timeout_ms > 0 ? p->timeout_ms : 30000);
		if (idle > ss->deadline)
			ss->deadline = idle;
		if (nmsg != NULL)
			(*nmsg)++;
		if (nbytes != NULL) {
			*nbytes += (size_t)n;
			if (p->max_bytes > 0 && *nbytes > p->max_bytes) {
				ret = sfail(ss, -EFBIG, "transfer larger than %zu bytes", p->max_bytes);
				goto out;
			}
		}
		struct dns_msg msg;
		ret = check_answer(ss, &msg, n, id, qtype, m, qn, tc);
		if (ret != 0)
			goto out;
		size_t in_msg = 0;
		ret = read_answer(ss, &msg, st, soa_serial, m, qn, &in_msg);
		if (st == NULL) {
			if (ret == 0)
				ret = sfail(ss, ERR_XFR, "SOA answer holds no SOA of the zone");
			if (ret == 1)
				ret = 0;
			goto done;
		}
		if (ret != 0)
			goto out;
		if (m == 1 && !st->r->soa_checked) {
			/* AXFR without a SOA query first: its opening SOA stands for it */
			st->r->soa_checked = true;
			st->r->serial_to = st->new_serial;
		}
		if (st->ph == PH_DONE)
			break;
		/* RFC 1995 §4: an IXFR answer of one SOA only (up to date, or "use AXFR"). */
		if (m == 1 && st->ixfr && st->ph == PH_SECOND && in_msg == 1) {
			st->r->kind = XFR_UPTODATE;
			break;
		}
		if (in_msg == 0) {
			ret = sfail(ss, ERR_XFR, "%s answer message %zu holds no records", qn, m);
			goto out;
		}
	}
done:
	if (ret == 0 && tc != NULL) {
		int v = dns_tsig_verify_done(tc);
		if (v != 0)
			ret = sfail(ss, v, "last %s message is not signed (RFC 8945 §5.3.1)", qn);
	}
out:
	if (tc != NULL)
		dns_tsig_ctx_clear(tc);
	return ret;
}

static int
run_xfr(struct session *ss, struct xfr_result *r, uint16_t qtype)
{
	struct xstate st = {.p = ss->p, .r = r, .ph = PH_FIRST, .ixfr = qtype == DNS_T_IXFR,
	                    .why = ss->why, .whycap = ss->whycap};
	r->asked_ixfr = st.ixfr;
	r->kind = XFR_AXFR;
	if (ss->p->on_start != NULL)
		ss->p->on_start(ss->p->cb_ctx, st.ixfr);
	int ret = transaction(ss, qtype, &st, NULL, &r->messages, &r->bytes);
	if (ret != 0)
		return ret;
	if (r->kind == XFR_UPTODATE) {
		r->serial_to = st.new_serial;
		return 0;
	}
	if (st.ph != PH_DONE)
		return sfail(ss, ERR_XFR, "transfer ended before the closing SOA");
	r->serial_to = st.new_serial;
	return 0;
}

int
xfrin_run(const struct xfr_params *p, struct xfr_result *r, char *why, size_t whycap)
{
	struct session ss = {.p = p, .why = why, .whycap = whycap,
	                     .conn = {.t = p->transport, .fd = -1,
	                              .cancel_fd = p->cancel_fd > 0 ? p->cancel_fd : -1}};
	int timeout = p->timeout_ms > 0 ? p->timeout_ms : 30000;
	ss.deadline = tcp_now_ms() + timeout;
	if (why != NULL && whycap > 0)
		why[0] = '\0';
	r->serial_from = p->serial;
	ss.buf = p->buf != NULL ? p->buf : malloc(TCP_MSG_MAX);
	ss.rdbuf = p->rdbuf != NULL ? p->rdbuf : malloc(DNS_RDATA_MAX);
	int ret;
	if (ss.buf == NULL || ss.rdbuf == NULL) {
		ret = sfail(&ss, -ENOMEM, "out of memory");
		goto out;
	}
	if (p->transport->refused != NULL) {
		ret = sfail(&ss, -EPERM, "%s", p->transport->refused);
		goto out;
	}
	ret = p->transport->open(&ss.conn, p->primary, p->primary_len, ss.deadline);
	if (ret != 0) {
		ret = sfail(&ss, ret, "%s", ret == -ETIMEDOUT ? "connection timed out" :
		                               ret == -ECONNREFUSED ? "connection refused" :
		                               strerror(-ret));
		goto out;
	}
	/* Without a version there is nothing to compare the primary's serial
	 * with: the AXFR at once (one round trip less for each of a catalog's
	 * 100,000 new members). */
	uint32_t remote = 0;
	ret = p->have_serial || p->soa_only ?
	      transaction(&ss, DNS_T_SOA, NULL, &remote, NULL, NULL) : 0;
	if (ret != 0)
		goto out;
	if (p->soa_only) {   /* the probe of several primaries: the serial only */
		r->serial_to = remote;
		r->kind = XFR_UPTODATE;
		goto out;
	}
	if (p->have_serial) {
		r->soa_checked = true;
		r->serial_to = remote;
		int c = dns_serial_cmp(remote, p->serial);
		if (c == 0) {
			r->kind = XFR_UPTODATE;
			goto out;
		}
		if (c < 0 || c == 2) {
			r->remote_older = true;
			r->asked_ixfr = !p->force_axfr;
			ret = sfail(&ss, ERR_SERIAL_BACKWARDS, "serial %u -> %u moves backwards (RFC 1982)",
			            p->serial, remote);
			goto out;
		}
	}
	bool ixfr = p->have_serial && !p->force_axfr;
	ret = run_xfr(&ss, r, ixfr ? DNS_T_IXFR : DNS_T_AXFR);
	if (ret == 0 && ixfr && r->kind == XFR_UPTODATE && r->serial_to != p->serial) {
		/* A single newer SOA: the primary cannot send differences; take the zone. */
		arena_reset(&r->arena);
		memset(&r->full, 0, sizeof(r->full));
		r->diffs = NULL;
		r->ndiffs = 0;
		ret = run_xfr(&ss, r, DNS_T_AXFR);
		r->asked_ixfr = true;
	}
	if (ret != 0)
		goto out;
	if (r->kind != XFR_UPTODATE && p->have_serial && !dns_serial_gt(r->serial_to, p->serial)) {
		ret = sfail(&ss, ERR_SERIAL_BACKWARDS, "serial %u -> %u moves backwards (RFC 1982)",
		            p->serial, r->serial_to);
		goto out;
	}
out:
	if (ss.conn.fd >= 0 || ss.conn.priv != NULL)
		p->transport->close(&ss.conn);
	if (p->buf == NULL)
		free(ss.buf);
	if (p->rdbuf == NULL)
		free(ss.rdbuf);
	if (ret != 0) {
		arena_reset(&r->arena);
		memset(&r->full, 0, sizeof(r->full));
		r->diffs = NULL;
		r->ndiffs = 0;
		r->kind = XFR_UPTODATE;
	}
	return ret;
}
