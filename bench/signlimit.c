/* signlimit -- the raw GnuTLS signing limit of this machine.
 *
 * Signs a 120-byte message (about what an RRSIG over one A record signs) N
 * times with a fresh key of each DNSSEC algorithm the primary uses (13 ECDSA
 * P-256 SHA-256, 15 Ed25519) and prints signatures per second and the CPU
 * microseconds one signature costs.  With -t T, T threads sign at once (N
 * each, keys of their own): the limit when every core signs, which is what a
 * signer using every core can reach at best (on a shared or virtual machine
 * the cores slow each other: a signature costs more CPU than on one core
 * alone).  bench/sign.sh sets the signer's first signing beside both.
 *
 * usage: signlimit [-t THREADS] [N]        (defaults 1, 20000)
 * Build: cc -O2 -o signlimit signlimit.c -lpthread $(pkg-config --cflags --libs gnutls)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define THREADS_MAX 64

struct alg {
	const char *name;
	gnutls_pk_algorithm_t pk;
	unsigned bits;
	gnutls_sign_algorithm_t sa;
};

struct worker {
	const struct alg *a;
	long n;
	pthread_barrier_t *go;
	gnutls_privkey_t k;
	int ret;
};

static double
now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
sign_loop(void *arg)
{
	struct worker *w = arg;
	unsigned char msg[120];
	memset(msg, 0x5a, sizeof(msg));
	gnutls_datum_t data = {msg, sizeof(msg)};
	pthread_barrier_wait(w->go);
	for (long i = 0; i < w->n && w->ret == 0; i++) {
		gnutls_datum_t sig = {NULL, 0};
		msg[0] = (unsigned char)i;
		if (gnutls_privkey_sign_data2(w->k, w->a->sa, 0, &data, &sig) < 0)
			w->ret = 1;
		gnutls_free(sig.data);
	}
	pthread_barrier_wait(w->go);
	return NULL;
}

static int
run(const struct alg *a, long n, int nt)
{
	struct worker w[THREADS_MAX];
	pthread_t th[THREADS_MAX];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, (unsigned)nt + 1);
	int ret = 0, started = 0;
	for (int i = 0; i < nt; i++) {
		w[i] = (struct worker){.a = a, .n = n, .go = &go};
		if (gnutls_privkey_init(&w[i].k) < 0 ||
		    gnutls_privkey_generate(w[i].k, a->pk, a->bits, 0) < 0) {
			fprintf(stderr, "%s: key generation failed\n", a->name);
			exit(1);
		}
	}
	for (int i = 0; i < nt; i++) {
		if (pthread_create(&th[i], NULL, sign_loop, &w[i]) != 0) {
			fprintf(stderr, "%s: cannot start a thread\n", a->name);
			exit(1);
		}
		started++;
	}
	/* the keys' generation is left out: counted from the barrier on */
	pthread_barrier_wait(&go);
	double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now_s(CLOCK_MONOTONIC);
	pthread_barrier_wait(&go);
	double c = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0, t = now_s(CLOCK_MONOTONIC) - t0;
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		ret |= w[i].ret;
		gnutls_privkey_deinit(w[i].k);
	}
	pthread_barrier_destroy(&go);
	if (ret != 0) {
		fprintf(stderr, "%s: signing failed\n", a->name);
		return 1;
	}
	long total = n * nt;
	printf("%s: %ld signatures on %d core%s in %.2f CPU s: %.0f/s, %.1f us each\n", a->name,
	       total, nt, nt == 1 ? "" : "s at once", c, total / t, c * 1e6 / total);
	return 0;
}

int
main(int argc, char **argv)
{
	int nt = 1, opt;
	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't' || (nt = atoi(optarg)) < 1 || nt > THREADS_MAX) {
			fprintf(stderr, "usage: %s [-t THREADS (1..%d)] [N]\n", argv[0], THREADS_MAX);
			return 2;
		}
	}
	long n = optind < argc ? atol(argv[optind]) : 20000;
	if (n <= 0 || n > 10000000) {
		fprintf(stderr, "usage: %s [-t THREADS] [N]  (N: 1..10000000)\n", argv[0]);
		return 2;
	}
	static const struct alg algs[] = {
		{"ECDSA P-256 (13)", GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
		 GNUTLS_SIGN_ECDSA_SECP256R1_SHA256},
		{"Ed25519 (15)", GNUTLS_PK_EDDSA_ED25519, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519),
		 GNUTLS_SIGN_EDDSA_ED25519},
	};
	gnutls_global_init();
	int ret = 0;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		ret |= run(&algs[i], n, nt);
	gnutls_global_deinit();
	return ret;
}
