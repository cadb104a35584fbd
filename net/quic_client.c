/*
 * The XoQ client: one connection to one server, request streams, its
 * loop thread.
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

static void
list_add(struct creq **head, struct creq *r)
{
	r->prev = NULL;
	r->next = *head;
	if (*head != NULL)
		(*head)->prev = r;
	*head = r;
}

static void
list_del(struct creq **head, struct creq *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		*head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void
creq_finish(struct quic_client *cl, struct creq *r, int status, uint64_t app)
{
	list_del(r->sid >= 0 ? &cl->active : &cl->waiting, r);
	if (r->sid >= 0 && cl->conn != NULL) {
		quic_stat_add(&cl->st.pkts_lost, ngtcp2_conn_get_stream_loss_count(cl->conn, r->sid));
		(void)ngtcp2_conn_set_stream_user_data(cl->conn, r->sid, NULL);
	}
	if (status != 0)
		quic_stat_add(&cl->st.stream_errors, 1);
	r->on_done(r->ctx, status, app);
	doq_rx_clear(&r->rx);
	quic_sendq_clear(&r->q);
	free(r->query);
	free(r);
}

/* Appends `r` to the waiting list (streams open in order). */
static void
waiting_append(struct quic_client *cl, struct creq *r)
{
	r->next = r->prev = NULL;
	if (cl->waiting == NULL) {
		cl->waiting = r;
		return;
	}
	struct creq *t = cl->waiting;
	while (t->next != NULL)
		t = t->next;
	t->next = r;
	r->prev = t;
}

/*
 * Takes an active request off its lost connection and queues it for the
 * next one: the query again from its first byte.  Only for requests that
 * got no answer yet and were not sent again before (DNS queries are
 * idempotent; a partly answered transfer is the caller's to retry).
 * Returns false when `r` does not qualify.
 */
static bool
creq_requeue(struct quic_client *cl, struct creq *r, ngtcp2_tstamp ts)
{
	if (r->got_data || r->resent || r->finished || r->raw || r->query == NULL ||
	    (r->cancel != NULL && atomic_load(r->cancel) != 0) ||
	    (r->deadline != 0 && ts >= r->deadline))
		return false;
	struct chunk *c = quic_chunk_new(r->qlen);
	if (c == NULL)
		return false;
	memcpy(c->data, r->query, r->qlen);
	list_del(&cl->active, r);
	if (cl->conn != NULL)
		(void)ngtcp2_conn_set_stream_user_data(cl->conn, r->sid, NULL);
	quic_sendq_clear(&r->q);
	quic_sendq_push(&r->q, c);
	r->q.fin_wanted = true;
	doq_rx_clear(&r->rx);
	doq_rx_init(&r->rx, DOQ_RX_RESPONSE);
	r->sid = -1;
	r->resent = true;
	waiting_append(cl, r);
	return true;
}

static ngtcp2_conn *
cl_get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct quic_client *)ref->user_data)->conn;
}

/* GnuTLS certificate check: the server key's SPKI SHA-256 must equal the pin. */
static int
cl_verify(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct quic_client *cl = ref->user_data;
	char ab[ADDR_TEXT_MAX], pin[QUIC_PIN_LEN];
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	gnutls_pubkey_t pk = NULL;
	int ret = -1;
	addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
	if (certs == NULL || n == 0 || gnutls_pubkey_init(&pk) < 0)
		goto out;
	if (gnutls_pubkey_import_x509_raw(pk, &certs[0], GNUTLS_X509_FMT_DER, 0) < 0 ||
	    quic_pubkey_pin(pk, pin) != 0)
		goto out;
	pthread_mutex_lock(&cl->lock);
	memcpy(cl->peer_pin, pin, sizeof(pin));
	pthread_mutex_unlock(&cl->lock);
	if (cl->pin[0] != '\0') {
		if (strcmp(pin, cl->pin) == 0) {
			ret = 0;
		} else {
			cl->pin_failed = true;
			log_error(NULL, "QUIC, remote %s, server key pin %s does not match %s, refused",
			          ab, pin, cl->pin);
		}
	} else if (cl->cfg.insecure) {
		log_warning(NULL, "QUIC, remote %s, server key not verified (insecure), pin %s",
		            ab, pin);
		ret = 0;
	}
out:
	if (pk != NULL)
		gnutls_pubkey_deinit(pk);
	return ret;
}

