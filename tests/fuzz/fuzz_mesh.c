/*
 * Fuzz target: the POP registration fields as they arrive from the API
 * (primary/mesh.c): WireGuard key, endpoint, name, mesh network.  The first
 * byte picks the parser; every input must be accepted or refused with a
 * message, never read past its end.  An accepted key round-trips through
 * base64 to the same text, an accepted endpoint has a port 1..65535 and a
 * host that fits, an accepted network allocates only POP addresses.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "primary/mesh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 600)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	char err[256], host[MESH_HOST_MAX];
	uint8_t raw[32];
	uint16_t port;
	switch (data[0] % 4) {
	case 0:
		if (mesh_key_parse(s, raw, err, sizeof(err)) == 0) {
			char back[45];
			for (int i = 0, o = 0; i < 33; i += 3) {
				uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < 32 ? raw[i + 1] : 0) << 8 |
				             (i + 2 < 32 ? raw[i + 2] : 0);
				back[o++] = b64[v >> 18 & 63];
				back[o++] = b64[v >> 12 & 63];
				back[o++] = i + 1 < 32 ? b64[v >> 6 & 63] : '=';
				back[o++] = i + 2 < 32 ? b64[v & 63] : '=';
			}
			back[44] = '\0';
			assert(strcmp(back, s) == 0);
		}
		break;
	case 1:
		if (mesh_endpoint_parse(s, host, sizeof(host), &port, err, sizeof(err)) == 0)
			assert(port > 0 && strlen(host) > 0 && strlen(host) < sizeof(host));
		break;
	case 2:
		if (mesh_name_check(s, err, sizeof(err)) == 0)
			assert(strlen(s) > 0 && strlen(s) < MESH_NAME_MAX);
		break;
	default: {
		struct mesh_net n;
		if (mesh_net_parse(s, &n, err, sizeof(err)) == 0) {
			uint64_t h, back;
			char t[MESH_IP_TEXT];
			assert(n.family == AF_INET ? n.prefix >= 8 && n.prefix <= 30
			                           : n.prefix >= 64 && n.prefix <= 126);
			assert(mesh_net_alloc(&n, NULL, 0, &h) == 0 && mesh_net_pop_addr(&n, h));
			assert(!mesh_net_pop_addr(&n, mesh_net_primary(&n)));
			mesh_net_host_text(&n, h, t, sizeof(t));
			assert(mesh_net_host_of(&n, t, &back) == 0 && back == h);
		}
		break;
	}
	}
	free(s);
	return 0;
}
