/*
 * The WireGuard mesh registry (see mesh.h).
 *
 * Memory holds the registry (an array of POPs under `mu`); the store holds
 * the same rows with each POP's TSIG key, written through its API
 * (store_pop_add / store_pop_delete), one transaction covering the POP and
 * its key.  Parsing and rendering (no state) are in mesh_conf.c.  The transfer side asks the
 * registry through its pop_gate (two checks that never block on the network);
 * each POP is a target of the transfer service's one NOTIFY sender.
 * `wg` runs without a shell (posix_spawnp) with an argument vector.
 */
#include "primary/mesh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dns/name.h"
#include "dns/tsig.h"
#include "net/addr.h"
#include "primary/acl.h"
#include "primary/notify.h"
#include "primary/propagation.h"
#include "primary/store.h"
#include "primary/xfrout_store.h"
#include "util/base.h"
#include "util/keyfile.h"
#include "util/log.h"

extern char **environ;

#define MESH_TSIG_PREFIX "pop-"
#define MESH_TSIG_NAME_MAX (MESH_NAME_MAX + 8)
#define MESH_SECRET_MAX 64
#define MESH_STATE_ZONES_MAX 1000

/* ---- pure helpers --------------------------------------------------------------- */

static void
set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t cap, const char *fmt, ...)
{
	if (err == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* ---- the registry ---------------------------------------------------------------- */

struct pop {
	char name[MESH_NAME_MAX];
	char endpoint[MESH_ENDPOINT_MAX];
	char public_key[MESH_KEY_TEXT];
	uint64_t host;               /* its host number in the mesh network, 0: outside it */
	char ip_text[MESH_IP_TEXT];
	uint16_t dns_port;
	char tsig_name[MESH_TSIG_NAME_MAX];
	char tsig_secret[MESH_SECRET_MAX];
	int64_t created_at;
	int64_t last_seen_ms;
	uint64_t transfers, refused;
	int notify_id;                /* its target on the NOTIFY sender, -1: none */
};

struct mesh {
	struct mesh_opts o;
	struct store *st;
	struct propagation *prop;
	struct notify *notify;       /* the one NOTIFY sender (the transfer service's), or NULL */
	struct mesh_net net;
	pthread_mutex_t wmu;         /* registrations and retirements, one at a time; wg */
	pthread_mutex_t mu;          /* pops, npops, counters: held briefly, never across I/O */
	struct pop **pops;
	size_t npops, cap;
	bool has_key;
	char public_key[MESH_KEY_TEXT];
	uint16_t xfr_port, quic_port, listen_port;
};

static void
primary_info(const struct mesh *m, struct mesh_primary_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->net = &m->net;
	pi->public_key = m->has_key ? m->public_key : NULL;
	pi->private_key_file = m->has_key ? m->o.wg_private_key : NULL;
	pi->endpoint = m->o.wg_endpoint;
	pi->listen_port = m->listen_port;
	pi->xfr_port = m->xfr_port;
	pi->quic_port = m->quic_port;
	pi->quic_pin = m->o.quic_pin;
	pi->catalog = m->o.catalog;
}

static void
pop_info(const struct pop *p, struct mesh_pop_info *pi)
{
	pi->name = p->name;
	pi->endpoint = p->endpoint;
	pi->public_key = p->public_key;
	pi->mesh_ip = p->ip_text;
	pi->dns_port = p->dns_port;
	pi->tsig_name = p->tsig_name;
	pi->tsig_secret = p->tsig_secret;
}

/*
 * Runs `wg` with `args` (NULL-terminated, without argv[0]), feeding `in`
 * on stdin when not NULL and reading up to cap-1 bytes of stdout into
 * `out` when not NULL.  0, or -EIO when it cannot run or exits non-zero.
 */
static int
run_wg(const struct mesh *m, const char *const *args, const char *in, char *out, size_t cap)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = m->o.wg_command != NULL ? m->o.wg_command : "wg";
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int pin[2] = {-1, -1}, pout[2] = {-1, -1};
	int ret = -EIO;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* The daemon blocks SIGTERM/SIGINT/SIGHUP for sigwait and ignores SIGPIPE:
	 * the child starts with a clean mask and default handlers. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0)
		goto out;
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ) != 0)
		goto out;
	close(pin[0]);
	close(pout[1]);
	pin[0] = pout[1] = -1;
	if (in != NULL) {
		size_t len = strlen(in);
		ssize_t w = write(pin[1], in, len);
		(void)w;
	}
	close(pin[1]);
	pin[1] = -1;
	size_t got = 0;
	char sink[256];
	for (;;) {
		char *dst = out != NULL && got + 1 < cap ? out + got : sink;
		size_t room = out != NULL && got + 1 < cap ? cap - 1 - got : sizeof(sink);
		ssize_t r = read(pout[0], dst, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst != sink)
			got += (size_t)r;
	}
	if (out != NULL)
		out[got] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
	}
	return ret;
}