static int
cl_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	(void)conn;
	struct quic_client *cl = user_data;
	gnutls_datum_t alpn;
	if (gnutls_alpn_get_selected_protocol(cl->tls, &alpn) != 0 ||
	    alpn.size != strlen(cl->alpn) || memcmp(alpn.data, cl->alpn, alpn.size) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	cl->state = CL_READY;
	quic_stat_add(&cl->st.handshakes_done, 1);
	return 0;
}

static int
cl_recv_stateless_reset(ngtcp2_conn *conn, const ngtcp2_pkt_stateless_reset *sr,
                        void *user_data)
{
	(void)conn;
	(void)sr;
	struct quic_client *cl = user_data;
	char ab[ADDR_TEXT_MAX];
	quic_stat_add(&cl->st.stateless_resets, 1);
	log_notice(NULL, "QUIC, remote %s, connection reset by the server (stateless reset: "
	           "it restarted or lost the connection)",
	           addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab)));
	return 0;
}

static int
cl_on_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct creq *r = ctx;
	if (r->on_msg == NULL)
		return 0;
	int ret = r->on_msg(r->ctx, msg, len);
	return ret != 0 ? -ECANCELED : 0;
}

static int
cl_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                    const uint8_t *data, size_t datalen, void *user_data,
                    void *stream_user_data)
{
	(void)offset;
	(void)user_data;
	struct creq *r = stream_user_data;
	ngtcp2_conn_extend_max_stream_offset(conn, stream_id, datalen);
	ngtcp2_conn_extend_max_offset(conn, datalen);
	if (r == NULL || r->finished)
		return 0;
	r->got_data = true;
	bool fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
	int ret = r->raw ? 0 : doq_rx_feed(&r->rx, data, datalen, fin, cl_on_msg, r);
	if (ret != 0) {
		/* RFC 9250 §4.3.3: a framing violation by the server is a protocol error */
		r->finished = true;
		r->reset_needed = true;
		r->fail_status = ret == -ECANCELED ? -ECANCELED : ret == -EPROTO ? -EPROTO : ret;
		r->fail_code = ret == -EPROTO ? DOQ_PROTOCOL_ERROR : DOQ_REQUEST_CANCELLED;
		if (ret == -EPROTO) {
			char ab[ADDR_TEXT_MAX];
			log_warning(NULL, "QUIC, remote %s, bad answer stream, %s",
			            addr_fmt((const struct sockaddr *)&r->cl->remote, ab, sizeof(ab)),
			            r->rx.why);
		}
	} else if (fin) {
		r->finished = true;
	}
	return 0;
}

static int
cl_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	struct quic_client *cl = user_data;
	struct creq *r = stream_user_data;
	if (r == NULL)
		return 0;
	if (r->finished) {
		creq_finish(cl, r, r->fail_status, r->fail_status != 0 ? r->fail_code : 0);
	} else if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) {
		creq_finish(cl, r, -EPROTO, app_error_code);
	} else {
		creq_finish(cl, r, -ECONNRESET, 0);
	}
	return 0;
}

static int
cl_stream_reset(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size,
                uint64_t app_error_code, void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)final_size;
	struct quic_client *cl = user_data;
	struct creq *r = stream_user_data;
	if (r != NULL && !r->finished)
		creq_finish(cl, r, -EPROTO, app_error_code);
	return 0;
}

