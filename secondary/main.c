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
#include "secondary/primaries.h"
#include "secondary/rrl.h"
#include "secondary/serve.h"
#include "secondary/serve_tcp.h"
#include "secondary/serve_udp.h"
#include "secondary/state.h"
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
	{.name = "primary", .arg = "ADDR:PORT[,ADDR:PORT...]",
	 .def = "127.0.0.1:8853 (QUIC), 127.0.0.1:5300 (TCP)",
	 .help = "zone source; several: transfers from the one with the highest serial"},
	{.name = "transport", .arg = "quic|tcp", .def = "quic", .help = "transfer transport"},
	{.name = "primary-tcp", .arg = "ADDR:PORT[,...]|off",
	 .def = "each --primary's address, port 5300",
	 .help = "TCP transfers when QUIC keeps failing (with --tsig-file only)"},
	{.name = "pin", .arg = "BASE64[,BASE64...]",
	 .help = "SPKI SHA-256 pin of the primary's QUIC key (one per --primary, or one for all)"},
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
	{.name = "log-format", .arg = "text|json", .def = "text", .help = "log lines as text or JSON"},
	{.name = "http", .arg = "ADDR:PORT", .def = "off", .help = "/healthz and /metrics"},
	{.name = "xfr-threads", .arg = "N", .def = "32", .help = "concurrent zone transfers"},
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
	{.name = "rrsig-margin", .arg = "SECONDS", .def = "86400",
	 .help = "a signed zone whose signatures expire within this counts as bad (0: off)"},
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

/* One primary's XoQ state (--transport quic). */
struct pop_primary {
	char spec[PRIMARIES_ITEM_MAX];   /* ADDR:PORT as given */
	struct quic_client *qc;
	struct xfr_transport quic;
	struct xfr_quic_fallback fallback;
};

/* Everything main() builds, in the order it is built. */
struct secondary {
	char err[512];
	bool quic;
	struct xfr_primary prim[PRIMARIES_MAX];   /* --primary, in order */
	struct pop_primary pp[PRIMARIES_MAX];     /* their QUIC clients */
	size_t nprim;
	struct sockaddr_storage primary;          /* the first */
	const struct xfr_transport *transport;    /* the first's */
	struct dns_tsig_key tsig;
	bool have_tsig;
	struct sockaddr_storage *listen;
	size_t nlisten;
	unsigned workers;
	char identity[256];
	struct announce *ann;
	struct rrl *rrl;
	bool want_http;
	struct sockaddr_storage http_addr;
	struct opt *zo;
	uint8_t (*zones)[DNS_NAME_MAX];
	uint8_t catalog[DNS_NAME_MAX];
	sigset_t sigs;
	struct state *state;
	struct zdb *db, *catdb;
	struct health *health;
	struct timers *tm;
	struct notify_cfg ncfg;
	struct serve_ctx sc;
	struct serve_udp *udp;
	struct serve_tcp *tcp;
	struct http *http;
	/* reload (SIGHUP): the options read again, keys replaced (kept until exit) */
	struct opt fresh[sizeof(secondary_opts) / sizeof(secondary_opts[0])];
	struct old_key *old_keys;
	int argc;
	char **argv;
};

/* A TSIG key a reload replaced: a transfer in flight may still use it. */
struct old_key {
	struct old_key *next;
	struct dns_tsig_key k;
};

static int
parse_log(struct opt *o, enum log_level *lvl, enum log_format *fmt, char *err, size_t errcap)
{
	if (log_level_parse(opts_str(o, "log-level"), lvl) != 0) {
		snprintf(err, errcap, "--log-level: '%s' is not debug|info|notice|warning|error",
		         opts_str(o, "log-level"));
		return -EINVAL;
	}
	if (log_format_parse(opts_str(o, "log-format"), fmt) != 0) {
		snprintf(err, errcap, "--log-format: '%s' is not text or json",
		         opts_str(o, "log-format"));
		return -EINVAL;
	}
	return 0;
}

