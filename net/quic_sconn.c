/*
 * One server connection: ngtcp2 callbacks, reading, writing and
 * closing.
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

/* Adds the packets of `s` newly declared lost to the stats (live metric). */
static void
sstream_count_loss(struct quic_server *srv, ngtcp2_conn *conn, struct sstream *s)
{
	size_t n = ngtcp2_conn_get_stream_loss_count(conn, s->id);
	if (n > s->lost_seen) {
		quic_stat_add(&srv->st.pkts_lost, n - s->lost_seen);
		s->lost_seen = n;
	}
}

static unsigned
cid_hash(const uint8_t *d, size_t len)
{
	return (unsigned)(hash_fnv1a(d, len, 0) % CID_BUCKETS);
}

struct sconn *
quic_cid_find(struct quic_server *srv, const uint8_t *d, size_t len)
{
	for (struct cid_ent *e = srv->cids[cid_hash(d, len)]; e != NULL; e = e->next) {
		if (e->cid.datalen == len && memcmp(e->cid.data, d, len) == 0)
			return e->c;
	}
	return NULL;
}

int
quic_cid_add(struct quic_server *srv, const ngtcp2_cid *cid, struct sconn *c)
{
	struct cid_ent *e = malloc(sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->cid = *cid;
	e->c = c;
	unsigned h = cid_hash(cid->data, cid->datalen);
	e->next = srv->cids[h];
	srv->cids[h] = e;
	return 0;
}

static void
cid_del(struct quic_server *srv, const ngtcp2_cid *cid)
{
	struct cid_ent **pp = &srv->cids[cid_hash(cid->data, cid->datalen)];
	while (*pp != NULL) {
		struct cid_ent *e = *pp;
		if (ngtcp2_cid_eq(&e->cid, cid)) {
			*pp = e->next;
			free(e);
			return;
		}
		pp = &e->next;
	}
}

static void
cid_del_conn(struct quic_server *srv, struct sconn *c)
{
	for (unsigned i = 0; i < CID_BUCKETS; i++) {
		struct cid_ent **pp = &srv->cids[i];
		while (*pp != NULL) {
			struct cid_ent *e = *pp;
			if (e->c == c) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
	}
}

static struct sstream *
sstream_new(struct sconn *c, int64_t id)
{
	struct sstream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->id = id;
	s->c = c;
	doq_rx_init(&s->rx, DOQ_RX_REQUEST);
	s->prev = c->streams_tail;
	if (c->streams_tail != NULL)
		c->streams_tail->next = s;
	else
		c->streams = s;
	c->streams_tail = s;
	return s;
}

static void
sstream_unlink(struct sconn *c, struct sstream *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		c->streams_tail = s->prev;
	s->prev = s->next = NULL;
}

static void
sstream_free(struct quic_server *srv, struct sstream *s)
{
	if (s->reply != NULL) {
		pthread_mutex_lock(&srv->lock);
		s->reply->st = NULL;
		quic_reply_maybe_free(s->reply);
		pthread_cond_broadcast(&srv->backlog_cv);
		pthread_mutex_unlock(&srv->lock);
	}
	doq_rx_clear(&s->rx);
	quic_sendq_clear(&s->q);
	free(s);
}

void
quic_sconn_free(struct sconn *c)
{
	struct quic_server *srv = c->srv;
	while (c->streams != NULL) {
		struct sstream *s = c->streams;
		if (c->conn != NULL)
			sstream_count_loss(srv, c->conn, s);
		sstream_unlink(c, s);
		sstream_free(srv, s);
	}
	cid_del_conn(srv, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (srv->conns == c)
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->conn != NULL) {
		srv->nconns--;
		quic_stat_sub(&srv->st.conns_open, 1);
		if (!c->handshake_done)
			srv->pending_hs--;
	}
	if (c->conn != NULL)
		ngtcp2_conn_del(c->conn);
	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	free(c);
}

ngtcp2_conn *
quic_get_conn_ref(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct sconn *)ref->user_data)->conn;
}

static void
sconn_close(struct sconn *c, uint64_t code, const char *why)
{
	if (c->close_pending)
		return;
	c->close_pending = true;
	c->close_code = code;
	c->close_why = why;
}

