/*
 * The WireGuard mesh registry of the primary: POPs (points of presence)
 * registered through the API, each with a mesh address allocated from
 * --mesh-net, IPv4 or IPv6 (the primary is the first host, 10.53.0.1 by
 * default, fd00:53::1 in fd00:53::/64, or --mesh-ip; several primary nodes
 * on one database have one address each, recorded in primary_nodes), its
 * WireGuard public key, its public endpoint and a TSIG key of its own
 * ("pop-<name>.", hmac-sha256) that may transfer every zone and the catalog.
 *
 * Invariants:
 * - the registry in memory equals the `secondaries` table (with several
 *   nodes: as soon as another node's change is heard, mesh.c mesh_sync): a POP is added
 *   to memory only after its row and its TSIG key are committed in one
 *   transaction, and removed from memory before its row and key are
 *   deleted (so a retired POP is refused at once even if the write fails);
 * - a POP's key transfers only from that POP's mesh address
 *   (mesh_xfr_check), and NOTIFYs go to every registered POP's mesh
 *   address signed with that POP's key (each POP is a target of the
 *   transfer service's one NOTIFY sender, bound to the --xfr address, so
 *   secondaries see them come from the primary);
 * - the primary's WireGuard private key is only read from --wg-private-key,
 *   never written to the database;
 * - with --wg-interface every change is applied to the interface at once
 *   with `wg set` (wireguard-tools), so registering and retiring need no
 *   restart.
 *
 * The pure helpers (parsing, allocation, rendering) have no state and are
 * unit-tested on their own.
 */
#ifndef PRIMARY_MESH_H
#define PRIMARY_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MESH_NAME_MAX 64          /* POP name, [a-z0-9-], with the NUL */
#define MESH_KEY_TEXT 45          /* base64 of 32 bytes (44) + NUL */
#define MESH_HOST_MAX 256
#define MESH_ENDPOINT_MAX (MESH_HOST_MAX + 10)
#define MESH_DEFAULT_NET "10.53.0.0/24"
#define MESH_DEFAULT_NET6 "fd00:53::/64"   /* the default when --xfr is IPv6 */
#define MESH_DEFAULT_WG_PORT 51820
#define MESH_XFR_DEFAULT_PORT 5300     /* the secondary's --primary-tcp default port */
#define MESH_KEEPALIVE 25

struct store;

/* ---- pure helpers --------------------------------------------------------------- */

/*
 * A mesh network, IPv4 or IPv6: the network address (network byte order;
 * IPv4 in the first 4 bytes) / prefix.  Hosts of the network are named by
 * their host number (the address minus the network): the primary is host
 * 1, POPs from host 2 up.
 */
struct mesh_net {
	int family;               /* AF_INET or AF_INET6 */
	uint8_t net[16];
	unsigned prefix;
};

#define MESH_IP_TEXT 46           /* INET6_ADDRSTRLEN */

/*
 * Parses "10.53.0.0/24" (IPv4, prefix 8..30) or "fd00:53::/64" (IPv6,
 * prefix 64..126; a ULA /64 is the usual mesh); host bits must be zero.
 * 0 or -EINVAL (message in err).
 */
int mesh_net_parse(const char *s, struct mesh_net *n, char *err, size_t errcap);
/* The primary's host number: the first host of the network (1). */
uint64_t mesh_net_primary(const struct mesh_net *n);
/* Whether host number `host` is a POP address of `n` (not the network, the
 * primary, or IPv4's broadcast). */
bool mesh_net_pop_addr(const struct mesh_net *n, uint64_t host);
/*
 * The lowest POP host number of `n` not in `used[0..nused)`: from 2 up to
 * the last before broadcast (IPv4) or the last (IPv6).  0 or -ENOSPC.
 */
int mesh_net_alloc(const struct mesh_net *n, const uint64_t *used, size_t nused, uint64_t *out);
/* The text of host `host` of `n` (MESH_IP_TEXT bytes suffice). */
void mesh_net_host_text(const struct mesh_net *n, uint64_t host, char *buf, size_t cap);
/* The host number of address `text` in `n`: 0, or -EINVAL when it is not
 * an address of n's family inside n. */