static void
wg_peer_add(const struct mesh *m, const struct pop *p)
{
	if (m->o.wg_interface == NULL)
		return;
	char allowed[MESH_IP_TEXT + 8], ka[8];
	snprintf(allowed, sizeof(allowed), "%s/%u", p->ip_text,
	         strchr(p->ip_text, ':') != NULL ? 128u : 32u);
	snprintf(ka, sizeof(ka), "%d", MESH_KEEPALIVE);
	const char *args[] = {"set", m->o.wg_interface, "peer", p->public_key, "allowed-ips", allowed,
	                      "endpoint", p->endpoint, "persistent-keepalive", ka, NULL};
	if (run_wg(m, args, NULL, NULL, 0) != 0)
		log_error(NULL, "mesh, POP %s, cannot add the peer to interface %s (wg set failed)",
		          p->name, m->o.wg_interface);
	else
		log_info(NULL, "mesh, POP %s, peer %s added to %s", p->name, p->ip_text,
		         m->o.wg_interface);
}

static void
wg_peer_remove(const struct mesh *m, const char *name, const char *public_key)
{
	if (m->o.wg_interface == NULL)
		return;
	const char *args[] = {"set", m->o.wg_interface, "peer", public_key, "remove", NULL};
	if (run_wg(m, args, NULL, NULL, 0) != 0)
		log_error(NULL, "mesh, POP %s, cannot remove the peer from interface %s", name,
		          m->o.wg_interface);
	else
		log_info(NULL, "mesh, POP %s, peer removed from %s", name, m->o.wg_interface);
}

/* Applies the key, listen port and every registered peer; removes unknown peers. */
static int
wg_sync(struct mesh *m, char *err, size_t errcap)
{
	if (m->o.wg_interface == NULL)
		return 0;
	char port[8];
	snprintf(port, sizeof(port), "%u", m->listen_port);
	if (m->o.wg_private_key != NULL) {
		const char *args[] = {"set", m->o.wg_interface, "private-key", m->o.wg_private_key,
		                      "listen-port", port, NULL};
		if (run_wg(m, args, NULL, NULL, 0) != 0) {
			set_err(err, errcap, "--wg-interface %s: wg set private-key failed (does the "
			        "interface exist?)", m->o.wg_interface);
			return -EIO;
		}
	}
	char peers[16384];
	const char *show[] = {"show", m->o.wg_interface, "peers", NULL};
	if (run_wg(m, show, NULL, peers, sizeof(peers)) != 0) {
		set_err(err, errcap, "--wg-interface %s: wg show failed (does the interface exist?)",
		        m->o.wg_interface);
		return -EIO;
	}
	for (char *line = peers, *nl; *line != '\0'; line = nl) {
		nl = line + strcspn(line, "\n");
		if (*nl == '\n')
			*nl++ = '\0';
		if (*line == '\0')
			continue;
		bool known = false;
		for (size_t i = 0; i < m->npops && !known; i++)
			known = strcmp(m->pops[i]->public_key, line) == 0;
		if (!known)
			wg_peer_remove(m, "(unregistered)", line);
	}
	for (size_t i = 0; i < m->npops; i++)
		wg_peer_add(m, m->pops[i]);
	return 0;
}

static int
read_private_key(struct mesh *m, char *err, size_t errcap)
{
	const char *path = m->o.wg_private_key;
	if (path == NULL)
		return 0;
	/* read to derive the public key, then forgotten: `wg set` reads the file itself */
	char buf[128];
	ssize_t n = keyfile_read("--wg-private-key", path, buf, sizeof(buf), err, errcap);
	if (n < 0)
		return n == -EPERM ? -EPERM : -EIO;
	char why[160];
	if (mesh_key_parse(buf, NULL, why, sizeof(why)) != 0) {
		explicit_bzero(buf, sizeof(buf));
		set_err(err, errcap, "--wg-private-key: %s holds no WireGuard key", path);
		return -EINVAL;
	}
	char pub[128];
	const char *args[] = {"pubkey", NULL};
	char in[sizeof(buf) + 2];
	snprintf(in, sizeof(in), "%s\n", buf);
	explicit_bzero(buf, sizeof(buf));
	int wr = run_wg(m, args, in, pub, sizeof(pub));
	explicit_bzero(in, sizeof(in));
	if (wr != 0) {
		set_err(err, errcap, "--wg-private-key: cannot derive the public key (is wireguard-tools' "
		        "wg installed?)");
		return -EIO;
	}
	size_t pl = strcspn(pub, "\r\n");
	pub[pl] = '\0';
	if (mesh_key_parse(pub, NULL, why, sizeof(why)) != 0) {
		set_err(err, errcap, "--wg-private-key: wg pubkey gave no key");
		return -EIO;
	}
	memcpy(m->public_key, pub, MESH_KEY_TEXT);
	m->has_key = true;
	return 0;
}

