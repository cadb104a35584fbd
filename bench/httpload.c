/*
 * PATCH load generator for bench/api.py: CLIENTS threads, each on its own
 * keep-alive HTTP/1.1 connection, send one-rrset PATCHes (REPLACE of an A
 * rrset "w<client>-<n>.<zone>") for DURATION seconds and time each request.
 * A Python client on a 2-core machine adds its own scheduling delay to the
 * tail; this one costs a few microseconds per request.
 *
 *   httpload PORT KEY ZONE CLIENTS DURATION
 * prints one JSON line: {"ok":N,"errors":N,"seconds":S,"p50_ms":X,"p99_ms":Y}
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../util/clock.h"

#define MAX_LAT (4u << 20)

struct worker {
	pthread_t th;
	int id;
	unsigned n_ok, n_err;
	uint32_t *lat_us;
};

static int port;
static const char *key, *zone;
static double duration;

static double
now(void)
{
	return clock_mono_s();
}

static int
dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one response; returns the status or -1.  *close_after set on "Connection: close". */
static int
read_resp(int fd, char *buf, size_t cap, int *close_after)
{
	size_t len = 0;
	char *hdr_end = NULL;
	while (hdr_end == NULL) {
		if (len + 1 >= cap)
			return -1;
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
	}
	int status = (int)strtol(buf + 9, NULL, 10);
	size_t clen = 0;
	*close_after = 0;
	for (char *l = strstr(buf, "\r\n"); l != NULL && l < hdr_end; l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			clen = strtoul(l + 17, NULL, 10);
		if (strncasecmp(l + 2, "Connection: close", 17) == 0)
			*close_after = 1;
	}
	size_t have = len - (size_t)(hdr_end + 4 - buf);
	while (have < clen) {
		char tmp[4096];
		size_t want = clen - have < sizeof(tmp) ? clen - have : sizeof(tmp);
		ssize_t r = read(fd, tmp, want);
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return status;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	char body[512], req[2048], resp[16384];
	unsigned seed = (unsigned)w->id * 7919u + 1;
	int fd = dial();
	double end = now() + duration;
	for (unsigned i = 0; now() < end; i++) {
		if (fd < 0) {
			fd = dial();
			if (fd < 0) {
				w->n_err++;
				usleep(1000);
				continue;
			}
		}
		int bl = snprintf(body, sizeof(body),
		                  "{\"rrsets\":[{\"name\":\"w%d-%u.%s\",\"type\":\"A\",\"ttl\":60,"
		                  "\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"192.0.2.%u\","
		                  "\"disabled\":false}]}]}",
		                  w->id, i % 50, zone, rand_r(&seed) % 254 + 1);
		int rl = snprintf(req, sizeof(req),
		                  "PATCH /api/v1/servers/localhost/zones/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		                  "X-API-Key: %s\r\nContent-Type: application/json\r\n"
		                  "Content-Length: %d\r\n\r\n%s", zone, key, bl, body);
		double t = now();
		int close_after = 0;
		int st = send_all(fd, req, (size_t)rl) == 0 ? read_resp(fd, resp, sizeof(resp),
		                                                          &close_after) : -1;
		double dt = now() - t;
		if (st == 204) {
			if (w->n_ok < MAX_LAT)
				w->lat_us[w->n_ok] = (uint32_t)(dt * 1e6);
			w->n_ok++;
		} else {
			w->n_err++;
		}
		if (st < 0 || close_after) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: httpload PORT KEY ZONE CLIENTS DURATION\n");
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	key = argv[2];
	zone = argv[3];
	int clients = (int)strtol(argv[4], NULL, 10);
	duration = strtod(argv[5], NULL);
	if (clients < 1 || clients > 256 || duration <= 0)
		return 2;
	struct worker *ws = calloc((size_t)clients, sizeof(*ws));
	double t0 = now();
	for (int i = 0; i < clients; i++) {
		ws[i].id = i;
		ws[i].lat_us = malloc(MAX_LAT * sizeof(uint32_t));
		pthread_create(&ws[i].th, NULL, run, &ws[i]);
	}
	size_t total = 0, errs = 0;
	for (int i = 0; i < clients; i++) {
		pthread_join(ws[i].th, NULL);
		total += ws[i].n_ok < MAX_LAT ? ws[i].n_ok : MAX_LAT;
		errs += ws[i].n_err;
	}
	double secs = now() - t0;
	uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
	size_t k = 0;
	for (int i = 0; i < clients; i++) {
		unsigned n = ws[i].n_ok < MAX_LAT ? ws[i].n_ok : MAX_LAT;
		memcpy(all + k, ws[i].lat_us, n * sizeof(uint32_t));
		k += n;
	}
	qsort(all, total, sizeof(uint32_t), cmp_u32);
	double p50 = total ? all[total / 2] / 1000.0 : -1;
	double p99 = total ? all[(size_t)((double)total * 0.99)] / 1000.0 : -1;
	printf("{\"ok\":%zu,\"errors\":%zu,\"seconds\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", total,
	       errs, secs, p50, p99);
	return 0;
}
