/*
 * anycst-udpfuzz: sends random and mutated DNS packets at a UDP port, for
 * the secondary's bad-input test.  Seeds are valid queries for the given
 * zone names (plain, with EDNS, NOTIFY); each packet is a seed mutated by a
 * few of: bit flips, byte overwrites, truncation, extension with garbage,
 * header field changes (opcode, QR, counts), a compression pointer loop,
 * or fully random bytes.  Deterministic for a given --seed.
 *
 *   anycst-udpfuzz ADDR:PORT COUNT SEED RATE ZONE...
 *
 * RATE is packets per second (0: as fast as possible).  Prints what it sent
 * and how many answers came back.  Exit 0 unless the socket fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "net/addr.h"
#include "util/clock.h"

#define BATCH 64
#define MAXPKT 1500
#define MAXSEEDS 64

static uint64_t rng;

static uint64_t
next_rand(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static unsigned
rnd(unsigned n)
{
	return n == 0 ? 0 : (unsigned)(next_rand() % n);
}

struct seed {
	uint8_t p[512];
	size_t len;
};

static size_t
mutate(const struct seed *s, uint8_t *out)
{
	size_t len;
	if (rnd(16) == 0) {   /* pure noise */
		len = rnd(MAXPKT);
		for (size_t i = 0; i < len; i++)
			out[i] = (uint8_t)next_rand();
		return len;
	}
	memcpy(out, s->p, s->len);
	len = s->len;
	unsigned ops = 1 + rnd(4);
	for (unsigned k = 0; k < ops; k++) {
		switch (rnd(9)) {
		case 0:   /* bit flip */
			if (len > 0)
				out[rnd((unsigned)len)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 1:   /* byte overwrite with an interesting value */
			if (len > 0) {
				static const uint8_t v[] = {0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff};
				out[rnd((unsigned)len)] = v[rnd(sizeof(v))];
			}
			break;
		case 2:   /* truncate */
			len = rnd((unsigned)len + 1);
			break;
		case 3:   /* extend with garbage */
			for (unsigned n = rnd(200); n > 0 && len < MAXPKT; n--)
				out[len++] = (uint8_t)next_rand();
			break;
		case 4:   /* counts */
			if (len >= 12) {
				unsigned f = 4 + 2 * rnd(4);
				out[f] = (uint8_t)rnd(3) == 0 ? 0xff : 0;
				out[f + 1] = (uint8_t)rnd(4);
			}
			break;
		case 5:   /* opcode, QR, rcode bits */
			if (len >= 4) {
				out[2] = (uint8_t)next_rand();
				out[3] = (uint8_t)next_rand();
			}
			break;
		case 6:   /* compression pointer loop at the qname */
			if (len >= 14) {
				out[12] = 0xc0;
				out[13] = 12;
			}
			break;
		case 7:   /* pointer forward / out of range */
			if (len >= 14) {
				out[12] = (uint8_t)(0xc0 | rnd(64));
				out[13] = (uint8_t)next_rand();
			}
			break;
		default:  /* label length bytes */
			if (len > 12)
				out[12 + rnd((unsigned)(len - 12))] = (uint8_t)rnd(70);
			break;
		}
	}
	return len;
}

int
main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s ADDR:PORT COUNT SEED RATE ZONE...\n", argv[0]);
		return 2;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(argv[1], 53, &ss, &sl) != 0) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 2;
	}
	unsigned long count = strtoul(argv[2], NULL, 10);
	rng = strtoull(argv[3], NULL, 10) | 1;
	unsigned long rate = strtoul(argv[4], NULL, 10);
	struct seed seeds[MAXSEEDS];
	size_t nseeds = 0;
	static const uint16_t types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_SOA, DNS_T_NS, DNS_T_MX,
	                                 DNS_T_TXT, DNS_T_ANY, DNS_T_AXFR, DNS_T_IXFR, 65};
	for (int a = 5; a < argc && nseeds + 4 <= MAXSEEDS; a++) {
		uint8_t zone[DNS_NAME_MAX], name[DNS_NAME_MAX];
		if (dns_name_from_text(argv[a], strlen(argv[a]), NULL, zone) < 0)
			continue;
		char sub[300];
		snprintf(sub, sizeof(sub), "www.%s", argv[a]);
		if (dns_name_from_text(sub, strlen(sub), NULL, name) < 0)
			continue;
		struct dns_edns e = {.udp_size = 1232};
		struct dns_edns e1 = {.udp_size = 4096, .version = 1};
		ssize_t n;
		n = dns_msg_make_query(seeds[nseeds].p, 512, 1, name, types[rnd(10)], DNS_C_IN, 0, NULL);
		if (n > 0)
			seeds[nseeds++].len = (size_t)n;
		n = dns_msg_make_query(seeds[nseeds].p, 512, 2, zone, types[rnd(10)], DNS_C_IN,
		                       DNS_F_RD, &e);
		if (n > 0)
			seeds[nseeds++].len = (size_t)n;
		n = dns_msg_make_query(seeds[nseeds].p, 512, 3, name, DNS_T_A, DNS_C_IN, 0, &e1);
		if (n > 0)
			seeds[nseeds++].len = (size_t)n;
		n = dns_msg_make_notify(seeds[nseeds].p, 512, 4, zone, NULL);
		if (n > 0)
			seeds[nseeds++].len = (size_t)n;
	}
	if (nseeds == 0) {
		fprintf(stderr, "no usable zone names\n");
		return 2;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	static uint8_t pkt[BATCH][MAXPKT];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	unsigned long sent = 0, answers = 0;
	uint8_t rbuf[65536];
	double t0 = clock_mono_s();
	while (sent < count) {
		unsigned n = count - sent < BATCH ? (unsigned)(count - sent) : BATCH;
		for (unsigned i = 0; i < n; i++) {
			iov[i].iov_base = pkt[i];
			iov[i].iov_len = mutate(&seeds[rnd((unsigned)nseeds)], pkt[i]);
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &ss;
			mm[i].msg_hdr.msg_namelen = sl;
		}
		int s = sendmmsg(fd, mm, n, 0);
		if (s < 0 && errno != EAGAIN && errno != ENOBUFS) {
			perror("sendmmsg");
			return 1;
		}
		sent += n;   /* a packet the kernel dropped counts as sent: it was produced */
		while (recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
			answers++;
		if (rate > 0) {
			double el = clock_mono_s() - t0;
			double want = (double)sent / (double)rate;
			if (want > el) {
				struct timespec d = {.tv_sec = (time_t)(want - el),
				                     .tv_nsec = (long)((want - el - (double)(time_t)(want - el)) * 1e9)};
				nanosleep(&d, NULL);
			}
		}
	}
	usleep(200000);
	while (recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
		answers++;
	printf("sent %lu packets from %zu seeds in %.2f s, %lu answers\n", sent, nseeds,
	       clock_mono_s() - t0, answers);
	close(fd);
	return 0;
}