int mesh_net_host_of(const struct mesh_net *n, const char *text, uint64_t *host);
/* "ADDRESS/PREFIX" of the network. */
void mesh_net_text(const struct mesh_net *n, char *buf, size_t cap);
/* The prefix of one host: 32 (IPv4) or 128 (IPv6), for AllowedIPs. */
unsigned mesh_net_host_prefix(const struct mesh_net *n);
/* "IP:PORT", or "[IP]:PORT" for an IPv6 address. */
void mesh_hostport(const char *ip, unsigned port, char *buf, size_t cap);

/*
 * A WireGuard key: base64 (standard alphabet, padded, 44 characters) of
 * exactly 32 bytes.  Writes the bytes into `raw` when not NULL.
 * 0 or -EINVAL (message in err).
 */
int mesh_key_parse(const char *b64, uint8_t raw[32], char *err, size_t errcap);

/*
 * "host:port": an IPv4 address, a bracketed IPv6 address ("[2001:db8::1]:51820")
 * or a host name (letters, digits, '-', '.'), then a port 1..65535.
 * `host` gets the host without brackets.  0 or -EINVAL (message in err).
 */
int mesh_endpoint_parse(const char *s, char *host, size_t hostcap, uint16_t *port, char *err,
                        size_t errcap);

/* A POP name: 1..63 of [a-z0-9-], not starting or ending with '-'.  0 or -EINVAL. */
int mesh_name_check(const char *name, char *err, size_t errcap);

/* What the renderers need to know about one POP. */
struct mesh_pop_info {
	const char *name;
	const char *endpoint;     /* "host:port" as registered */
	const char *public_key;
	const char *mesh_ip;      /* its mesh address, text */
	uint16_t dns_port;
	const char *tsig_name;    /* "pop-<name>." */
	const char *tsig_secret;  /* base64 */
};

/* One primary node of the database (several share one PostgreSQL), for the renderers. */
struct mesh_node_info {
	const char *mesh_ip;      /* its mesh address, text */
	const char *public_key;   /* its WireGuard public key; NULL: unknown */
	const char *endpoint;     /* its --wg-endpoint; NULL: none */
	uint16_t xfr_port;        /* port of its --xfr */
	uint16_t quic_port;       /* port of its --quic */
	const char *quic_pin;     /* NULL: it serves no QUIC */
};

/* The primary's side, for the renderers: this node, and every node of the database. */
struct mesh_primary_info {
	const struct mesh_net *net;
	const char *self_ip;      /* this node's mesh address; NULL: host 1 of net */
	/* every node (this one among them) a POP follows; nnodes 0: this node only,
	 * from the fields below */
	const struct mesh_node_info *nodes;
	size_t nnodes;
	const char *public_key;   /* NULL: unknown (no --wg-private-key) */
	const char *private_key_file; /* --wg-private-key, named in the placeholder; NULL: none */
	const char *endpoint;     /* --wg-endpoint, NULL: none */
	uint16_t listen_port;
	uint16_t xfr_port;        /* port of --xfr */
	uint16_t quic_port;       /* port of --quic */
	const char *quic_pin;     /* NULL: QUIC not served, the command uses TCP */
	const char *catalog;      /* NULL: the default */
};

/* ---- the primary nodes of the database (mesh_nodes.c) ------------------------------ */

#define MESH_NODES_MAX 32         /* nodes listed to a POP */
#define MESH_PIN_TEXT 64

struct mesh_node_copy {
	char ip[MESH_IP_TEXT];
	char key[MESH_KEY_TEXT];
	char endpoint[MESH_ENDPOINT_MAX];
	char pin[MESH_PIN_TEXT];
};

/* Every node a POP follows, by mesh address (info[i]'s strings point into copy[i]). */
struct mesh_nodes {
	struct mesh_node_info info[MESH_NODES_MAX];
	struct mesh_node_copy copy[MESH_NODES_MAX];
	size_t n;
};

