/*
 * The XoQ server: socket loop, new connections, Retry, stateless
 * resets, lifecycle.
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

static unsigned
srv_count_addr(struct quic_server *srv, const struct sockaddr_storage *a)
{
	unsigned n = 0;
	for (struct sconn *c = srv->conns; c != NULL; c = c->next) {
		if (addr_equal_ip((const struct sockaddr *)&c->remote, (const struct sockaddr *)a))
			n++;
	}
	return n;
}

static void
srv_send_retry(struct quic_server *srv, const ngtcp2_pkt_hd *hd,
               const struct sockaddr_storage *ra, socklen_t rlen)
{
	ngtcp2_cid scid;
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	if (quic_random_cid(&scid, SCID_LEN) != 0)
		return;
	ngtcp2_ssize tl = ngtcp2_crypto_generate_retry_token(
		token, srv->secret, sizeof(srv->secret), hd->version, (const ngtcp2_sockaddr *)ra,
		rlen, &scid, &hd->dcid, quic_now());
	if (tl < 0)
		return;
	uint8_t out[1500];
	ngtcp2_ssize n = ngtcp2_crypto_write_retry(out, sizeof(out), hd->version, &hd->scid, &scid,
	                                           &hd->dcid, token, (size_t)tl);
	if (n > 0) {
		quic_srv_send(srv, ra, rlen, out, (size_t)n);
		quic_stat_add(&srv->st.retries_sent, 1);
	}
}

/*
 * Answers a short-header packet of a connection we do not know (we lost it,
 * e.g. in a restart) with a stateless reset, so that the client drops it at
 * once instead of waiting for its idle timeout.  The reset is shorter than
 * the packet that caused it (no reset loops) and rate-limited (RFC 9000
 * §10.3); the token comes from the key-derived secret and the packet's DCID.
 */
static void
srv_send_reset(struct quic_server *srv, const uint8_t *dcid, size_t dcidlen, size_t pktlen,
               const struct sockaddr_storage *ra, socklen_t rlen)
{
	enum { RAND_MAX_LEN = 40 };
	size_t min = 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN;
	if (pktlen <= min || dcidlen == 0 || dcidlen > NGTCP2_MAX_CIDLEN)
		return;
	ngtcp2_tstamp ts = quic_now();
	if (ts - srv->reset_window >= NGTCP2_SECONDS) {
		srv->reset_window = ts;
		srv->resets_in_window = 0;
	}
	if (srv->resets_in_window >= RESETS_PER_S)
		return;
	srv->resets_in_window++;
	ngtcp2_cid cid;
	ngtcp2_cid_init(&cid, dcid, dcidlen);
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
	if (ngtcp2_crypto_generate_stateless_reset_token(token, srv->secret, sizeof(srv->secret),
	                                                 &cid) != 0)
		return;
	size_t randlen = pktlen - 1 - min + NGTCP2_MIN_STATELESS_RESET_RANDLEN;
	if (randlen > RAND_MAX_LEN)
		randlen = RAND_MAX_LEN;
	uint8_t rnd[RAND_MAX_LEN];
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, randlen) != 0)
		return;
	uint8_t out[1 + RAND_MAX_LEN + NGTCP2_STATELESS_RESET_TOKENLEN];
	ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(out, sizeof(out), token, rnd, randlen);
	if (n > 0) {
		quic_srv_send(srv, ra, rlen, out, (size_t)n);
		quic_stat_add(&srv->st.stateless_resets, 1);
	}
}

static void
srv_send_vn(struct quic_server *srv, const ngtcp2_version_cid *vc,
            const struct sockaddr_storage *ra, socklen_t rlen)
{
	uint8_t out[256];
	uint8_t r = 0;
	(void)gnutls_rnd(GNUTLS_RND_NONCE, &r, 1);
	const uint32_t sv[] = { NGTCP2_PROTO_VER_V1 };
	ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(out, sizeof(out), r, vc->scid,
	                                                      vc->scidlen, vc->dcid, vc->dcidlen,
	                                                      sv, 1);
	if (n > 0)
		quic_srv_send(srv, ra, rlen, out, (size_t)n);
}

