/*
 * anycst-updload: a DNS UPDATE load generator for bench/update.sh.  C threads,
 * one TCP connection each, so the figures are the server's and not a client's
 * interpreter lock: each thread sends UPDATEs one after another (one TXT
 * record added per UPDATE, TSIG-signed with dns/tsig), waits for the answer,
 * and times it.  Prints one line:
 *   updates N seconds S rate R p50_ms A p99_ms B errors E
 *
 *   anycst-updload -s ADDR:PORT -z ZONE -y NAME:ALG:BASE64 [-c CLIENTS] [-n EACH]
 *                  [-t TAG] [-d FILE]
 *
 * -d FILE writes every UPDATE's latency, one line each in the order sent:
 *   SEND_S LATENCY_MS CLIENT INDEX
 * (SEND_S: seconds from the start of the run, whose wall-clock time the
 * first line "# start EPOCH_S" gives, to line them up with strace -ttt), to
 * see whether the slow ones cluster in time and at which period.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/name.h"
#include "dns/tsig.h"
#include "net/addr.h"
#include "util/clock.h"

struct opts {
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t zone[DNS_NAME_MAX];
	size_t zlen;
	struct dns_tsig_key key;
	unsigned clients, each;
	const char *tag;
	const char *dump;
	double t0;         /* start of the run (clock_mono_s) */
	struct timespec wall0; /* the same, CLOCK_REALTIME */
};

struct worker {
	const struct opts *o;
	unsigned idx;
	double *lat;       /* each entries, seconds */
	double *sent;      /* each entries, send time from o->t0 */
	unsigned errors;
	pthread_t th;
};

