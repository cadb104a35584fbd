/*
 * Test hooks of the QUIC client (half-open handshakes, raw stream
 * data).
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

int
quic_debug_half_open(const char *remote, unsigned n)
{
	struct quic_client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	int ret = addr_parse(remote, 853, &cl->remote, &cl->remotelen);
	if (ret != 0 || gnutls_certificate_allocate_credentials(&cl->cred) < 0) {
		free(cl);
		return ret != 0 ? ret : -ENOMEM;
	}
	memcpy(cl->alpn, DOQ_ALPN, sizeof(DOQ_ALPN));
	cl->cfg.handshake_timeout_ms = 5000;
	cl->cfg.idle_timeout_ms = 5000;
	cl->epfd = epoll_create1(EPOLL_CLOEXEC);
	unsigned sent = 0;
	for (unsigned i = 0; i < n; i++) {
		if (quic_cl_connect(cl) != 0)
			break;
		ngtcp2_pkt_info pi;
		ngtcp2_ssize len = ngtcp2_conn_write_pkt(cl->conn, NULL, &pi, cl->buf, sizeof(cl->buf),
		                                         quic_now());
		if (len > 0 && quic_send_pkt(cl->fd, (const struct sockaddr *)&cl->remote, cl->remotelen,
		                        cl->buf, (size_t)len) == 0)
			sent++;
		quic_cl_drop_conn(cl);
	}
	quic_close_fd(&cl->epfd);
	gnutls_certificate_free_credentials(cl->cred);
	free(cl);
	return (int)sent;
}

struct raw_wait {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int status;
	uint64_t app;
};

static void
raw_done(void *ctx, int status, uint64_t app)
{
	struct raw_wait *w = ctx;
	pthread_mutex_lock(&w->m);
	w->done = true;
	w->status = status;
	w->app = app;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

int
quic_debug_raw(struct quic_client *cl, const uint8_t *data, size_t len, const uint8_t *after,
               size_t after_len, unsigned timeout_ms)
{
	struct raw_wait w;
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.m, NULL);
	pthread_cond_init(&w.cv, NULL);
	struct creq *r = quic_creq_new(cl, NULL, raw_done, &w);
	struct chunk *c = quic_chunk_new(len + after_len);
	if (r == NULL || c == NULL || len + after_len == 0) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	memcpy(c->data, data, len);
	if (after_len > 0)
		memcpy(c->data + len, after, after_len);
	r->raw = true;
	quic_sendq_push(&r->q, c);
	r->q.fin_wanted = true;
	if (timeout_ms != 0)
		r->deadline = quic_now() + (uint64_t)timeout_ms * NGTCP2_MILLISECONDS;
	quic_cl_submit(cl, r);
	pthread_mutex_lock(&w.m);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.m);
	pthread_mutex_unlock(&w.m);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.m);
	if (w.status == -EPROTO && w.app != 0)
		return (int)w.app;
	return w.status;
}
