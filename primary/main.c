/*
 * anycst-primary: wiring only.  Flags per DESIGN.md become a struct
 * primary_conf; primary_open (primary.c) opens the store and starts the
 * transfer side and the mesh, then the API starts on top (the only api/
 * include in primary/); SIGTERM/SIGINT stop the API (running requests
 * finish), then primary_close.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "api/api.h"
#include "primary/db.h"
#include "primary/primary.h"
#include "primary/xfr_quic.h"
#include "primary/xfr_service.h"
#include "util/keyfile.h"
#include "util/log.h"
#include "util/opts.h"


static size_t
num_opt(struct opt *primary_opts, const char *name, size_t lo, size_t hi)
{
	const char *s = opts_str(primary_opts, name);
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		fatal("--%s: '%s' is not a number in %zu..%zu", name, s, lo, hi);
	return (size_t)v;
}

/* Directory part of `path` ("." when none) into buf. */
static void
dir_of(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(buf, cap, ".");
	else if (slash == path)
		snprintf(buf, cap, "/");
	else
		snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/*
 * Reads the key file, creating it with a random key (mode 0600) when missing.
 * An existing file that group or others may read is refused (like ssh).
 */
static char *
load_key(const char *path, const char *flag)
{
	char buf[512], err[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		unsigned char raw[24];
		gnutls_datum_t in = {.data = raw, .size = sizeof(raw)}, b = {0};
		if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0 || gnutls_base64_encode2(&in, &b) != 0)
			fatal("cannot generate an API key");
		size_t n = 0;
		for (unsigned i = 0; i < b.size && n + 2 < sizeof(buf); i++) {
			char c = (char)b.data[i];
			if (c != '=')
				buf[n++] = c == '+' ? '-' : c == '/' ? '_' : c;
		}
		gnutls_free(b.data);
		explicit_bzero(raw, sizeof(raw));
		buf[n++] = '\n';
		int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		/* 0600 whatever the umask */
		if (wfd < 0 || fchmod(wfd, 0600) != 0 || write(wfd, buf, n) != (ssize_t)n ||
		    close(wfd) != 0)
			fatal("%s: cannot create %s: %s", flag, path, strerror(errno));
		explicit_bzero(buf, sizeof(buf));
		log_notice(NULL, "%s: key created in %s", flag, path);
	} else if (fd >= 0) {
		close(fd);
	}
	ssize_t n = keyfile_read(flag, path, buf, sizeof(buf), err, sizeof(err));
	if (n < 0)
		fatal("%s", err);
	if (n == 0)
		fatal("%s: %s holds no key", flag, path);
	char *k = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (k == NULL)
		fatal("out of memory");
	return k;
}

/*
 * The options a reload (SIGHUP) applies; any other changed option is
 * logged as needing a restart.
 */
static const char *const reloadable[] = {
	"log-level", "log-format", "notify", "api-max-body", "api-max-rrsets", "api-max-records",
	"api-header-timeout", "api-body-timeout", "api-max-conn-per-ip", NULL,
};

/* What a reload applies, checked in full before anything is. */
struct reload_conf {
	enum log_level level;
	enum log_format format;
	struct api_limits lim;
};

static int
reload_conf(struct opt *o, struct reload_conf *rc, char *err, size_t errcap)
{
	unsigned long long v[6];
	if (log_level_parse(opts_str(o, "log-level"), &rc->level) != 0) {
		snprintf(err, errcap, "--log-level: unknown level '%s'", opts_str(o, "log-level"));
		return -EINVAL;
	}
	if (log_format_parse(opts_str(o, "log-format"), &rc->format) != 0) {
		snprintf(err, errcap, "--log-format: '%s' is not text or json",
		         opts_str(o, "log-format"));
		return -EINVAL;
	}
	if (opts_num(o, "api-max-body", 1024, (size_t)1 << 30, 16u << 20, &v[0], err, errcap) ||
	    opts_num(o, "api-max-rrsets", 1, 10000000, 10000, &v[1], err, errcap) ||
	    opts_num(o, "api-max-records", 1, 10000000, 10000, &v[2], err, errcap) ||
	    opts_num(o, "api-header-timeout", 1, 3600, 10, &v[3], err, errcap) ||
	    opts_num(o, "api-body-timeout", 1, 3600, 60, &v[4], err, errcap) ||
	    opts_num(o, "api-max-conn-per-ip", 1, 512, 32, &v[5], err, errcap))
		return -EINVAL;
	rc->lim = (struct api_limits){.max_body = v[0], .max_rrsets = v[1], .max_records = v[2],
	                              .header_timeout = (unsigned)v[3],
	                              .body_timeout = (unsigned)v[4],
	                              .max_conn_per_ip = (unsigned)v[5]};
	return 0;
}