static int
srv_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	struct sconn *c = user_data;
	struct quic_server *srv = c->srv;
	gnutls_datum_t alpn;
	if (gnutls_alpn_get_selected_protocol(c->tls, &alpn) != 0 || alpn.size != 3 ||
	    memcmp(alpn.data, DOQ_ALPN, 3) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	c->handshake_done = true;
	srv->pending_hs--;
	quic_stat_add(&srv->st.handshakes_done, 1);
	/* A token for the next connection from this address skips Retry. */
	uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
	const ngtcp2_path *path = ngtcp2_conn_get_path(conn);
	ngtcp2_ssize tl = ngtcp2_crypto_generate_regular_token(token, srv->secret,
	                                                       sizeof(srv->secret),
	                                                       path->remote.addr,
	                                                       path->remote.addrlen, quic_now());
	if (tl > 0)
		(void)ngtcp2_conn_submit_new_token(conn, token, (size_t)tl);
	return 0;
}

static int
srv_stream_open(ngtcp2_conn *conn, int64_t stream_id, void *user_data)
{
	struct sconn *c = user_data;
	if (!ngtcp2_is_bidi_stream(stream_id))
		return 0;
	struct sstream *s = sstream_new(c, stream_id);
	if (s == NULL)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	quic_stat_add(&c->srv->st.streams, 1);
	return ngtcp2_conn_set_stream_user_data(conn, stream_id, s) == 0 ? 0
	                                                                  : NGTCP2_ERR_CALLBACK_FAILURE;
}

struct dispatch {
	struct sconn *c;
	struct sstream *s;
};

static int
srv_on_query(void *ctx, const uint8_t *msg, size_t len)
{
	struct dispatch *d = ctx;
	struct sconn *c = d->c;
	struct quic_server *srv = c->srv;
	uint16_t id = doq_msg_id(msg, len);
	if (id != 0 && srv->cfg.doq_strict) {
		sconn_close(c, DOQ_PROTOCOL_ERROR, "non-zero message id (strict)");
		return -EPROTO;
	}
	struct quic_reply *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->srv = srv;
	r->st = d->s;
	r->qid = id;
	d->s->reply = r;
	struct quic_peer peer;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer.addr, &c->remote, c->remotelen);
	peer.addrlen = c->remotelen;
	peer.conn_id = c->id;
	peer.stream_id = d->s->id;
	if (srv->nworkers == 0) {
		srv->cfg.handler(srv->cfg.handler_ctx, &peer, msg, len, r);
		return 0;
	}
	struct job *j = malloc(sizeof(*j) + len);
	if (j == NULL) {
		quic_reply_abort(r, DOQ_INTERNAL_ERROR);
		return 0;
	}
	j->next = NULL;
	j->peer = peer;
	j->r = r;
	j->len = len;
	memcpy(j->q, msg, len);
	pthread_mutex_lock(&srv->lock);
	if (srv->jobs_tail != NULL)
		srv->jobs_tail->next = j;
	else
		srv->jobs = j;
	srv->jobs_tail = j;
	pthread_cond_signal(&srv->job_cv);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

static int
srv_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                     const uint8_t *data, size_t datalen, void *user_data,
                     void *stream_user_data)
{
	(void)offset;
	struct sconn *c = user_data;
	struct sstream *s = stream_user_data;
	ngtcp2_conn_extend_max_stream_offset(conn, stream_id, datalen);
	ngtcp2_conn_extend_max_offset(conn, datalen);
	if (s == NULL || c->close_pending)
		return 0;
	struct dispatch d = { c, s };
	int ret = doq_rx_feed(&s->rx, data, datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0,
	                      srv_on_query, &d);
	if (ret != 0 && !c->close_pending)
		sconn_close(c, doq_error_from_ret(ret), s->rx.why ? s->rx.why : "internal error");
	return 0;
}

