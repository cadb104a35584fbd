/*
 * The mesh's pure helpers (see mesh.h): parsing the mesh network, keys,
 * endpoints and names, and rendering the WireGuard and TSIG configuration
 * texts.  No state, no I/O.
 */
#include "primary/mesh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/base.h"
#include "util/strbuf.h"

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

int
mesh_net_parse(const char *s, struct mesh_net *n, char *err, size_t errcap)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : 0;
	if (slash == NULL || alen == 0 || alen >= sizeof(buf)) {
		set_err(err, errcap, "mesh network '%.64s' is not ADDRESS/PREFIX", s);
		return -EINVAL;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1) {
		set_err(err, errcap, "mesh network '%.64s': '%s' is not an IPv4 address", s, buf);
		return -EINVAL;
	}
	char *end = NULL;
	errno = 0;
	unsigned long p = strtoul(slash + 1, &end, 10);
	if (end == slash + 1 || *end != '\0' || errno != 0 || p < 8 || p > 30) {
		set_err(err, errcap, "mesh network '%.64s': prefix must be 8..30", s);
		return -EINVAL;
	}
	uint32_t ip = ntohl(a.s_addr);
	uint32_t mask = p == 0 ? 0 : ~(uint32_t)0 << (32 - p);
	if ((ip & ~mask) != 0) {
		set_err(err, errcap, "mesh network '%.64s' has host bits set", s);
		return -EINVAL;
	}
	n->net = ip;
	n->prefix = (unsigned)p;
	return 0;
}

static uint32_t
net_mask(const struct mesh_net *n)
{
	return ~(uint32_t)0 << (32 - n->prefix);
}

uint32_t
mesh_net_primary(const struct mesh_net *n)
{
	return n->net + 1;
}

bool
mesh_net_pop_addr(const struct mesh_net *n, uint32_t ip)
{
	uint32_t mask = net_mask(n);
	if ((ip & mask) != n->net)
		return false;
	uint32_t host = ip & ~mask;
	return host >= 2 && host < ~mask;   /* not network, primary or broadcast */
}

int
mesh_net_alloc(const struct mesh_net *n, const uint32_t *used, size_t nused, uint32_t *out)
{
	uint32_t last = n->net | ~net_mask(n);   /* broadcast */
	for (uint32_t ip = n->net + 2; ip < last; ip++) {
		bool taken = false;
		for (size_t i = 0; i < nused && !taken; i++)
			taken = used[i] == ip;
		if (!taken) {
			*out = ip;
			return 0;
		}
	}
	return -ENOSPC;
}

void
mesh_ip_text(uint32_t ip, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
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

static unsigned
endpoint_port(const char *ep, unsigned dflt)
{
	char host[MESH_HOST_MAX];
	uint16_t port;
	if (ep == NULL || mesh_endpoint_parse(ep, host, sizeof(host), &port, NULL, 0) != 0)
		return dflt;
	return port;
}

char *
mesh_render_pop_conf(const struct mesh_primary_info *pr, const struct mesh_pop_info *pop)
{
	struct strbuf b;
	strbuf_init(&b);
	char ip[16], pip[16];
	mesh_ip_text(pop->mesh_ip, ip, sizeof(ip));
	mesh_ip_text(mesh_net_primary(pr->net), pip, sizeof(pip));
	strbuf_printf(&b, "# anycst mesh: POP %s\n", pop->name);
	strbuf_printf(&b, "[Interface]\n");
	strbuf_printf(&b, "Address = %s/%u\n", ip, pr->net->prefix);
	strbuf_printf(&b, "PrivateKey = <PRIVATE KEY OF %s: the private key of public key %s>\n",
	       pop->name, pop->public_key);
	strbuf_printf(&b, "ListenPort = %u\n", endpoint_port(pop->endpoint, MESH_DEFAULT_WG_PORT));
	strbuf_printf(&b, "\n[Peer]\n");
	strbuf_printf(&b, "# anycst primary\n");
	if (pr->public_key != NULL)
		strbuf_printf(&b, "PublicKey = %s\n", pr->public_key);
	else
		strbuf_printf(&b, "PublicKey = <PUBLIC KEY OF THE PRIMARY: start anycst-primary with "
		       "--wg-private-key>\n");
	strbuf_printf(&b, "AllowedIPs = %s/32\n", pip);
	if (pr->endpoint != NULL)
		strbuf_printf(&b, "Endpoint = %s\n", pr->endpoint);
	strbuf_printf(&b, "PersistentKeepalive = %d\n", MESH_KEEPALIVE);
	return strbuf_take(&b);
}

char *
mesh_render_primary_conf(const struct mesh_primary_info *pr, const struct mesh_pop_info *pops,
                         size_t npops)
{
	struct strbuf b;
	strbuf_init(&b);
	char pip[16];
	mesh_ip_text(mesh_net_primary(pr->net), pip, sizeof(pip));
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
		char ip[16];
		mesh_ip_text(pops[i].mesh_ip, ip, sizeof(ip));
		strbuf_printf(&b, "\n[Peer]\n# POP %s\n", pops[i].name);
		strbuf_printf(&b, "PublicKey = %s\n", pops[i].public_key);
		strbuf_printf(&b, "AllowedIPs = %s/32\n", ip);
		strbuf_printf(&b, "Endpoint = %s\n", pops[i].endpoint);
		strbuf_printf(&b, "PersistentKeepalive = %d\n", MESH_KEEPALIVE);
	}
	return strbuf_take(&b);
}

char *
mesh_render_command(const struct mesh_primary_info *pr, const struct mesh_pop_info *pop)
{
	struct strbuf b;
	strbuf_init(&b);
	char ip[16], pip[16];
	mesh_ip_text(pop->mesh_ip, ip, sizeof(ip));
	mesh_ip_text(mesh_net_primary(pr->net), pip, sizeof(pip));
	if (pr->quic_pin != NULL)
		strbuf_printf(&b, "anycst-secondary --primary %s:%u --transport quic --pin %s", pip,
		       pr->quic_port, pr->quic_pin);
	else
		strbuf_printf(&b, "anycst-secondary --primary %s:%u --transport tcp", pip, pr->xfr_port);
	strbuf_printf(&b, " --tsig-file " MESH_TSIG_FILE_DIR "/%.*s.tsig", (int)strcspn(pop->tsig_name, "."),
	       pop->tsig_name);
	strbuf_printf(&b, " --listen %s:%u", ip, pop->dns_port);
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

