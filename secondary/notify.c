/*
 * NOTIFY handling.  This runs on a serving thread, so it stays short: parse,
 * check the sender and TSIG, answer, and hand the zone to the refresh
 * scheduler through a non-blocking callback.  Refusals are logged through a
 * small per-remote table so a flood writes one line per remote per minute.
 */
#include "secondary/notify.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "dns/msg.h"
#include "dns/rrtype.h"
#include "dns/soa.h"
#include "net/addr.h"
#include "secondary/xfrin.h"
#include "util/err.h"
#include "util/log.h"

#define RL_SLOTS 64
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct sockaddr_storage ip;
	time_t last;
} rl[RL_SLOTS];
static unsigned rl_suppressed;

/* True when a refusal from `from` may be logged now (one per minute per remote). */
static bool
rate_ok(const struct sockaddr *from, unsigned *suppressed)
{
	time_t now = time(NULL);
	bool ok = false;
	pthread_mutex_lock(&rl_lock);
	size_t oldest = 0;
	for (size_t i = 0; i < RL_SLOTS; i++) {
		if (rl[i].last != 0 && addr_equal_ip((const struct sockaddr *)&rl[i].ip, from)) {
			if (now - rl[i].last >= 60) {
				rl[i].last = now;
				ok = true;
			}
			goto out;
		}
		if (rl[i].last < rl[oldest].last)
			oldest = i;
	}
	memset(&rl[oldest].ip, 0, sizeof(rl[oldest].ip));
	memcpy(&rl[oldest].ip, from, addr_len(from));
	rl[oldest].last = now;
	ok = true;
out:
	if (ok) {
		*suppressed = rl_suppressed;
		rl_suppressed = 0;
	} else {
		rl_suppressed++;
	}
	pthread_mutex_unlock(&rl_lock);
	return ok;
}

static void
log_refused(const struct sockaddr *from, const uint8_t *zone, const char *why)
{
	unsigned supp = 0;
	if (!rate_ok(from, &supp))
		return;
	char a[ADDR_TEXT_MAX], z[DNS_NAME_TEXT_MAX];
	addr_fmt(from, a, sizeof(a));
	if (zone == NULL || dns_name_to_text(zone, z, sizeof(z)) < 0)
		memcpy(z, ".", 2);
	if (supp > 0)
		log_notice(z, "notify, incoming, remote %s, refused (%s), %u more refusals not logged",
		           a, why, supp);
	else
		log_notice(z, "notify, incoming, remote %s, refused (%s)", a, why);
}

/* Error response: header and question of `m` with `rcode`. */
static size_t
refuse(const struct dns_msg *m, unsigned rcode, uint8_t *out, size_t cap,
       struct dns_tsig_ctx *tctx)
{
	static _Thread_local struct dns_msgw w;
	if (dns_msgw_init_response(&w, out, cap, m, 0, rcode) != 0)
		return 0;
	size_t len = w.len;
	if (tctx != NULL) {
		ssize_t s = dns_tsig_sign(tctx, out, len, cap, (uint64_t)time(NULL));
		if (s > 0)
			len = (size_t)s;
	}
	return len;
}

/* Minimal FORMERR when the message cannot be parsed: header only. */
static size_t
formerr_raw(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap)
{
	if (qlen < DNS_HDR_LEN || cap < DNS_HDR_LEN)
		return 0;
	memset(out, 0, DNS_HDR_LEN);
	out[0] = q[0];
	out[1] = q[1];
	out[2] = (uint8_t)(0x80 | (q[2] & 0x78));   /* QR, opcode */
	out[3] = DNS_RCODE_FORMERR;
	return DNS_HDR_LEN;
}