static void
setup_log(struct secondary *s)
{
	enum log_level lvl;
	enum log_format fmt;
	if (parse_log(secondary_opts, &lvl, &fmt, s->err, sizeof(s->err)) != 0)
		fatal("%s", s->err);
	log_set_level(lvl);
	log_set_format(fmt);
}

/* Primary i's QUIC client with `pin` (NULL: --insecure). */
static void
setup_quic(struct secondary *s, size_t i, const char *pin)
{
	struct pop_primary *pp = &s->pp[i];
	struct quic_client_cfg qcfg = {
		.remote = pp->spec,
		.pin = pin,
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
	int qr = quic_client_new(&qcfg, &pp->qc);
	if (qr != 0)
		fatal("--primary %s: QUIC client not started (%s)", pp->spec, err_str(qr));
	xfr_transport_quic_init(&pp->quic, pp->qc);
	s->prim[i].transport = &pp->quic;
}

/* A list flag's items: 1 .. PRIMARIES_MAX, exits on a bad list. */
static size_t
split_list(const char *flag, const char *list, char items[][PRIMARIES_ITEM_MAX])
{
	char err[PRIMARIES_ITEM_MAX + 100];
	int n = primaries_split(list, items, PRIMARIES_MAX, err, sizeof(err));
	if (n < 0)
		fatal("--%s: %s", flag, err);
	return (size_t)n;
}

/* --transport, --primary, --pin, --insecure: the transfer transport of each primary. */
static void
setup_transport(struct secondary *s)
{
	const char *transport_s = opts_str(secondary_opts, "transport");
	if (strcmp(transport_s, "quic") == 0)
		s->quic = true;
	else if (strcmp(transport_s, "tcp") != 0)
		fatal("--transport: '%s' is not quic or tcp", transport_s);
	const char *list = opts_get(secondary_opts, "primary")->set
	                           ? opts_str(secondary_opts, "primary")
	                           : s->quic ? "127.0.0.1:8853" : "127.0.0.1:5300";
	static char items[PRIMARIES_MAX][PRIMARIES_ITEM_MAX], pins[PRIMARIES_MAX][PRIMARIES_ITEM_MAX];
	s->nprim = split_list("primary", list, items);
	bool pin_set = opts_get(secondary_opts, "pin")->set;
	const char *pin_s = pin_set ? opts_str(secondary_opts, "pin") : NULL;
	const char *pinv[PRIMARIES_MAX] = {pin_s};   /* one pin: as given (check_pin judges it) */
	size_t npins = pin_s == NULL ? 0 : strchr(pin_s, ',') == NULL ? 1
	               : split_list("pin", pin_s, pins);
	for (size_t i = 0; npins > 1 && i < npins; i++)
		pinv[i] = pins[i];
	if (npins > 1 && npins != s->nprim)
		fatal("--pin: %zu pins for %zu primaries (give one per --primary, in the same "
		      "order, or one for all)", npins, s->nprim);
	if (!s->quic && (pin_set || opts_flag(secondary_opts, "insecure")))
		log_notice(NULL, "--pin and --insecure apply to QUIC only; transfers use TCP");
	for (size_t i = 0; i < s->nprim; i++) {
		snprintf(s->pp[i].spec, sizeof(s->pp[i].spec), "%s", items[i]);
		parse_addr("primary", items[i], s->quic ? 8853 : 5300, &s->prim[i].addr);
		for (size_t j = 0; j < i; j++)
			if (addr_equal((const struct sockaddr *)&s->prim[i].addr,
			               (const struct sockaddr *)&s->prim[j].addr))
				fatal("--primary: %s is listed twice", items[i]);
		s->prim[i].transport = &xfr_transport_tcp;
		if (s->quic)
			setup_quic(s, i, npins == 0 ? NULL : pinv[npins == 1 ? 0 : i]);
		primary_init(&s->prim[i]);
	}
	s->primary = s->prim[0].addr;
	s->transport = s->prim[0].transport;
}

/* --tsig-file (never --tsig: a secret on the command line is visible to every user). */
static void
setup_tsig(struct secondary *s)
{
	if (opts_get(secondary_opts, "tsig")->set)
		fatal("--tsig: a TSIG secret is not taken from the command line or the config file "
		      "(every user sees it in ps); write NAME:ALG:BASE64SECRET into a file only its "
		      "owner can read (chmod 600) and give --tsig-file FILE");
	if (opts_get(secondary_opts, "tsig-file")->set) {
		if (tsig_file_load(&s->tsig, opts_str(secondary_opts, "tsig-file"), s->err,
		                   sizeof(s->err)) != 0)
			fatal("%s", s->err);
		s->have_tsig = true;
	}
}

/* QUIC failing refresh after refresh: TCP for a while (per primary).  Only
 * with TSIG, which then authenticates the transfers in place of the pinned key. */
static void
setup_fallback(struct secondary *s)
{
	bool ptcp_set = opts_get(secondary_opts, "primary-tcp")->set;
	const char *ptcp = ptcp_set ? opts_str(secondary_opts, "primary-tcp") : "";
	if (!s->quic || strcmp(ptcp, "off") == 0) {
		if (ptcp_set && strcmp(ptcp, "off") != 0)
			log_notice(NULL, "--primary-tcp applies to QUIC only");
		return;
	}
	if (!s->have_tsig) {
		if (ptcp_set)
			fatal("--primary-tcp: a TCP fallback needs --tsig-file (QUIC's pin would not "
			      "apply)");
		return;
	}
	static char items[PRIMARIES_MAX][PRIMARIES_ITEM_MAX];
	size_t n = ptcp_set ? split_list("primary-tcp", ptcp, items) : 0;
	if (ptcp_set && n != s->nprim)
		fatal("--primary-tcp: %zu addresses for %zu primaries (one per --primary, in the "
		      "same order, or off)", n, s->nprim);
	for (size_t i = 0; i < s->nprim; i++) {
		if (!ptcp_set) {
			char ip[ADDR_TEXT_MAX];
			addr_fmt_ip((const struct sockaddr *)&s->prim[i].addr, ip, sizeof(ip));
			snprintf(items[i], sizeof(items[i]),
			         s->prim[i].addr.ss_family == AF_INET6 ? "[%s]:5300" : "%s:5300", ip);
		}
		struct sockaddr_storage tcp;
		parse_addr("primary-tcp", items[i], 5300, &tcp);
		xfr_transport_quic_fallback(&s->pp[i].quic, &s->pp[i].fallback,
		                            (const struct sockaddr *)&tcp,
		                            addr_len((const struct sockaddr *)&tcp));
	}
}

/* --listen, --workers, --identity. */
static void
setup_service(struct secondary *s)
{
	struct opt *lo = opts_get(secondary_opts, "listen");
	s->nlisten = lo->nvalues > 0 ? lo->nvalues : 1;
	s->listen = calloc(s->nlisten, sizeof(*s->listen));
	if (s->listen == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < s->nlisten; i++) {
		const char *ls = lo->nvalues > 0 ? lo->values[i] : "127.0.0.1:5353";
		parse_addr("listen", ls, 53, &s->listen[i]);
		/* Every worker binds its own socket: port 0 would give each another port. */
		if (addr_port((const struct sockaddr *)&s->listen[i]) == 0)
			fatal("--listen %s: port 0 is not allowed (each worker binds the port)", ls);
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->workers = (unsigned)num_opt("workers", 1, 256, ncpu > 0 ? (unsigned long)ncpu : 1);
	if (opts_get(secondary_opts, "identity")->set) {
		snprintf(s->identity, sizeof(s->identity), "%s",
		         opts_str(secondary_opts, "identity"));
		log_set_prefix(s->identity);   /* the POP name starts every log line */
	} else if (gethostname(s->identity, sizeof(s->identity) - 1) != 0) {
		snprintf(s->identity, sizeof(s->identity), "anycst-secondary");
	}
}

/* Before the serving threads: announce_new forks the withdraw watchdog. */
static void
setup_announce(struct secondary *s)
{
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
		.identity = s->identity,
	};
	s->ann = announce_new(&acfg);
	if (s->ann == NULL)
		fatal("out of memory");
}

static void
setup_rrl(struct secondary *s)
{
	struct rrl_cfg rcfg = {
		.rate = (uint32_t)num_opt("rrl-rate", 0, 10000000, 0),
		.slip = (uint32_t)num_opt("rrl-slip", 0, 100, 2),
		.v4_prefix = (unsigned)num_opt("rrl-ipv4-prefix", 1, 32, RRL_DEFAULT_V4_PREFIX),
		.v6_prefix = (unsigned)num_opt("rrl-ipv6-prefix", 1, 128, RRL_DEFAULT_V6_PREFIX),
	};
	/* the table exists even with RRL off (rate 0), so that a reload may turn it on */
	uint32_t rate = rcfg.rate;
	rcfg.rate = rate != 0 ? rate : 1;
	s->rrl = rrl_new(&rcfg);
	if (s->rrl == NULL)
		fatal("out of memory");
	rrl_set_rate(s->rrl, rate, rcfg.slip);
	struct opt *wo = opts_get(secondary_opts, "rrl-whitelist");
	for (size_t i = 0; i < wo->nvalues; i++)
		if (rrl_whitelist_add(s->rrl, wo->values[i], s->err, sizeof(s->err)) != 0)
			fatal("--rrl-whitelist: %s", s->err);
	if (rate == 0)
		log_info(NULL, "RRL off (--rrl-rate 0; a reload may turn it on)");
	else
		log_notice(NULL, "RRL on, %u responses/s per prefix, slip %u, %zu whitelisted, "
		           "prefixes /%u and /%u", rate, rcfg.slip, wo->nvalues, rcfg.v4_prefix,
		           rcfg.v6_prefix);
}

/* --http, --zone, --catalog. */
static void
parse_http_and_zones(struct secondary *s)
{
	s->want_http = opts_get(secondary_opts, "http")->set;
	if (s->want_http)
		parse_addr("http", opts_str(secondary_opts, "http"), 0, &s->http_addr);
	s->zo = opts_get(secondary_opts, "zone");
	s->zones = calloc(s->zo->nvalues + 1, DNS_NAME_MAX);
	if (s->zones == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < s->zo->nvalues; i++)
		parse_zone("zone", s->zo->values[i], s->zones[i]);
	parse_zone("catalog", opts_str(secondary_opts, "catalog"), s->catalog);
}

/* Signals are taken by sigwait in run(); every thread inherits the mask, so
 * this runs before the first thread starts. */
static void
block_signals(struct secondary *s)
{
	sigemptyset(&s->sigs);
	sigaddset(&s->sigs, SIGTERM);
	sigaddset(&s->sigs, SIGINT);
	sigaddset(&s->sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &s->sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static struct health *
new_health(void)
{
	struct health_cfg hcfg = {
		.max_lag_s = (unsigned)num_opt("max-lag", 0, 86400 * 365, 300),
		.max_lag_serials = (uint32_t)num_opt("max-lag-serials", 0, 0x7fffffff, 0),
		.grace_s = (unsigned)num_opt("health-grace", 0, 86400 * 365, HEALTH_GRACE_S),
		.rrsig_margin_s = (unsigned)num_opt("rrsig-margin", 0, 86400 * 365,
		                                    HEALTH_RRSIG_MARGIN_S),
	};
	struct opt *mb = opts_get(secondary_opts, "health-max-bad");
	const char *s = mb->set ? opts_str(secondary_opts, "health-max-bad")
	                        : HEALTH_MAX_BAD_DEFAULT;
	if (health_parse_max_bad(s, &hcfg) != 0)
		fatal("--health-max-bad: '%s' is not a number of zones or a percentage "
		      "(for example 3 or 1%% or 0.5%%)", s);
	struct health *h = health_new(&hcfg);
	if (h == NULL)
		fatal("out of memory");
	return h;
}

/* Zone databases, health, timers; persisted versions are published here, before any transfer. */
static void
setup_zones(struct secondary *s)
{
	s->db = zdb_new();
	/* The catalog is read by the transfer threads only: it is not answered to
	 * queries (it lists every zone of the platform). */
	s->catdb = zdb_new();
	if (s->db == NULL || s->catdb == NULL)
		fatal("out of memory");
	struct timers_cfg tc = {
		.db = s->db,
		.catalog_db = s->catdb,
		.primary = s->primary,
		.transport = s->transport,
		.primaries = s->prim,
		.nprimaries = s->nprim,
		.tsig = s->have_tsig ? &s->tsig : NULL,
		.xfr_threads = (unsigned)num_opt("xfr-threads", 1, 64, 32),
		.xfr_timeout_ms = (int)num_opt("xfr-timeout", 1, 3600, 30) * 1000,
		.xfr_max_bytes = (size_t)num_opt("xfr-max-size", 1, 1 << 20, 1024) << 20,
	};
	s->health = new_health();
	/* every flag is checked before the state directory is made */
	s->state = state_open(opts_str(secondary_opts, "state-dir"), s->err, sizeof(s->err));
	if (s->state == NULL)
		fatal("%s", s->err);
	tc.state = s->state;
	tc.on_primary_serial = health_primary_serial_cb;   /* lag known from refreshes too */
	tc.primary_serial_ctx = s->health;
	s->tm = timers_new(&tc);
	if (s->tm == NULL)
		fatal("out of memory");
	if (s->zo->nvalues > 0) {
		for (size_t i = 0; i < s->zo->nvalues; i++) {
			int r = timers_add_zone(s->tm, s->zones[i], false);
			if (r != 0 && r != -EEXIST)
				fatal("--zone %s: %s", s->zo->values[i], err_str(r));
		}
	} else {
		int r = timers_add_zone(s->tm, s->catalog, true);
		if (r != 0)
			fatal("--catalog: %s", err_str(r));
	}
}

/* UDP and TCP service, NOTIFY handling. */
static void
start_dns(struct secondary *s)
{
	s->ncfg.primary = s->primary;
	s->ncfg.primaries = s->prim;
	s->ncfg.nprimaries = s->nprim;
	s->ncfg.tsig = s->have_tsig ? &s->tsig : NULL;
	health_set_timers(s->health, s->tm);
	s->ncfg.on_notify = health_on_notify;   /* notes the primary's serial, then timers_notify */
	s->ncfg.ctx = s->health;
	s->sc = (struct serve_ctx){
		.db = s->db,
		.aopts = {.identity = s->identity, .version = "anycst " ANYCST_VERSION},
		.notify = &s->ncfg,
		.rrl = s->rrl,
	};
	s->udp = serve_udp_start(s->listen, s->nlisten, s->workers, &s->sc, s->err, sizeof(s->err));
	if (s->udp == NULL)
		fatal("%s", s->err);
	struct serve_tcp_limits lim = {
		.max_conns = (unsigned)num_opt("tcp-max-clients", 1, 65536, 512),
		.max_per_client = (unsigned)num_opt("tcp-max-per-client", 1, 65536, 32),
		.idle_ms = (unsigned)num_opt("tcp-idle-timeout", 1, 3600, 10) * 1000,
		.msg_ms = (unsigned)num_opt("tcp-msg-timeout", 1, 3600, 5) * 1000,
	};
	s->tcp = serve_tcp_start(s->listen, s->nlisten, &s->sc, &lim, s->err, sizeof(s->err));
	if (s->tcp == NULL)
		fatal("%s", s->err);
	for (size_t i = 0; i < s->nlisten; i++) {
		char a[ADDR_TEXT_MAX];
		log_notice(NULL, "DNS service listening on %s, UDP (%u workers) and TCP",
		           addr_fmt((const struct sockaddr *)&s->listen[i], a, sizeof(a)),
		           s->workers);
	}
}

static void
start_http(struct secondary *s)
{
	if (!s->want_http)
		return;
	struct http_cfg hc = {.addr = s->http_addr, .timers = s->tm, .health = s->health,
	                      .identity = s->identity};
	s->http = http_start(&hc, s->err, sizeof(s->err));
	if (s->http == NULL)
		fatal("%s", s->err);
	char a[ADDR_TEXT_MAX];
	log_notice(NULL, "HTTP /healthz and /metrics on %s",
	           addr_fmt((const struct sockaddr *)&s->http_addr, a, sizeof(a)));
}

/* Options a reload applies; others changed are logged as needing a restart. */
static const char *const reloadable[] = {
	"log-level", "log-format", "rrl-rate", "rrl-slip", "tsig-file", "tcp-max-per-client",
	"tcp-idle-timeout", "tcp-msg-timeout", NULL,
};

/* What a reload applies, all checked before any of it is. */
struct reload_conf {
	enum log_level lvl;
	enum log_format fmt;
	unsigned long long rate, slip, per_client, idle, msg;
	struct old_key *key;    /* the TSIG key read again, NULL without TSIG */
};

/* The new TSIG key into rc->key (read again even when the path is unchanged: rotation). */
static int
reload_tsig(struct secondary *s, struct reload_conf *rc, char *err, size_t errcap)
{
	struct opt *f = opts_get(s->fresh, "tsig-file");
	if (opts_get(s->fresh, "tsig")->set) {
		snprintf(err, errcap, "--tsig: a TSIG secret is not taken from the config file; use "
		         "--tsig-file");
		return -EINVAL;
	}
	if (f->set != s->have_tsig) {
		snprintf(err, errcap, "--tsig-file: turning TSIG %s needs a restart",
		         f->set ? "on" : "off");
		return -EINVAL;
	}
	if (!f->set)
		return 0;
	rc->key = calloc(1, sizeof(*rc->key));
	if (rc->key == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	int ret = tsig_file_load(&rc->key->k, f->values[f->nvalues - 1], err, errcap);
	if (ret != 0) {
		free(rc->key);
		rc->key = NULL;
	}
	return ret;
}

static int
reload_conf(struct secondary *s, struct reload_conf *rc, char *err, size_t errcap)
{
	struct opt *o = s->fresh;
	if (opts_reparse(secondary_opts, o, s->argc, s->argv, err, errcap) != 0 ||
	    parse_log(o, &rc->lvl, &rc->fmt, err, errcap) != 0 ||
	    opts_num(o, "rrl-rate", 0, 10000000, 0, &rc->rate, err, errcap) != 0 ||
	    opts_num(o, "rrl-slip", 0, 100, 2, &rc->slip, err, errcap) != 0 ||
	    opts_num(o, "tcp-max-per-client", 1, 65536, 32, &rc->per_client, err, errcap) != 0 ||
	    opts_num(o, "tcp-idle-timeout", 1, 3600, 10, &rc->idle, err, errcap) != 0 ||
	    opts_num(o, "tcp-msg-timeout", 1, 3600, 5, &rc->msg, err, errcap) != 0)
		return -EINVAL;
	return reload_tsig(s, rc, err, errcap);
}

/*
 * SIGHUP: the command line and --config file read again; when all of it is
 * good the reloadable options apply at once (connections stay open), else
 * nothing changes and the reason is logged.
 */
static void
reload(struct secondary *s)
{
	char err[512];
	struct reload_conf rc = {0};
	if (reload_conf(s, &rc, err, sizeof(err)) != 0) {
		log_error(NULL, "reload refused, the running configuration stays: %s", err);
		return;
	}
	log_set_level(rc.lvl);
	log_set_format(rc.fmt);
	if (s->rrl != NULL)
		rrl_set_rate(s->rrl, (uint32_t)rc.rate, (uint32_t)rc.slip);   /* 0: off */
	struct serve_tcp_limits lim = {.max_per_client = (unsigned)rc.per_client,
	                               .idle_ms = (unsigned)rc.idle * 1000,
	                               .msg_ms = (unsigned)rc.msg * 1000};
	serve_tcp_set_limits(s->tcp, &lim);
	if (rc.key != NULL) {
		rc.key->next = s->old_keys;
		s->old_keys = rc.key;
		__atomic_store_n(&s->ncfg.tsig, &rc.key->k, __ATOMIC_RELEASE);
		timers_set_tsig(s->tm, &rc.key->k);
	}
	for (struct opt *o = secondary_opts; o->name != NULL; o++) {
		bool r = false;
		for (size_t i = 0; reloadable[i] != NULL && !r; i++)
			r = strcmp(reloadable[i], o->name) == 0;
		if (!r && !opts_same(secondary_opts, s->fresh, o->name))
			log_warning(NULL, "reload: --%s changed, takes effect after a restart", o->name);
	}
	size_t n = opts_count(secondary_opts);
	for (size_t i = 0; i < n; i++)
		secondary_opts[i] = s->fresh[i];
	log_notice(NULL, "configuration reloaded: log-level %s, rrl-rate %llu, rrl-slip %llu, "
	           "tcp-max-per-client %llu%s", opts_str(secondary_opts, "log-level"), rc.rate,
	           rc.slip, rc.per_client, rc.key != NULL ? ", TSIG key read again" : "");
}

/* Announce, HTTP, transfers; then waits for SIGTERM or SIGINT. */
static void
run(struct secondary *s)
{
	health_set_listening(s->health, true);
	if (announce_start(s->ann, s->health) != 0)
		fatal("cannot start the announce thread");
	start_http(s);
	char a[PRIMARIES_MAX * (ADDR_TEXT_MAX + 2)] = "";
	for (size_t i = 0; i < s->nprim; i++)
		snprintf(a + strlen(a), sizeof(a) - strlen(a), "%s%s", i ? ", " : "", s->prim[i].txt);
	log_notice(NULL, "following %s from %s over %s%s",
	           s->zo->nvalues > 0 ? "static zones" : "catalog", a, s->transport->name,
	           s->have_tsig ? " with TSIG" : "");
	if (timers_start(s->tm) != 0)
		fatal("cannot start the transfer threads");
	int sig = 0;
	while (sigwait(&s->sigs, &sig) == 0 && sig == SIGHUP) {
		log_notice(NULL, "SIGHUP received, reloading the configuration");
		reload(s);
	}
	log_notice(NULL, "shutting down (signal %d)", sig);
}

/* Reverse order: withdraw first, then stop answering. */
static void
shutdown_all(struct secondary *s)
{
	announce_free(s->ann);
	http_stop(s->http);
	timers_free(s->tm);
	state_close(s->state);
	for (size_t i = 0; i < s->nprim; i++)
		quic_client_free(s->pp[i].qc);
	serve_tcp_stop(s->tcp);
	serve_udp_stop(s->udp);
	rcu_thread_online();
	rcu_barrier();
	zdb_free(s->db);
	zdb_free(s->catdb);
	rcu_thread_offline();
	rcu_unregister_thread();
	health_free(s->health);
	rrl_free(s->rrl);
	while (s->old_keys != NULL) {
		struct old_key *k = s->old_keys;
		s->old_keys = k->next;
		explicit_bzero(&k->k, sizeof(k->k));
		free(k);
	}
	free(s->listen);
	free(s->zones);
}

int
main(int argc, char **argv)
{
	static struct secondary s;
	if (opts_parse(secondary_opts, argc, argv, "anycst-secondary",
	               "POP daemon: pulls zones from the primary, answers from memory", s.err,
	               sizeof(s.err)) != 0)
		fatal("%s", s.err);
	s.argc = argc;
	s.argv = argv;
	/* before any thread (the QUIC client's starts in setup_transport) */
	block_signals(&s);
	setup_log(&s);
	setup_transport(&s);
	setup_tsig(&s);
	setup_fallback(&s);
	setup_service(&s);
	setup_announce(&s);
	setup_rrl(&s);
	parse_http_and_zones(&s);
	rcu_register_thread();
	rcu_thread_offline();
	setup_zones(&s);
	start_dns(&s);
	run(&s);
	shutdown_all(&s);
	log_notice(NULL, "stopped");
	return 0;
}
