/*
 * The parent's DS, asked over UDP (primary/parent_ds.h).  The answer is
 * untrusted bytes: parsed by dns_msg_parse, read with the section iterator,
 * only an exact DS rdata at the zone's own name counts (fuzzed:
 * tests/fuzz/fuzz_parent_ds.c).
 */
#include "primary/parent_ds.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"

int
parent_ds_answer_has(const uint8_t *pkt, size_t len, uint16_t id, const uint8_t *zone,
                     const struct parent_ds_want *w)
{
	struct dns_msg m;
	int ret = dns_msg_parse(&m, pkt, len);
	if (ret != 0)
		return ret < 0 ? ret : -EINVAL;
	if (m.id != id || !(m.flags & DNS_F_QR) || (m.flags & DNS_F_RCODE_MASK) != 0 ||
	    m.qname_len == 0 || m.qtype != DNS_T_DS || !dns_name_equal(m.qname, zone))
		return 0;
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	uint8_t owner[DNS_NAME_MAX], rd[DNS_RDATA_MAX];
	struct dns_rr rr;
	while ((ret = dns_msg_iter_next(&it, &rr, owner, rd, sizeof(rd))) == 1) {
		if (rr.type != DNS_T_DS || rr.rclass != 1 || !dns_name_equal(rr.owner, zone))
			continue;
		for (int i = 0; i < 2; i++)
			if (w->len[i] > 0 && rr.rdlen == w->len[i] &&
			    memcmp(rr.rdata, w->ds[i], w->len[i]) == 0)
				return 1;
	}
	return ret < 0 ? ret : 0;
}

static int64_t
ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
parent_ds_query(const struct sockaddr *sa, socklen_t salen, const uint8_t *zone,
                const struct parent_ds_want *w, int timeout_ms)
{
	uint16_t id;
	if (gnutls_rnd(GNUTLS_RND_NONCE, &id, sizeof(id)) != 0)
		return -EIO;
	uint8_t q[DNS_NAME_MAX + 64];
	ssize_t ql = dns_msg_make_query(q, sizeof(q), id, zone, DNS_T_DS, 1, DNS_F_RD, NULL);
	if (ql < 0)
		return (int)ql;
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int ret = -ETIMEDOUT;
	if (connect(fd, sa, salen) != 0 || send(fd, q, (size_t)ql, 0) != ql) {
		ret = -errno;
		goto out;
	}
	int64_t until = ms_now() + timeout_ms;
	for (int64_t left = timeout_ms; left > 0; left = until - ms_now()) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			break;
		uint8_t a[4096];
		ssize_t n = recv(fd, a, sizeof(a), 0);
		if (n < 0) {
			ret = -errno;
			break;
		}
		int has = parent_ds_answer_has(a, (size_t)n, id, zone, w);
		struct dns_msg m;
		/* another id or junk: keep waiting for ours */
		if (has == 1 || (dns_msg_parse(&m, a, (size_t)n) == 0 && m.id == id)) {
			ret = has;
			break;
		}
	}
out:
	close(fd);
	return ret;
}
