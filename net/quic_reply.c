/*
 * The server's answer hand-off (thread-safe quic_reply_*) and handler
 * workers.
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

/* Frees `r` if both the handler and the stream are done with it (lock held). */
void
quic_reply_maybe_free(struct quic_reply *r)
{
	if (r->user_done && r->st == NULL && !r->in_flush) {
		quic_chunks_free(r->ph);
		free(r);
	}
}

static void
reply_schedule(struct quic_reply *r)
{
	if (r->in_flush)
		return;
	r->in_flush = true;
	r->flush_next = r->srv->flush;
	r->srv->flush = r;
	quic_wake_fd(r->srv->efd);
}

/* Queues one message, and with `last` also the FIN, under one lock: the QUIC
 * thread then sends the answer's end in the same packet as its last bytes. */
static int
reply_push(struct quic_reply *r, const uint8_t *msg, size_t len, bool last)
{
	if (len > DOQ_MSG_MAX)
		return -EMSGSIZE;
	if (len < 2)
		return -EINVAL;
	struct chunk *c = quic_chunk_new(2 + len);
	if (c == NULL)
		return -ENOMEM;
	(void)doq_prefix(c->data, len);
	memcpy(c->data + 2, msg, len);
	struct quic_server *srv = r->srv;      /* `r` may be freed once ended and unlocked */
	pthread_mutex_lock(&srv->lock);
	doq_set_msg_id(c->data + 2, len, r->qid);
	int ret = 0;
	if (r->user_done) {
		ret = -EINVAL;
	} else if (r->st == NULL) {
		ret = -ECONNRESET;
	} else {
		if (r->pt != NULL)
			r->pt->next = c;
		else
			r->ph = c;
		r->pt = c;
		__atomic_add_fetch(&r->backlog, c->len, __ATOMIC_RELAXED);
		if (last) {
			r->user_done = true;
			r->ended = true;
		}
		reply_schedule(r);
		c = NULL;
	}
	pthread_mutex_unlock(&srv->lock);
	free(c);
	return ret;
}

int
quic_reply_send(struct quic_reply *r, const uint8_t *msg, size_t len)
{
	return reply_push(r, msg, len, false);
}

int
quic_reply_send_last(struct quic_reply *r, const uint8_t *msg, size_t len)
{
	return reply_push(r, msg, len, true);
}

void
quic_reply_end(struct quic_reply *r)
{
	struct quic_server *srv = r->srv;      /* `r` may be freed before the unlock */
	pthread_mutex_lock(&srv->lock);
	if (!r->user_done) {
		r->user_done = true;
		r->ended = true;
		if (r->st != NULL)
			reply_schedule(r);
		else
			quic_reply_maybe_free(r);
	}
	pthread_mutex_unlock(&srv->lock);
}

void
quic_reply_abort(struct quic_reply *r, enum doq_error code)
{
	struct quic_server *srv = r->srv;      /* `r` may be freed before the unlock */
	pthread_mutex_lock(&srv->lock);
	if (!r->user_done) {
		r->user_done = true;
		r->aborted = true;
		r->abort_code = code;
		if (r->st != NULL)
			reply_schedule(r);
		else
			quic_reply_maybe_free(r);
	}
	pthread_mutex_unlock(&srv->lock);
}

size_t
quic_reply_backlog(const struct quic_reply *r)
{
	return __atomic_load_n(&r->backlog, __ATOMIC_RELAXED);
}

int
quic_reply_wait(struct quic_reply *r, size_t max_backlog, unsigned timeout_ms)
{
	struct quic_server *srv = r->srv;
	struct timespec dl = quic_cond_deadline(timeout_ms);
	int ret = 0;
	pthread_mutex_lock(&srv->lock);
	while (r->st != NULL && __atomic_load_n(&r->backlog, __ATOMIC_RELAXED) > max_backlog) {
		if (pthread_cond_timedwait(&srv->backlog_cv, &srv->lock, &dl) == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	if (r->st == NULL)
		ret = -ECONNRESET;
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

void *
quic_worker_thread(void *arg)
{
	struct quic_server *srv = arg;
	pthread_mutex_lock(&srv->lock);
	for (;;) {
		while (srv->jobs == NULL && !srv->workers_stop)
			pthread_cond_wait(&srv->job_cv, &srv->lock);
		if (srv->jobs == NULL)
			break;
		struct job *j = srv->jobs;
		srv->jobs = j->next;
		if (srv->jobs == NULL)
			srv->jobs_tail = NULL;
		pthread_mutex_unlock(&srv->lock);
		srv->cfg.handler(srv->cfg.handler_ctx, &j->peer, j->q, j->len, j->r);
		free(j);
		pthread_mutex_lock(&srv->lock);
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}
