/*
 * Per-message dispatch shared by the UDP and TCP threads, and the counter
 * registry behind /metrics.
 */
#include "secondary/serve.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "secondary/notify.h"
#include "secondary/rrl.h"

_Static_assert((int)ANSWER_CLS_ANSWER == (int)RRL_CLS_ANSWER &&
               (int)ANSWER_CLS_NODATA == (int)RRL_CLS_NODATA &&
               (int)ANSWER_CLS_NXDOMAIN == (int)RRL_CLS_NXDOMAIN &&
               (int)ANSWER_CLS_REFERRAL == (int)RRL_CLS_REFERRAL &&
               (int)ANSWER_CLS_WILDCARD == (int)RRL_CLS_WILDCARD &&
               (int)ANSWER_CLS_ERROR == (int)RRL_CLS_ERROR, "answer classes are RRL classes");

atomic_bool serve_stopping;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct serve_stats *reg[SERVE_MAX_THREADS];
static size_t reg_n;

struct serve_stats *
serve_stats_new(void)
{
	struct serve_stats *s = aligned_alloc(64, sizeof(*s));
	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&reg_lock);
	if (reg_n == SERVE_MAX_THREADS) {
		pthread_mutex_unlock(&reg_lock);
		free(s);
		return NULL;
	}
	reg[reg_n++] = s;
	pthread_mutex_unlock(&reg_lock);
	return s;
}

void
serve_stats_sum(struct serve_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		/* Every field is a uint64_t: add them as an array. */
		uint64_t *src = (uint64_t *)reg[i];
		uint64_t *dst = (uint64_t *)out;
		for (size_t k = 0; k < offsetof(struct serve_stats, tcp_idle_closed) / 8 + 1; k++)
			dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&reg_lock);
}

size_t
serve_message(struct serve_ctx *c, const uint8_t *q, size_t qlen, const struct sockaddr *from,
              bool tcp, uint8_t *out, size_t cap)
{
	struct serve_stats *s = c->stats;
	c->rrl_pending = false;
	int op = answer_peek_opcode(q, qlen);
	if (op == ANSWER_OP_NOTIFY && c->notify != NULL) {
		size_t n = notify_handle(c->notify, q, qlen, from, out, cap);
		if (n > 0 && (out[3] & 0x0f) == 0)
			SERVE_INC(s->notify_accepted);
		else if (n > 0)
			SERVE_INC(s->notify_refused);
		else
			SERVE_INC(s->dropped);
		return n;
	}
	struct answer_opts o = c->aopts;
	o.is_tcp = tcp;
	struct answer_stats st = {0};
	ssize_t n = answer_build(c->db, q, qlen, out, cap, &o, &st);
	if (n <= 0) {
		SERVE_INC(s->dropped);
		return 0;
	}
	SERVE_INC(s->queries);
	if (tcp)
		SERVE_INC(s->tcp);
	else
		SERVE_INC(s->udp);
	SERVE_INC(s->rcode[st.rcode < SERVE_RCODES ? st.rcode : SERVE_RCODES - 1]);
	SERVE_INC(s->qtype[st.qtype < SERVE_QTYPE_OTHER ? st.qtype : SERVE_QTYPE_OTHER]);
	if (!tcp && c->rrl != NULL) {
		/* UDP only: over TCP the source address is proven, and TC sends clients there. */
		struct rrl_query rq = {
			.name = st.cls_name != 0 ? out + st.cls_name : NULL,
			.qtype = st.qtype,
			.cls = st.cls,
		};
		c->rrl_pending = rrl_prepare(c->rrl, from, &rq, &c->rrl_key);
	}
	return (size_t)n;
}