static void
srv_new_conn(struct quic_server *srv, const uint8_t *pkt, size_t len,
             const struct sockaddr_storage *ra, socklen_t rlen)
{
	ngtcp2_pkt_hd hd;
	if (ngtcp2_accept(&hd, pkt, len) != 0)
		return;
	ngtcp2_tstamp ts = quic_now();
	ngtcp2_cid odcid;
	bool validated = false, retried = false;
	if (hd.token.len > 0) {
		if (hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
			if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len,
			                                     srv->secret, sizeof(srv->secret),
			                                     hd.version, (const ngtcp2_sockaddr *)ra,
			                                     rlen, &hd.dcid, RETRY_TOKEN_TTL, ts) != 0)
				return;         /* forged or stale Retry token: drop */
			validated = retried = true;
		} else if (hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR) {
			validated = ngtcp2_crypto_verify_regular_token(
				hd.token.base, hd.token.len, srv->secret, sizeof(srv->secret),
				(const ngtcp2_sockaddr *)ra, rlen, REGULAR_TOKEN_TTL, ts) == 0;
		}
	}
	if (!validated && (srv->cfg.retry_always || srv->pending_hs >= srv->cfg.retry_threshold)) {
		srv_send_retry(srv, &hd, ra, rlen);
		return;
	}
	struct sconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->srv = srv;
	memcpy(&c->remote, ra, rlen);
	c->remotelen = rlen;
	c->id = ++srv->next_id;
	c->ref.get_conn = quic_get_conn_ref;
	c->ref.user_data = c;
	bool refuse = srv->nconns >= srv->cfg.max_conns ||
	              srv_count_addr(srv, ra) >= srv->cfg.max_conns_per_addr;

	ngtcp2_cid scid;
	ngtcp2_settings st;
	ngtcp2_transport_params params;
	quic_settings_init(&st, srv->cfg.handshake_timeout_ms);
	if (hd.token.len > 0 && !retried) {
		st.token.base = hd.token.base;
		st.token.len = hd.token.len;
	}
	quic_transport_params(&params, true, srv->cfg.idle_timeout_ms, srv->cfg.max_streams);
	params.original_dcid = retried ? odcid : hd.dcid;
	if (retried) {
		params.retry_scid = hd.dcid;
		params.retry_scid_present = 1;
	}
	params.stateless_reset_token_present = 1;
	do {
		if (quic_random_cid(&scid, SCID_LEN) != 0) {
			free(c);
			return;
		}
	} while (quic_cid_find(srv, scid.data, scid.datalen) != NULL);
	if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, srv->secret,
	                                                 sizeof(srv->secret), &scid) != 0) {
		free(c);
		return;
	}
	ngtcp2_path path = quic_srv_path(srv, &c->remote, c->remotelen);
	if (ngtcp2_conn_server_new(&c->conn, &hd.scid, &scid, &path, hd.version, &quic_srv_callbacks,
	                           &st, &params, NULL, c) != 0) {
		free(c);
		return;
	}
	/* accounted from here on: quic_sconn_free() undoes it */
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	srv->pending_hs++;
	quic_stat_add(&srv->st.conns_open, 1);
	if (quic_tls_session_new(&c->tls, true, srv->cred, DOQ_ALPN, &c->ref) != 0) {
		quic_sconn_free(c);
		return;
	}
	ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
	if (quic_cid_add(srv, &scid, c) != 0 || quic_cid_add(srv, &hd.dcid, c) != 0) {
		quic_sconn_free(c);
		return;
	}
	if (refuse) {
		/* Finish reading the Initial so the close is readable, then refuse. */
		char ab[ADDR_TEXT_MAX];
		quic_stat_add(&srv->st.conns_refused, 1);
		if (quic_log_ok(&srv->log_limit, ts))
			log_notice(NULL, "QUIC, remote %s, connection refused, limit of %u connections"
			           " (%u per address) reached",
			           addr_fmt((const struct sockaddr *)ra, ab, sizeof(ab)),
			           srv->cfg.max_conns, srv->cfg.max_conns_per_addr);
		ngtcp2_path p2 = quic_srv_path(srv, &c->remote, c->remotelen);
		ngtcp2_pkt_info pi;
		memset(&pi, 0, sizeof(pi));
		(void)ngtcp2_conn_read_pkt(c->conn, &p2, &pi, pkt, len, ts);
		ngtcp2_connection_close_error cc;
		ngtcp2_connection_close_error_default(&cc);
		ngtcp2_connection_close_error_set_application_error(&cc, DOQ_EXCESSIVE_LOAD, NULL, 0);
		c->handshake_done = true;       /* not a handshake failure */
		srv->pending_hs--;
		quic_sconn_close_now(c, &cc);
		return;
	}
	quic_stat_add(&srv->st.conns_accepted, 1);
	(void)quic_sconn_read(c, pkt, len);
}