static int
srv_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                 void *user_data, void *stream_user_data)
{
	(void)flags;
	(void)app_error_code;
	struct sconn *c = user_data;
	struct sstream *s = stream_user_data;
	if (s == NULL)
		return 0;
	sstream_count_loss(c->srv, conn, s);
	sstream_unlink(c, s);
	sstream_free(c->srv, s);
	/* Stream credit goes back in batches of 1/16 of the limit: a MAX_STREAMS
	 * frame per closed stream cost a packet (and a wake-up on both sides) for
	 * every short request on a kept-open connection. */
	if (!ngtcp2_conn_is_local_stream(conn, stream_id)) {
		unsigned batch = c->srv->cfg.max_streams / 16;
		if (++c->stream_credit >= (batch > 0 ? batch : 1)) {
			ngtcp2_conn_extend_max_streams_bidi(conn, c->stream_credit);
			c->stream_credit = 0;
		}
	}
	return 0;
}

static int
srv_stream_reset(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size,
                 uint64_t app_error_code, void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)final_size;
	(void)app_error_code;
	struct sconn *c = user_data;
	struct sstream *s = stream_user_data;
	/* The client gave up on its request: stop sending the answer as well. */
	if (s != NULL && !s->q.fin_sent) {
		s->reset_pending = true;
		s->reset_code = DOQ_REQUEST_CANCELLED;
		c->want_write = true;
	}
	return 0;
}

static int
srv_stop_sending(ngtcp2_conn *conn, int64_t stream_id, uint64_t app_error_code, void *user_data,
                 void *stream_user_data)
{
	return srv_stream_reset(conn, stream_id, 0, app_error_code, user_data, stream_user_data);
}

static int
srv_get_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                void *user_data)
{
	(void)conn;
	struct sconn *c = user_data;
	struct quic_server *srv = c->srv;
	do {
		if (quic_random_cid(cid, cidlen) != 0)
			return NGTCP2_ERR_CALLBACK_FAILURE;
	} while (quic_cid_find(srv, cid->data, cid->datalen) != NULL);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, srv->secret, sizeof(srv->secret),
	                                                 cid) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return quic_cid_add(srv, cid, c) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static int
srv_remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
	(void)conn;
	struct sconn *c = user_data;
	cid_del(c->srv, cid);
	return 0;
}

const ngtcp2_callbacks quic_srv_callbacks = {
	.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
	.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
	.handshake_completed = srv_handshake_completed,
	.encrypt = ngtcp2_crypto_encrypt_cb,
	.decrypt = ngtcp2_crypto_decrypt_cb,
	.hp_mask = ngtcp2_crypto_hp_mask_cb,
	.recv_stream_data = srv_recv_stream_data,
	.acked_stream_data_offset = quic_acked,
	.stream_open = srv_stream_open,
	.stream_close = srv_stream_close,
	.rand = quic_rand_cb,
	.get_new_connection_id = srv_get_new_cid,
	.remove_connection_id = srv_remove_cid,
	.update_key = ngtcp2_crypto_update_key_cb,
	.stream_reset = srv_stream_reset,
	.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
	.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
	.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
	.stream_stop_sending = srv_stop_sending,
	.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

ngtcp2_path
quic_srv_path(struct quic_server *srv, const struct sockaddr_storage *remote, socklen_t rlen)
{
	ngtcp2_path p;
	memset(&p, 0, sizeof(p));
	p.local.addr = (ngtcp2_sockaddr *)&srv->local;
	p.local.addrlen = srv->locallen;
	p.remote.addr = (ngtcp2_sockaddr *)(uintptr_t)remote;
	p.remote.addrlen = rlen;
	return p;
}

void
quic_srv_send(struct quic_server *srv, const struct sockaddr_storage *to, socklen_t tolen,
              const uint8_t *p, size_t len)
{
	if (quic_send_pkt(srv->fd, (const struct sockaddr *)to, tolen, p, len) == 0) {
		quic_stat_add(&srv->st.pkts_tx, 1);
		quic_stat_add(&srv->st.bytes_tx, len);
	}
}

/* Sends CONNECTION_CLOSE (best effort) and frees the connection. */
void
quic_sconn_close_now(struct sconn *c, const ngtcp2_connection_close_error *cc)
{
	struct quic_server *srv = c->srv;
	if (c->conn != NULL && !ngtcp2_conn_is_in_draining_period(c->conn)) {
		ngtcp2_path_storage ps;
		ngtcp2_path_storage_zero(&ps);
		ngtcp2_pkt_info pi;
		ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, srv->buf,
		                                                    sizeof(srv->buf), cc, quic_now());
		if (n > 0)
			quic_srv_send(srv, &c->remote, c->remotelen, srv->buf, (size_t)n);
	}
	quic_sconn_free(c);
}

