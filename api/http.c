/*
 * HTTP server of the API on libmicrohttpd: one thread per connection, so a
 * handler may block on the store's writer mutex without stalling others.
 * Collects the body (bounded by max_body), checks the key, routes, sends the
 * response, and counts requests per route and status and their latency.
 *
 * Keys: the admin key is compared in constant time (SHA-256 of both, then a
 * constant-time compare); account keys are looked up by their SHA-256.
 *
 * Hostile clients (slowloris): MHD caps connections in total and on_accept per
 * client address (max_conn_per_ip, counted on the connection list, so a reload
 * may change it), but MHD's timeout is an idle one that every trickled byte restarts.  So
 * each connection also carries an absolute deadline for the phase it is in:
 * the request line and headers must arrive within header_timeout of the
 * connect (or of the end of the previous request on a kept-alive connection),
 * the body within body_timeout of the last header.  A sweeper thread shuts
 * down the socket of a connection past its deadline; MHD then sees the peer
 * gone and closes it.  The list is only touched under `cmu`, and MHD reports
 * a connection closed before it closes the fd, so a swept fd is never reused.
 * A body announced larger than max_body is refused (413) before it is read.
 */
#include "api/internal.h"
#include "api/idn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>

#include "net/addr.h"
#include "util/base.h"
#include "util/log.h"
#include "util/clock.h"

/* ---- MHD glue ------------------------------------------------------------------ */
static enum MHD_Result
send_resp(struct api *a, struct api_req *r, struct api_resp *rs)
{
	if (rs->status == 0)
		api_error(rs, 500, "no response");
	struct MHD_Response *resp;
	if (rs->stream != NULL) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, rs->stream,
		                                         rs->stream_cls, rs->stream_free);
		rs->stream = NULL;
	} else if (rs->body != NULL) {
		resp = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
		rs->body = NULL;
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (resp == NULL)
		return MHD_NO;
	if (rs->ctype != NULL)
		MHD_add_response_header(resp, "Content-Type", rs->ctype);
	if (rs->etag[0] != '\0')
		MHD_add_response_header(resp, "ETag", rs->etag);
	if (rs->location[0] != '\0')
		MHD_add_response_header(resp, "Location", rs->location);
	if (rs->link[0] != '\0')
		MHD_add_response_header(resp, "Link", rs->link);
	if (rs->serials) {
		char v[16];
		snprintf(v, sizeof(v), "%u", rs->old_serial);
		MHD_add_response_header(resp, "X-PDNS-Old-Serial", v);
		snprintf(v, sizeof(v), "%u", rs->new_serial);
		MHD_add_response_header(resp, "X-PDNS-New-Serial", v);
	}
	MHD_add_response_header(resp, "Server", "anycst");
	enum MHD_Result ret = MHD_queue_response(r->conn, rs->status, resp);
	MHD_destroy_response(resp);
	api_account(a, r, rs->status);
	return ret;
}

/* ---- connection deadlines --------------------------------------------------------- */

/* One accepted connection (the MHD socket context) on the api's list. */
struct api_conn {
	struct api_conn *prev, *next;
	int fd;
	struct sockaddr_storage peer;
	int64_t deadline_ms;   /* CLOCK_MONOTONIC; INT64_MAX: none */
	bool swept;            /* shut down already */
};

static int64_t
now_ms(void)
{
	return clock_mono_ms();
}

/* Sets the deadline of `conn` to now + `ms` (`ms` < 0: none). */
static void
conn_set_deadline(struct api *a, struct MHD_Connection *conn, int64_t ms)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct api_conn *c = ci != NULL ? ci->socket_context : NULL;
	if (c == NULL)
		return;
	int64_t d = ms < 0 ? INT64_MAX : now_ms() + ms;
	pthread_mutex_lock(&a->cmu);
	c->deadline_ms = d;
	pthread_mutex_unlock(&a->cmu);
}

/* The same client address (the port aside). */
static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