/* Takes the POP off the NOTIFY sender (no later answer counts) and frees it. */
static void
pop_free(struct mesh *m, struct pop *p)
{
	if (p == NULL)
		return;
	if (p->notify_id >= 0 && m->notify != NULL)
		notify_target_remove(m->notify, p->notify_id);
	explicit_bzero(p->tsig_secret, sizeof(p->tsig_secret));
	free(p);
}

/*
 * Makes the POP a target of the one NOTIFY sender, its NOTIFYs signed with
 * its own key.  0 or a negative errno.
 */
static int
pop_start(struct mesh *m, struct pop *p)
{
	char spec[MESH_TSIG_NAME_MAX + MESH_SECRET_MAX + 16];
	struct dns_tsig_key key;
	p->notify_id = -1;
	if (m->notify == NULL)
		return 0;
	snprintf(spec, sizeof(spec), "%s:hmac-sha256:%s", p->tsig_name, p->tsig_secret);
	int ret = dns_tsig_key_parse(&key, spec, NULL, 0) != 0 ? -EINVAL : 0;
	explicit_bzero(spec, sizeof(spec));
	if (ret != 0)
		return ret;
	struct sockaddr_storage to;
	socklen_t tl;
	char hp[MESH_IP_TEXT + 8];
	mesh_hostport(p->ip_text, p->dns_port, hp, sizeof(hp));
	ret = addr_parse(hp, p->dns_port, &to, &tl) != 0 ? -EINVAL : 0;
	if (ret == 0)
		ret = notify_target_add(m->notify, (const struct sockaddr *)&to, tl, &key);
	explicit_bzero(&key, sizeof(key));
	if (ret < 0)
		return ret;
	p->notify_id = ret;
	return 0;
}

static int
registry_push(struct mesh *m, struct pop *p)
{
	if (m->npops == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		struct pop **np = realloc(m->pops, ncap * sizeof(*np));
		if (np == NULL)
			return -ENOMEM;
		m->pops = np;
		m->cap = ncap;
	}
	m->pops[m->npops++] = p;
	return 0;
}

static void
copy_col(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static int
load_pop(void *ctx, const struct store_pop *sp)
{
	struct mesh *m = ctx;
	struct pop *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->notify_id = -1;
	copy_col(p->name, sizeof(p->name), sp->name);
	copy_col(p->endpoint, sizeof(p->endpoint), sp->endpoint);
	copy_col(p->public_key, sizeof(p->public_key), sp->public_key);
	copy_col(p->ip_text, sizeof(p->ip_text), sp->mesh_ip);
	copy_col(p->tsig_name, sizeof(p->tsig_name), sp->tsig_name);
	p->dns_port = sp->dns_port;
	p->created_at = sp->created_at;
	copy_col(p->tsig_secret, sizeof(p->tsig_secret), sp->tsig_secret);
	struct sockaddr_storage ss;
	socklen_t sl;
	char hp[MESH_IP_TEXT + 8];
	mesh_hostport(p->ip_text, 53, hp, sizeof(hp));
	if (addr_parse(hp, 53, &ss, &sl) != 0 || p->tsig_secret[0] == '\0') {
		log_warning(NULL, "mesh, POP %s has no mesh address or TSIG key in the database, "
		            "skipped (delete and register it again)", p->name);
		free(p);
		return 0;
	}
	if (mesh_net_host_of(&m->net, p->ip_text, &p->host) != 0) {
		p->host = 0;   /* kept at its address; new POPs are allocated from --mesh-net */
		log_warning(NULL, "mesh, POP %s has mesh address %s, outside --mesh-net", p->name,
		            p->ip_text);
	}
	int ret = registry_push(m, p);
	if (ret == 0 && m->prop != NULL)
		ret = propagation_pop_add(m->prop, p->name, p->ip_text);
	if (ret == 0)
		ret = pop_start(m, p);
	if (ret == -EAFNOSUPPORT) {   /* registered on a mesh of the other family */
		log_warning(NULL, "mesh, POP %s at %s gets no NOTIFY: not the address family of "
		            "--xfr (delete and register it again)", p->name, p->ip_text);
		p->notify_id = -1;
		ret = 0;
	}
	if (ret != 0) {
		if (m->npops > 0 && m->pops[m->npops - 1] == p)
			m->npops--;
		pop_free(m, p);
	}
	return ret;
}

/* The POP registry from the store. */
static int
load(struct mesh *m, char *err, size_t errcap)
{
	int ret = store_pop_list(m->st, load_pop, m);
	if (ret != 0)
		set_err(err, errcap, "mesh: cannot load the POP registry (%s)", strerror(-ret));
	return ret;
}

/* Calls fn for every registered POP with its NOTIFY target, under the registry lock. */
void
mesh_pop_each(struct mesh *m, void (*fn)(void *ctx, const char *name, int notify_id), void *ctx)
{
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->npops; i++)
		fn(ctx, m->pops[i]->name, m->pops[i]->notify_id);
	pthread_mutex_unlock(&m->mu);
}

