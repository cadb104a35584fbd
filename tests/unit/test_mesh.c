/*
 * Unit tests of primary/mesh.c: WireGuard key, endpoint, name and network
 * parsing, address allocation, config and command rendering, and the
 * registry on a real store (registration, refusals that allocate nothing,
 * retirement, the transfer hooks, reload from the database, and the `wg`
 * calls made for an interface, recorded by a stand-in script).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include <netinet/in.h>

#include "primary/mesh.h"
#include "primary/notify.h"
#include "primary/store.h"
#include "primary/xfrout_store.h"
#include "store_db.h"

/* RFC 7748 §6.1: Alice's X25519 private and public keys, in base64. */
#define ALICE_PRIV "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define ALICE_PUB "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define BOB_PUB "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define CAROL_PUB "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void
test_mesh_key_parse(void **state)
{
	(void)state;
	uint8_t raw[32];
	char err[256];
	assert_int_equal(mesh_key_parse(ALICE_PUB, raw, err, sizeof(err)), 0);
	assert_int_equal(raw[0], 0x85);
	assert_int_equal(raw[31], 0x6a);
	assert_int_equal(mesh_key_parse(CAROL_PUB, raw, err, sizeof(err)), 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(raw[i], i);
	/* too short, too long, no padding, bad character, 33 bytes, non-canonical tail */
	assert_int_equal(mesh_key_parse("abc", raw, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "public_key"));
	assert_int_equal(mesh_key_parse(ALICE_PUB "A", raw, err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_key_parse("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA", raw, err,
	                                sizeof(err)), -EINVAL);
	assert_int_equal(mesh_key_parse("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqq*Tmo=", raw, err,
	                                sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "character 40"));
	assert_int_equal(mesh_key_parse("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", raw, err,
	                                sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "canonical"));
	assert_int_equal(mesh_key_parse("", raw, err, sizeof(err)), -EINVAL);
}

static void
test_mesh_endpoint_parse(void **state)
{
	(void)state;
	char host[MESH_HOST_MAX], err[256];
	uint16_t port = 0;
	assert_int_equal(mesh_endpoint_parse("192.0.2.1:51820", host, sizeof(host), &port, err,
	                                     sizeof(err)), 0);
	assert_string_equal(host, "192.0.2.1");
	assert_int_equal(port, 51820);
	assert_int_equal(mesh_endpoint_parse("[2001:db8::1]:443", host, sizeof(host), &port, err,
	                                     sizeof(err)), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 443);
	assert_int_equal(mesh_endpoint_parse("pop1.example.net:1", host, sizeof(host), &port, err,
	                                     sizeof(err)), 0);
	assert_string_equal(host, "pop1.example.net");
	const char *bad[] = {"192.0.2.1", "192.0.2.1:", "192.0.2.1:0", "192.0.2.1:65536",
	                     "2001:db8::1:53", "[2001:db8::1]", "[2001:db8::zz]:53", "[]:53", ":53",
	                     "pop 1:53", "host:53x", "host:-1", "", "-host:53"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(mesh_endpoint_parse(bad[i], host, sizeof(host), &port, err,
		                                     sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "endpoint"));
	}
}

static void
test_mesh_name_check(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(mesh_name_check("tokyo-1", err, sizeof(err)), 0);
	assert_int_equal(mesh_name_check("Tokyo", err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_name_check("-a", err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_name_check("a-", err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_name_check("a.b", err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_name_check("", err, sizeof(err)), -EINVAL);
	char longname[80];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[79] = '\0';
	assert_int_equal(mesh_name_check(longname, err, sizeof(err)), -EINVAL);
	longname[63] = '\0';
	assert_int_equal(mesh_name_check(longname, err, sizeof(err)), 0);
}

static void
test_mesh_net_alloc(void **state)
{
	(void)state;
	struct mesh_net n;
	char err[256], ip[MESH_IP_TEXT];
	assert_int_equal(mesh_net_parse("10.53.0.0/24", &n, err, sizeof(err)), 0);
	mesh_net_host_text(&n, mesh_net_primary(&n), ip, sizeof(ip));
	assert_string_equal(ip, "10.53.0.1");
	assert_true(mesh_net_pop_addr(&n, 2));
	assert_false(mesh_net_pop_addr(&n, 1));     /* the primary */
	assert_false(mesh_net_pop_addr(&n, 255));   /* broadcast */
	assert_false(mesh_net_pop_addr(&n, 256));   /* outside */
	uint64_t used[3] = {2, 4, 0}, got = 0;
	assert_int_equal(mesh_net_alloc(&n, used, 2, &got), 0);
	assert_int_equal(got, 3);
	assert_int_equal(mesh_net_alloc(&n, NULL, 0, &got), 0);
	assert_int_equal(got, 2);
	uint64_t h = 0;
	assert_int_equal(mesh_net_host_of(&n, "10.53.0.77", &h), 0);
	assert_int_equal(h, 77);
	assert_int_equal(mesh_net_host_of(&n, "10.53.1.77", &h), -EINVAL);
	assert_int_equal(mesh_net_host_of(&n, "fd00::1", &h), -EINVAL);
	/* a /30 has exactly one POP address */
	assert_int_equal(mesh_net_parse("192.168.7.4/30", &n, err, sizeof(err)), 0);
	assert_int_equal(mesh_net_alloc(&n, NULL, 0, &got), 0);
	mesh_net_host_text(&n, got, ip, sizeof(ip));
	assert_string_equal(ip, "192.168.7.6");
	used[0] = got;
	assert_int_equal(mesh_net_alloc(&n, used, 1, &got), -ENOSPC);
	assert_int_equal(mesh_net_parse("10.53.0.1/24", &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(mesh_net_parse("10.53.0.0/31", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_net_parse("10.53.0.0", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_net_parse("10.53.0.0/+24", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_net_parse("example/24", &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an IPv4 or IPv6 address"));
}

/* --mesh-net takes an IPv6 prefix: a ULA /64, POPs from ::2 up. */
static void
test_mesh_net_v6(void **state)
{
	(void)state;
	struct mesh_net n;
	char err[256], ip[MESH_IP_TEXT];
	assert_int_equal(mesh_net_parse("fd00:53::/64", &n, err, sizeof(err)), 0);
	assert_int_equal(n.family, AF_INET6);
	assert_int_equal(n.prefix, 64);
	mesh_net_host_text(&n, mesh_net_primary(&n), ip, sizeof(ip));
	assert_string_equal(ip, "fd00:53::1");
	char t[64];
	mesh_net_text(&n, t, sizeof(t));
	assert_string_equal(t, "fd00:53::/64");
	assert_int_equal(mesh_net_host_prefix(&n), 128);
	uint64_t used[2] = {2, 3}, got = 0;
	assert_int_equal(mesh_net_alloc(&n, used, 2, &got), 0);
	mesh_net_host_text(&n, got, ip, sizeof(ip));
	assert_string_equal(ip, "fd00:53::4");
	assert_true(mesh_net_pop_addr(&n, UINT64_MAX));   /* no broadcast in IPv6 */
	uint64_t h = 0;
	assert_int_equal(mesh_net_host_of(&n, "fd00:53::ffff:0:0:2", &h), 0);
	assert_int_equal(h, 0xffff000000000002ULL);
	assert_int_equal(mesh_net_host_of(&n, "fd00:54::2", &h), -EINVAL);
	assert_int_equal(mesh_net_host_of(&n, "10.53.0.2", &h), -EINVAL);
	/* a /126: hosts 1..3, POPs 2 and 3 */
	assert_int_equal(mesh_net_parse("fd00:53:0:1::4/126", &n, err, sizeof(err)), 0);
	used[0] = 2;
	assert_int_equal(mesh_net_alloc(&n, used, 1, &got), 0);
	assert_int_equal(got, 3);
	used[1] = 3;
	assert_int_equal(mesh_net_alloc(&n, used, 2, &got), -ENOSPC);
	assert_int_equal(mesh_net_parse("fd00:53::1/64", &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(mesh_net_parse("fd00:53::/48", &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "IPv6 prefix must be 64..126"));
	assert_int_equal(mesh_net_parse("fd00:53::/127", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(mesh_net_parse("[fd00:53::]/64", &n, err, sizeof(err)), -EINVAL);
}

static void
test_mesh_render_v6(void **state)
{
	(void)state;
	struct mesh_net n;
	assert_int_equal(mesh_net_parse("fd00:53::/64", &n, NULL, 0), 0);
	struct mesh_primary_info pr = {.net = &n, .public_key = ALICE_PUB,
	                               .endpoint = "[2001:db8::1]:51820", .listen_port = 51820,
	                               .xfr_port = 5300, .quic_port = 8853};
	struct mesh_pop_info pop = {.name = "tokyo", .endpoint = "[2001:db8::7]:51999",
	                            .public_key = BOB_PUB, .mesh_ip = "fd00:53::7", .dns_port = 53,
	                            .tsig_name = "pop-tokyo.", .tsig_secret = "c2VjcmV0"};
	char *c = mesh_render_pop_conf(&pr, &pop);
	assert_non_null(strstr(c, "[Interface]\nAddress = fd00:53::7/64\n"));
	assert_non_null(strstr(c, "AllowedIPs = fd00:53::1/128\n"));
	assert_non_null(strstr(c, "Endpoint = [2001:db8::1]:51820\n"));
	assert_non_null(strstr(c, "ListenPort = 51999\n"));
	free(c);
	c = mesh_render_command(&pr, &pop);
	assert_string_equal(c, "anycst-secondary --primary [fd00:53::1]:5300 --transport tcp "
	                    "--tsig-file /etc/anycst/pop-tokyo.tsig --listen [fd00:53::7]:53 "
	                    "--catalog catalog.anycst.invalid. --identity tokyo");
	free(c);
	pr.quic_pin = "PINPIN=";
	c = mesh_render_command(&pr, &pop);
	assert_non_null(strstr(c, "--primary [fd00:53::1]:8853 --transport quic --pin PINPIN= "));
	free(c);
	c = mesh_render_primary_conf(&pr, &pop, 1);
	assert_non_null(strstr(c, "Address = fd00:53::1/64\n"));
	assert_non_null(strstr(c, "PublicKey = " BOB_PUB "\nAllowedIPs = fd00:53::7/128\n"
	                       "Endpoint = [2001:db8::7]:51999\n"));
	free(c);
}

static void
test_mesh_render(void **state)
{
	(void)state;
	struct mesh_net n;
	assert_int_equal(mesh_net_parse("10.53.0.0/24", &n, NULL, 0), 0);
	struct mesh_primary_info pr = {.net = &n, .public_key = ALICE_PUB,
	                               .private_key_file = "/etc/anycst/wg.key",
	                               .endpoint = "198.51.100.1:51820", .listen_port = 51820,
	                               .xfr_port = 5300, .quic_port = 8853,
	                               .catalog = "catalog.anycst.invalid."};
	struct mesh_pop_info pop = {.name = "tokyo", .endpoint = "192.0.2.7:51999",
	                            .public_key = BOB_PUB, .mesh_ip = "10.53.0.7", .dns_port = 53,
	                            .tsig_name = "pop-tokyo.", .tsig_secret = "c2VjcmV0"};
	char *c = mesh_render_pop_conf(&pr, &pop);
	assert_non_null(c);
	assert_non_null(strstr(c, "[Interface]\nAddress = 10.53.0.7/24\nPrivateKey = <"));
	assert_non_null(strstr(c, "ListenPort = 51999\n"));
	assert_non_null(strstr(c, "[Peer]\n"));
	assert_non_null(strstr(c, "PublicKey = " ALICE_PUB "\n"));
	assert_non_null(strstr(c, "AllowedIPs = 10.53.0.1/32\n"));
	assert_non_null(strstr(c, "Endpoint = 198.51.100.1:51820\n"));
	assert_non_null(strstr(c, "PersistentKeepalive = 25\n"));
	assert_null(strstr(c, ALICE_PRIV));   /* never the primary's private key */
	free(c);
	c = mesh_render_command(&pr, &pop);
	assert_string_equal(c, "anycst-secondary --primary 10.53.0.1:5300 --transport tcp "
	                    "--tsig-file /etc/anycst/pop-tokyo.tsig --listen 10.53.0.7:53 "
	                    "--catalog catalog.anycst.invalid. --identity tokyo");
	assert_null(strstr(c, "c2VjcmV0"));   /* never a secret on a command line */
	free(c);
	c = mesh_render_tsig_file(&pop);
	assert_string_equal(c, "pop-tokyo.:hmac-sha256:c2VjcmV0\n");
	free(c);
	pr.quic_pin = "PINPIN=";
	c = mesh_render_command(&pr, &pop);
	assert_non_null(strstr(c, "--primary 10.53.0.1:8853 --transport quic --pin PINPIN= "));
	free(c);
	c = mesh_render_primary_conf(&pr, &pop, 1);
	/* the primary's private key never leaves it: a placeholder naming the file */
	assert_non_null(strstr(c, "Address = 10.53.0.1/24\nPrivateKey = <contents of "
	                       "/etc/anycst/wg.key>\n"));
	assert_null(strstr(c, ALICE_PRIV));
	assert_non_null(strstr(c, "PublicKey = " BOB_PUB "\nAllowedIPs = 10.53.0.7/32\n"
	                       "Endpoint = 192.0.2.7:51999\n"));
	free(c);
}

/* Several primary nodes: a [Peer] each, every node in --primary and --pin. */
static void
test_mesh_render_nodes(void **state)
{
	(void)state;
	struct mesh_net n;
	assert_int_equal(mesh_net_parse("10.53.0.0/24", &n, NULL, 0), 0);
	struct mesh_node_info nodes[2] = {
		{.mesh_ip = "10.53.0.1", .public_key = ALICE_PUB, .endpoint = "198.51.100.1:51820",
		 .xfr_port = 5300, .quic_port = 8853, .quic_pin = "PIN1="},
		{.mesh_ip = "10.53.0.9", .public_key = NULL, .endpoint = NULL, .xfr_port = 5301,
		 .quic_port = 8854, .quic_pin = "PIN9="},
	};
	struct mesh_primary_info pr = {.net = &n, .nodes = nodes, .nnodes = 2,
	                               .catalog = "catalog.anycst.invalid."};
	struct mesh_pop_info pop = {.name = "tokyo", .endpoint = "192.0.2.7:51999",
	                            .public_key = BOB_PUB, .mesh_ip = "10.53.0.7", .dns_port = 53,
	                            .tsig_name = "pop-tokyo.", .tsig_secret = "c2VjcmV0"};
	char *c = mesh_render_pop_conf(&pr, &pop);
	assert_non_null(strstr(c, "[Peer]\n# anycst primary node 10.53.0.1\nPublicKey = " ALICE_PUB
	                       "\nAllowedIPs = 10.53.0.1/32\nEndpoint = 198.51.100.1:51820\n"));
	assert_non_null(strstr(c, "[Peer]\n# anycst primary node 10.53.0.9\nPublicKey = <PUBLIC KEY "
	                       "OF THE PRIMARY 10.53.0.9: "));
	assert_non_null(strstr(c, "AllowedIPs = 10.53.0.9/32\nPersistentKeepalive = 25\n"));
	free(c);
	c = mesh_render_command(&pr, &pop);
	assert_string_equal(c, "anycst-secondary --primary 10.53.0.1:8853,10.53.0.9:8854 "
	                    "--transport quic --pin PIN1=,PIN9= "
	                    "--primary-tcp 10.53.0.1:5300,10.53.0.9:5301 "
	                    "--tsig-file /etc/anycst/pop-tokyo.tsig --listen 10.53.0.7:53 "
	                    "--catalog catalog.anycst.invalid. --identity tokyo");
	free(c);
	/* one node without QUIC: every node over TCP, at its --xfr */
	nodes[1].quic_pin = NULL;
	c = mesh_render_command(&pr, &pop);
	assert_non_null(strstr(c, "--primary 10.53.0.1:5300,10.53.0.9:5301 --transport tcp "
	                       "--tsig-file"));
	assert_null(strstr(c, "--pin"));
	free(c);
	/* one node: as a single primary renders, without --primary-tcp */
	nodes[0].xfr_port = 5301;
	pr.nnodes = 1;
	c = mesh_render_command(&pr, &pop);
	assert_non_null(strstr(c, "--primary 10.53.0.1:8853 --transport quic --pin PIN1= --tsig"));
	free(c);
}

/* ---- the registry on a real store ----------------------------------------------- */

struct fx {
	char dir[64];
	char db[192];
	char wg[128];
	char wglog[128];
	char keyfile[128];
	struct store *st;
	struct mesh *m;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/anycst-mesh-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/db", f->dir);
	test_db_fresh(f->db, sizeof(f->db));
	snprintf(f->wg, sizeof(f->wg), "%s/wg", f->dir);
	snprintf(f->wglog, sizeof(f->wglog), "%s/wg.log", f->dir);
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/wg.key", f->dir);
	/* Stands in for wireguard-tools: logs each call; `pubkey` knows Alice's key. */
	FILE *w = fopen(f->wg, "w");
	fprintf(w, "#!/bin/sh\necho \"$*\" >> %s\n"
	        "if [ \"$1\" = pubkey ]; then read k; [ \"$k\" = %s ] && echo %s && exit 0; exit 1; fi\n"
	        "if [ \"$1\" = show ]; then echo %s; fi\nexit 0\n",
	        f->wglog, ALICE_PRIV, ALICE_PUB, CAROL_PUB);
	fclose(w);
	chmod(f->wg, 0700);
	w = fopen(f->keyfile, "w");
	fprintf(w, "%s\n", ALICE_PRIV);
	fclose(w);
	chmod(f->keyfile, 0600);
	char err[256];
	struct store_opts so = {.path = f->db, .catalog = "catalog.test."};
	assert_int_equal(store_open(&so, &f->st, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	mesh_close(f->m);
	store_close(f->st);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct mesh *
open_mesh(struct fx *f, const char *net, bool iface)
{
	struct mesh_opts o = {.net = net,
	                      .xfr = strchr(net, ':') != NULL ? "[::1]:5300" : "127.0.0.1:5300",
	                      .catalog = "catalog.test.", .wg_endpoint = "198.51.100.1:51820",
	                      .wg_private_key = iface ? f->keyfile : NULL,
	                      .wg_interface = iface ? "anyw0" : NULL, .wg_command = f->wg};
	char err[256] = "";
	struct mesh *m = NULL;
	int ret = mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err));
	if (ret != 0)
		fail_msg("mesh_open: %s", err);
	return m;
}

static int
count_rows(struct fx *f, const char *sql)
{
	return (int)test_db_int(f->db, sql);
}

static char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
	if (fp)
		fclose(fp);
	buf[n] = '\0';
	return buf;
}

static int
add(struct mesh *m, const char *name, const char *ep, const char *key, json_t **out, char *err)
{
	struct mesh_register r = {.name = name, .endpoint = ep, .public_key = key};
	json_t *j = NULL;
	int ret = mesh_pop_add(m, &r, &j, err, 256);
	if (out != NULL)
		*out = j;
	else
		json_decref(j);
	return ret;
}

static void
test_mesh_registry(void **state)
{
	struct fx *f = *state;
	char err[256];
	f->m = open_mesh(f, "10.53.0.0/29", true);   /* POP addresses .2 .. .6 */
	json_t *j = NULL;
	assert_int_equal(add(f->m, "tokyo", "192.0.2.7:51820", BOB_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "10.53.0.2");
	assert_string_equal(json_string_value(json_object_get(j, "tsig_key")), "pop-tokyo.");
	const char *conf = json_string_value(json_object_get(j, "wireguard_config"));
	assert_non_null(strstr(conf, "PublicKey = " ALICE_PUB "\n"));
	const char *cmd = json_string_value(json_object_get(j, "command"));
	const char *secret = json_string_value(json_object_get(j, "tsig_secret"));
	assert_non_null(strstr(cmd, "--tsig-file /etc/anycst/pop-tokyo.tsig "));
	assert_null(strstr(cmd, secret));   /* the secret goes in a file, not in `ps` */
	assert_string_equal(json_string_value(json_object_get(j, "tsig_file")),
	                    "/etc/anycst/pop-tokyo.tsig");
	const char *tf = json_string_value(json_object_get(j, "tsig_file_content"));
	assert_non_null(tf);
	assert_int_equal(strncmp(tf, "pop-tokyo.:hmac-sha256:", 23), 0);
	assert_non_null(strstr(tf, secret));
	json_decref(j);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM tsig_keys WHERE name = 'pop-tokyo.' "
	                            "AND algorithm = 'hmac-sha256'"), 1);
	/* the interface got the key, its port and the peer */
	char *log = slurp(f->wglog);
	assert_non_null(strstr(log, "set anyw0 private-key "));
	assert_non_null(strstr(log, "listen-port 51820"));
	assert_non_null(strstr(log, "set anyw0 peer " CAROL_PUB " remove"));   /* unregistered */
	assert_non_null(strstr(log, "set anyw0 peer " BOB_PUB " allowed-ips 10.53.0.2/32 endpoint "
	                       "192.0.2.7:51820 persistent-keepalive 25"));

	/* refusals allocate nothing */
	assert_int_equal(add(f->m, "tokyo", "192.0.2.8:51820", CAROL_PUB, NULL, err), -EEXIST);
	assert_non_null(strstr(err, "name"));
	assert_int_equal(add(f->m, "osaka", "192.0.2.8:51820", BOB_PUB, NULL, err), -EEXIST);
	assert_non_null(strstr(err, "public_key"));
	assert_int_equal(add(f->m, "osaka", "192.0.2.8:51820", ALICE_PUB, NULL, err), -EEXIST);
	assert_int_equal(add(f->m, "osaka", "192.0.2.8", CAROL_PUB, NULL, err), -EINVAL);
	assert_int_equal(add(f->m, "osaka", "192.0.2.8:1", "bad", NULL, err), -EINVAL);
	assert_int_equal(add(f->m, "Osaka", "192.0.2.8:1", CAROL_PUB, NULL, err), -EINVAL);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM secondaries"), 1);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM tsig_keys"), 1);

	/* fill the pool: .3 .. .6, then full */
	char name[16], key[64];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(key, sizeof(key), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh%c=", "AEIM"[i]);
		assert_int_equal(add(f->m, name, "192.0.2.9:51820", key, NULL, err), 0);
	}
	assert_int_equal(add(f->m, "full", "192.0.2.9:51820", CAROL_PUB, NULL, err), -ENOSPC);
	assert_non_null(strstr(err, "pool"));
	assert_int_equal(count_rows(f, "SELECT count(*) FROM secondaries"), 5);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM secondary_ports"), 5);

	/* hooks: a POP key only from its own address, a POP address only with its key */
	char why[256];
	assert_true(mesh_key_is_pop(f->m, "POP-TOKYO"));
	assert_true(mesh_xfr_check(f->m, "10.53.0.2", "pop-tokyo.", why, sizeof(why)));
	assert_false(mesh_xfr_check(f->m, "10.53.0.3", "pop-tokyo.", why, sizeof(why)));
	assert_non_null(strstr(why, "belongs to POP 'tokyo'"));
	assert_false(mesh_xfr_check(f->m, "10.53.0.2", "pop-p0.", why, sizeof(why)));
	assert_false(mesh_xfr_check(f->m, "10.53.0.2", "other-key.", why, sizeof(why)));
	assert_non_null(strstr(why, "own key"));
	assert_true(mesh_xfr_check(f->m, "::ffff:10.53.0.2", "pop-tokyo.", why, sizeof(why)));
	assert_false(mesh_xfr_check(f->m, "::ffff:10.53.0.4", "pop-tokyo.", why, sizeof(why)));
	assert_true(mesh_xfr_check(f->m, "127.0.0.1", "other-key.", why, sizeof(why)));
	assert_false(mesh_xfr_check(f->m, "127.0.0.1", "pop-p1", why, sizeof(why)));

	json_t *all = NULL;
	assert_int_equal(mesh_pop_json(f->m, NULL, &all), 0);
	assert_int_equal(json_array_size(all), 5);
	json_t *t0 = json_array_get(all, 0);
	assert_int_equal(json_integer_value(json_object_get(t0, "transfers")), 2);
	assert_int_equal(json_integer_value(json_object_get(t0, "refused")), 3);
	assert_false(json_is_null(json_object_get(t0, "last_seen")));
	json_decref(all);

	/* retire: gone from memory, database and interface; its address is free again */
	assert_int_equal(mesh_pop_delete(f->m, "tokyo", err, sizeof(err)), 0);
	assert_false(mesh_key_is_pop(f->m, "pop-tokyo."));
	assert_false(mesh_xfr_check(f->m, "10.53.0.2", "pop-tokyo.", why, sizeof(why)) &&
	             mesh_key_is_pop(f->m, "pop-tokyo."));
	assert_int_equal(count_rows(f, "SELECT count(*) FROM tsig_keys WHERE name = 'pop-tokyo.'"), 0);
	assert_non_null(strstr(slurp(f->wglog), "set anyw0 peer " BOB_PUB " remove"));
	assert_int_equal(mesh_pop_delete(f->m, "tokyo", err, sizeof(err)), -ENOENT);
	assert_int_equal(mesh_pop_json(f->m, "tokyo", &all), -ENOENT);
	assert_int_equal(add(f->m, "osaka", "[2001:db8::8]:51820", CAROL_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "10.53.0.2");
	json_decref(j);

	/* a restart loads the same registry */
	char *pc = mesh_primary_conf(f->m);
	mesh_close(f->m);
	f->m = open_mesh(f, "10.53.0.0/29", false);
	char *pc2 = mesh_primary_conf(f->m);
	assert_non_null(strstr(pc2, "# POP osaka\nPublicKey = " CAROL_PUB "\nAllowedIPs = "
	                       "10.53.0.2/32\nEndpoint = [2001:db8::8]:51820\n"));
	/* same peers, but without the key file this time; never the private key itself */
	assert_non_null(strstr(pc, "PrivateKey = <contents of "));
	assert_null(strstr(pc, ALICE_PRIV));
	assert_null(strstr(pc2, ALICE_PRIV));
	assert_string_equal(strstr(pc, "[Peer]"), strstr(pc2, "[Peer]"));
	free(pc);
	free(pc2);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM secondaries s JOIN tsig_keys k ON "
	                            "k.name = s.tsig_key"), 5);
}

/* The registry on an IPv6 mesh: addresses, interface peers, NOTIFY-side checks, restart. */
static void
test_mesh_registry_v6(void **state)
{
	struct fx *f = *state;
	char err[256], why[256];
	f->m = open_mesh(f, "fd00:53::/64", true);
	json_t *j = NULL;
	assert_int_equal(add(f->m, "tokyo", "[2001:db8::7]:51820", BOB_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "fd00:53::2");
	assert_string_equal(json_string_value(json_object_get(j, "primary_mesh_ip")), "fd00:53::1");
	const char *conf = json_string_value(json_object_get(j, "wireguard_config"));
	assert_non_null(strstr(conf, "Address = fd00:53::2/64\n"));
	assert_non_null(strstr(conf, "AllowedIPs = fd00:53::1/128\n"));
	const char *cmd = json_string_value(json_object_get(j, "command"));
	assert_non_null(strstr(cmd, "--primary [fd00:53::1]:5300 "));
	assert_non_null(strstr(cmd, "--listen [fd00:53::2]:53 "));
	json_decref(j);
	assert_non_null(strstr(slurp(f->wglog), "set anyw0 peer " BOB_PUB " allowed-ips "
	                       "fd00:53::2/128 endpoint [2001:db8::7]:51820"));
	assert_int_equal(add(f->m, "osaka", "192.0.2.8:51820", CAROL_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "fd00:53::3");
	json_decref(j);
	assert_true(mesh_xfr_check(f->m, "fd00:53::2", "pop-tokyo.", why, sizeof(why)));
	assert_false(mesh_xfr_check(f->m, "fd00:53::3", "pop-tokyo.", why, sizeof(why)));
	assert_non_null(strstr(why, "(fd00:53::2), not to fd00:53::3"));
	/* a restart loads the same addresses and hands out the next free one */
	mesh_close(f->m);
	f->m = open_mesh(f, "fd00:53::/64", false);
	char *pc = mesh_primary_conf(f->m);
	assert_non_null(strstr(pc, "Address = fd00:53::1/64\n"));
	assert_non_null(strstr(pc, "AllowedIPs = fd00:53::3/128\n"));
	free(pc);
	assert_int_equal(mesh_pop_delete(f->m, "tokyo", err, sizeof(err)), 0);
	assert_int_equal(add(f->m, "kyoto", "192.0.2.9:51820", BOB_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "fd00:53::2");
	json_decref(j);
}

/*
 * POPs registered on an IPv4 mesh, then the primary moved to an IPv6 mesh
 * (--mesh-net fd00:53::/64, --xfr [::1]): it starts, keeps them listed
 * (without NOTIFY, which could not reach them) and allocates from the new net.
 */
static void
test_mesh_family_switch(void **state)
{
	struct fx *f = *state;
	char err[256];
	f->m = open_mesh(f, "10.53.0.0/24", false);
	assert_int_equal(add(f->m, "tokyo", "192.0.2.7:51820", BOB_PUB, NULL, err), 0);
	mesh_close(f->m);
	f->m = NULL;
	struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct notify_source src;
	notify_store_source(f->st, &src);
	int nerr = 0;
	struct notify *n = notify_new((struct sockaddr *)&from, sizeof(from), &src, NULL, &nerr);
	assert_non_null(n);
	struct mesh_opts o = {.net = "fd00:53::/64", .xfr = "[::1]:5300",
	                      .catalog = "catalog.test.", .wg_command = f->wg};
	int ret = mesh_open(&o, f->st, NULL, n, &f->m, err, sizeof(err));
	if (ret != 0)
		fail_msg("mesh_open: %s", err);
	json_t *j = NULL;
	assert_int_equal(add(f->m, "osaka", "[2001:db8::8]:51820", CAROL_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "fd00:53::2");
	json_decref(j);
	assert_int_equal(mesh_pop_json(f->m, NULL, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	mesh_stop(f->m);
	mesh_close(f->m);
	f->m = NULL;
	notify_free(n);
}

static void
test_mesh_open_errors(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct mesh *m = NULL;
	struct mesh_opts o = {.net = "10.53.0.0/33", .xfr = "127.0.0.1:5300"};
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "prefix"));
	/* NOTIFYs leave from --xfr: a mesh of the other family could never be notified */
	o.net = "fd00:53::/64";
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--mesh-net fd00:53::/64 is IPv6 but --xfr 127.0.0.1:5300 is "
	                       "IPv4"));
	o.xfr = "[::1]:5300";
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), 0);
	mesh_close(m);
	m = NULL;
	o.xfr = "127.0.0.1:5300";
	o.net = NULL;
	o.wg_endpoint = "nowhere";
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--wg-endpoint"));
	o.wg_endpoint = NULL;
	o.wg_private_key = "/nonexistent/key";
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "--wg-private-key"));
	assert_null(m);
	/* a key file that others may read is refused, like ssh does */
	o.wg_private_key = f->keyfile;
	o.wg_command = f->wg;
	chmod(f->keyfile, 0640);
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "permissions 0640"));
	assert_non_null(strstr(err, "too open"));
	assert_null(m);
	chmod(f->keyfile, 0600);
	/* the private key never reaches the database */
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), 0);
	mesh_close(m);
	char q[200];
	snprintf(q, sizeof(q), "SELECT count(*) FROM settings WHERE value LIKE '%%%s%%'", ALICE_PRIV);
	assert_int_equal(count_rows(f, q), 0);
	/* with the real wireguard-tools, the public key is RFC 7748's */
	if (access("/usr/bin/wg", X_OK) != 0)
		return;
	o.wg_command = NULL;
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), 0);
	json_t *j = NULL;
	assert_int_equal(add(m, "x", "192.0.2.1:1", BOB_PUB, &j, err), 0);
	assert_non_null(strstr(json_string_value(json_object_get(j, "wireguard_config")),
	                       "PublicKey = " ALICE_PUB "\n"));
	assert_string_equal(json_string_value(json_object_get(j, "primary_public_key")), ALICE_PUB);
	json_decref(j);
	mesh_close(m);
}

static int
count_nodes(void *ctx, const struct store_node *n)
{
	(void)n;
	(*(int *)ctx)++;
	return 0;
}

/* Two nodes on one database: --mesh-ip, primary_nodes, every node in a registration. */
static void
test_mesh_nodes(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct mesh *m = NULL;
	struct mesh_opts o = {.net = "10.53.0.0/24", .xfr = "127.0.0.1:5300", .quic = "127.0.0.1:8853",
	                      .quic_pin = "PINA=", .catalog = "catalog.test.", .mesh_ip = "10.54.0.1"};
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--mesh-ip 10.54.0.1: not a host address of --mesh-net "
	                       "10.53.0.0/24"));
	o.mesh_ip = "10.53.0.255";   /* the broadcast address */
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EINVAL);
	o.mesh_ip = "10.53.0.0";
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &m, err, sizeof(err)), -EINVAL);
	int nn = 0;
	assert_int_equal(store_node_list(f->st, count_nodes, &nn), 0);
	assert_int_equal(nn, 0);   /* nothing recorded by a node that did not start */

	/* node A (default: host 1) and node B (host 2) on the same database */
	o.mesh_ip = NULL;
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &f->m, err, sizeof(err)), 0);
	struct store *st2 = NULL;
	struct store_opts so = {.path = f->db, .catalog = "catalog.test."};
	assert_int_equal(store_open(&so, &st2, err, sizeof(err)), 0);
	struct mesh_opts o2 = o;
	o2.mesh_ip = "10.53.0.2";
	o2.xfr = "127.0.0.2:5301";
	o2.quic = "127.0.0.2:8854";
	o2.quic_pin = "PINB=";
	struct mesh *m2 = NULL;
	assert_int_equal(mesh_open(&o2, st2, NULL, NULL, &m2, err, sizeof(err)), 0);
	nn = 0;
	assert_int_equal(store_node_list(f->st, count_nodes, &nn), 0);
	/* several nodes share only a PostgreSQL database: on SQLite the last one started is
	 * the one node (its row replaces the others) */
	assert_int_equal(nn, getenv("ANYCST_TEST_PG") != NULL ? 2 : 1);
	if (getenv("ANYCST_TEST_PG") == NULL)   /* as if both ran: A's row back */
		test_db_exec(f->db, "INSERT INTO primary_nodes (mesh_ip, xfr_port, quic_port, "
		             "quic_pin, started_at) VALUES ('10.53.0.1', 5300, 8853, 'PINA=', 1)");

	/* registered on A: host 3 (1 and 2 are nodes), both nodes listed */
	json_t *j = NULL;
	assert_int_equal(add(f->m, "tokyo", "192.0.2.7:51820", BOB_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "10.53.0.3");
	json_t *nodes = json_object_get(j, "primaries");
	assert_int_equal(json_array_size(nodes), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 1), "quic_pin")),
	                    "PINB=");
	assert_non_null(strstr(json_string_value(json_object_get(j, "command")),
	                       "--primary 10.53.0.1:8853,10.53.0.2:8854 --transport quic "
	                       "--pin PINA=,PINB= --primary-tcp 10.53.0.1:5300,10.53.0.2:5301 "));
	const char *conf = json_string_value(json_object_get(j, "wireguard_config"));
	assert_non_null(strstr(conf, "AllowedIPs = 10.53.0.1/32\n"));
	assert_non_null(strstr(conf, "AllowedIPs = 10.53.0.2/32\n"));
	json_decref(j);

	/* B takes the POP's key without a restart (SQLite announces nothing: the miss
	 * reads the registry again), and its GET lists both nodes too */
	assert_true(mesh_key_is_pop(m2, "pop-tokyo."));
	assert_false(mesh_key_is_pop(m2, "pop-osaka."));
	assert_true(mesh_xfr_check(m2, "10.53.0.3", "pop-tokyo.", err, sizeof(err)));
	assert_false(mesh_xfr_check(m2, "10.53.0.1", "pop-tokyo.", err, sizeof(err)));
	assert_int_equal(mesh_pop_json(m2, "tokyo", &j), 0);
	assert_int_equal(json_array_size(json_object_get(j, "primaries")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "primary_mesh_ip")), "10.53.0.2");
	assert_null(json_object_get(j, "tsig_secret"));
	json_decref(j);
	/* registered on B: the next address, known to A at its next registration */
	assert_int_equal(add(m2, "osaka", "192.0.2.8:51820", CAROL_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "10.53.0.4");
	json_decref(j);
	assert_int_equal(add(f->m, "lima", "192.0.2.9:51820", CAROL_PUB, NULL, err), -EEXIST);
	assert_non_null(strstr(err, "osaka"));
	mesh_close(m2);
	store_close(st2);

	/* B gone for good: removed on A, the next registration lists A alone; A cannot
	 * remove itself, and B is not there twice */
	j = mesh_nodes_list(f->m);
	assert_int_equal(json_array_size(j), 2);
	assert_true(json_is_true(json_object_get(json_array_get(j, 0), "this_node")));
	assert_true(json_is_false(json_object_get(json_array_get(j, 1), "this_node")));
	json_decref(j);
	assert_int_equal(mesh_node_remove(f->m, "10.53.0.1", err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "10.53.0.1 is this node"));
	assert_int_equal(mesh_node_remove(f->m, "10.53.0.2", err, sizeof(err)), 0);
	assert_int_equal(mesh_node_remove(f->m, "10.53.0.2", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no primary node 10.53.0.2"));
	nn = 0;
	assert_int_equal(store_node_list(f->st, count_nodes, &nn), 0);
	assert_int_equal(nn, 1);
	assert_int_equal(add(f->m, "quito", "192.0.2.10:51820", ALICE_PUB, &j, err), 0);
	assert_int_equal(json_array_size(json_object_get(j, "primaries")), 1);
	assert_non_null(strstr(json_string_value(json_object_get(j, "command")),
	                       "--primary 10.53.0.1:8853 --transport quic --pin PINA= "));
	json_decref(j);

	/* a node whose --mesh-ip a POP holds does not start */
	o2.mesh_ip = "10.53.0.3";
	assert_int_equal(store_open(&so, &st2, err, sizeof(err)), 0);
	assert_int_equal(mesh_open(&o2, st2, NULL, NULL, &m2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--mesh-ip 10.53.0.3 is the mesh address of POP 'tokyo'"));
	store_close(st2);
}

/* A node whose row cannot be written still starts, and writes it at the next registration. */
static void
test_mesh_node_record_later(void **state)
{
	struct fx *f = *state;
	char err[256];
	test_db_exec(f->db, "DROP TABLE primary_nodes");
	struct mesh_opts o = {.net = "10.53.0.0/24", .xfr = "127.0.0.1:5300",
	                      .catalog = "catalog.test.", .mesh_ip = "10.53.0.7"};
	assert_int_equal(mesh_open(&o, f->st, NULL, NULL, &f->m, err, sizeof(err)), 0);
	test_db_exec(f->db, "CREATE TABLE primary_nodes (mesh_ip TEXT PRIMARY KEY, xfr_port "
	             "INTEGER NOT NULL, quic_port INTEGER NOT NULL, quic_pin TEXT, public_key TEXT, "
	             "wg_endpoint TEXT, started_at INTEGER NOT NULL)");
	assert_int_equal(count_rows(f, "SELECT count(*) FROM primary_nodes"), 0);
	json_t *j = NULL;
	assert_int_equal(add(f->m, "tokyo", "192.0.2.7:51820", BOB_PUB, &j, err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mesh_ip")), "10.53.0.2");
	json_decref(j);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM primary_nodes WHERE mesh_ip = "
	                               "'10.53.0.7'"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mesh_key_parse),
		cmocka_unit_test(test_mesh_endpoint_parse),
		cmocka_unit_test(test_mesh_name_check),
		cmocka_unit_test(test_mesh_net_alloc),
		cmocka_unit_test(test_mesh_render),
		cmocka_unit_test(test_mesh_net_v6),
		cmocka_unit_test(test_mesh_render_v6),
		cmocka_unit_test_setup_teardown(test_mesh_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_registry_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_family_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_open_errors, setup, teardown),
		cmocka_unit_test(test_mesh_render_nodes),
		cmocka_unit_test_setup_teardown(test_mesh_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_node_record_later, setup, teardown),
	};
	return cmocka_run_group_tests_name("mesh", tests, NULL, NULL);
}