static void
srv_on_packet(struct quic_server *srv, const uint8_t *pkt, size_t len,
              const struct sockaddr_storage *ra, socklen_t rlen)
{
	quic_stat_add(&srv->st.pkts_rx, 1);
	quic_stat_add(&srv->st.bytes_rx, len);
	ngtcp2_version_cid vc;
	int rv = ngtcp2_pkt_decode_version_cid(&vc, pkt, len, SCID_LEN);
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
		srv_send_vn(srv, &vc, ra, rlen);
		return;
	}
	if (rv != 0)
		return;
	struct sconn *c = quic_cid_find(srv, vc.dcid, vc.dcidlen);
	if (c != NULL) {
		(void)quic_sconn_read(c, pkt, len);
		return;
	}
	if (vc.version == 0) {
		/* short header for an unknown connection */
		srv_send_reset(srv, vc.dcid, vc.dcidlen, len, ra, rlen);
		return;
	}
	srv_new_conn(srv, pkt, len, ra, rlen);
}

static void
srv_read_socket(struct quic_server *srv)
{
	enum { BATCH = 32, DGRAM = 1500 };
	static __thread uint8_t bufs[BATCH][DGRAM];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = DGRAM;
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		int n = recvmmsg(srv->fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			srv_on_packet(srv, bufs[i], mm[i].msg_len, &from[i], mm[i].msg_hdr.msg_namelen);
		if (n < BATCH)
			return;
	}
}

static void
srv_timers_and_writes(struct quic_server *srv)
{
	ngtcp2_tstamp ts = quic_now();
	struct sconn *c = srv->conns;
	while (c != NULL) {
		struct sconn *next = c->next;
		if (ngtcp2_conn_get_expiry(c->conn) <= ts) {
			int rv = ngtcp2_conn_handle_expiry(c->conn, ts);
			if (rv != 0) {
				if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
					if (!c->handshake_done)
						quic_stat_add(&srv->st.handshake_failures, 1);
					quic_sconn_free(c);
				} else {
					quic_sconn_fail(c, rv, "timer");
				}
				c = next;
				continue;
			}
			c->want_write = true;
		}
		if (c->want_write || c->more)
			(void)quic_sconn_write(c);
		c = next;
	}
}

static bool
srv_any_more(struct quic_server *srv)
{
	for (struct sconn *c = srv->conns; c != NULL; c = c->next) {
		if (c->more || c->want_write)
			return true;
	}
	return false;
}

/* Arms the timer for the earliest expiry; true when one has passed already. */
static bool
srv_arm(struct quic_server *srv)
{
	ngtcp2_tstamp min = UINT64_MAX;
	for (struct sconn *c = srv->conns; c != NULL; c = c->next) {
		ngtcp2_tstamp e = ngtcp2_conn_get_expiry(c->conn);
		if (e < min)
			min = e;
	}
	return quic_arm_timer(srv->tfd, &srv->tarmed, min);
}

static void *
srv_thread(void *arg)
{
	struct quic_server *srv = arg;
	struct epoll_event ev[4];
	bool due = false;
	while (!atomic_load(&srv->stop)) {
		int timeout = due || srv_any_more(srv) ? 0 : 1000;
		int n = epoll_wait(srv->epfd, ev, 4, timeout);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == srv->efd)
				quic_drain_fd(srv->efd);
			else if (ev[i].data.fd == srv->tfd) {
				quic_drain_fd(srv->tfd);
				srv->tarmed = UINT64_MAX;
			} else if (ev[i].data.fd == srv->fd)
				srv_read_socket(srv);
		}
		quic_srv_flush_replies(srv);
		srv_timers_and_writes(srv);
		due = srv_arm(srv);
	}
	return NULL;
}

void
quic_server_free(struct quic_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->started) {
		atomic_store(&srv->stop, true);
		quic_wake_fd(srv->efd);
		pthread_join(srv->thread, NULL);
	}
	/* streams go first, so workers blocked in quic_reply_wait() see -ECONNRESET */
	while (srv->conns != NULL) {
		ngtcp2_connection_close_error cc;
		ngtcp2_connection_close_error_default(&cc);
		ngtcp2_connection_close_error_set_application_error(&cc, DOQ_NO_ERROR, NULL, 0);
		quic_sconn_close_now(srv->conns, &cc);
	}
	if (srv->nworkers > 0) {
		pthread_mutex_lock(&srv->lock);
		srv->workers_stop = true;
		pthread_cond_broadcast(&srv->job_cv);
		pthread_mutex_unlock(&srv->lock);
		for (unsigned i = 0; i < srv->nworkers; i++)
			pthread_join(srv->workers[i], NULL);
		/* queued jobs never started: their replies are orphans now */
		while (srv->jobs != NULL) {
			struct job *j = srv->jobs;
			srv->jobs = j->next;
			quic_reply_abort(j->r, DOQ_INTERNAL_ERROR);
			free(j);
		}
	}
	free(srv->workers);
	quic_srv_flush_replies(srv);
	for (unsigned i = 0; i < CID_BUCKETS; i++) {
		while (srv->cids[i] != NULL) {
			struct cid_ent *e = srv->cids[i];
			srv->cids[i] = e->next;
			free(e);
		}
	}
	quic_close_fd(&srv->fd);
	quic_close_fd(&srv->efd);
	quic_close_fd(&srv->tfd);
	quic_close_fd(&srv->epfd);
	if (srv->cred != NULL)
		gnutls_certificate_free_credentials(srv->cred);
	pthread_cond_destroy(&srv->backlog_cv);
	pthread_cond_destroy(&srv->job_cv);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