/*
 * SIGHUP: reads the command line and --config file again into a fresh table
 * and, when all of it is good, applies the reloadable options; a bad file
 * changes nothing (the reason is logged).  0 or -EINVAL.
 */
static int
reload(struct opt *cur, struct opt *fresh, int argc, char **argv, struct primary *p)
{
	char err[512];
	struct reload_conf rc;
	if (opts_reparse(cur, fresh, argc, argv, err, sizeof(err)) != 0 ||
	    reload_conf(fresh, &rc, err, sizeof(err)) != 0) {
		log_error(NULL, "reload refused, the running configuration stays: %s", err);
		return -EINVAL;
	}
	struct opt *nt = opts_get(fresh, "notify");
	if (!opts_same(cur, fresh, "notify") &&
	    xfr_service_set_notify(p->xfr, nt->values, nt->nvalues, err, sizeof(err)) != 0) {
		log_error(NULL, "reload refused, the running configuration stays: %s", err);
		return -EINVAL;
	}
	log_set_level(rc.level);
	log_set_format(rc.format);
	api_set_limits(p->api, &rc.lim);
	for (struct opt *o = cur; o->name != NULL; o++) {
		bool r = false;
		for (size_t i = 0; reloadable[i] != NULL && !r; i++)
			r = strcmp(reloadable[i], o->name) == 0;
		if (!r && !opts_same(cur, fresh, o->name))
			log_warning(NULL, "reload: --%s changed, takes effect after a restart", o->name);
	}
	size_t n = opts_count(cur);
	for (size_t i = 0; i < n; i++)
		cur[i] = fresh[i];
	log_notice(NULL, "configuration reloaded: log-level %s, %zu NOTIFY targets, api-max-body %zu, "
	           "api-max-rrsets %zu, api-max-records %zu, api-max-conn-per-ip %u",
	           opts_str(cur, "log-level"), nt->nvalues, rc.lim.max_body, rc.lim.max_rrsets,
	           rc.lim.max_records, rc.lim.max_conn_per_ip);
	return 0;
}