int
mesh_open(const struct mesh_opts *o, struct store *st, struct propagation *prop,
          struct notify *notify, struct mesh **out, char *err, size_t errcap)
{
	struct mesh *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	int ret;
	m->o = *o;
	m->st = st;
	m->prop = prop;
	m->notify = notify;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->wmu, NULL);
	ret = -EINVAL;
	struct sockaddr_storage xs;
	socklen_t xl;
	if (addr_parse(o->xfr, 5300, &xs, &xl) != 0) {
		set_err(err, errcap, "--xfr: bad address '%s'", o->xfr);
		goto fail;
	}
	m->xfr_port = addr_port((const struct sockaddr *)&xs);
	/* the default mesh follows --xfr's family */
	const char *net = o->net != NULL ? o->net
	                  : xs.ss_family == AF_INET6 ? MESH_DEFAULT_NET6 : MESH_DEFAULT_NET;
	ret = mesh_net_parse(net, &m->net, err, errcap);
	if (ret != 0)
		goto fail;
	ret = -EINVAL;
	if (xs.ss_family != m->net.family) {
		char nt[MESH_IP_TEXT + 8];
		mesh_net_text(&m->net, nt, sizeof(nt));
		set_err(err, errcap, "--mesh-net %s is %s but --xfr %s is %s: NOTIFYs to the POPs "
		        "leave from the --xfr address (the primary's mesh address)", nt,
		        m->net.family == AF_INET6 ? "IPv6" : "IPv4", o->xfr,
		        xs.ss_family == AF_INET6 ? "IPv6" : "IPv4");
		goto fail;
	}
	struct sockaddr_storage qs;
	socklen_t ql;
	m->quic_port = 8853;
	if (o->quic != NULL && addr_parse(o->quic, 8853, &qs, &ql) == 0)
		m->quic_port = addr_port((const struct sockaddr *)&qs);
	m->listen_port = MESH_DEFAULT_WG_PORT;
	if (o->wg_endpoint != NULL) {
		char host[MESH_HOST_MAX];
		uint16_t port;
		char why[200];
		if (mesh_endpoint_parse(o->wg_endpoint, host, sizeof(host), &port, why,
		                        sizeof(why)) != 0) {
			set_err(err, errcap, "--wg-endpoint: %s", why);
			goto fail;
		}
		m->listen_port = port;
	}
	ret = read_private_key(m, err, errcap);
	if (ret != 0)
		goto fail;
	ret = load(m, err, errcap);
	if (ret != 0)
		goto fail;
	ret = wg_sync(m, err, errcap);
	if (ret != 0)
		goto fail;
	char pip[MESH_IP_TEXT], nip[MESH_IP_TEXT + 8];
	mesh_net_host_text(&m->net, mesh_net_primary(&m->net), pip, sizeof(pip));
	mesh_net_text(&m->net, nip, sizeof(nip));
	log_notice(NULL, "mesh %s, primary %s, %zu POPs registered%s%s", nip, pip,
	           m->npops, o->wg_interface != NULL ? ", interface " : "",
	           o->wg_interface != NULL ? o->wg_interface : "");
	*out = m;
	return 0;
fail:
	mesh_close(m);
	return ret;
}

void
mesh_stop(struct mesh *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->npops; i++) {
		struct pop *p = m->pops[i];
		if (p->notify_id >= 0 && m->notify != NULL)
			notify_target_remove(m->notify, p->notify_id);
		p->notify_id = -1;
	}
	pthread_mutex_unlock(&m->mu);
}