/*
 * Every node recorded in the store (store_node_list), `self` among them as
 * given (added when the store has no row for it, or cannot be read).
 * 0 or -ENOMEM; free with mesh_nodes_free.
 */
int mesh_nodes_load(struct store *st, const struct mesh_node_info *self, struct mesh_nodes **out);
void mesh_nodes_free(struct mesh_nodes *ns);
/* Records (replaces) this node's row.  0 or -EIO. */
int mesh_node_record(struct store *st, const struct mesh_node_info *self);
/* [{mesh_ip, public_key, endpoint, xfr_port, quic_port, quic_pin}, ...]; NULL on -ENOMEM. */
json_t *mesh_nodes_json(const struct mesh_nodes *ns);

/*
 * The POP's wg-quick config (malloc'd text): [Interface] with its Address,
 * a PrivateKey placeholder and the ListenPort of its endpoint; one [Peer]
 * per primary node (AllowedIPs = node/32 or /128, Endpoint, PersistentKeepalive).
 * NULL on -ENOMEM.
 */
char *mesh_render_pop_conf(const struct mesh_primary_info *pr, const struct mesh_pop_info *pop);

/*
 * The primary's wg-quick config (malloc'd): its [Interface] and one [Peer]
 * per POP.  The private key never leaves the primary: PrivateKey is the
 * placeholder "<contents of FILE>" naming --wg-private-key.  NULL on -ENOMEM.
 */
char *mesh_render_primary_conf(const struct mesh_primary_info *pr,
                               const struct mesh_pop_info *pops, size_t npops);

/*
 * The exact anycst-secondary command line for `pop` (malloc'd): transfers
 * from every node's mesh address (--primary A,B,...), QUIC with --pin
 * A_PIN,B_PIN,... when every node serves QUIC (and, with several nodes,
 * --primary-tcp with each node's --xfr port when one is not 5300), else TCP; --tsig-file MESH_TSIG_FILE_DIR/pop-<name>.tsig (the secret
 * is never on a command line: mesh_render_tsig_file() is that file's text);
 * --listen on its mesh address.  NULL on -ENOMEM.
 */
char *mesh_render_command(const struct mesh_primary_info *pr, const struct mesh_pop_info *pop);

/* Where the command line expects the POP's TSIG file, and that file's text
 * ("NAME:hmac-sha256:SECRET\n", the --tsig-file format; malloc'd, NULL on -ENOMEM). */
#define MESH_TSIG_FILE_DIR "/etc/anycst"
char *mesh_render_tsig_file(const struct mesh_pop_info *pop);

/* ---- the registry ---------------------------------------------------------------- */

struct mesh_opts {
	const char *net;               /* --mesh-net, NULL: MESH_DEFAULT_NET, or
	                                  MESH_DEFAULT_NET6 when --xfr is IPv6 */
	const char *mesh_ip;           /* --mesh-ip, this node's mesh address; NULL: host 1 */
	const char *xfr;               /* --xfr ADDR:PORT (NOTIFYs leave from its address) */
	const char *quic;              /* --quic ADDR:PORT */
	const char *quic_pin;          /* NULL: QUIC not served */
	const char *catalog;           /* --catalog */
	const char *wg_endpoint;       /* --wg-endpoint HOST:PORT, NULL: none */
	const char *wg_private_key;    /* --wg-private-key FILE, NULL: none */
	const char *wg_interface;      /* --wg-interface NAME, NULL: do not touch interfaces */
	const char *wg_command;        /* NULL: "wg" */
};

struct mesh;
struct notify;
struct propagation;

/*
 * Loads the registry from the store (store_pop_list), reads the WireGuard private key
 * and derives its public key (`wg pubkey`), makes each POP a target of the
 * NOTIFY sender `notify` (signed with the POP's key; NULL: no NOTIFY) and,
 * with wg_interface, applies the key and every peer to it.  `st`, `prop`
 * and `notify` (may be NULL) are borrowed and must outlive the mesh.
 * 0, or -EINVAL / -EIO / -ENOMEM with a message naming the fault in err.
 */
