/*
 * The mesh's pure helpers (see mesh.h): parsing the mesh network, keys,
 * endpoints and names, and rendering the WireGuard and TSIG configuration
 * texts.  No state, no I/O.
 */
#include "primary/mesh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"
#include "util/base.h"
#include "util/strbuf.h"

/* ---- pure helpers --------------------------------------------------------------- */

/* The address's bytes: 4 for IPv4, 16 for IPv6. */
static size_t
net_len(const struct mesh_net *n)
{
	return n->family == AF_INET ? 4 : 16;
}

static unsigned
host_bits(const struct mesh_net *n)
{
	return (unsigned)net_len(n) * 8 - n->prefix;
}

/* The largest host number of the network (all host bits set). */
static uint64_t
host_max(const struct mesh_net *n)
{
	unsigned b = host_bits(n);
	return b >= 64 ? UINT64_MAX : ((uint64_t)1 << b) - 1;
}

/* Whether the bits of `a` past the prefix are zero (== a network address). */
static bool
host_bits_zero(const uint8_t *a, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned first = (unsigned)i * 8;
		uint8_t keep = first >= prefix ? 0 : prefix - first >= 8 ? 0xff
		               : (uint8_t)(0xff << (8 - (prefix - first)));
		if ((a[i] & (uint8_t)~keep) != 0)
			return false;
	}
	return true;
}

int
mesh_net_parse(const char *s, struct mesh_net *n, char *err, size_t errcap)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : 0;
	if (slash == NULL || alen == 0 || alen >= sizeof(buf)) {
		set_err(err, errcap, "mesh network '%.64s' is not ADDRESS/PREFIX", s);
		return -EINVAL;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(n, 0, sizeof(*n));
	unsigned lo, hi;
	if (inet_pton(AF_INET, buf, n->net) == 1) {
		n->family = AF_INET;
		lo = 8;
		hi = 30;
	} else if (inet_pton(AF_INET6, buf, n->net) == 1) {
		n->family = AF_INET6;
		lo = 64;    /* host numbers fit 64 bits; a ULA /64 is the usual mesh */
		hi = 126;
	} else {
		set_err(err, errcap, "mesh network '%.64s': '%s' is not an IPv4 or IPv6 address", s,
		        buf);
		return -EINVAL;
	}
	char *end = NULL;
	errno = 0;
	unsigned long p = strtoul(slash + 1, &end, 10);
	if (end == slash + 1 || *end != '\0' || errno != 0 || slash[1] < '0' || slash[1] > '9' ||
	    p < lo || p > hi) {
		set_err(err, errcap, "mesh network '%.64s': an %s prefix must be %u..%u", s,
		        n->family == AF_INET ? "IPv4" : "IPv6", lo, hi);
		return -EINVAL;
	}
	if (!host_bits_zero(n->net, net_len(n), (unsigned)p)) {
		set_err(err, errcap, "mesh network '%.64s' has host bits set", s);
		return -EINVAL;
	}
	n->prefix = (unsigned)p;
	return 0;
}

uint64_t
mesh_net_primary(const struct mesh_net *n)
{
	(void)n;
	return 1;
}

bool
mesh_net_pop_addr(const struct mesh_net *n, uint64_t host)
{
	if (host < 2 || host > host_max(n))
		return false;
	/* IPv4 keeps its broadcast address out; IPv6 has none */
	return n->family != AF_INET || host < host_max(n);
}

int
mesh_net_alloc(const struct mesh_net *n, const uint64_t *used, size_t nused, uint64_t *out)
{
	for (uint64_t h = 2; mesh_net_pop_addr(n, h); h++) {
		bool taken = false;
		for (size_t i = 0; i < nused && !taken; i++)
			taken = used[i] == h;
		if (!taken) {
			*out = h;
			return 0;
		}
	}
	return -ENOSPC;
}

void
mesh_net_host_text(const struct mesh_net *n, uint64_t host, char *buf, size_t cap)
{
	uint8_t a[16];
	size_t len = net_len(n);
	memcpy(a, n->net, sizeof(a));
	for (size_t i = 0; i < 8 && i < len; i++)
		a[len - 1 - i] |= (uint8_t)(host >> (8 * i));
	char t[INET6_ADDRSTRLEN];
	if (inet_ntop(n->family, a, t, sizeof(t)) == NULL)
		t[0] = '\0';
	snprintf(buf, cap, "%s", t);
}