static int
io_all(int fd, uint8_t *buf, size_t n, bool rd)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = rd ? read(fd, buf + off, n - off) : write(fd, buf + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* One UPDATE adding "u<tag>-<idx>-<i>.ZONE 60 TXT v<i>", signed; its length or -1. */
static ssize_t
build(const struct opts *o, unsigned idx, unsigned i, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf;
	uint16_t hdr[6] = {htons((uint16_t)(i ^ (idx << 10))), htons(5 << 11), htons(1), 0,
	                   htons(1), 0};
	memcpy(p, hdr, 12);
	p += 12;
	memcpy(p, o->zone, o->zlen);
	p += o->zlen;
	memcpy(p, "\0\6\0\1", 4);
	p += 4;
	char label[64];
	int ll = snprintf(label, sizeof(label), "u%s-%u-%u", o->tag, idx, i);
	*p++ = (uint8_t)ll;
	memcpy(p, label, (size_t)ll);
	p += ll;
	memcpy(p, o->zone, o->zlen);
	p += o->zlen;
	char txt[32];
	int tl = snprintf(txt, sizeof(txt), "v%u", i);
	uint8_t rr[10] = {0, 16, 0, 1, 0, 0, 0, 60, 0, (uint8_t)(tl + 1)};
	memcpy(p, rr, 10);
	p += 10;
	*p++ = (uint8_t)tl;
	memcpy(p, txt, (size_t)tl);
	p += tl;
	struct dns_tsig_ctx tc;
	dns_tsig_ctx_init(&tc, &o->key);
	ssize_t n = dns_tsig_sign(&tc, buf, (size_t)(p - buf), cap, (uint64_t)time(NULL));
	dns_tsig_ctx_clear(&tc);
	return n;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	int fd = socket(o->ss.ss_family, SOCK_STREAM, 0);
	int one = 1;
	if (fd < 0 || connect(fd, (const struct sockaddr *)&o->ss, o->sl) != 0) {
		w->errors = o->each;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uint8_t q[1024], r[65536];
	for (unsigned i = 0; i < o->each; i++) {
		ssize_t n = build(o, w->idx, i, q + 2, sizeof(q) - 2);
		if (n < 0) {
			w->errors++;
			continue;
		}
		q[0] = (uint8_t)(n >> 8);
		q[1] = (uint8_t)n;
		double t0 = clock_mono_s();
		uint8_t lb[2];
		if (io_all(fd, q, (size_t)n + 2, false) != 0 || io_all(fd, lb, 2, true) != 0) {
			w->errors += o->each - i;
			break;
		}
		size_t rl = (size_t)lb[0] << 8 | lb[1];
		if (rl < 12 || io_all(fd, r, rl, true) != 0) {
			w->errors += o->each - i;
			break;
		}
		w->lat[i] = clock_mono_s() - t0;
		w->sent[i] = t0 - o->t0;
		if ((r[3] & 0xf) != 0)
			w->errors++;
	}
	close(fd);
	return NULL;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* -d: every UPDATE's send time and latency, client by client. */
static int
dump(const struct opts *o, const double *lat, const double *sent)
{
	FILE *f = fopen(o->dump, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "# start %lld.%06ld\n", (long long)o->wall0.tv_sec, o->wall0.tv_nsec / 1000);
	for (unsigned c = 0; c < o->clients; c++)
		for (unsigned i = 0; i < o->each; i++) {
			size_t k = (size_t)c * o->each + i;
			fprintf(f, "%.6f %.3f %u %u\n", sent[k], lat[k] * 1000, c, i);
		}
	return fclose(f) == 0 ? 0 : -1;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	const char *server = NULL, *zone = NULL, *key = NULL;
	o->clients = 8;
	o->each = 250;
	o->tag = "c";
	o->dump = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *f = argv[i], *v = argv[i + 1];
		if (strcmp(f, "-s") == 0)
			server = v;
		else if (strcmp(f, "-z") == 0)
			zone = v;
		else if (strcmp(f, "-y") == 0)
			key = v;
		else if (strcmp(f, "-c") == 0)
			o->clients = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(f, "-n") == 0)
			o->each = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(f, "-t") == 0)
			o->tag = v;
		else if (strcmp(f, "-d") == 0)
			o->dump = v;
		else
			return -1;
	}
	char err[256];
	if (server == NULL || zone == NULL || key == NULL || o->clients == 0 || o->each == 0 ||
	    o->clients > 1024 || addr_parse(server, 53, &o->ss, &o->sl) != 0 ||
	    dns_name_from_text(zone, strlen(zone), NULL, o->zone) <= 0 ||
	    dns_tsig_key_parse(&o->key, key, err, sizeof(err)) != 0)
		return -1;
	o->zlen = dns_name_len(o->zone);
	return strlen(o->tag) > 20 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: anycst-updload -s ADDR:PORT -z ZONE -y NAME:ALG:BASE64 "
		        "[-c CLIENTS] [-n EACH] [-t TAG] [-d FILE]\n");
		return 2;
	}
	struct worker *w = calloc(o.clients, sizeof(*w));
	double *lat = calloc((size_t)o.clients * o.each, sizeof(*lat));
	double *sent = calloc((size_t)o.clients * o.each, sizeof(*sent));
	if (w == NULL || lat == NULL || sent == NULL)
		return 1;
	double t0 = clock_mono_s();
	o.t0 = t0;
	clock_gettime(CLOCK_REALTIME, &o.wall0);
	for (unsigned i = 0; i < o.clients; i++) {
		w[i] = (struct worker){.o = &o, .idx = i, .lat = lat + (size_t)i * o.each,
		                       .sent = sent + (size_t)i * o.each};
		pthread_create(&w[i].th, NULL, run, &w[i]);
	}
	unsigned errors = 0;
	for (unsigned i = 0; i < o.clients; i++) {
		pthread_join(w[i].th, NULL);
		errors += w[i].errors;
	}
	double wall = clock_mono_s() - t0;
	size_t n = (size_t)o.clients * o.each;
	if (o.dump != NULL && dump(&o, lat, sent) != 0) {
		fprintf(stderr, "anycst-updload: cannot write %s\n", o.dump);
		errors++;
	}
	qsort(lat, n, sizeof(*lat), dcmp);
	printf("updates %zu seconds %.3f rate %.0f p50_ms %.2f p99_ms %.2f errors %u\n", n, wall,
	       (double)n / wall, lat[n / 2] * 1000, lat[(n * 99) / 100 - (n >= 100)] * 1000,
	       errors);
	free(sent);
	free(lat);
	free(w);
	return errors != 0;
}