void
quic_sconn_fail(struct sconn *c, int liberr, const char *what)
{
	struct quic_server *srv = c->srv;
	ngtcp2_connection_close_error cc;
	char ab[ADDR_TEXT_MAX];
	ngtcp2_connection_close_error_default(&cc);
	if (liberr == NGTCP2_ERR_CRYPTO || liberr == NGTCP2_ERR_CALLBACK_FAILURE) {
		uint8_t alert = ngtcp2_conn_get_tls_alert(c->conn);
		if (alert == 0)
			alert = 40;     /* handshake_failure */
		ngtcp2_connection_close_error_set_transport_error_tls_alert(&cc, alert, NULL, 0);
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(&cc, liberr, NULL, 0);
	}
	if (!c->handshake_done) {
		quic_stat_add(&srv->st.handshake_failures, 1);
		uint8_t alert = ngtcp2_conn_get_tls_alert(c->conn);
		const char *an = alert != 0 ? gnutls_alert_get_name((gnutls_alert_description_t)alert)
		                            : NULL;
		if (quic_log_ok(&srv->log_hs, quic_now()))
			log_info(NULL, "QUIC, remote %s, handshake failed (%s%s)",
			         addr_fmt((const struct sockaddr *)&c->remote, ab, sizeof(ab)),
			         an != NULL ? "TLS alert " : "", an != NULL ? an : ngtcp2_strerror(liberr));
	} else if (quic_log_ok(&srv->log_proto, quic_now())) {
		log_info(NULL, "QUIC, remote %s, connection closed, %s (%s)",
		         addr_fmt((const struct sockaddr *)&c->remote, ab, sizeof(ab)), what,
		         ngtcp2_strerror(liberr));
	}
	quic_sconn_close_now(c, &cc);
}

static void
sconn_app_close(struct sconn *c)
{
	struct quic_server *srv = c->srv;
	char ab[ADDR_TEXT_MAX];
	ngtcp2_connection_close_error cc;
	ngtcp2_connection_close_error_default(&cc);
	const char *why = c->close_why ? c->close_why : "";
	ngtcp2_connection_close_error_set_application_error(&cc, c->close_code,
	                                                    (const uint8_t *)why, strlen(why));
	quic_stat_add(&srv->st.stream_errors, 1);
	if (quic_log_ok(&srv->log_proto, quic_now()))
		log_info(NULL, "QUIC, remote %s, connection closed with %s, %s",
		         addr_fmt((const struct sockaddr *)&c->remote, ab, sizeof(ab)),
		         doq_error_str(c->close_code), why);
	quic_sconn_close_now(c, &cc);
}

/* Moves handler output into the streams (QUIC thread). */
void
quic_srv_flush_replies(struct quic_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	struct quic_reply *r = srv->flush;
	srv->flush = NULL;
	while (r != NULL) {
		struct quic_reply *next = r->flush_next;
		r->in_flush = false;
		struct sstream *s = r->st;
		if (s != NULL) {
			while (r->ph != NULL) {
				struct chunk *c = r->ph;
				r->ph = c->next;
				quic_sendq_push(&s->q, c);
			}
			r->pt = NULL;
			if (r->ended)
				s->q.fin_wanted = true;
			if (r->aborted && !s->reset_pending) {
				s->reset_pending = true;
				s->reset_code = r->abort_code;
			}
			s->c->want_write = true;
		} else {
			quic_chunks_free(r->ph);
			r->ph = r->pt = NULL;
			__atomic_store_n(&r->backlog, 0, __ATOMIC_RELAXED);
		}
		quic_reply_maybe_free(r);
		r = next;
	}
	pthread_mutex_unlock(&srv->lock);
}