void
mesh_close(struct mesh *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->npops; i++)
		pop_free(m, m->pops[i]);
	free(m->pops);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->wmu);
	free(m);
}

static struct pop *
find_name(struct mesh *m, const char *name)
{
	for (size_t i = 0; i < m->npops; i++)
		if (strcmp(m->pops[i]->name, name) == 0)
			return m->pops[i];
	return NULL;
}

static struct pop *
find_key(struct mesh *m, const char *key)
{
	if (key == NULL || key[0] == '\0')
		return NULL;
	for (size_t i = 0; i < m->npops; i++)
		if (acl_key_equal(m->pops[i]->tsig_name, key))
			return m->pops[i];
	return NULL;
}

static struct pop *
find_ip(struct mesh *m, const char *ip)
{
	for (size_t i = 0; i < m->npops; i++)
		if (strcmp(m->pops[i]->ip_text, ip) == 0)
			return m->pops[i];
	return NULL;
}

static int
random_secret(char *out, size_t cap)
{
	uint8_t raw[32];
	gnutls_datum_t in = {.data = raw, .size = sizeof(raw)}, b = {0};
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0 || gnutls_base64_encode2(&in, &b) != 0)
		return -EIO;
	int ret = b.size < cap ? 0 : -ENOSPC;
	if (ret == 0) {
		memcpy(out, b.data, b.size);
		out[b.size] = '\0';
	}
	gnutls_free(b.data);
	explicit_bzero(raw, sizeof(raw));
	return ret;
}

/* One transaction in the store: the POP's TSIG key, then its row.  0, -EEXIST, -EIO (err). */
static int
db_insert(struct mesh *m, const struct pop *p, char *err, size_t errcap)
{
	struct store_pop sp = {.name = p->name, .endpoint = p->endpoint,
	                       .public_key = p->public_key, .mesh_ip = p->ip_text,
	                       .tsig_name = p->tsig_name, .tsig_secret = p->tsig_secret,
	                       .dns_port = p->dns_port, .created_at = p->created_at};
	return store_pop_add(m->st, &sp, err, errcap);
}

static json_t *
pop_json_base(const struct mesh *m, const struct pop *p)
{
	(void)m;
	return json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I}", "name", p->name, "mesh_ip", p->ip_text,
	                 "endpoint", p->endpoint, "public_key", p->public_key, "dns_port",
	                 (int)p->dns_port, "tsig_key", p->tsig_name, "tsig_algorithm", "hmac-sha256",
	                 "created_at", (json_int_t)p->created_at);
}

/* The request's fields, before anything is allocated.  0, -EINVAL or -EEXIST (err). */
static int
register_check(const struct mesh *m, const struct mesh_register *r, char *err, size_t errcap)
{
	char host[MESH_HOST_MAX];
	uint16_t port;
	if (r->name == NULL || mesh_name_check(r->name, err, errcap) != 0) {
		if (r->name == NULL)
			set_err(err, errcap, "name: missing");
		return -EINVAL;
	}
	if (r->endpoint == NULL) {
		set_err(err, errcap, "endpoint: missing (the POP's public HOST:PORT)");
		return -EINVAL;
	}
	if (mesh_endpoint_parse(r->endpoint, host, sizeof(host), &port, err, errcap) != 0)
		return -EINVAL;
	if (r->public_key == NULL) {
		set_err(err, errcap, "public_key: missing (the POP's WireGuard public key)");
		return -EINVAL;
	}
	if (mesh_key_parse(r->public_key, NULL, err, errcap) != 0)
		return -EINVAL;
	if (r->dns_port < 0 || r->dns_port > 65535) {
		set_err(err, errcap, "dns_port: must be 1..65535");
		return -EINVAL;
	}
	if (m->has_key && strcmp(r->public_key, m->public_key) == 0) {
		set_err(err, errcap, "public_key: that is the primary's own key");
		return -EEXIST;
	}
	return 0;
}

