/*
 * Keys, SPKI pins, the key-derived static secret and TLS sessions.
 * See net/quic.h (API) and net/quic_int.h (layers).
 */
#include "net/quic_int.h"

static const char tls_prio[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:"
                               "+GROUP-SECP256R1:+GROUP-SECP384R1:%DISABLE_TLS13_COMPAT_MODE";


int
quic_pubkey_pin(gnutls_pubkey_t pk, char pin[QUIC_PIN_LEN])
{
	gnutls_datum_t der = { NULL, 0 };
	uint8_t dig[32];
	if (gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &der) < 0)
		return -EINVAL;
	int ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, dig);
	gnutls_free(der.data);
	if (ret < 0)
		return -EIO;
	return base64_encode(dig, sizeof(dig), pin, QUIC_PIN_LEN) == QUIC_PIN_LEN - 1 ? 0 : -EIO;
}

static int
read_file(const char *path, gnutls_datum_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 20)) {
		close(fd);
		return -EINVAL;
	}
	out->data = gnutls_malloc((size_t)st.st_size);
	if (out->data == NULL) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t n = read(fd, out->data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		gnutls_free(out->data);
		return -EIO;
	}
	out->size = (unsigned)n;
	return 0;
}

/* Loads `path`, or creates an ECDSA P-256 key there (mode 0600) if it does not exist. */
int
quic_key_load_or_create(const char *path, gnutls_x509_privkey_t *out)
{
	gnutls_x509_privkey_t key;
	if (gnutls_x509_privkey_init(&key) < 0)
		return -ENOMEM;
	gnutls_datum_t d = { NULL, 0 };
	int ret = read_file(path, &d);
	if (ret == 0) {
		ret = gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM) < 0 ? -EINVAL : 0;
		gnutls_free(d.data);
		if (ret != 0) {
			log_error(NULL, "QUIC, key file %s, not a PEM private key", path);
			gnutls_x509_privkey_deinit(key);
			return ret;
		}
		*out = key;
		return 0;
	}
	if (ret != -ENOENT) {
		log_error(NULL, "QUIC, key file %s, cannot read (%s)", path, strerror(-ret));
		gnutls_x509_privkey_deinit(key);
		return ret;
	}
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0) {
		gnutls_x509_privkey_deinit(key);
		return -EIO;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		gnutls_free(d.data);
		gnutls_x509_privkey_deinit(key);
		log_error(NULL, "QUIC, key file %s, cannot create (%s)", path, strerror(-ret));
		return ret;
	}
	ssize_t n = write(fd, d.data, d.size);
	ret = (n == (ssize_t)d.size && fsync(fd) == 0) ? 0 : -EIO;
	close(fd);
	gnutls_free(d.data);
	if (ret != 0) {
		unlink(path);
		gnutls_x509_privkey_deinit(key);
		return ret;
	}
	log_notice(NULL, "QUIC, generated key %s", path);
	*out = key;
	return 0;
}

int
quic_privkey_pin(gnutls_x509_privkey_t key, char pin[QUIC_PIN_LEN])
{
	gnutls_privkey_t pk = NULL;
	gnutls_pubkey_t pub = NULL;
	int ret = -EINVAL;
	if (gnutls_privkey_init(&pk) < 0 || gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_privkey_import_x509(pk, key, 0) < 0 ||
	    gnutls_pubkey_import_privkey(pub, pk, 0, 0) < 0)
		goto out;
	ret = quic_pubkey_pin(pub, pin);
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (pk != NULL)
		gnutls_privkey_deinit(pk);
	return ret;
}

int
quic_spki_pin(const char *key_file, char pin[QUIC_PIN_LEN])
{
	gnutls_x509_privkey_t key;
	int ret = quic_key_load_or_create(key_file, &key);
	if (ret != 0)
		return ret;
	ret = quic_privkey_pin(key, pin);
	gnutls_x509_privkey_deinit(key);
	return ret;
}

/*
 * The server's static secret (address validation tokens, stateless reset
 * tokens): HMAC-SHA256 of the private key, so that a restarted server with
 * the same key computes the same reset token for a connection it lost and
 * the client learns at once that the connection is gone (RFC 9000 §10.3).
 */
int
quic_key_secret(gnutls_x509_privkey_t key, uint8_t secret[32])
{
	static const char label[] = "anycst QUIC static secret v1";
	gnutls_datum_t d = { NULL, 0 };
	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_DER, &d) < 0)
		return -EIO;
	int ret = gnutls_hmac_fast(GNUTLS_MAC_SHA256, label, sizeof(label) - 1, d.data, d.size,
	                           secret) < 0 ? -EIO : 0;
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return ret;
}

/* A self-signed certificate for `key`; only the key matters (pinning). */
int
quic_make_cert(gnutls_x509_privkey_t key, gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	uint8_t serial[16];
	(void)gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f;
	time_t t = time(NULL);
	static const char cn[] = "anycst";
	/* EdDSA signs the message itself: GnuTLS wants SHA-512 named for Ed25519 */
	int pk = gnutls_x509_privkey_get_pk_algorithm(key);
	gnutls_digest_algorithm_t dig = pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_SHA512
	                                                             : GNUTLS_DIG_SHA256;
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, t - 86400) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, t + 10 * 365 * 86400L) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                  sizeof(cn) - 1) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, dig, 0) < 0) {
		gnutls_x509_crt_deinit(crt);
		return -EIO;
	}
	*out = crt;
	return 0;
}

int
quic_tls_session_new(gnutls_session_t *out, bool server, gnutls_certificate_credentials_t cred,
                const char *alpn, ngtcp2_crypto_conn_ref *ref)
{
	gnutls_session_t s;
	unsigned flags = (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS |
	                 GNUTLS_NO_END_OF_EARLY_DATA;
	if (gnutls_init(&s, flags) < 0)
		return -ENOMEM;
	int ok = gnutls_priority_set_direct(s, tls_prio, NULL) == 0;
	if (ok)
		ok = (server ? ngtcp2_crypto_gnutls_configure_server_session(s)
		             : ngtcp2_crypto_gnutls_configure_client_session(s)) == 0;
	if (ok)
		ok = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) == 0;
	if (ok) {
		gnutls_datum_t a = { (unsigned char *)(uintptr_t)alpn, (unsigned)strlen(alpn) };
		ok = gnutls_alpn_set_protocols(s, &a, 1, GNUTLS_ALPN_MANDATORY) == 0;
	}
	if (!ok) {
		gnutls_deinit(s);
		return -EINVAL;
	}
	gnutls_session_set_ptr(s, ref);
	*out = s;
	return 0;
}