size_t
notify_handle(struct notify_cfg *c, const uint8_t *q, size_t qlen, const struct sockaddr *from,
              uint8_t *out, size_t cap)
{
	struct dns_msg m;
	if (qlen < DNS_HDR_LEN || (q[2] & 0x80) != 0)
		return 0;
	if (dns_msg_parse(&m, q, qlen) != 0) {
		log_refused(from, NULL, "malformed message");
		return formerr_raw(q, qlen, out, cap);
	}
	if (m.count[DNS_SEC_QD] != 1 || m.qtype != DNS_T_SOA || m.qclass != DNS_C_IN) {
		log_refused(from, m.qname_len > 0 ? m.qname : NULL, "question is not one SOA IN");
		return refuse(&m, DNS_RCODE_FORMERR, out, cap, NULL);
	}
	int sender = c->nprimaries > 1 ? primaries_find(c->primaries, c->nprimaries, from)
	             : addr_equal_ip(from, (const struct sockaddr *)&c->primary) ? 0 : -1;
	if (sender < 0) {
		log_refused(from, m.qname, "not the primary's address");
		return refuse(&m, DNS_RCODE_REFUSED, out, cap, NULL);
	}
	struct dns_tsig_ctx tctx;
	bool signed_ok = false;
	size_t ret = 0;
	/* a reload may point c->tsig at a new key: this message uses one */
	const struct dns_tsig_key *key = __atomic_load_n(&c->tsig, __ATOMIC_ACQUIRE);
	if (key != NULL) {
		dns_tsig_ctx_init(&tctx, NULL);
		int v = dns_tsig_verify_request(&tctx, &m, key, 1, (uint64_t)time(NULL));
		if (v == 1) {
			log_refused(from, m.qname, "not signed with TSIG");
			ret = refuse(&m, DNS_RCODE_REFUSED, out, cap, NULL);
			goto out;
		}
		if (v == ERR_TSIG_FORMERR) {
			log_refused(from, m.qname, "malformed TSIG");
			ret = refuse(&m, DNS_RCODE_FORMERR, out, cap, NULL);
			goto out;
		}
		if (v != 0) {
			log_refused(from, m.qname, err_str(v));
			ret = refuse(&m, DNS_RCODE_NOTAUTH, out, cap, &tctx);
			goto out;
		}
		signed_ok = true;
	}
	/* The SOA in the answer section, when present, is only a hint (RFC 1996 §3.7). */
	bool has_serial = false;
	uint32_t serial = 0;
	struct dns_msg_iter it;
	struct dns_rr rr;
	uint8_t owner[DNS_NAME_MAX];
	uint8_t rd[1024];
	struct dns_soa soa;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	if (dns_msg_iter_next(&it, &rr, owner, rd, sizeof(rd)) == 1 && rr.type == DNS_T_SOA &&
	    dns_name_equal(rr.owner, m.qname) &&
	    dns_soa_parse(rr.rdata, rr.rdlen, &soa) == 0) {
		serial = soa.serial;
		has_serial = true;
	}
	if (c->nprimaries > 1)
		primaries_alive(&c->primaries[sender]);   /* asked again, before the refresh */
	if (c->on_notify(c->ctx, m.qname, has_serial, serial) != 0) {
		log_refused(from, m.qname, "not a zone we serve");
		ret = refuse(&m, DNS_RCODE_NOTAUTH, out, cap, signed_ok ? &tctx : NULL);
		goto out;
	}
	char a[ADDR_TEXT_MAX], z[DNS_NAME_TEXT_MAX];
	addr_fmt(from, a, sizeof(a));
	dns_name_to_text(m.qname, z, sizeof(z));
	if (has_serial)
		log_info(z, "notify, incoming, remote %s%s, serial %u", a, signed_ok ? ", TSIG" : "",
		         serial);
	else
		log_info(z, "notify, incoming, remote %s%s", a, signed_ok ? ", TSIG" : "");
	static _Thread_local struct dns_msgw w;
	if (dns_msgw_init_response(&w, out, cap, &m, DNS_F_AA, DNS_RCODE_NOERROR) != 0)
		goto out;
	ret = w.len;
	if (signed_ok) {
		ssize_t s = dns_tsig_sign(&tctx, out, ret, cap, (uint64_t)time(NULL));
		ret = s > 0 ? (size_t)s : 0;
	}
out:
	if (key != NULL)
		dns_tsig_ctx_clear(&tctx);
	return ret;
}
