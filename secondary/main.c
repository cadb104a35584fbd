/*
 * anycst-secondary: wiring only.  Flags per DESIGN.md; the order of start
 * matters: persisted zones are loaded and served (UDP, TCP) before the
 * transfer threads contact the primary.  SIGTERM/SIGINT stop everything in
 * reverse order.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/name.h"
#include "dns/tsig.h"
#include "net/addr.h"
#include "net/quic.h"
#include "secondary/announce.h"
#include "secondary/answer.h"
#include "secondary/health.h"
#include "secondary/http.h"
#include "secondary/notify.h"
#include "secondary/rrl.h"
#include "secondary/serve.h"
#include "secondary/serve_tcp.h"
#include "secondary/serve_udp.h"
#include "secondary/timers.h"
#include "secondary/xfrin.h"
#include "secondary/zdb.h"
#include "util/base.h"
#include "util/err.h"
#include "util/keyfile.h"
#include "util/log.h"
#include "util/opts.h"

#ifndef ANYCST_VERSION
#define ANYCST_VERSION "0.1.0"
#endif

static struct opt secondary_opts[] = {
	{.name = "primary", .arg = "ADDR:PORT", .def = "127.0.0.1:8853 (QUIC), 127.0.0.1:5300 (TCP)",
	 .help = "zone source"},
	{.name = "transport", .arg = "quic|tcp", .def = "quic", .help = "transfer transport"},
	{.name = "primary-tcp", .arg = "ADDR:PORT|off", .def = "--primary's address, port 5300",
	 .help = "TCP transfers when QUIC keeps failing (with --tsig-file only)"},
	{.name = "pin", .arg = "BASE64", .help = "SPKI SHA-256 pin of the primary's QUIC key"},
	{.name = "insecure", .help = "accept any QUIC key (logs a warning)"},
	{.name = "tsig-file", .arg = "FILE",
	 .help = "TSIG key for transfers and NOTIFY: a line NAME:ALG:BASE64SECRET, mode 0600"},
	{.name = "tsig", .arg = "NAME:ALG:SECRET", .help = "refused: use --tsig-file"},
	{.name = "listen", .arg = "ADDR:PORT", .def = "127.0.0.1:5353", .help = "DNS service",
	 .repeatable = true},
	{.name = "state-dir", .arg = "DIR", .def = "./secondary-state", .help = "persisted zones"},
	{.name = "catalog", .arg = "NAME", .def = "catalog.anycst.invalid.", .help = "catalog zone"},
	{.name = "zone", .arg = "NAME", .help = "serve this zone (instead of the catalog)",
	 .repeatable = true},
	{.name = "workers", .arg = "N", .def = "number of CPUs", .help = "serving threads"},
	{.name = "identity", .arg = "STRING", .def = "hostname", .help = "NSID / id.server"},
	{.name = "log-level", .arg = "LEVEL", .def = "info", .help = "debug|info|notice|warning|error"},
	{.name = "http", .arg = "ADDR:PORT", .def = "off", .help = "/healthz and /metrics"},
	{.name = "xfr-threads", .arg = "N", .def = "4", .help = "concurrent zone transfers"},
	{.name = "xfr-timeout", .arg = "SECONDS", .def = "30",
	 .help = "silence allowed from the primary during a refresh"},
	{.name = "xfr-max-size", .arg = "MIB", .def = "1024", .help = "largest zone transfer"},
	{.name = "tcp-idle-timeout", .arg = "SECONDS", .def = "10", .help = "DNS over TCP idle limit"},
	{.name = "tcp-msg-timeout", .arg = "SECONDS", .def = "5", .help = "DNS over TCP: one message, first byte to last"},
	{.name = "tcp-max-clients", .arg = "N", .def = "512", .help = "TCP connections in total"},
	{.name = "tcp-max-per-client", .arg = "N", .def = "32", .help = "TCP connections per address"},
	{.name = "anycast-iface", .arg = "NAME", .def = "none",
	 .help = "interface holding the anycast address: up while healthy (BIRD announces it)"},
	{.name = "bird-socket", .arg = "PATH", .def = "/run/bird/bird.ctl with --anycast-iface",
	 .help = "BIRD control socket to check (\"off\": none)"},
	{.name = "announce-holddown", .arg = "SECONDS", .def = "5",
	 .help = "stay withdrawn this long after a withdrawal or start"},
	{.name = "max-lag", .arg = "SECONDS", .def = "300",
	 .help = "a zone behind the primary's serial longer counts as bad (0: off)"},
	{.name = "max-lag-serials", .arg = "N", .def = "0",
	 .help = "a zone more serials behind the primary counts as bad (0: off)"},
	{.name = "health-grace", .arg = "SECONDS", .def = "60",
	 .help = "a new catalog member missing this long counts as bad"},
	{.name = "health-max-bad", .arg = "N|P%", .def = HEALTH_MAX_BAD_DEFAULT,
	 .help = "bad zones (missing, expired, lagging) tolerated; P% of them at least one"},
	{.name = "rrl-rate", .arg = "N", .def = "0 (off)",
	 .help = "UDP responses per second per client prefix and response (name, type, class)"},
	{.name = "rrl-ipv4-prefix", .arg = "BITS", .def = "24",
	 .help = "IPv4 clients sharing RRL buckets (1..32)"},
	{.name = "rrl-ipv6-prefix", .arg = "BITS", .def = "56",
	 .help = "IPv6 clients sharing RRL buckets (1..128)"},
	{.name = "rrl-slip", .arg = "N", .def = "2",
	 .help = "every Nth rate-limited answer sent truncated (TC=1); 0: drop all"},
	{.name = "rrl-whitelist", .arg = "PREFIX", .help = "never rate-limit this prefix",
	 .repeatable = true},
	{0},
};

static unsigned long
num_opt(const char *name, unsigned long lo, unsigned long hi, unsigned long def)
{
	struct opt *o = opts_get(secondary_opts, name);
	if (!o->set)
		return def;
	const char *s = opts_str(secondary_opts, name);
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		fatal("--%s: '%s' is not a number in %lu..%lu", name, s, lo, hi);
	return v;
}

static void
parse_addr(const char *flag, const char *s, uint16_t defport, struct sockaddr_storage *ss)
{
	socklen_t len;
	if (addr_parse(s, defport, ss, &len) != 0)
		fatal("--%s: '%s' is not ADDR:PORT (IPv6 as [::1]:53)", flag, s);
}

static void
parse_zone(const char *flag, const char *s, uint8_t *out)
{
	if (dns_name_from_text(s, strlen(s), NULL, out) < 0)
		fatal("--%s: '%s' is not a domain name", flag, s);
	dns_name_lower(out);
}

/* A --pin is the base64 of a SHA-256 digest: 0 or -EINVAL. */
static int
check_pin(const char *pin)
{
	uint8_t dig[48];
	size_t len = strlen(pin);
	if (len != QUIC_PIN_LEN - 1)
		return -EINVAL;
	return base64_decode(pin, len, dig, sizeof(dig)) == 32 ? 0 : -EINVAL;
}