static int
cl_get_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
               void *user_data)
{
	(void)conn;
	(void)user_data;
	if (quic_random_cid(cid, cidlen) != 0 ||
	    gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static const ngtcp2_callbacks cl_callbacks = {
	.client_initial = ngtcp2_crypto_client_initial_cb,
	.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
	.handshake_completed = cl_handshake_completed,
	.encrypt = ngtcp2_crypto_encrypt_cb,
	.decrypt = ngtcp2_crypto_decrypt_cb,
	.hp_mask = ngtcp2_crypto_hp_mask_cb,
	.recv_stream_data = cl_recv_stream_data,
	.acked_stream_data_offset = quic_acked,
	.stream_close = cl_stream_close,
	.recv_retry = ngtcp2_crypto_recv_retry_cb,
	.rand = quic_rand_cb,
	.get_new_connection_id = cl_get_new_cid,
	.update_key = ngtcp2_crypto_update_key_cb,
	.stream_reset = cl_stream_reset,
	.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
	.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
	.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
	.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
	.recv_stateless_reset = cl_recv_stateless_reset,
};

void
quic_cl_drop_conn(struct quic_client *cl)
{
	if (cl->conn != NULL)
		ngtcp2_conn_del(cl->conn);
	cl->conn = NULL;
	if (cl->tls != NULL)
		gnutls_deinit(cl->tls);
	cl->tls = NULL;
	if (cl->fd >= 0) {
		(void)epoll_ctl(cl->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
		close(cl->fd);
	}
	cl->fd = -1;
	if (cl->state != CL_IDLE)
		quic_stat_sub(&cl->st.conns_open, 1);
	cl->state = CL_IDLE;
	cl->more = false;
}

/*
 * Ends the connection: requests on streams fail; waiting ones fail too if it
 * never came up.  When an established connection is lost without an error
 * from the server (stateless reset, idle timeout, silence), requests that
 * got no answer yet go out again at once on a new connection.
 */
static void
cl_conn_lost(struct quic_client *cl, int status, uint64_t app)
{
	bool was_ready = cl->state == CL_READY;
	if (!was_ready)
		quic_stat_add(&cl->st.handshake_failures, 1);
	unsigned again = 0;
	if (was_ready && status == -ECONNRESET && app == 0) {
		ngtcp2_tstamp ts = quic_now();
		for (struct creq *r = cl->active; r != NULL;) {
			struct creq *next = r->next;
			if (creq_requeue(cl, r, ts))
				again++;
			r = next;
		}
	}
	if (again > 0) {
		char ab[ADDR_TEXT_MAX];
		log_info(NULL, "QUIC, remote %s, connection lost, %u request%s sent again on a new "
		         "connection", addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab)),
		         again, again == 1 ? "" : "s");
	}
	while (cl->active != NULL)
		creq_finish(cl, cl->active, status, app);
	if (!was_ready) {
		while (cl->waiting != NULL)
			creq_finish(cl, cl->waiting, status, app);
	}
	quic_cl_drop_conn(cl);
}

static void
cl_close(struct quic_client *cl, const ngtcp2_connection_close_error *cc, int status)
{
	if (cl->conn != NULL && !ngtcp2_conn_is_in_draining_period(cl->conn)) {
		ngtcp2_path_storage ps;
		ngtcp2_path_storage_zero(&ps);
		ngtcp2_pkt_info pi;
		ngtcp2_ssize n = ngtcp2_conn_write_connection_close(cl->conn, &ps.path, &pi, cl->buf,
		                                                    sizeof(cl->buf), cc, quic_now());
		if (n > 0)
			(void)quic_send_pkt(cl->fd, (const struct sockaddr *)&cl->remote, cl->remotelen,
			               cl->buf, (size_t)n);
	}
	cl_conn_lost(cl, status, 0);
}

static void
cl_fail(struct quic_client *cl, int liberr)
{
	char ab[ADDR_TEXT_MAX];
	addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
	ngtcp2_connection_close_error cc;
	ngtcp2_connection_close_error_default(&cc);
	int status = cl->state == CL_READY ? -ECONNRESET : -ECONNREFUSED;
	if (liberr == NGTCP2_ERR_CRYPTO || liberr == NGTCP2_ERR_CALLBACK_FAILURE) {
		uint8_t alert = ngtcp2_conn_get_tls_alert(cl->conn);
		ngtcp2_connection_close_error_set_transport_error_tls_alert(&cc, alert ? alert : 40,
		                                                            NULL, 0);
		log_warning(NULL, "QUIC, remote %s, handshake failed (%s)", ab,
		            cl->pin_failed ? "server key does not match the pin"
		                           : ngtcp2_strerror(liberr));
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(&cc, liberr, NULL, 0);
		log_warning(NULL, "QUIC, remote %s, connection failed (%s)", ab,
		            ngtcp2_strerror(liberr));
	}
	cl_close(cl, &cc, status);
}

int
quic_cl_connect(struct quic_client *cl)
{
	cl->pin_failed = false;
	cl->fd = quic_udp_socket(cl->remote.ss_family);
	if (cl->fd < 0)
		return cl->fd;
	if (connect(cl->fd, (struct sockaddr *)&cl->remote, cl->remotelen) != 0) {
		int ret = -errno;
		close(cl->fd);
		cl->fd = -1;
		return ret;
	}
	cl->locallen = sizeof(cl->local);
	if (getsockname(cl->fd, (struct sockaddr *)&cl->local, &cl->locallen) != 0) {
		close(cl->fd);
		cl->fd = -1;
		return -errno;
	}
	struct epoll_event e = { .events = EPOLLIN };
	e.data.fd = cl->fd;
	(void)epoll_ctl(cl->epfd, EPOLL_CTL_ADD, cl->fd, &e);
	ngtcp2_cid dcid, scid;
	if (quic_random_cid(&dcid, 16) != 0 || quic_random_cid(&scid, 16) != 0)
		return -EIO;
	ngtcp2_settings st;
	ngtcp2_transport_params params;
	quic_settings_init(&st, cl->cfg.handshake_timeout_ms);
	quic_transport_params(&params, false, cl->cfg.idle_timeout_ms, 0);
	ngtcp2_path path;
	memset(&path, 0, sizeof(path));
	path.local.addr = (ngtcp2_sockaddr *)&cl->local;
	path.local.addrlen = cl->locallen;
	path.remote.addr = (ngtcp2_sockaddr *)&cl->remote;
	path.remote.addrlen = cl->remotelen;
	cl->ref.get_conn = cl_get_conn;
	cl->ref.user_data = cl;
	cl->state = CL_CONNECTING;
	quic_stat_add(&cl->st.conns_open, 1);
	quic_stat_add(&cl->st.conns_accepted, 1);
	if (ngtcp2_conn_client_new(&cl->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1,
	                           &cl_callbacks, &st, &params, NULL, cl) != 0) {
		quic_cl_drop_conn(cl);
		return -ENOMEM;
	}
	if (quic_tls_session_new(&cl->tls, false, cl->cred, cl->alpn, &cl->ref) != 0) {
		quic_cl_drop_conn(cl);
		return -ENOMEM;
	}
	gnutls_session_set_verify_function(cl->tls, cl_verify);
	ngtcp2_conn_set_tls_native_handle(cl->conn, cl->tls);
	/* PINGs keep an idle connection open for the next NOTIFY-triggered transfer */
	if (cl->keepalive)
		ngtcp2_conn_set_keep_alive_timeout(cl->conn, cl->keepalive_ns);
	cl->conn_start = cl->last_rx = quic_now();
	return 0;
}

/* Opens streams for waiting requests while the server allows. */
static void
cl_open_streams(struct quic_client *cl)
{
	while (cl->state == CL_READY && cl->waiting != NULL) {
		struct creq *r = cl->waiting;
		int64_t sid;
		if (ngtcp2_conn_open_bidi_stream(cl->conn, &sid, r) != 0)
			return;
		list_del(&cl->waiting, r);
		r->sid = sid;
		list_add(&cl->active, r);
		quic_stat_add(&cl->st.streams, 1);
	}
}

static bool
cl_tx_next(void *ctx, struct quic_txs *out)
{
	struct quic_client *cl = ctx;
	struct creq *r = cl->active;
	while (r != NULL && (r->blocked || !quic_sendq_pending(&r->q)))
		r = r->next;
	if (r == NULL)
		return false;
	out->id = r->sid;
	out->q = &r->q;
	out->owner = r;
	return true;
}

/* Requests are small: a blocked one waits for the next round. */
static void
cl_tx_blocked(void *ctx, void *owner)
{
	(void)ctx;
	((struct creq *)owner)->blocked = true;
}

static void
cl_write(struct quic_client *cl)
{
	if (cl->conn == NULL)
		return;
	/* requests failed by a framing error, a cancel or a deadline: reset their streams */
	for (struct creq *r = cl->active; r != NULL;) {
		struct creq *next = r->next;
		r->blocked = false;
		if (r->reset_needed) {
			int64_t sid = r->sid;
			uint64_t code = r->fail_code;
			creq_finish(cl, r, r->fail_status, code);
			(void)ngtcp2_conn_shutdown_stream(cl->conn, sid, code);
		}
		r = next;
	}
	const struct quic_tx tx = {
		.conn = cl->conn, .fd = cl->fd, .to = &cl->remote, .tolen = cl->remotelen,
		.buf = cl->buf, .cap = sizeof(cl->buf), .no_gso = &cl->no_gso, .st = &cl->st,
		.next = cl_tx_next, .blocked = cl_tx_blocked, .wrote = NULL, .ctx = cl,
	};
	int ret = quic_tx_write(&tx);
	cl->more = ret == 1;
	if (ret < 0)
		cl_fail(cl, ret);
}

/*
 * Whether a datagram read without error was addressed to this connection:
 * a short-header packet carries one of our connection ids.  (ngtcp2 drops
 * packets it cannot decrypt without an error, e.g. another server's
 * stateless reset, which must not count as a sign of life.)
 */
static bool
cl_pkt_is_ours(struct quic_client *cl, const uint8_t *pkt, size_t n)
{
	if (n == 0 || (pkt[0] & 0x80) != 0)
		return true;    /* long header: the handshake, checked by ngtcp2 */
	ngtcp2_cid ids[8];
	if (ngtcp2_conn_get_num_scid(cl->conn) > 8)
		return true;
	size_t k = ngtcp2_conn_get_scid(cl->conn, ids);
	for (size_t i = 0; i < k; i++) {
		if (n >= 1 + ids[i].datalen && memcmp(pkt + 1, ids[i].data, ids[i].datalen) == 0)
			return true;
	}
	return false;
}

/* Handles one datagram; returns false when the connection ended. */
static bool
cl_packet(struct quic_client *cl, const uint8_t *pkt, size_t n, struct sockaddr_storage *from,
          socklen_t fl)
{
	quic_stat_add(&cl->st.pkts_rx, 1);
	quic_stat_add(&cl->st.bytes_rx, n);
	ngtcp2_path path;
	memset(&path, 0, sizeof(path));
	path.local.addr = (ngtcp2_sockaddr *)&cl->local;
	path.local.addrlen = cl->locallen;
	path.remote.addr = (ngtcp2_sockaddr *)from;
	path.remote.addrlen = fl;
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	ngtcp2_tstamp ts = quic_now();
	int rv = ngtcp2_conn_read_pkt(cl->conn, &path, &pi, pkt, n, ts);
	if (rv == 0) {
		if (cl_pkt_is_ours(cl, pkt, n))
			cl->last_rx = ts;
		return true;
	}
	if (rv == NGTCP2_ERR_DRAINING) {
		ngtcp2_connection_close_error cc;
		ngtcp2_conn_get_connection_close_error(cl->conn, &cc);
		char ab[ADDR_TEXT_MAX];
		addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
		bool app = cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
		if (cc.error_code != 0)
			log_warning(NULL, "QUIC, remote %s, connection closed by the server, %s 0x%llx",
			            ab, app ? doq_error_str(cc.error_code) : "transport error",
			            (unsigned long long)cc.error_code);
		int status = cl->state == CL_READY ? (app && cc.error_code ? -EPROTO : -ECONNRESET)
		                                   : -ECONNREFUSED;
		cl_conn_lost(cl, status, app ? cc.error_code : 0);
		return false;
	}
	if (!ngtcp2_err_is_fatal(rv) && rv != NGTCP2_ERR_CRYPTO &&
	    rv != NGTCP2_ERR_CALLBACK_FAILURE)
		return true;
	cl_fail(cl, rv);
	return false;
}

static void
cl_read(struct quic_client *cl)
{
	enum { BATCH = 32 };
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	for (int round = 0; round < 8 && cl->conn != NULL; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = cl->rbuf[i];
			iov[i].iov_len = sizeof(cl->rbuf[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		int n = recvmmsg(cl->fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == ECONNREFUSED && cl->state != CL_READY)
				cl_conn_lost(cl, -ECONNREFUSED, 0);
			return;
		}
		for (int i = 0; i < n; i++) {
			if (!cl_packet(cl, cl->rbuf[i], mm[i].msg_len, &from[i],
			               mm[i].msg_hdr.msg_namelen))
				return;
		}
		if (n < BATCH)
			return;
	}
}

static void
cl_take_submissions(struct quic_client *cl)
{
	pthread_mutex_lock(&cl->lock);
	struct creq *r = cl->submit;
	cl->submit = NULL;
	pthread_mutex_unlock(&cl->lock);
	/* reverse to keep submission order */
	struct creq *rev = NULL;
	while (r != NULL) {
		struct creq *n = r->next;
		r->next = rev;
		rev = r;
		r = n;
	}
	while (rev != NULL) {
		struct creq *n = rev->next;
		waiting_append(cl, rev);
		rev = n;
	}
	if (cl->waiting != NULL && cl->state == CL_IDLE) {
		int ret = quic_cl_connect(cl);
		if (ret != 0) {
			while (cl->waiting != NULL)
				creq_finish(cl, cl->waiting, -ECONNREFUSED, 0);
		}
	}
}

static void
cl_deadlines(struct quic_client *cl, ngtcp2_tstamp ts)
{
	for (struct creq *r = cl->waiting; r != NULL;) {
		struct creq *next = r->next;
		if (r->cancel != NULL && atomic_load(r->cancel) != 0)
			creq_finish(cl, r, -ECANCELED, 0);
		else if (r->deadline != 0 && ts >= r->deadline)
			creq_finish(cl, r, -ETIMEDOUT, 0);
		r = next;
	}
	for (struct creq *r = cl->active; r != NULL; r = r->next) {
		if (r->finished)
			continue;
		bool cancel = r->cancel != NULL && atomic_load(r->cancel) != 0;
		if (cancel || (r->deadline != 0 && ts >= r->deadline)) {
			if (!cancel)
				atomic_store(&cl->kick, true);   /* a timeout: is the connection dead? */
			r->finished = true;
			r->reset_needed = true;
			r->fail_status = cancel ? -ECANCELED : -ETIMEDOUT;
			r->fail_code = DOQ_REQUEST_CANCELLED;
		}
	}
}

static ngtcp2_tstamp
cl_next_deadline(struct quic_client *cl)
{
	ngtcp2_tstamp min = cl->conn != NULL ? ngtcp2_conn_get_expiry(cl->conn) : UINT64_MAX;
	for (struct creq *r = cl->waiting; r != NULL; r = r->next) {
		if (r->deadline != 0 && r->deadline < min)
			min = r->deadline;
	}
	for (struct creq *r = cl->active; r != NULL; r = r->next) {
		if (r->deadline != 0 && !r->finished && r->deadline < min)
			min = r->deadline;
	}
	return min;
}

static void
cl_timers(struct quic_client *cl)
{
	ngtcp2_tstamp ts = quic_now();
	cl_deadlines(cl, ts);
	if (cl->conn == NULL)
		return;
	if (ngtcp2_conn_get_expiry(cl->conn) > ts)
		return;
	int rv = ngtcp2_conn_handle_expiry(cl->conn, ts);
	if (rv == 0)
		return;
	if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		int status = cl->state == CL_READY ? -ECONNRESET : -ETIMEDOUT;
		if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
			char ab[ADDR_TEXT_MAX];
			log_warning(NULL, "QUIC, remote %s, handshake timed out",
			            addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab)));
		}
		cl_conn_lost(cl, status, 0);
		return;
	}
	cl_fail(cl, rv);
}