int
quic_server_new(const struct quic_server_cfg *cfg, struct quic_server **out)
{
	if (cfg == NULL || cfg->listen == NULL || cfg->key_file == NULL || cfg->handler == NULL)
		return -EINVAL;
	struct quic_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->fd = srv->efd = srv->tfd = srv->epfd = -1;
	srv->tarmed = UINT64_MAX;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->backlog_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&srv->job_cv, NULL);
	srv->cfg = *cfg;
	struct quic_server_cfg *c = &srv->cfg;
	if (c->max_conns == 0)
		c->max_conns = 1024;
	if (c->max_conns_per_addr == 0)
		c->max_conns_per_addr = 256;
	if (c->max_streams == 0)
		c->max_streams = 1024;
	if (c->idle_timeout_ms == 0)
		c->idle_timeout_ms = 60000;
	if (c->handshake_timeout_ms == 0)
		c->handshake_timeout_ms = 5000;
	if (c->retry_threshold == 0)
		c->retry_threshold = 64;
	int ret = addr_parse(c->listen, 8853, &srv->local, &srv->locallen);
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	if (ret != 0)
		goto fail;
	ret = quic_key_load_or_create(c->key_file, &key);
	if (ret == 0)
		ret = quic_privkey_pin(key, srv->pin);
	if (ret == 0)
		ret = quic_key_secret(key, srv->secret);
	if (ret == 0)
		ret = quic_make_cert(key, &crt);
	if (ret == 0 && gnutls_certificate_allocate_credentials(&srv->cred) < 0)
		ret = -ENOMEM;
	if (ret == 0 && gnutls_certificate_set_x509_key(srv->cred, &crt, 1, key) < 0)
		ret = -EINVAL;
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	if (ret != 0)
		goto fail;
	srv->fd = quic_udp_socket(srv->local.ss_family);
	if (srv->fd < 0) {
		ret = srv->fd;
		goto fail;
	}
	if (bind(srv->fd, (struct sockaddr *)&srv->local, srv->locallen) != 0) {
		ret = -errno;
		goto fail;
	}
	srv->locallen = sizeof(srv->local);
	if (getsockname(srv->fd, (struct sockaddr *)&srv->local, &srv->locallen) != 0) {
		ret = -errno;
		goto fail;
	}
	ret = quic_loop_fds(&srv->efd, &srv->tfd, &srv->epfd);
	if (ret != 0)
		goto fail;
	struct epoll_event e = { .events = EPOLLIN };
	e.data.fd = srv->fd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->fd, &e) != 0) {
		ret = -errno;
		goto fail;
	}
	if (c->workers > 0) {
		srv->workers = calloc(c->workers, sizeof(*srv->workers));
		if (srv->workers == NULL) {
			ret = -ENOMEM;
			goto fail;
		}
		for (; srv->nworkers < c->workers; srv->nworkers++) {
			ret = -pthread_create(&srv->workers[srv->nworkers], NULL, quic_worker_thread, srv);
			if (ret != 0)
				goto fail;
		}
	}
	ret = -pthread_create(&srv->thread, NULL, srv_thread, srv);
	if (ret != 0)
		goto fail;
	srv->started = true;
	char ab[ADDR_TEXT_MAX];
	log_debug(NULL, "QUIC, listening on %s, key pin %s",
	           addr_fmt((const struct sockaddr *)&srv->local, ab, sizeof(ab)), srv->pin);
	*out = srv;
	return 0;
fail:
	quic_server_free(srv);
	return ret;
}

uint16_t
quic_server_port(const struct quic_server *srv)
{
	return addr_port((const struct sockaddr *)&srv->local);
}

const char *
quic_server_pin(const struct quic_server *srv)
{
	return srv->pin;
}

void
quic_server_stats(const struct quic_server *srv, struct quic_stats *st)
{
	quic_stats_copy(st, &srv->st);
}