/* The answer to a registration: the POP's row plus its configuration texts. */
static json_t *
pop_reply(const struct mesh *m, const struct pop *p)
{
	struct mesh_primary_info pi;
	struct mesh_pop_info po;
	primary_info(m, &pi);
	pop_info(p, &po);
	json_t *j = pop_json_base(m, p);
	char *conf = mesh_render_pop_conf(&pi, &po);
	char *cmd = mesh_render_command(&pi, &po);
	char *tfile = mesh_render_tsig_file(&po);
	if (j != NULL && conf != NULL && cmd != NULL && tfile != NULL) {
		json_object_set_new(j, "wireguard_config", json_string(conf));
		json_object_set_new(j, "command", json_string(cmd));
		json_object_set_new(j, "tsig_secret", json_string(p->tsig_secret));
		char path[MESH_NAME_MAX + 64];
		snprintf(path, sizeof(path), MESH_TSIG_FILE_DIR "/" MESH_TSIG_PREFIX "%s.tsig", p->name);
		json_object_set_new(j, "tsig_file", json_string(path));
		json_object_set_new(j, "tsig_file_content", json_string(tfile));
		json_object_set_new(j, "transport", json_string(pi.quic_pin != NULL ? "quic" : "tcp"));
		char pip[MESH_IP_TEXT];
		mesh_net_host_text(&m->net, mesh_net_primary(&m->net), pip, sizeof(pip));
		json_object_set_new(j, "primary_mesh_ip", json_string(pip));
		if (pi.public_key != NULL)
			json_object_set_new(j, "primary_public_key", json_string(pi.public_key));
	}
	free(conf);
	free(cmd);
	if (tfile != NULL)
		explicit_bzero(tfile, strlen(tfile));
	free(tfile);
	return j;
}