/* Until SIGTERM or SIGINT; SIGHUP reloads. */
static void
wait_signals(const sigset_t *sigs, struct opt *cur, struct opt *fresh, int argc, char **argv,
             struct primary *p)
{
	for (;;) {
		int sig = 0;
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_notice(NULL, "SIGHUP received, reloading the configuration");
			reload(cur, fresh, argc, argv, p);
			continue;
		}
		log_notice(NULL, "%s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
}

/* The API's configuration from the options, on top of primary `p`. */
static struct api_opts
api_conf(struct opt *primary_opts, const char *key, struct primary *p)
{
	struct api_opts ao = {
		.listen = opts_str(primary_opts, "api"),
		.key = key,
		.max_body = num_opt(primary_opts, "api-max-body", 1024, (size_t)1 << 30),
		.max_rrsets = num_opt(primary_opts, "api-max-rrsets", 1, 10000000),
		.max_records = num_opt(primary_opts, "api-max-records", 1, 10000000),
		.max_conn_per_ip = (unsigned)num_opt(primary_opts, "api-max-conn-per-ip", 1, 512),
		.header_timeout = (unsigned)num_opt(primary_opts, "api-header-timeout", 1, 3600),
		.body_timeout = (unsigned)num_opt(primary_opts, "api-body-timeout", 1, 3600),
		.version = "0.1.0",
		.quic_spki_pin = xfr_quic_pin(p->quic),
		.metrics_listen = opts_get(primary_opts, "metrics")->set ?
		                  opts_str(primary_opts, "metrics") : NULL,
		.propagation = xfr_service_propagation(p->xfr),
		.mesh = p->mesh,
		.metrics_fn = primary_metrics,
		.metrics_ctx = p,
	};
	return ao;
}

/* The options, read-only: main copies them to its stack, which opts_parse
 * fills (no writable global in primary/). */
static const struct opt primary_opts_def[] = {
	{.name = "db", .arg = "PATH|URL", .def = "./anycst.db",
	 .help = "SQLite database file, or a postgresql:// URL (libpq; several hosts allowed)"},
	{.name = "api", .arg = "ADDR:PORT", .def = "127.0.0.1:8081", .help = "REST API listener"},
	{.name = "metrics", .arg = "ADDR:PORT", .help = "GET /metrics without a key (Prometheus)"},
	{.name = "api-key-file", .arg = "FILE", .def = "<db dir>/api.key", .help = "X-API-Key secret"},
	{.name = "xfr", .arg = "ADDR:PORT", .def = "127.0.0.1:5300", .help = "AXFR/IXFR over TCP"},
	{.name = "quic", .arg = "ADDR:PORT", .def = "127.0.0.1:8853", .help = "AXFR/IXFR over QUIC"},
	{.name = "tls-key", .arg = "FILE", .def = "<db dir>/tls.key", .help = "QUIC TLS key"},
	{.name = "doq-strict", .help = "refuse a non-zero DoQ message id (RFC 9250 4.2.1)"},
	{.name = "dnssec-key-file", .arg = "FILE", .help = "secret sealing DNSSEC private keys (0600; "
	 "created when missing); without it zones cannot be signed"},
	{.name = "dnssec-validity", .arg = "SECONDS", .def = "1209600", .help = "RRSIG validity "
	 "(refreshed at half, in small batches)"},
	{.name = "dnssec-refresh-batch", .arg = "N", .def = "200", .help = "rrsets re-signed "
	 "per zone and pass (signature refresh, ZSK rollover)"},
	{.name = "dnssec-dnskey-ttl", .arg = "SECONDS", .def = "3600", .help = "TTL of the "
	 "DNSKEY rrset"},
	{.name = "dnssec-propagation-delay", .arg = "SECONDS", .def = "3600", .help = "added to "
	 "every ZSK rollover wait (publish -> active, last re-sign -> remove)"},
	{.name = "dnssec-zsk-lifetime", .arg = "SECONDS", .def = "0", .help = "roll a ZSK "
	 "automatically after this long active (0: only on request)"},
	{.name = "dnssec-ds-ttl", .arg = "SECONDS", .def = "86400", .help = "the parent's DS "
	 "TTL: an old KSK stays this long (+ propagation delay) after the new DS is seen"},
	{.name = "dnssec-unsign-delay", .arg = "SECONDS", .def = "259200", .help = "dnssec "
	 "switched off: CDS/CDNSKEY DELETE published this long before the zone goes unsigned "
	 "(0: at once)"},
	{.name = "dnssec-parent", .arg = "ADDR[@PORT]", .help = "asked (RD set: a resolver or "
	 "the parent's server) for the DS of a zone in KSK rollover; its DS there confirms it "
	 "as {\"ds_seen\": true} would"},
	{.name = "dnssec-algorithm", .arg = "13|15", .def = "13", .help = "algorithm of the key "
	 "made when a zone is signed: 13 ECDSA P-256 SHA-256, 15 Ed25519"},
	{.name = "dnssec-background-min", .arg = "N", .def = "1000", .help = "zones of at least "
	 "N records are first signed in the background (NSEC; the zone reads \"signing\": true)"},
	{.name = "dnssec-refresh-interval", .arg = "SECONDS", .def = "60", .help = "seconds "
	 "between signature refresh passes"},
	{.name = "catalog", .arg = "NAME", .def = "catalog.anycst.invalid.", .help = "catalog zone"},
	{.name = "notify", .arg = "ADDR:PORT", .help = "extra NOTIFY target", .repeatable = true},
	{.name = "log-level", .arg = "LEVEL", .def = "info", .help = "debug|info|notice|warning|error"},
	{.name = "log-format", .arg = "text|json", .def = "text", .help = "log lines as text or JSON"},
	{.name = "journal-keep", .arg = "N", .def = "1000", .help = "journal entries kept per zone"},
	{.name = "journal-keep-age", .arg = "SECONDS", .def = "0",
	 .help = "journal entries older than this are dropped (0: only the count)"},
	{.name = "wal-max", .arg = "MIB", .def = "64", .help = "SQLite WAL size the checkpointer enforces"},
	{.name = "api-max-body", .arg = "BYTES", .def = "16777216", .help = "largest request body"},
	{.name = "api-max-rrsets", .arg = "N", .def = "10000", .help = "rrsets per request"},
	{.name = "api-max-records", .arg = "N", .def = "10000", .help = "records per rrset"},
	{.name = "api-max-conn-per-ip", .arg = "N", .def = "32", .help = "API connections per client address"},
	{.name = "api-header-timeout", .arg = "SECONDS", .def = "10", .help = "deadline for a request's headers"},
	{.name = "api-body-timeout", .arg = "SECONDS", .def = "60", .help = "deadline for a request's body"},
	{.name = "mesh-net", .arg = "CIDR", .def = "10.53.0.0/24 (fd00:53::/64 when --xfr is IPv6)", .help = "WireGuard mesh, IPv4 or IPv6 (a ULA /64; primary: first host)"},
	{.name = "mesh-ip", .arg = "ADDRESS", .def = "the first host of --mesh-net", .help = "this node's mesh address (several nodes on one PostgreSQL: one each)"},
	{.name = "wg-endpoint", .arg = "HOST:PORT", .help = "primary's public WireGuard endpoint"},
	{.name = "wg-private-key", .arg = "FILE", .help = "primary's WireGuard private key"},
	{.name = "wg-interface", .arg = "NAME", .help = "apply POP peers to this interface (wg set)"},
	{0},
};

int
main(int argc, char **argv)
{
	struct opt primary_opts[sizeof(primary_opts_def) / sizeof(primary_opts_def[0])];
	memcpy(primary_opts, primary_opts_def, sizeof(primary_opts));
	struct opt fresh[sizeof(primary_opts) / sizeof(primary_opts[0])];
	char err[512];
	if (opts_parse(primary_opts, argc, argv, "anycst-primary",
	               "hidden primary: REST API, SQLite store, IXFR journal, zone transfers",
	               err, sizeof(err)) != 0)
		fatal("%s", err);
	struct reload_conf rc;
	if (reload_conf(primary_opts, &rc, err, sizeof(err)) != 0)
		fatal("%s", err);
	log_set_level(rc.level);
	log_set_format(rc.format);

	/* the database and key files hold TSIG secrets and API key hashes */
	umask(077);
	const char *db = opts_str(primary_opts, "db");
	char dir[4096], keypath[4200];
	bool pg = db_is_pg(db);
	if (pg && (!opts_get(primary_opts, "api-key-file")->set ||
	           !opts_get(primary_opts, "tls-key")->set))
		fatal("--db postgresql://...: give --api-key-file and --tls-key (no database "
		      "directory to keep them in; the nodes of one database share the API key)");
	dir_of(pg ? "./anycst.db" : db, dir, sizeof(dir));
	/* the database's directory also holds the generated API and TLS keys */
	if (!pg && mkdir(dir, 0700) != 0 && errno != EEXIST)
		fatal("--db: cannot create directory %s: %s", dir, strerror(errno));
	if (opts_get(primary_opts, "api-key-file")->set)
		snprintf(keypath, sizeof(keypath), "%s", opts_str(primary_opts, "api-key-file"));
	else
		snprintf(keypath, sizeof(keypath), "%s/api.key", dir);

	/* one primary per database: a second one would write behind the first's back */
	/* (PostgreSQL: several nodes on one database is the point; the rows they
	 * change are locked in the database) */
	char lockpath[4200];
	snprintf(lockpath, sizeof(lockpath), "%s.lock", db);
	if (!pg && keyfile_lock(lockpath, err, sizeof(err)) != 0)
		fatal("--db %s: %s; refusing to start a second anycst-primary on the same database",
		      db, err);
	char *key = load_key(keypath, "--api-key-file");
	/* DNSSEC: the file's secret seals the zones' private keys (created when missing) */
	struct opt *dk = opts_get(primary_opts, "dnssec-key-file");
	char *dnssec_secret = dk->set ? load_key(dk->values[dk->nvalues - 1], "--dnssec-key-file") :
	                      NULL;

	long dnssec_alg = num_opt(primary_opts, "dnssec-algorithm", 13, 15);
	if (dnssec_alg != 13 && dnssec_alg != 15)
		fatal("--dnssec-algorithm: %ld is not 13 (ECDSA P-256) or 15 (Ed25519)", dnssec_alg);

	/* signals are taken by sigwait below; threads started later inherit the mask */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct opt *nt = opts_get(primary_opts, "notify");
	struct opt *wge = opts_get(primary_opts, "wg-endpoint");
	struct opt *wgk = opts_get(primary_opts, "wg-private-key");
	struct opt *wgi = opts_get(primary_opts, "wg-interface");
	char tlskey[4200];
	if (opts_get(primary_opts, "tls-key")->set)
		snprintf(tlskey, sizeof(tlskey), "%s", opts_str(primary_opts, "tls-key"));
	else
		snprintf(tlskey, sizeof(tlskey), "%s/tls.key", dir);
	struct primary_conf pc = {
		.store = {.path = db, .catalog = opts_str(primary_opts, "catalog"),
		          .journal_keep = (unsigned)num_opt(primary_opts, "journal-keep", 1, 10000000),
		          .journal_keep_age = (uint32_t)num_opt(primary_opts, "journal-keep-age", 0,
		                                                 366 * 86400),
		          .wal_max_mib = (unsigned)num_opt(primary_opts, "wal-max", 1, 65536),
		          .dnssec_secret = dnssec_secret,
		          .dnssec_validity = (uint32_t)num_opt(primary_opts, "dnssec-validity", 20,
		                                               90 * 86400),
		          .dnssec_dnskey_ttl = (uint32_t)num_opt(primary_opts, "dnssec-dnskey-ttl", 1,
		                                                 86400),
		          .dnssec_propagation_delay = (uint32_t)num_opt(primary_opts,
		                                                        "dnssec-propagation-delay", 0,
		                                                        86400),
		          .dnssec_zsk_lifetime = (uint32_t)num_opt(primary_opts, "dnssec-zsk-lifetime", 0,
		                                                   10 * 365 * 86400),
		          .dnssec_ds_ttl = (uint32_t)num_opt(primary_opts, "dnssec-ds-ttl", 0,
		                                             30 * 86400),
		          .dnssec_unsign_delay = (uint32_t)num_opt(primary_opts, "dnssec-unsign-delay",
		                                                   0, 365 * 86400),
		          .dnssec_alg = dnssec_alg,
		          .dnssec_background_min = (unsigned)num_opt(primary_opts,
		                                                     "dnssec-background-min", 1,
		                                                     100000000)},
		.dnssec_refresh_interval = (unsigned)num_opt(primary_opts, "dnssec-refresh-interval", 1,
		                                             86400),
		.dnssec_refresh_batch = (unsigned)num_opt(primary_opts, "dnssec-refresh-batch", 1,
		                                          100000),
		.dnssec_parent = opts_get(primary_opts, "dnssec-parent")->set ?
		                 opts_str(primary_opts, "dnssec-parent") : NULL,
		.xfr = opts_str(primary_opts, "xfr"),
		.notify = nt->values,
		.nnotify = nt->nvalues,
		.quic = opts_str(primary_opts, "quic"),
		.tls_key = tlskey,
		.doq_strict = opts_flag(primary_opts, "doq-strict"),
		.mesh = {
			.net = opts_get(primary_opts, "mesh-net")->nvalues > 0
			               ? opts_str(primary_opts, "mesh-net") : NULL,
			.mesh_ip = opts_get(primary_opts, "mesh-ip")->set
			                   ? opts_str(primary_opts, "mesh-ip") : NULL,
			.wg_endpoint = wge->set ? wge->values[wge->nvalues - 1] : NULL,
			.wg_private_key = wgk->set ? wgk->values[wgk->nvalues - 1] : NULL,
			.wg_interface = wgi->set ? wgi->values[wgi->nvalues - 1] : NULL,
		},
	};
	struct primary *p = NULL;
	int ret = primary_open(&pc, &p, err, sizeof(err));
	if (ret != 0)
		fatal("%s", err);
	struct api_opts ao = api_conf(primary_opts, key, p);
	ret = api_start(&ao, p->store, &p->api, err, sizeof(err));
	if (ret != 0) {
		primary_close(p);
		fatal("%s", err);
	}
	/* (a URL may hold a password: not logged) */
	log_notice(NULL, "anycst-primary started, database %s, catalog %s", pg ? "PostgreSQL" : db,
	           opts_str(primary_opts, "catalog"));
	wait_signals(&sigs, primary_opts, fresh, argc, argv, p);
	api_stop(p->api);
	primary_close(p);
	free(key);
	if (dnssec_secret != NULL) {
		explicit_bzero(dnssec_secret, strlen(dnssec_secret));
		free(dnssec_secret);
	}
	log_notice(NULL, "stopped");
	return 0;
}
