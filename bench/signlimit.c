/* signlimit -- the raw GnuTLS signing limit of this machine, one core.
 *
 * Signs a 120-byte message (about what an RRSIG over one A record signs) N
 * times with a fresh key of each DNSSEC algorithm the primary uses (13 ECDSA
 * P-256 SHA-256, 15 Ed25519) and prints signatures per second and the CPU
 * microseconds one signature costs.  bench/sign.sh sets the signer's first
 * signing beside it.
 *
 * usage: signlimit [N]        (default 20000)
 * Build: cc -O2 -o signlimit signlimit.c $(pkg-config --cflags --libs gnutls)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run(const char *name, gnutls_pk_algorithm_t pk, unsigned bits, gnutls_sign_algorithm_t sa, long n)
{
	gnutls_privkey_t k;
	if (gnutls_privkey_init(&k) < 0 || gnutls_privkey_generate(k, pk, bits, 0) < 0) {
		fprintf(stderr, "%s: key generation failed\n", name);
		return 1;
	}
	unsigned char msg[120];
	memset(msg, 0x5a, sizeof(msg));
	gnutls_datum_t data = {msg, sizeof(msg)};
	double t0 = cpu_s();
	for (long i = 0; i < n; i++) {
		gnutls_datum_t sig = {NULL, 0};
		msg[0] = (unsigned char)i;
		if (gnutls_privkey_sign_data2(k, sa, 0, &data, &sig) < 0) {
			fprintf(stderr, "%s: signing failed\n", name);
			gnutls_privkey_deinit(k);
			return 1;
		}
		gnutls_free(sig.data);
	}
	double t = cpu_s() - t0;
	printf("%s: %ld signatures in %.2f CPU s: %.0f/s, %.1f us each\n", name, n, t, n / t,
	       t * 1e6 / n);
	gnutls_privkey_deinit(k);
	return 0;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	if (n <= 0 || n > 10000000) {
		fprintf(stderr, "usage: %s [N]  (1..10000000)\n", argv[0]);
		return 2;
	}
	gnutls_global_init();
	int ret = run("ECDSA P-256 (13)", GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
	              GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, n);
	ret |= run("Ed25519 (15)", GNUTLS_PK_EDDSA_ED25519,
	           GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), GNUTLS_SIGN_EDDSA_ED25519, n);
	gnutls_global_deinit();
	return ret;
}
