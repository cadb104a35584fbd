/*
 * The client API: pull-style request streams (quic_stream_*).
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

/* Pull-style requests: messages are copied to the caller's thread. */
struct smsg {
	struct smsg *next;
	size_t len;
	uint8_t data[];
};

struct quic_stream {
	struct quic_client *cl;
	pthread_mutex_t m;
	pthread_cond_t cv;
	struct smsg *head, *tail;
	bool done;
	int status;
	uint64_t app;
	atomic_int cancel;
};

static int
stream_on_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct quic_stream *s = ctx;
	if (atomic_load(&s->cancel) != 0)
		return 1;
	struct smsg *m = malloc(sizeof(*m) + len);
	if (m == NULL)
		return 1;
	m->next = NULL;
	m->len = len;
	memcpy(m->data, msg, len);
	pthread_mutex_lock(&s->m);
	if (s->tail != NULL)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->m);
	return 0;
}

static void
stream_on_done(void *ctx, int status, uint64_t app)
{
	struct quic_stream *s = ctx;
	pthread_mutex_lock(&s->m);
	s->done = true;
	s->status = status;
	s->app = app;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->m);
}

int
quic_stream_open(struct quic_client *cl, const uint8_t *query, size_t len, unsigned timeout_ms,
                 struct quic_stream **out)
{
	struct quic_stream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cl = cl;
	pthread_mutex_init(&s->m, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	int ret = quic_cl_request(cl, query, len, stream_on_msg, stream_on_done, s, timeout_ms,
	                     &s->cancel);
	if (ret != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->m);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

ssize_t
quic_stream_recv(struct quic_stream *s, uint8_t *buf, size_t cap, unsigned wait_ms)
{
	struct timespec dl = quic_cond_deadline(wait_ms);
	pthread_mutex_lock(&s->m);
	while (s->head == NULL && !s->done) {
		if (wait_ms == 0) {
			pthread_cond_wait(&s->cv, &s->m);
		} else if (pthread_cond_timedwait(&s->cv, &s->m, &dl) == ETIMEDOUT &&
		           s->head == NULL && !s->done) {
			pthread_mutex_unlock(&s->m);
			return -ETIMEDOUT;
		}
	}
	ssize_t ret;
	if (s->head != NULL) {
		struct smsg *m = s->head;
		s->head = m->next;
		if (s->head == NULL)
			s->tail = NULL;
		if (m->len > cap) {
			ret = -EMSGSIZE;
		} else {
			memcpy(buf, m->data, m->len);
			ret = (ssize_t)m->len;
		}
		free(m);
	} else {
		ret = s->status;
	}
	pthread_mutex_unlock(&s->m);
	return ret;
}

uint64_t
quic_stream_app_error(struct quic_stream *s)
{
	pthread_mutex_lock(&s->m);
	uint64_t app = s->done ? s->app : 0;
	pthread_mutex_unlock(&s->m);
	return app;
}

void
quic_stream_close(struct quic_stream *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->cancel, 1);
	pthread_mutex_lock(&s->m);
	/* An answer read to its FIN is over on the client thread already: no
	 * wake-up of it (one eventfd write and one loop round a transfer). */
	if (!s->done)
		quic_wake_fd(s->cl->efd);
	while (!s->done)
		pthread_cond_wait(&s->cv, &s->m);
	pthread_mutex_unlock(&s->m);
	while (s->head != NULL) {
		struct smsg *m = s->head;
		s->head = m->next;
		free(m);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->m);
	free(s);
}