/*
 * For a few seconds after a NOTIFY (the server is up) or a request timeout:
 * a connection that has not heard from the server for longer than the
 * keep-alive interval plus a second, or whose last two probe timeouts went
 * unanswered, is dead or left over from before a restart.  Drop it so that
 * requests go out at once on a new one instead of waiting for the idle
 * timeout.  A handshake that got no answer is restarted the same way.
 */
static void
cl_check_stale(struct quic_client *cl)
{
	if (cl->conn == NULL)
		return;
	ngtcp2_tstamp ts = quic_now();
	ngtcp2_duration silent = ts - cl->last_rx;
	ngtcp2_conn_stat cs;
	ngtcp2_conn_get_conn_stat(cl->conn, &cs);
	/* Silent past a keep-alive round, or two probe timeouts in a row unanswered. */
	bool stale = silent > cl->keepalive_ns + NGTCP2_SECONDS ||
	             (cs.pto_count >= 2 && silent > 500 * NGTCP2_MILLISECONDS);
	if (!stale)
		return;
	cl->watch_until = 0;
	char ab[ADDR_TEXT_MAX];
	addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
	if (cl->state != CL_READY) {
		if (ts - cl->conn_start <= NGTCP2_SECONDS)
			return;
		log_info(NULL, "QUIC, remote %s, handshake unanswered for %llu ms, starting over", ab,
		         (unsigned long long)((ts - cl->conn_start) / NGTCP2_MILLISECONDS));
		quic_stat_add(&cl->st.handshake_failures, 1);
		quic_cl_drop_conn(cl);   /* waiting requests stay: cl_take_submissions reconnects */
		return;
	}
	log_notice(NULL, "QUIC, remote %s, nothing heard from the server for %llu ms, "
	           "reconnecting", ab,
	           (unsigned long long)((ts - cl->last_rx) / NGTCP2_MILLISECONDS));
	ngtcp2_connection_close_error cc;
	ngtcp2_connection_close_error_default(&cc);
	ngtcp2_connection_close_error_set_application_error(&cc, DOQ_NO_ERROR, NULL, 0);
	cl_close(cl, &cc, -ECONNRESET);
}