/* MHD's accept policy: a client address past max_conn_per_ip open connections
 * is closed at once (MHD then adds it to nothing, as its own limit did). */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct api *a = cls;
	(void)addrlen;
	unsigned lim = API_LIM(a, max_conn_per_ip), n = 0;
	pthread_mutex_lock(&a->cmu);
	for (struct api_conn *c = a->conns; c != NULL && n < lim; c = c->next)
		if (same_ip(&c->peer, addr))
			n++;
	pthread_mutex_unlock(&a->cmu);
	return n < lim ? MHD_YES : MHD_NO;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	struct api *a = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct api_conn *c = calloc(1, sizeof(*c));
		if (c == NULL || ci == NULL) {
			free(c);   /* without a deadline MHD's idle timeout still applies */
			return;
		}
		c->fd = ci->connect_fd;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL)
			memcpy(&c->peer, ci->client_addr, ci->client_addr->sa_family == AF_INET6 ?
			       sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		c->deadline_ms = now_ms() + (int64_t)API_LIM(a, header_timeout) * 1000;
		pthread_mutex_lock(&a->cmu);
		c->next = a->conns;
		if (a->conns != NULL)
			a->conns->prev = c;
		a->conns = c;
		pthread_mutex_unlock(&a->cmu);
		*socket_context = c;
		return;
	}
	struct api_conn *c = *socket_context;
	if (c == NULL)
		return;
	pthread_mutex_lock(&a->cmu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&a->cmu);
	free(c);
	*socket_context = NULL;
}

/*
 * Shuts down every connection past its deadline, four times a second.  Only
 * shutdown(): the fd stays MHD's, which closes it after on_connection(CLOSED)
 * has taken it off the list under the same mutex.
 */
static void *
sweeper_main(void *arg)
{
	struct api *a = arg;
	uint64_t logged = 0;
	int64_t next_log = 0;
	pthread_mutex_lock(&a->cmu);
	while (a->sweeping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->ccv, &a->cmu, &ts);
		int64_t now = now_ms();
		unsigned n = 0;
		for (struct api_conn *c = a->conns; c != NULL; c = c->next) {
			if (c->swept || now < c->deadline_ms)
				continue;
			shutdown(c->fd, SHUT_RDWR);
			c->swept = true;
			n++;
		}
		a->deadline_closed += n;
		if (a->deadline_closed > logged && now >= next_log) {
			/* at most one line a minute under attack */
			log_notice(NULL, "API, closed %llu connection(s) past their header or body deadline",
			           (unsigned long long)(a->deadline_closed - logged));
			logged = a->deadline_closed;
			next_log = now + 60000;
		}
	}
	pthread_mutex_unlock(&a->cmu);
	return NULL;
}

/*
 * On the first call of a request: a Content-Length above max_body gets its
 * 413 at once, before any of the body is read (MHD then closes the connection
 * instead of reading the rest).
 */
static enum MHD_Result
body_announced_too_big(struct api *a, struct api_req *r)
{
	const char *cl = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return MHD_YES;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(cl, &end, 10);
	if (end == cl || errno != 0 || v <= API_LIM(a, max_body))
		return MHD_YES;   /* MHD refuses a malformed length itself */
	r->too_big = true;
	r->queued = true;
	struct api_resp rs = {0};
	api_error(&rs, 413, "request body of %llu bytes is larger than the limit of %zu bytes", v,
	          API_LIM(a, max_body));
	enum MHD_Result ret = send_resp(a, r, &rs);
	free(rs.body);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct api *a = cls;
	struct api_req *r = *con_cls;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->api = a;
		r->conn = conn;
		r->method = method;
		r->path = strdup(url);
		r->start = clock_mono_s();
		if (r->path == NULL) {
			free(r);
			return MHD_NO;
		}
		*con_cls = r;
		/* headers are in: from now on the body has its own deadline */
		conn_set_deadline(a, conn, (int64_t)API_LIM(a, body_timeout) * 1000);
		return body_announced_too_big(a, r);
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_big || r->body_len + n > API_LIM(a, max_body)) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : 4096;
			while (cap < r->body_len + n + 1)
				cap *= 2;
			char *nb = realloc(r->body, cap);
			if (nb == NULL)
				return MHD_NO;
			r->body = nb;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}
	(void)upload;
	/* the whole request is in; the handler and the response have no deadline */
	conn_set_deadline(a, conn, -1);
	if (r->queued)
		return MHD_YES;   /* refused on its announced length already */
	struct api_resp rs = {0};
	if (r->too_big)
		api_error(&rs, 413, "request body larger than the limit of %zu bytes", API_LIM(a, max_body));
	else
		api_dispatch(r, &rs);
	enum MHD_Result ret = send_resp(a, r, &rs);
	free(rs.body);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct api *a = cls;
	/* a kept-alive connection now waits for the next request's headers */
	conn_set_deadline(a, conn, (int64_t)API_LIM(a, header_timeout) * 1000);
	struct api_req *r = *con_cls;
	if (r == NULL)
		return;
	free(r->body);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

