/*
 * The --metrics listener: GET /metrics without a key on an address of its
 * own (for a Prometheus that scrapes over a private network), beside the API
 * where /metrics needs the admin key.  Nothing else is served here: any
 * other path is a 404, so no zone data or key is reachable without a key.
 */
#include "api/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "util/log.h"

static enum MHD_Result
send_plain(struct MHD_Connection *conn, struct api_resp *rs)
{
	struct MHD_Response *resp;
	if (rs->body != NULL)
		resp = MHD_create_response_from_buffer(rs->body_len, rs->body,
		                                       MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	rs->body = NULL;
	if (resp == NULL)
		return MHD_NO;
	if (rs->ctype != NULL)
		MHD_add_response_header(resp, "Content-Type", rs->ctype);
	MHD_add_response_header(resp, "Server", "anycst");
	enum MHD_Result ret = MHD_queue_response(conn, rs->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
on_metrics_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                   const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload;
	if (*con_cls == NULL) {
		*con_cls = conn;   /* first call: headers only; any non-NULL marks it seen */
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0;   /* a body is never needed here: dropped */
		return MHD_YES;
	}
	struct api_req r = {.api = cls, .conn = conn, .method = method, .route = R_METRICS,
	                    .admin = true};
	struct api_resp rs = {0};
	size_t n = strlen(url);
	while (n > 1 && url[n - 1] == '/')
		n--;
	if (n != 8 || strncmp(url, "/metrics", 8) != 0)
		api_error(&rs, 404, "Not Found: this listener serves /metrics only");
	else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		api_error(&rs, 405, "method %s not allowed here", method);
	else
		api_metrics(&r, &rs, NULL);
	enum MHD_Result ret = send_plain(conn, &rs);
	free(rs.body);
	return ret;
}

int
api_metrics_listen(struct api *a, const char *listen, char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(listen, 9153, &ss, &sl) != 0) {
		snprintf(err, errcap, "--metrics: bad address '%s'", listen);
		return -EINVAL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->metrics_mhd = MHD_start_daemon(flags, addr_port((struct sockaddr *)&ss), NULL, NULL,
	                                  on_metrics_request, a,
	                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	                                  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)8,
	                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	                                  MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	                                  MHD_OPTION_END);
	if (a->metrics_mhd == NULL) {
		snprintf(err, errcap, "--metrics: cannot listen on %s", listen);
		return -EADDRINUSE;
	}
	char buf[ADDR_TEXT_MAX];
	addr_fmt_ip((struct sockaddr *)&ss, buf, sizeof(buf));
	bool v6 = ss.ss_family == AF_INET6;
	log_notice(NULL, "metrics listening on %s%s%s:%u (no key)", v6 ? "[" : "", buf,
	           v6 ? "]" : "", addr_port((struct sockaddr *)&ss));
	return 0;
}