int
mesh_net_host_of(const struct mesh_net *n, const char *text, uint64_t *host)
{
	uint8_t a[16] = {0};
	size_t len = net_len(n);
	if (inet_pton(n->family, text, a) != 1)
		return -EINVAL;
	uint8_t masked[16];
	memcpy(masked, a, sizeof(masked));
	uint64_t h = 0;
	for (size_t i = 0; i < 8 && i < len; i++)
		h |= (uint64_t)a[len - 1 - i] << (8 * i);
	h &= host_max(n);
	for (size_t i = 0; i < 8 && i < len; i++)
		masked[len - 1 - i] &= (uint8_t)~(uint8_t)(host_max(n) >> (8 * i));
	if (memcmp(masked, n->net, len) != 0)
		return -EINVAL;
	*host = h;
	return 0;
}

void
mesh_net_text(const struct mesh_net *n, char *buf, size_t cap)
{
	char t[INET6_ADDRSTRLEN];
	if (inet_ntop(n->family, n->net, t, sizeof(t)) == NULL)
		t[0] = '\0';
	snprintf(buf, cap, "%s/%u", t, n->prefix);
}

unsigned
mesh_net_host_prefix(const struct mesh_net *n)
{
	return (unsigned)net_len(n) * 8;
}

void
mesh_hostport(const char *ip, unsigned port, char *buf, size_t cap)
{
	if (strchr(ip, ':') != NULL)
		snprintf(buf, cap, "[%s]:%u", ip, port);
	else
		snprintf(buf, cap, "%s:%u", ip, port);
}

int
mesh_key_parse(const char *b64, uint8_t raw[32], char *err, size_t errcap)
{
	size_t len = strnlen(b64, 128);
	if (len != 44 || b64[43] != '=') {
		set_err(err, errcap, "public_key: not a WireGuard key (base64 of 32 bytes: 44 "
		        "characters ending in '='), got %zu characters", len);
		return -EINVAL;
	}
	/* the decoder is strict: non-zero trailing bits (a non-canonical
	 * encoding) are refused too */
	uint8_t out[33];
	int n = base64_decode(b64, len, out, sizeof(out));
	size_t bad = strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	if (bad < 43) {
		set_err(err, errcap, "public_key: character %zu is not base64", bad + 1);
		return -EINVAL;
	}
	if (n != 32) {
		set_err(err, errcap, "public_key: not a canonical base64 encoding of 32 bytes");
		return -EINVAL;
	}
	if (raw != NULL)
		memcpy(raw, out, 32);
	return 0;
}