int
mesh_pop_add(struct mesh *m, const struct mesh_register *r, json_t **out, char *err,
             size_t errcap)
{
	int rc = register_check(m, r, err, errcap);
	if (rc != 0)
		return rc;
	struct pop *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	snprintf(p->name, sizeof(p->name), "%s", r->name);
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", r->endpoint);
	snprintf(p->public_key, sizeof(p->public_key), "%s", r->public_key);
	snprintf(p->tsig_name, sizeof(p->tsig_name), MESH_TSIG_PREFIX "%s.", r->name);
	p->dns_port = (uint16_t)(r->dns_port != 0 ? r->dns_port : 53);
	p->created_at = (int64_t)time(NULL);
	int ret = random_secret(p->tsig_secret, sizeof(p->tsig_secret));
	if (ret != 0) {
		set_err(err, errcap, "cannot generate a TSIG secret");
		free(p);
		return -EIO;
	}
	pthread_mutex_lock(&m->wmu);   /* the array changes only under wmu (and mu) */
	pthread_mutex_lock(&m->mu);
	bool mu_held = true;
	char netbuf[MESH_IP_TEXT + 8];
	mesh_net_text(&m->net, netbuf, sizeof(netbuf));
	uint64_t *used = NULL;
	if (find_name(m, p->name) != NULL) {
		set_err(err, errcap, "name: POP '%s' is already registered", p->name);
		ret = -EEXIST;
		goto fail;
	}
	for (size_t i = 0; i < m->npops; i++) {
		if (strcmp(m->pops[i]->public_key, p->public_key) == 0) {
			set_err(err, errcap, "public_key: already registered by POP '%s'", m->pops[i]->name);
			ret = -EEXIST;
			goto fail;
		}
	}
	used = calloc(m->npops + 1, sizeof(*used));
	if (used == NULL) {
		set_err(err, errcap, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < m->npops; i++)
		used[i] = m->pops[i]->host;
	ret = mesh_net_alloc(&m->net, used, m->npops, &p->host);
	if (ret != 0) {
		set_err(err, errcap, "mesh address pool %s is full (%zu POPs registered)", netbuf,
		        m->npops);
		goto fail;
	}
	mesh_net_host_text(&m->net, p->host, p->ip_text, sizeof(p->ip_text));
	ret = registry_push(m, p);
	if (ret != 0) {
		set_err(err, errcap, "out of memory");
		goto fail;
	}
	m->npops--;   /* room reserved; pushed for real after the commit */
	pthread_mutex_unlock(&m->mu);
	mu_held = false;
	ret = db_insert(m, p, err, errcap);
	if (ret != 0)
		goto fail;
	/* what comes from its address is the POP's from now on (propagation) */
	if (m->prop != NULL && propagation_pop_add(m->prop, p->name, p->ip_text) != 0)
		log_error(NULL, "mesh, POP %s, cannot track its propagation, out of memory", p->name);
	ret = pop_start(m, p);
	if (ret != 0) {
		log_error(NULL, "mesh, POP %s registered but the NOTIFY sender did not take it (%s); "
		          "it will be notified after a restart", p->name, strerror(-ret));
		p->notify_id = -1;
	}
	pthread_mutex_lock(&m->mu);
	m->pops[m->npops++] = p;
	pthread_mutex_unlock(&m->mu);
	wg_peer_add(m, p);
	json_t *j = pop_reply(m, p);
	pthread_mutex_unlock(&m->wmu);
	free(used);
	log_info(NULL, "mesh, POP %s registered, mesh address %s, endpoint %s, TSIG key %s",
	         p->name, p->ip_text, p->endpoint, p->tsig_name);
	if (j == NULL) {
		set_err(err, errcap, "out of memory (the POP is registered)");
		return -ENOMEM;
	}
	*out = j;
	return 0;
fail:
	if (mu_held)
		pthread_mutex_unlock(&m->mu);
	pthread_mutex_unlock(&m->wmu);
	free(used);
	explicit_bzero(p->tsig_secret, sizeof(p->tsig_secret));
	free(p);
	return ret;
}

int
mesh_pop_delete(struct mesh *m, const char *name, char *err, size_t errcap)
{
	pthread_mutex_lock(&m->wmu);
	pthread_mutex_lock(&m->mu);
	struct pop *p = NULL;
	for (size_t i = 0; i < m->npops; i++) {
		if (strcmp(m->pops[i]->name, name) == 0) {
			p = m->pops[i];
			memmove(&m->pops[i], &m->pops[i + 1], (m->npops - i - 1) * sizeof(*m->pops));
			m->npops--;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (p == NULL) {
		pthread_mutex_unlock(&m->wmu);
		set_err(err, errcap, "POP '%.63s' is not registered", name);
		return -ENOENT;
	}
	/* Forgotten in memory first: from here its key transfers nothing and it gets no NOTIFY. */
	char why[256] = "";
	int ret = store_pop_delete(m->st, p->name, p->tsig_name, why, sizeof(why));
	if (ret != 0)
		set_err(err, errcap, "POP '%s' retired in memory but the database write failed: %s",
		        p->name, why);
	wg_peer_remove(m, p->name, p->public_key);
	pthread_mutex_unlock(&m->wmu);
	log_info(NULL, "mesh, POP %s retired, mesh address %s, TSIG key %s revoked", p->name,
	         p->ip_text, p->tsig_name);
	char gone[MESH_NAME_MAX];
	snprintf(gone, sizeof(gone), "%s", p->name);
	pop_free(m, p);
	/* After it left the NOTIFY sender, so no late answer brings it back. */
	if (m->prop != NULL)
		propagation_pop_drop(m->prop, gone);
	return ret;
}

/* ---- state for GET ---------------------------------------------------------------- */

struct zone_list {
	char (*names)[DNS_NAME_TEXT_MAX];
	uint32_t *serials;
	size_t n, cap;
	bool truncated;
};

static int
collect_zone(void *ctx, const struct store_zone *z)
{
	struct zone_list *zl = ctx;
	if (zl->n == zl->cap) {
		zl->truncated = true;
		return 1;
	}
	snprintf(zl->names[zl->n], DNS_NAME_TEXT_MAX, "%s", z->text);
	zl->serials[zl->n] = z->serial;
	zl->n++;
	return 0;
}

/* The POP's JSON with its counters; zones are filled in by mesh_pop_json. */
static json_t *
pop_state(struct mesh *m, const struct pop *p, int64_t now_ms)
{
	json_t *j = pop_json_base(m, p);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "transfers", json_integer((json_int_t)p->transfers));
	json_object_set_new(j, "refused", json_integer((json_int_t)p->refused));
	if (p->last_seen_ms != 0) {
		json_object_set_new(j, "last_seen_ms_ago", json_integer(now_ms - p->last_seen_ms));
		char iso[32];
		time_t t = (time_t)(p->last_seen_ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(j, "last_seen", json_string(iso));
	} else {
		json_object_set_new(j, "last_seen", json_null());
	}
	json_object_set_new(j, "zones", json_object());
	json_object_set_new(j, "zones_current", json_integer(0));
	return j;
}

int
mesh_pop_json(struct mesh *m, const char *name, json_t **out)
{
	struct zone_list zl = {0};
	struct pop *copies = NULL;
	json_t **objs = NULL;
	size_t n = 0;
	int ret = -ENOMEM;
	zl.cap = MESH_STATE_ZONES_MAX;
	zl.names = calloc(zl.cap, sizeof(*zl.names));
	zl.serials = calloc(zl.cap, sizeof(*zl.serials));
	if (zl.names == NULL || zl.serials == NULL)
		goto out;
	/* Copies taken under the lock; the slow part (zones, JSON) runs without it. */
	pthread_mutex_lock(&m->mu);
	copies = calloc(m->npops + 1, sizeof(*copies));
	if (copies != NULL) {
		for (size_t i = 0; i < m->npops; i++)
			if (name == NULL || strcmp(m->pops[i]->name, name) == 0)
				copies[n++] = *m->pops[i];
	}
	pthread_mutex_unlock(&m->mu);
	if (copies == NULL)
		goto out;
	if (name != NULL && n == 0) {
		ret = -ENOENT;
		goto out;
	}
	objs = calloc(n + 1, sizeof(*objs));
	if (objs == NULL)
		goto out;
	int64_t now = propagation_now_ms();
	for (size_t i = 0; i < n; i++) {
		objs[i] = pop_state(m, &copies[i], now);
		if (objs[i] == NULL)
			goto out;
	}
	struct store_snap *sn = NULL;
	if (store_snap_open(m->st, &sn) == 0) {
		store_snap_zones(sn, NULL, NULL, 0, collect_zone, &zl);
		store_snap_close(sn);
	}
	for (size_t z = 0; m->prop != NULL && n > 0 && z < zl.n; z++) {
		char *s = propagation_json(m->prop, zl.names[z], zl.serials[z], now);
		json_t *pj = s != NULL ? json_loads(s, 0, NULL) : NULL;
		free(s);
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(pj, "targets"), k, t) {
			const char *pop = json_string_value(json_object_get(t, "pop"));
			json_t *serial = json_object_get(t, "serial");
			if (pop == NULL || !json_is_integer(serial))
				continue;
			for (size_t i = 0; i < n; i++) {
				if (strcmp(pop, copies[i].name) != 0)
					continue;
				bool up = json_is_true(json_object_get(t, "up_to_date"));
				json_object_set_new(json_object_get(objs[i], "zones"), zl.names[z],
				                    json_pack("{s:I,s:b}", "serial",
				                              json_integer_value(serial), "up_to_date", up));
				if (up) {
					json_t *c = json_object_get(objs[i], "zones_current");
					json_integer_set(c, json_integer_value(c) + 1);
				}
			}
		}
		json_decref(pj);
	}
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(objs[i], "zones_total", json_integer((json_int_t)zl.n));
		if (zl.truncated)
			json_object_set_new(objs[i], "zones_truncated", json_true());
	}
	if (name != NULL) {
		*out = objs[0];
		objs[0] = NULL;
	} else {
		json_t *arr = json_array();
		if (arr == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(arr, objs[i]);
			objs[i] = NULL;
		}
		*out = arr;
	}
	ret = 0;
out:
	for (size_t i = 0; objs != NULL && i < n; i++)
		json_decref(objs[i]);
	free(objs);
	if (copies != NULL)
		explicit_bzero(copies, (n + 1) * sizeof(*copies));
	free(copies);
	free(zl.names);
	free(zl.serials);
	return ret;
}

char *
mesh_primary_conf(struct mesh *m)
{
	pthread_mutex_lock(&m->mu);
	struct mesh_primary_info pi;
	primary_info(m, &pi);
	struct mesh_pop_info *pis = calloc(m->npops + 1, sizeof(*pis));
	char *s = NULL;
	if (pis != NULL) {
		for (size_t i = 0; i < m->npops; i++)
			pop_info(m->pops[i], &pis[i]);
		s = mesh_render_primary_conf(&pi, pis, m->npops);
	}
	pthread_mutex_unlock(&m->mu);
	free(pis);
	return s;
}

/* ---- hooks ------------------------------------------------------------------------ */

bool
mesh_key_is_pop(struct mesh *m, const char *key)
{
	if (m == NULL || key == NULL)
		return false;
	pthread_mutex_lock(&m->mu);
	bool yes = find_key(m, key) != NULL;
	pthread_mutex_unlock(&m->mu);
	return yes;
}

bool
mesh_xfr_check(struct mesh *m, const char *ip, const char *key, char *why, size_t whycap)
{
	if (m == NULL)
		return true;
	bool ok = true;
	if (strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
		ip += 7;   /* an IPv4 POP seen through a dual-stack socket */
	pthread_mutex_lock(&m->mu);
	struct pop *kp = find_key(m, key);
	struct pop *ipp = find_ip(m, ip);
	if (kp != NULL && kp != ipp) {
		set_err(why, whycap, "TSIG key '%s' belongs to POP '%s' (%s), not to %s", kp->tsig_name,
		        kp->name, kp->ip_text, ip);
		kp->refused++;
		ok = false;
	} else if (ipp != NULL && kp != ipp) {
		set_err(why, whycap, "POP '%s' must sign with its own key '%s'", ipp->name,
		        ipp->tsig_name);
		ipp->refused++;
		ok = false;
	} else if (ipp != NULL) {
		ipp->transfers++;
		ipp->last_seen_ms = propagation_now_ms();
	}
	pthread_mutex_unlock(&m->mu);
	return ok;
}