static void
sweeper_stop(struct api *a)
{
	pthread_mutex_lock(&a->cmu);
	bool running = a->sweeping;
	a->sweeping = false;
	pthread_cond_signal(&a->ccv);
	pthread_mutex_unlock(&a->cmu);
	if (running)
		pthread_join(a->sweeper, NULL);
}

void
api_set_limits(struct api *a, const struct api_limits *l)
{
	if (l->max_body != 0)
		__atomic_store_n(&a->o.max_body, l->max_body, __ATOMIC_RELAXED);
	if (l->max_rrsets != 0)
		__atomic_store_n(&a->o.max_rrsets, l->max_rrsets, __ATOMIC_RELAXED);
	if (l->max_records != 0)
		__atomic_store_n(&a->o.max_records, l->max_records, __ATOMIC_RELAXED);
	if (l->header_timeout != 0)
		__atomic_store_n(&a->o.header_timeout, l->header_timeout, __ATOMIC_RELAXED);
	if (l->body_timeout != 0)
		__atomic_store_n(&a->o.body_timeout, l->body_timeout, __ATOMIC_RELAXED);
	if (l->max_conn_per_ip != 0)
		__atomic_store_n(&a->o.max_conn_per_ip, l->max_conn_per_ip, __ATOMIC_RELAXED);
}

int
api_start(const struct api_opts *o, struct store *st, struct api **out, char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(o->listen, 8081, &ss, &sl) != 0) {
		snprintf(err, errcap, "--api: bad address '%s'", o->listen);
		return -EINVAL;
	}
	struct api *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->o = *o;
	if (a->o.max_body == 0)
		a->o.max_body = 16u << 20;
	if (a->o.max_rrsets == 0)
		a->o.max_rrsets = 10000;
	if (a->o.max_records == 0)
		a->o.max_records = 10000;
	if (a->o.version == NULL)
		a->o.version = "0.1.0";
	if (a->o.max_conns == 0)
		a->o.max_conns = 512;
	if (a->o.max_conn_per_ip == 0)
		a->o.max_conn_per_ip = 32;
	if (a->o.header_timeout == 0)
		a->o.header_timeout = 10;
	if (a->o.body_timeout == 0)
		a->o.body_timeout = 60;
	a->st = st;
	a->started = time(NULL);
	a->key = strdup(o->key ? o->key : "");
	pthread_mutex_init(&a->mmu, NULL);
	pthread_mutex_init(&a->cmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->ccv, &ca);
	pthread_condattr_destroy(&ca);
	int ret = -ENOMEM;
	if (a->key == NULL ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, a->key, strlen(a->key), a->key_hash) != 0)
		goto fail;
	a->sweeping = true;
	if (pthread_create(&a->sweeper, NULL, sweeper_main, a) != 0) {
		a->sweeping = false;
		snprintf(err, errcap, "--api: cannot start a thread");
		goto fail;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->mhd = MHD_start_daemon(flags, addr_port((struct sockaddr *)&ss), on_accept, a, on_request, a,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
	                          MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
	                          MHD_OPTION_CONNECTION_LIMIT, a->o.max_conns,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                          MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (a->mhd == NULL) {
		snprintf(err, errcap, "--api: cannot listen on %s", o->listen);
		ret = -EADDRINUSE;
		goto fail;
	}
	if (o->metrics_listen != NULL) {
		ret = api_metrics_listen(a, o->metrics_listen, err, errcap);
		if (ret != 0) {
			api_stop(a);
			return ret;
		}
	}
	char buf[ADDR_TEXT_MAX];
	addr_fmt_ip((struct sockaddr *)&ss, buf, sizeof(buf));
	log_notice(NULL, "API listening on %s%s%s:%u", ss.ss_family == AF_INET6 ? "[" : "", buf,
	           ss.ss_family == AF_INET6 ? "]" : "", addr_port((struct sockaddr *)&ss));
	*out = a;
	return 0;
fail:
	sweeper_stop(a);
	pthread_cond_destroy(&a->ccv);
	pthread_mutex_destroy(&a->cmu);
	pthread_mutex_destroy(&a->mmu);
	free(a->key);
	free(a);
	return ret;
}

void
api_stop(struct api *a)
{
	if (a == NULL)
		return;
	sweeper_stop(a);
	if (a->metrics_mhd != NULL)
		MHD_stop_daemon(a->metrics_mhd);
	MHD_stop_daemon(a->mhd);
	pthread_cond_destroy(&a->ccv);
	pthread_mutex_destroy(&a->cmu);
	pthread_mutex_destroy(&a->mmu);
	free(a->key);
	free(a);
}