static void *
cl_thread(void *arg)
{
	struct quic_client *cl = arg;
	struct epoll_event ev[4];
	bool due = false;
	while (!atomic_load(&cl->stop)) {
		int n = epoll_wait(cl->epfd, ev, 4, due || cl->more ? 0 : 1000);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == cl->efd)
				quic_drain_fd(cl->efd);
			else if (ev[i].data.fd == cl->tfd) {
				quic_drain_fd(cl->tfd);
				cl->tarmed = UINT64_MAX;
			} else if (ev[i].data.fd == cl->fd)
				cl_read(cl);
		}
		/* after a kick, watch a while: a request sent on a dead connection
		 * shows it by unanswered probes within a second or so */
		if (atomic_exchange(&cl->kick, false))
			cl->watch_until = quic_now() + 5 * NGTCP2_SECONDS;
		if (cl->watch_until != 0 && quic_now() < cl->watch_until)
			cl_check_stale(cl);
		cl_take_submissions(cl);
		cl_timers(cl);
		cl_open_streams(cl);
		cl_write(cl);
		if (cl->conn != NULL && cl->state == CL_READY && cl->active == NULL &&
		    cl->waiting == NULL && ngtcp2_conn_is_in_closing_period(cl->conn))
			quic_cl_drop_conn(cl);
		due = quic_arm_timer(cl->tfd, &cl->tarmed, cl_next_deadline(cl));
	}
	/* shutting down: polite close, then cancel what is left */
	if (cl->conn != NULL && cl->state == CL_READY) {
		ngtcp2_connection_close_error cc;
		ngtcp2_connection_close_error_default(&cc);
		ngtcp2_connection_close_error_set_application_error(&cc, DOQ_NO_ERROR, NULL, 0);
		cl_close(cl, &cc, -ECANCELED);
	}
	while (cl->active != NULL)
		creq_finish(cl, cl->active, -ECANCELED, 0);
	cl_take_submissions(cl);
	while (cl->waiting != NULL)
		creq_finish(cl, cl->waiting, -ECANCELED, 0);
	quic_cl_drop_conn(cl);
	return NULL;
}