static bool
sconn_tx_next(void *ctx, struct quic_txs *out)
{
	struct sconn *c = ctx;
	struct sstream *s = c->streams;
	while (s != NULL && (s->blocked || !quic_sendq_pending(&s->q)))
		s = s->next;
	if (s == NULL)
		return false;
	out->id = s->id;
	out->q = &s->q;
	out->owner = s;
	return true;
}

static void
sconn_tx_blocked(void *ctx, void *owner)
{
	(void)ctx;
	((struct sstream *)owner)->blocked = true;
}

/* Data of `owner` left: move it to the tail, streams share packets round-robin. */
static void
sconn_tx_wrote(void *ctx, void *owner)
{
	struct sconn *c = ctx;
	struct sstream *s = owner;
	if (s->next != NULL) {
		sstream_unlink(c, s);
		s->prev = c->streams_tail;
		c->streams_tail->next = s;
		c->streams_tail = s;
	}
}

/* Writes packets until ngtcp2 has nothing more or the per-call cap; 0 or -1 (conn freed). */
int
quic_sconn_write(struct sconn *c)
{
	struct quic_server *srv = c->srv;
	for (struct sstream *s = c->streams; s != NULL; s = s->next) {
		sstream_count_loss(srv, c->conn, s);
		s->blocked = false;
		if (s->reset_pending) {
			s->reset_pending = false;
			s->q.fin_sent = true;
			s->q.fin_wanted = false;
			quic_stat_add(&srv->st.stream_errors, 1);
			(void)ngtcp2_conn_shutdown_stream(c->conn, s->id, s->reset_code);
		}
	}
	c->want_write = false;
	const struct quic_tx tx = {
		.conn = c->conn, .fd = srv->fd, .to = &c->remote, .tolen = c->remotelen,
		.buf = srv->buf, .cap = sizeof(srv->buf), .no_gso = &srv->no_gso, .st = &srv->st,
		.next = sconn_tx_next, .blocked = sconn_tx_blocked, .wrote = sconn_tx_wrote, .ctx = c,
	};
	int ret = quic_tx_write(&tx);
	if (ret < 0) {
		quic_sconn_fail(c, ret, "write failed");
		return -1;
	}
	c->more = ret == 1;
	/* bytes handed to QUIC leave the producers' backlog; what a producer
	 * pushed since its chunks were taken into the stream (r->ph) is still
	 * its backlog: left out, quic_reply_wait let it push past its bound */
	pthread_mutex_lock(&srv->lock);
	for (struct sstream *s = c->streams; s != NULL; s = s->next) {
		if (s->reply == NULL)
			continue;
		size_t pending = 0;
		for (const struct chunk *k = s->reply->ph; k != NULL; k = k->next)
			pending += k->len;
		__atomic_store_n(&s->reply->backlog, (size_t)(s->q.queued - s->q.sent) + pending,
		                 __ATOMIC_RELAXED);
	}
	pthread_cond_broadcast(&srv->backlog_cv);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

/* Reads one packet into `c`; returns 0, or -1 when the connection was freed. */
int
quic_sconn_read(struct sconn *c, const uint8_t *pkt, size_t len)
{
	ngtcp2_path path = quic_srv_path(c->srv, &c->remote, c->remotelen);
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	int rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, len, quic_now());
	if (rv != 0) {
		if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_DROP_CONN ||
		    rv == NGTCP2_ERR_RETRY) {
			struct quic_server *srv = c->srv;
			if (!c->handshake_done) {
				char ab[ADDR_TEXT_MAX];
				quic_stat_add(&srv->st.handshake_failures, 1);
				if (quic_log_ok(&srv->log_hs, quic_now()))
					log_info(NULL, "QUIC, remote %s, handshake failed (closed by the "
					         "client)", addr_fmt((const struct sockaddr *)&c->remote,
					                             ab, sizeof(ab)));
			}
			quic_sconn_free(c);
			return -1;
		}
		if (!ngtcp2_err_is_fatal(rv) && rv != NGTCP2_ERR_CRYPTO &&
		    rv != NGTCP2_ERR_CALLBACK_FAILURE)
			return 0;
		quic_sconn_fail(c, rv, "read failed");
		return -1;
	}
	if (c->close_pending) {
		sconn_app_close(c);
		return -1;
	}
	c->want_write = true;
	return 0;
}