/*
 * Reads the TSIG key from `path` (dns_tsig_key_parse_text's format; the file
 * must be private to its owner).  0, or -errno with the reason in `err`,
 * never the secret.
 */
static int
tsig_file_load(struct dns_tsig_key *k, const char *path, char *err, size_t errcap)
{
	char buf[DNS_TSIG_TEXT_MAX + 1], why[200];
	ssize_t n = keyfile_read("--tsig-file", path, buf, sizeof(buf), err, errcap);
	if (n < 0)
		return (int)n;
	int ret = dns_tsig_key_parse_text(k, buf, (size_t)n, why, sizeof(why));
	if (ret != 0)
		snprintf(err, errcap, "--tsig-file %s: %s", path, why);
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

int
main(int argc, char **argv)
{
	char err[512];
	if (opts_parse(secondary_opts, argc, argv, "anycst-secondary",
	               "POP daemon: pulls zones from the primary, answers from memory", err,
	               sizeof(err)) != 0)
		fatal("%s", err);

	enum log_level lvl;
	if (log_level_parse(opts_str(secondary_opts, "log-level"), &lvl) != 0)
		fatal("--log-level: '%s' is not debug|info|notice|warning|error",
		      opts_str(secondary_opts, "log-level"));
	log_set_level(lvl);

	const char *transport_s = opts_str(secondary_opts, "transport");
	bool quic = false;
	if (strcmp(transport_s, "quic") == 0)
		quic = true;
	else if (strcmp(transport_s, "tcp") != 0)
		fatal("--transport: '%s' is not quic or tcp", transport_s);
	const char *primary_s = opts_get(secondary_opts, "primary")->set
	                                ? opts_str(secondary_opts, "primary")
	                                : quic ? "127.0.0.1:8853" : "127.0.0.1:5300";
	struct sockaddr_storage primary;
	parse_addr("primary", primary_s, quic ? 8853 : 5300, &primary);

	static struct xfr_transport quic_transport;
	const struct xfr_transport *transport = &xfr_transport_tcp;
	struct quic_client *qc = NULL;
	if (quic) {
		struct quic_client_cfg qcfg = {
			.remote = primary_s,
			.pin = opts_get(secondary_opts, "pin")->set ? opts_str(secondary_opts, "pin")
			                                            : NULL,
			.insecure = opts_flag(secondary_opts, "insecure"),
		};
		/* DESIGN.md: without a pin a QUIC transfer is refused unless --insecure;
		 * a daemon that could never transfer must not start. */
		if (qcfg.pin == NULL && !qcfg.insecure)
			fatal("--pin: missing: QUIC transfers (--transport quic, the default) need "
			      "the primary's key pin (--pin BASE64, printed by anycst-primary at "
			      "start and served as quic_spki_pin), or --insecure");
		if (qcfg.pin != NULL && check_pin(qcfg.pin) != 0)
			fatal("--pin: '%s' is not a SPKI SHA-256 pin (%d base64 characters, "
			      "32 bytes)", qcfg.pin, QUIC_PIN_LEN - 1);
		int qr = quic_client_new(&qcfg, &qc);
		if (qr != 0)
			fatal("--primary %s: QUIC client not started (%s)", primary_s, err_str(qr));
		xfr_transport_quic_init(&quic_transport, qc);
		transport = &quic_transport;
	} else if (opts_get(secondary_opts, "pin")->set || opts_flag(secondary_opts, "insecure")) {
		log_notice(NULL, "--pin and --insecure apply to QUIC only; transfers use TCP");
	}

	/* A secret on the command line is visible to every user (ps, /proc/PID/cmdline). */
	if (opts_get(secondary_opts, "tsig")->set)
		fatal("--tsig: a TSIG secret is not taken from the command line or the config file "
		      "(every user sees it in ps); write NAME:ALG:BASE64SECRET into a file only its "
		      "owner can read (chmod 600) and give --tsig-file FILE");
	static struct dns_tsig_key tsig;
	bool have_tsig = false;
	if (opts_get(secondary_opts, "tsig-file")->set) {
		if (tsig_file_load(&tsig, opts_str(secondary_opts, "tsig-file"), err, sizeof(err)) != 0)
			fatal("%s", err);
		have_tsig = true;
	}

	/* QUIC failing refresh after refresh: TCP for a while.  Only with TSIG, which
	 * then authenticates the transfers in place of the pinned key. */
	static struct xfr_quic_fallback fallback;
	bool ptcp_set = opts_get(secondary_opts, "primary-tcp")->set;
	const char *ptcp = ptcp_set ? opts_str(secondary_opts, "primary-tcp") : "";
	if (qc != NULL && strcmp(ptcp, "off") != 0) {
		struct sockaddr_storage tcp;
		if (ptcp_set) {
			parse_addr("primary-tcp", ptcp, 5300, &tcp);
		} else {
			char ip[ADDR_TEXT_MAX];
			addr_fmt_ip((const struct sockaddr *)&primary, ip, sizeof(ip));
			if (primary.ss_family == AF_INET6)
				snprintf(err, sizeof(err), "[%s]:5300", ip);
			else
				snprintf(err, sizeof(err), "%s:5300", ip);
			parse_addr("primary-tcp", err, 5300, &tcp);
		}
		if (have_tsig)
			xfr_transport_quic_fallback(&quic_transport, &fallback,
			                            (const struct sockaddr *)&tcp,
			                            addr_len((const struct sockaddr *)&tcp));
		else if (ptcp_set)
			fatal("--primary-tcp: a TCP fallback needs --tsig-file (QUIC's pin would not apply)");
	} else if (ptcp_set && strcmp(ptcp, "off") != 0) {
		log_notice(NULL, "--primary-tcp applies to QUIC only");
	}

	struct opt *lo = opts_get(secondary_opts, "listen");
	size_t nlisten = lo->nvalues > 0 ? lo->nvalues : 1;
	struct sockaddr_storage *listen = calloc(nlisten, sizeof(*listen));
	if (listen == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < nlisten; i++) {
		const char *ls = lo->nvalues > 0 ? lo->values[i] : "127.0.0.1:5353";
		parse_addr("listen", ls, 53, &listen[i]);
		/* Every worker binds its own socket: port 0 would give each another port. */
		if (addr_port((const struct sockaddr *)&listen[i]) == 0)
			fatal("--listen %s: port 0 is not allowed (each worker binds the port)", ls);
	}

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = (unsigned)num_opt("workers", 1, 256, ncpu > 0 ? (unsigned long)ncpu : 1);

	static char identity[256];
	if (opts_get(secondary_opts, "identity")->set) {
		snprintf(identity, sizeof(identity), "%s", opts_str(secondary_opts, "identity"));
	} else if (gethostname(identity, sizeof(identity) - 1) != 0) {
		snprintf(identity, sizeof(identity), "anycst-secondary");
	}

	if (opts_get(secondary_opts, "identity")->set)
		log_set_prefix(identity);   /* the POP name starts every log line */

	/* Before the serving threads: announce_new forks the withdraw watchdog. */
	const char *bird_sock = NULL;
	if (opts_get(secondary_opts, "bird-socket")->set)
		bird_sock = opts_str(secondary_opts, "bird-socket");
	else if (opts_get(secondary_opts, "anycast-iface")->set)
		bird_sock = "/run/bird/bird.ctl";
	if (bird_sock != NULL && strcmp(bird_sock, "off") == 0)
		bird_sock = NULL;
	struct announce_cfg acfg = {
		.iface = opts_get(secondary_opts, "anycast-iface")->set
		                 ? opts_str(secondary_opts, "anycast-iface") : NULL,
		.bird_socket = bird_sock,
		.holddown_s = (unsigned)num_opt("announce-holddown", 0, 86400, 5),
		.identity = identity,
	};
	struct announce *ann = announce_new(&acfg);
	if (ann == NULL)
		fatal("out of memory");
	struct rrl_cfg rcfg = {
		.rate = (uint32_t)num_opt("rrl-rate", 0, 10000000, 0),
		.slip = (uint32_t)num_opt("rrl-slip", 0, 100, 2),
		.v4_prefix = (unsigned)num_opt("rrl-ipv4-prefix", 1, 32, RRL_DEFAULT_V4_PREFIX),
		.v6_prefix = (unsigned)num_opt("rrl-ipv6-prefix", 1, 128, RRL_DEFAULT_V6_PREFIX),
	};
	struct rrl *rrl = NULL;
	if (rcfg.rate > 0) {
		rrl = rrl_new(&rcfg);
		if (rrl == NULL)
			fatal("out of memory");
		struct opt *wo = opts_get(secondary_opts, "rrl-whitelist");
		for (size_t i = 0; i < wo->nvalues; i++)
			if (rrl_whitelist_add(rrl, wo->values[i], err, sizeof(err)) != 0)
				fatal("--rrl-whitelist: %s", err);
		log_notice(NULL, "RRL on, %u responses/s per prefix, slip %u, %zu whitelisted, "
		           "prefixes /%u and /%u", rcfg.rate, rcfg.slip, wo->nvalues,
		           rcfg.v4_prefix, rcfg.v6_prefix);
	}

	struct sockaddr_storage http_addr;
	bool want_http = opts_get(secondary_opts, "http")->set;
	if (want_http)
		parse_addr("http", opts_str(secondary_opts, "http"), 0, &http_addr);

	struct opt *zo = opts_get(secondary_opts, "zone");
	uint8_t (*zones)[DNS_NAME_MAX] = calloc(zo->nvalues + 1, DNS_NAME_MAX);
	if (zones == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < zo->nvalues; i++)
		parse_zone("zone", zo->values[i], zones[i]);
	uint8_t catalog[DNS_NAME_MAX];
	parse_zone("catalog", opts_str(secondary_opts, "catalog"), catalog);

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rcu_register_thread();
	rcu_thread_offline();

	struct zdb *db = zdb_new();
	/* The catalog is read by the transfer threads only: it is not answered to
	 * queries (it lists every zone of the platform). */
	struct zdb *catdb = zdb_new();
	if (db == NULL || catdb == NULL)
		fatal("out of memory");
	struct timers_cfg tc = {
		.db = db,
		.catalog_db = catdb,
		.primary = primary,
		.transport = transport,
		.tsig = have_tsig ? &tsig : NULL,
		.state_dir = opts_str(secondary_opts, "state-dir"),
		.xfr_threads = (unsigned)num_opt("xfr-threads", 1, 64, 4),
		.xfr_timeout_ms = (int)num_opt("xfr-timeout", 1, 3600, 30) * 1000,
		.xfr_max_bytes = (size_t)num_opt("xfr-max-size", 1, 1 << 20, 1024) << 20,
	};
	struct health_cfg hcfg = {
		.max_lag_s = (unsigned)num_opt("max-lag", 0, 86400 * 365, 300),
		.max_lag_serials = (uint32_t)num_opt("max-lag-serials", 0, 0x7fffffff, 0),
		.grace_s = (unsigned)num_opt("health-grace", 0, 86400 * 365, HEALTH_GRACE_S),
	};
	{
		struct opt *mb = opts_get(secondary_opts, "health-max-bad");
		const char *s = mb->set ? opts_str(secondary_opts, "health-max-bad")
		                        : HEALTH_MAX_BAD_DEFAULT;
		if (health_parse_max_bad(s, &hcfg) != 0)
			fatal("--health-max-bad: '%s' is not a number of zones or a percentage "
			      "(for example 3 or 1%% or 0.5%%)", s);
	}
	struct health *health = health_new(&hcfg);
	if (health == NULL)
		fatal("out of memory");
	tc.on_primary_serial = health_primary_serial_cb;   /* lag known from refreshes too */
	tc.primary_serial_ctx = health;
	struct timers *tm = timers_new(&tc);
	if (tm == NULL)
		fatal("out of memory");

	/* Zones: persisted versions are published here, before any transfer. */
	if (zo->nvalues > 0) {
		for (size_t i = 0; i < zo->nvalues; i++) {
			int r = timers_add_zone(tm, zones[i], false);
			if (r != 0 && r != -EEXIST)
				fatal("--zone %s: %s", zo->values[i], err_str(r));
		}
	} else {
		int r = timers_add_zone(tm, catalog, true);
		if (r != 0)
			fatal("--catalog: %s", err_str(r));
	}

	static struct notify_cfg ncfg;
	ncfg.primary = primary;
	ncfg.tsig = have_tsig ? &tsig : NULL;
	health_set_timers(health, tm);
	ncfg.on_notify = health_on_notify;   /* notes the primary's serial, then timers_notify */
	ncfg.ctx = health;
	struct serve_ctx sc = {
		.db = db,
		.aopts = {.identity = identity, .version = "anycst " ANYCST_VERSION},
		.notify = &ncfg,
		.rrl = rrl,
	};
	struct serve_udp *udp = serve_udp_start(listen, nlisten, workers, &sc, err, sizeof(err));
	if (udp == NULL)
		fatal("%s", err);
	struct serve_tcp_limits lim = {
		.max_conns = (unsigned)num_opt("tcp-max-clients", 1, 65536, 512),
		.max_per_client = (unsigned)num_opt("tcp-max-per-client", 1, 65536, 32),
		.idle_ms = (unsigned)num_opt("tcp-idle-timeout", 1, 3600, 10) * 1000,
		.msg_ms = (unsigned)num_opt("tcp-msg-timeout", 1, 3600, 5) * 1000,
	};
	struct serve_tcp *tcp = serve_tcp_start(listen, nlisten, &sc, &lim, err, sizeof(err));
	if (tcp == NULL)
		fatal("%s", err);
	for (size_t i = 0; i < nlisten; i++) {
		char a[ADDR_TEXT_MAX];
		log_notice(NULL, "DNS service listening on %s, UDP (%u workers) and TCP",
		           addr_fmt((const struct sockaddr *)&listen[i], a, sizeof(a)), workers);
	}

	health_set_listening(health, true);
	if (announce_start(ann, health) != 0)
		fatal("cannot start the announce thread");

	struct http *http = NULL;
	if (want_http) {
		struct http_cfg hc = {.addr = http_addr, .timers = tm, .health = health,
		                      .identity = identity};
		http = http_start(&hc, err, sizeof(err));
		if (http == NULL)
			fatal("%s", err);
		char a[ADDR_TEXT_MAX];
		log_notice(NULL, "HTTP /healthz and /metrics on %s",
		           addr_fmt((const struct sockaddr *)&http_addr, a, sizeof(a)));
	}

	{
		char a[ADDR_TEXT_MAX];
		log_notice(NULL, "following %s from %s over %s%s",
		           zo->nvalues > 0 ? "static zones" : "catalog",
		           addr_fmt((const struct sockaddr *)&primary, a, sizeof(a)), transport->name,
		           have_tsig ? " with TSIG" : "");
	}

	if (timers_start(tm) != 0)
		fatal("cannot start the transfer threads");

	int sig = 0;
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
		log_notice(NULL, "SIGHUP ignored (zones follow the primary and the catalog)");
	log_notice(NULL, "shutting down (signal %d)", sig);

	announce_free(ann);   /* withdraw first, then stop answering */
	http_stop(http);
	timers_free(tm);
	quic_client_free(qc);
	serve_tcp_stop(tcp);
	serve_udp_stop(udp);
	rcu_thread_online();
	rcu_barrier();
	zdb_free(db);
	zdb_free(catdb);
	rcu_thread_offline();
	rcu_unregister_thread();
	health_free(health);
	rrl_free(rrl);
	free(listen);
	free(zones);
	log_notice(NULL, "stopped");
	return 0;
}