int mesh_open(const struct mesh_opts *o, struct store *st, struct propagation *prop,
              struct notify *notify, struct mesh **out, char *err, size_t errcap);
/*
 * Takes the POPs off the NOTIFY sender (call before it and the propagation
 * table go); the checks keep answering.  NULL ok.
 */
void mesh_stop(struct mesh *m);
/* Frees.  Nothing may ask the mesh any more (the transfer service is stopped).  NULL ok. */
void mesh_close(struct mesh *m);

/* A registration request. */
struct mesh_register {
	const char *name;
	const char *endpoint;
	const char *public_key;
	int dns_port;                  /* 0: 53 */
};

/*
 * Registers a POP.  On success *out is its JSON (name, mesh_ip, endpoint,
 * public_key, dns_port, tsig_key, tsig_algorithm, tsig_secret,
 * wireguard_config, command, primaries: every primary node of the database,
 * which wireguard_config and command follow; a new reference).  The POPs
 * other nodes registered are taken up first (the address is allocated past
 * theirs and past every node's).  Nothing is allocated or
 * written on failure.  Returns 0, -EINVAL (bad field), -EEXIST (name,
 * key or TSIG key name taken), -ENOSPC (pool full), -EIO, -ENOMEM;
 * err names the fault.
 */
int mesh_pop_add(struct mesh *m, const struct mesh_register *r, json_t **out, char *err,
                 size_t errcap);

/*
 * Retires POP `name`: forgotten at once (its key no longer transfers, no
 * more NOTIFY), its row and TSIG key deleted, its peer removed from the
 * interface.  0, -ENOENT, -EIO.
 */
int mesh_pop_delete(struct mesh *m, const char *name, char *err, size_t errcap);

/*
 * JSON of one POP (name != NULL; -ENOENT when unknown) or an array of all,
 * with state: last_seen, transfers, refused, and per zone the serial the
 * propagation table has for its mesh address; one POP also with its
 * wireguard_config, command and primaries (every node; no secret).
 * 0, -ENOENT, -ENOMEM.
 */
int mesh_pop_json(struct mesh *m, const char *name, json_t **out);

/*
 * Calls fn(ctx, name, notify_id) for every registered POP (notify_id: its
 * target on the NOTIFY sender, -1 none), holding the registry lock: fn must
 * not call back into the mesh.
 */
void mesh_pop_each(struct mesh *m, void (*fn)(void *ctx, const char *name, int notify_id),
                   void *ctx);

/*
 * Every primary node of the database as in a registration's `primaries`,
 * each with "this_node" (the one answering).  NULL on -ENOMEM.
 */
json_t *mesh_nodes_list(struct mesh *m);
/*
 * Removes primary node `mesh_ip` (a node gone for good) from the database,
 * so that registrations no longer list it.  0, -ENOENT (no such node),
 * -EBUSY (this node itself), -EIO.
 */
int mesh_node_remove(struct mesh *m, const char *mesh_ip, char *err, size_t errcap);

/* The primary's wg-quick config (malloc'd).  NULL on -ENOMEM. */
char *mesh_primary_conf(struct mesh *m);

/* ---- checks the transfer side asks through its pop_gate (pop_gate.h) --------------- */

/*
 * Whether `key` (TSIG key name, any case, trailing dot optional) is a POP's
 * key.  A "pop-" key not in memory makes the registry be read from the store
 * again first (registered on another node a moment ago).
 */
bool mesh_key_is_pop(struct mesh *m, const char *key);

/*
 * Whether a transfer request from `ip` (text, no port) signed with `key`
 * (NULL or "" when unsigned) may go on: a POP's key only from that POP's
 * mesh address, and from a POP's mesh address only with that POP's key.
 * Returns true, or false with the reason in `why`.  Counts it for GET.
 */
bool mesh_xfr_check(struct mesh *m, const char *ip, const char *key, char *why,
                    size_t whycap);

#endif