void
quic_client_free(struct quic_client *cl)
{
	if (cl == NULL)
		return;
	if (cl->started) {
		atomic_store(&cl->stop, true);
		quic_wake_fd(cl->efd);
		pthread_join(cl->thread, NULL);
	}
	quic_close_fd(&cl->fd);
	quic_close_fd(&cl->efd);
	quic_close_fd(&cl->tfd);
	quic_close_fd(&cl->epfd);
	if (cl->cred != NULL)
		gnutls_certificate_free_credentials(cl->cred);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

int
quic_client_new(const struct quic_client_cfg *cfg, struct quic_client **out)
{
	if (cfg == NULL || cfg->remote == NULL)
		return -EINVAL;
	if ((cfg->pin == NULL || cfg->pin[0] == '\0') && !cfg->insecure)
		return -EINVAL;
	struct quic_client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	cl->fd = cl->efd = cl->tfd = cl->epfd = -1;
	cl->tarmed = UINT64_MAX;
	pthread_mutex_init(&cl->lock, NULL);
	cl->cfg = *cfg;
	cl->cfg.pin = NULL;
	cl->cfg.remote = NULL;
	cl->cfg.alpn = NULL;
	if (cl->cfg.idle_timeout_ms == 0)
		cl->cfg.idle_timeout_ms = 10000;
	if (cl->cfg.handshake_timeout_ms == 0)
		cl->cfg.handshake_timeout_ms = 5000;
	cl->keepalive = !cfg->no_keepalive;
	cl->keepalive_ns = (ngtcp2_duration)cl->cfg.idle_timeout_ms * NGTCP2_MILLISECONDS / 4;
	int ret = -EINVAL;
	if (cfg->pin != NULL && cfg->pin[0] != '\0') {
		if (strlen(cfg->pin) != QUIC_PIN_LEN - 1)
			goto fail;
		memcpy(cl->pin, cfg->pin, QUIC_PIN_LEN);
	}
	const char *alpn = cfg->alpn != NULL ? cfg->alpn : DOQ_ALPN;
	if (strlen(alpn) == 0 || strlen(alpn) >= sizeof(cl->alpn))
		goto fail;
	memcpy(cl->alpn, alpn, strlen(alpn) + 1);
	ret = addr_parse(cfg->remote, 853, &cl->remote, &cl->remotelen);
	if (ret != 0)
		goto fail;
	ret = -ENOMEM;
	if (gnutls_certificate_allocate_credentials(&cl->cred) < 0) {
		cl->cred = NULL;
		goto fail;
	}
	ret = quic_loop_fds(&cl->efd, &cl->tfd, &cl->epfd);
	if (ret != 0)
		goto fail;
	ret = -pthread_create(&cl->thread, NULL, cl_thread, cl);
	if (ret != 0)
		goto fail;
	cl->started = true;
	*out = cl;
	return 0;
fail:
	quic_client_free(cl);
	return ret;
}

int
quic_cl_submit(struct quic_client *cl, struct creq *r)
{
	pthread_mutex_lock(&cl->lock);
	r->next = cl->submit;
	cl->submit = r;
	pthread_mutex_unlock(&cl->lock);
	quic_wake_fd(cl->efd);
	return 0;
}

struct creq *
quic_creq_new(struct quic_client *cl, quic_msg_fn on_msg, quic_done_fn on_done, void *ctx)
{
	struct creq *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->cl = cl;
	r->sid = -1;
	r->on_msg = on_msg;
	r->on_done = on_done;
	r->ctx = ctx;
	doq_rx_init(&r->rx, DOQ_RX_RESPONSE);
	return r;
}

int
quic_cl_request(struct quic_client *cl, const uint8_t *query, size_t len, quic_msg_fn on_msg,
           quic_done_fn on_done, void *ctx, unsigned timeout_ms, atomic_int *cancel)
{
	if (cl == NULL || on_done == NULL || len < DOQ_DNS_HDR)
		return -EINVAL;
	if (len > DOQ_MSG_MAX)
		return -EMSGSIZE;
	struct creq *r = quic_creq_new(cl, on_msg, on_done, ctx);
	struct chunk *c = quic_chunk_new(2 + len);
	if (r == NULL || c == NULL) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	(void)doq_prefix(c->data, len);
	memcpy(c->data + 2, query, len);
	r->query = malloc(2 + len);
	if (r->query == NULL) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	memcpy(r->query, c->data, 2 + len);
	r->qlen = 2 + len;
	quic_sendq_push(&r->q, c);
	r->q.fin_wanted = true;
	if (timeout_ms != 0)
		r->deadline = quic_now() + (uint64_t)timeout_ms * NGTCP2_MILLISECONDS;
	r->cancel = cancel;
	return quic_cl_submit(cl, r);
}

void
quic_client_stats(const struct quic_client *cl, struct quic_stats *st)
{
	quic_stats_copy(st, &cl->st);
}

void
quic_client_server_alive(struct quic_client *cl)
{
	if (cl == NULL)
		return;
	atomic_store(&cl->kick, true);
	quic_wake_fd(cl->efd);
}

void
quic_client_peer_pin(const struct quic_client *cl, char pin[QUIC_PIN_LEN])
{
	struct quic_client *c = (struct quic_client *)(uintptr_t)cl;
	pthread_mutex_lock(&c->lock);
	memcpy(pin, c->peer_pin, QUIC_PIN_LEN);
	pthread_mutex_unlock(&c->lock);
}