int
mesh_endpoint_parse(const char *s, char *host, size_t hostcap, uint16_t *port, char *err,
                    size_t errcap)
{
	size_t len = strnlen(s, MESH_ENDPOINT_MAX + 1);
	const char *colon;
	const char *h;
	size_t hlen;
	if (len == 0 || len > MESH_ENDPOINT_MAX) {
		set_err(err, errcap, "endpoint: empty or too long, expected HOST:PORT");
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':') {
			set_err(err, errcap, "endpoint '%.80s': expected [IPV6]:PORT", s);
			return -EINVAL;
		}
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
		char buf[64];
		struct in6_addr a6;
		if (hlen == 0 || hlen >= sizeof(buf)) {
			set_err(err, errcap, "endpoint '%.80s': bad IPv6 address", s);
			return -EINVAL;
		}
		memcpy(buf, h, hlen);
		buf[hlen] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1) {
			set_err(err, errcap, "endpoint '%.80s': '%s' is not an IPv6 address", s, buf);
			return -EINVAL;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s) {
			set_err(err, errcap, "endpoint '%.80s' is not HOST:PORT", s);
			return -EINVAL;
		}
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(h, ':', hlen) != NULL) {
			set_err(err, errcap, "endpoint '%.80s': an IPv6 address needs brackets, "
			        "[ADDRESS]:PORT", s);
			return -EINVAL;
		}
		for (size_t i = 0; i < hlen; i++) {
			char c = h[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			          (c >= '0' && c <= '9') || c == '-' || c == '.';
			if (!ok) {
				set_err(err, errcap, "endpoint '%.80s': bad character in host", s);
				return -EINVAL;
			}
		}
		if (h[0] == '.' || h[0] == '-' || hlen > 253) {
			set_err(err, errcap, "endpoint '%.80s': bad host name", s);
			return -EINVAL;
		}
	}
	const char *ps = colon + 1;
	char *end = NULL;
	if (*ps < '0' || *ps > '9') {
		set_err(err, errcap, "endpoint '%.80s': missing port", s);
		return -EINVAL;
	}
	errno = 0;
	unsigned long p = strtoul(ps, &end, 10);
	if (*end != '\0' || errno != 0 || p == 0 || p > 65535) {
		set_err(err, errcap, "endpoint '%.80s': port must be 1..65535", s);
		return -EINVAL;
	}
	if (hlen + 1 > hostcap) {
		set_err(err, errcap, "endpoint '%.80s': host too long", s);
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int
mesh_name_check(const char *name, char *err, size_t errcap)
{
	size_t len = strnlen(name, MESH_NAME_MAX);
	if (len == 0 || len >= MESH_NAME_MAX) {
		set_err(err, errcap, "name: must be 1..%d characters", MESH_NAME_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			set_err(err, errcap, "name '%.63s': only a-z, 0-9 and '-' are allowed", name);
			return -EINVAL;
		}
	}
	if (name[0] == '-' || name[len - 1] == '-') {
		set_err(err, errcap, "name '%.63s': must not start or end with '-'", name);
		return -EINVAL;
	}
	return 0;
}

/* This node's mesh address, text. */
static void
self_ip(const struct mesh_primary_info *pr, char *buf, size_t cap)
{
	if (pr->self_ip != NULL)
		snprintf(buf, cap, "%s", pr->self_ip);
	else
		mesh_net_host_text(pr->net, mesh_net_primary(pr->net), buf, cap);
}

static unsigned
endpoint_port(const char *ep, unsigned dflt)
{
	char host[MESH_HOST_MAX];
	uint16_t port;
	if (ep == NULL || mesh_endpoint_parse(ep, host, sizeof(host), &port, NULL, 0) != 0)
		return dflt;
	return port;
}

/* The nodes a POP follows: pr's list, or this node alone from pr's own fields. */
static const struct mesh_node_info *
node_list(const struct mesh_primary_info *pr, struct mesh_node_info *self, char *ip, size_t ipcap,
          size_t *n)
{
	if (pr->nnodes > 0) {
		*n = pr->nnodes;
		return pr->nodes;
	}
	self_ip(pr, ip, ipcap);
	*self = (struct mesh_node_info){.mesh_ip = ip, .public_key = pr->public_key,
	                                .endpoint = pr->endpoint, .xfr_port = pr->xfr_port,
	                                .quic_port = pr->quic_port, .quic_pin = pr->quic_pin};
	*n = 1;
	return self;
}

char *
mesh_render_pop_conf(const struct mesh_primary_info *pr, const struct mesh_pop_info *pop)
{
	struct strbuf b;
	strbuf_init(&b);
	struct mesh_node_info self;
	char sip[MESH_IP_TEXT];
	size_t n;
	const struct mesh_node_info *nodes = node_list(pr, &self, sip, sizeof(sip), &n);
	strbuf_printf(&b, "# anycst mesh: POP %s\n", pop->name);
	strbuf_printf(&b, "[Interface]\n");
	strbuf_printf(&b, "Address = %s/%u\n", pop->mesh_ip, pr->net->prefix);
	strbuf_printf(&b, "PrivateKey = <PRIVATE KEY OF %s: the private key of public key %s>\n",
	       pop->name, pop->public_key);
	strbuf_printf(&b, "ListenPort = %u\n", endpoint_port(pop->endpoint, MESH_DEFAULT_WG_PORT));
	for (size_t i = 0; i < n; i++) {
		const struct mesh_node_info *nd = &nodes[i];
		strbuf_printf(&b, "\n[Peer]\n");
		if (n == 1)
			strbuf_printf(&b, "# anycst primary\n");
		else
			strbuf_printf(&b, "# anycst primary node %s\n", nd->mesh_ip);
		if (nd->public_key != NULL)
			strbuf_printf(&b, "PublicKey = %s\n", nd->public_key);
		else
			strbuf_printf(&b, "PublicKey = <PUBLIC KEY OF THE PRIMARY %s: start anycst-primary "
			              "with --wg-private-key>\n", nd->mesh_ip);
		strbuf_printf(&b, "AllowedIPs = %s/%u\n", nd->mesh_ip, mesh_net_host_prefix(pr->net));
		if (nd->endpoint != NULL)
			strbuf_printf(&b, "Endpoint = %s\n", nd->endpoint);
		strbuf_printf(&b, "PersistentKeepalive = %d\n", MESH_KEEPALIVE);
	}
	return strbuf_take(&b);
}

char *
mesh_render_primary_conf(const struct mesh_primary_info *pr, const struct mesh_pop_info *pops,
                         size_t npops)
{
	struct strbuf b;
	strbuf_init(&b);
	char pip[MESH_IP_TEXT];
	self_ip(pr, pip, sizeof(pip));
	strbuf_printf(&b, "# anycst mesh: the primary, %zu POPs\n", npops);
	strbuf_printf(&b, "[Interface]\n");
	strbuf_printf(&b, "Address = %s/%u\n", pip, pr->net->prefix);
	if (pr->private_key_file != NULL)
		strbuf_printf(&b, "PrivateKey = <contents of %s>\n", pr->private_key_file);
	else
		strbuf_printf(&b, "PrivateKey = <PRIVATE KEY OF THE PRIMARY: start anycst-primary with "
		       "--wg-private-key>\n");
	strbuf_printf(&b, "ListenPort = %u\n", pr->listen_port);
	for (size_t i = 0; i < npops; i++) {
		strbuf_printf(&b, "\n[Peer]\n# POP %s\n", pops[i].name);
		strbuf_printf(&b, "PublicKey = %s\n", pops[i].public_key);
		strbuf_printf(&b, "AllowedIPs = %s/%u\n", pops[i].mesh_ip,
		              strchr(pops[i].mesh_ip, ':') != NULL ? 128u : 32u);
		strbuf_printf(&b, "Endpoint = %s\n", pops[i].endpoint);
		strbuf_printf(&b, "PersistentKeepalive = %d\n", MESH_KEEPALIVE);
	}
	return strbuf_take(&b);
}

/* " OPT ip:port,ip:port,..." of every node, the port picked by `quic`. */
static void
node_addrs(struct strbuf *b, const char *opt, const struct mesh_node_info *nodes, size_t n,
           bool quic)
{
	char hp[MESH_IP_TEXT + 8];
	strbuf_printf(b, " %s ", opt);
	for (size_t i = 0; i < n; i++) {
		mesh_hostport(nodes[i].mesh_ip, quic ? nodes[i].quic_port : nodes[i].xfr_port, hp,
		              sizeof(hp));
		strbuf_printf(b, "%s%s", i > 0 ? "," : "", hp);
	}
}

char *
mesh_render_command(const struct mesh_primary_info *pr, const struct mesh_pop_info *pop)
{
	struct strbuf b;
	strbuf_init(&b);
	struct mesh_node_info self;
	char sip[MESH_IP_TEXT], hp[MESH_IP_TEXT + 8];
	size_t n;
	const struct mesh_node_info *nodes = node_list(pr, &self, sip, sizeof(sip), &n);
	bool quic = true, tcp_default = true;
	for (size_t i = 0; i < n; i++) {
		quic = quic && nodes[i].quic_pin != NULL;
		tcp_default = tcp_default && nodes[i].xfr_port == MESH_XFR_DEFAULT_PORT;
	}
	strbuf_printf(&b, "anycst-secondary");
	node_addrs(&b, "--primary", nodes, n, quic);
	if (quic) {
		strbuf_printf(&b, " --transport quic --pin ");
		for (size_t i = 0; i < n; i++)
			strbuf_printf(&b, "%s%s", i > 0 ? "," : "", nodes[i].quic_pin);
		/* the fallback to TCP goes to each node's --xfr (one node: as before, the
		 * secondary's default) */
		if (n > 1 && !tcp_default)
			node_addrs(&b, "--primary-tcp", nodes, n, false);
	} else {
		strbuf_printf(&b, " --transport tcp");
	}
	strbuf_printf(&b, " --tsig-file " MESH_TSIG_FILE_DIR "/%.*s.tsig", (int)strcspn(pop->tsig_name, "."),
	       pop->tsig_name);
	mesh_hostport(pop->mesh_ip, pop->dns_port, hp, sizeof(hp));
	strbuf_printf(&b, " --listen %s", hp);
	strbuf_printf(&b, " --catalog %s", pr->catalog != NULL ? pr->catalog : "catalog.anycst.invalid.");
	strbuf_printf(&b, " --identity %s", pop->name);
	return strbuf_take(&b);
}

char *
mesh_render_tsig_file(const struct mesh_pop_info *pop)
{
	struct strbuf b;
	strbuf_init(&b);
	strbuf_printf(&b, "%s:hmac-sha256:%s\n", pop->tsig_name, pop->tsig_secret);
	return strbuf_take(&b);
}

