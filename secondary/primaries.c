/* Choosing among several primaries: see primaries.h. */
#include "secondary/primaries.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dns/serial.h"
#include "net/tcp.h"
#include "util/err.h"
#include "util/log.h"

int
primaries_split(const char *list, char items[][PRIMARIES_ITEM_MAX], size_t max, char *err,
                size_t errcap)
{
	size_t n = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0) {
			snprintf(err, errcap, "'%s': item %zu is empty", list, n + 1);
			return -EINVAL;
		}
		if (len >= PRIMARIES_ITEM_MAX) {
			snprintf(err, errcap, "item %zu is longer than %d characters", n + 1,
			         PRIMARIES_ITEM_MAX - 1);
			return -EINVAL;
		}
		if (n == max) {
			snprintf(err, errcap, "more than %zu items", max);
			return -EINVAL;
		}
		memcpy(items[n], p, len);
		items[n][len] = '\0';
		n++;
		if (end == NULL)
			return (int)n;
		p = end + 1;
	}
}

void
primary_init(struct xfr_primary *p)
{
	addr_fmt((const struct sockaddr *)&p->addr, p->txt, sizeof(p->txt));
	addr_fmt_ip((const struct sockaddr *)&p->addr, p->ip, sizeof(p->ip));
	atomic_store(&p->down_until, 0);
}

/* One SOA query, on its own thread. */
struct probe {
	struct xfr_primary *p;
	struct xfr_params params;
	int ret;
	uint32_t serial;
	char why[256];
	pthread_t th;
	bool threaded;
};

static void *
probe_run(void *arg)
{
	struct probe *pr = arg;
	struct xfr_result r;
	xfr_result_init(&r);
	pr->ret = xfrin_run(&pr->params, &r, pr->why, sizeof(pr->why));
	pr->serial = r.serial_to;
	xfr_result_clear(&r);
	return NULL;
}

/* Marks a primary down or up after its probe; logs the changes only. */
static void
note_probe(struct probe *pr, const char *zone)
{
	struct xfr_primary *p = pr->p;
	if (pr->ret == 0) {
		if (atomic_exchange(&p->down_until, 0) != 0)
			log_notice(zone, "primary %s answers again, serial %u", p->txt, pr->serial);
		return;
	}
	/* Only a transport failure means down: an answer (REFUSED, a bad TSIG) is from a live node. */
	if (pr->ret == -ECANCELED || pr->ret <= ERR_BASE)
		return;
	int64_t was = atomic_exchange(&p->down_until, tcp_now_ms() + PRIMARIES_DOWN_MS);
	if (was == 0)
		log_warning(zone, "primary %s %s, SOA query failed (%s), skipped for %d s", p->txt,
		            xfr_transport_name(p->transport), pr->why, PRIMARIES_DOWN_MS / 1000);
}

/* Which primaries to ask: those not down, or all when every one is. */
static size_t
choose_asked(struct xfr_primary *ps, size_t n, bool *ask)
{
	int64_t now = tcp_now_ms();
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		ask[i] = atomic_load(&ps[i].down_until) <= now;
		k += ask[i];
	}
	if (k == 0)
		for (size_t i = 0; i < n; i++)
			ask[i] = true;
	return k == 0 ? n : k;
}

int
primaries_pick(struct xfr_primary *ps, size_t n, const struct xfr_params *base,
               struct primary_pick *out, char *why, size_t whycap)
{
	memset(out, 0, sizeof(*out));
	if (why != NULL && whycap > 0)
		why[0] = '\0';
	if (n <= 1)
		return 0;   /* nothing to choose: the refresh asks it directly */
	if (n > PRIMARIES_MAX)
		n = PRIMARIES_MAX;
	char zone[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(base->zone, zone, sizeof(zone)) < 0)
		snprintf(zone, sizeof(zone), "?");
	bool ask[PRIMARIES_MAX];
	out->asked = choose_asked(ps, n, ask);
	struct probe pr[PRIMARIES_MAX];
	int timeout = base->timeout_ms > 0 && base->timeout_ms < PRIMARIES_PROBE_MS
	                      ? base->timeout_ms : PRIMARIES_PROBE_MS;
	for (size_t i = 0; i < n; i++) {
		if (!ask[i])
			continue;
		pr[i] = (struct probe){.p = &ps[i], .params = *base};
		pr[i].params.primary = (const struct sockaddr *)&ps[i].addr;
		pr[i].params.primary_len = addr_len((const struct sockaddr *)&ps[i].addr);
		pr[i].params.transport = ps[i].transport;
		pr[i].params.timeout_ms = timeout;
		pr[i].params.soa_only = true;
		pr[i].params.on_start = NULL;
		/* the refresh's scratch is one: each probe thread reads into its own */
		pr[i].params.buf = NULL;
		pr[i].params.rdbuf = NULL;
		pr[i].threaded = pthread_create(&pr[i].th, NULL, probe_run, &pr[i]) == 0;
		if (!pr[i].threaded)
			probe_run(&pr[i]);
	}
	bool have = false;
	for (size_t i = 0; i < n; i++) {
		if (!ask[i])
			continue;
		if (pr[i].threaded)
			pthread_join(pr[i].th, NULL);
		note_probe(&pr[i], zone);
		if (pr[i].ret != 0) {
			if (why != NULL && whycap > 0) {
				size_t len = strlen(why);
				snprintf(why + len, whycap - len, "%s%s: %s", len ? "; " : "", ps[i].txt,
				         pr[i].why);
			}
			if (pr[i].ret == -ECANCELED)
				return -ECANCELED;
			continue;
		}
		out->answered++;
		if (!have || dns_serial_gt(pr[i].serial, out->serial)) {
			have = true;
			out->best = i;
			out->serial = pr[i].serial;
		}
	}
	out->have_serial = have;
	return have ? 0 : -EHOSTUNREACH;
}

int
primaries_find(struct xfr_primary *ps, size_t n, const struct sockaddr *from)
{
	for (size_t i = 0; i < n; i++)
		if (addr_equal_ip(from, (const struct sockaddr *)&ps[i].addr))
			return (int)i;
	return -1;
}

void
primaries_alive(struct xfr_primary *p)
{
	atomic_store(&p->down_until, 0);
	if (p->transport != NULL && p->transport->server_alive != NULL)
		p->transport->server_alive(p->transport);
}
