/*
 * The mesh registry's insides, shared by mesh.c (the registry), mesh_wg.c
 * (the WireGuard interface) and mesh_nodes.c (the primary nodes): not for
 * any other file.
 */
#ifndef PRIMARY_MESH_INT_H
#define PRIMARY_MESH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "primary/mesh.h"

#define MESH_TSIG_PREFIX "pop-"
#define MESH_TSIG_NAME_MAX (MESH_NAME_MAX + 8)
#define MESH_SECRET_MAX 64

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
	uint64_t self_host;          /* this node's host number (--mesh-ip, default 1) */
	char self_ip[MESH_IP_TEXT];
	bool hooked;                 /* store_set_pops_hook points here */
	bool recorded;               /* this node's primary_nodes row is written (under wmu) */
};

/* mesh_nodes.c: this node as the POPs see it (primary_nodes) */
void mesh_self_node(const struct mesh *m, struct mesh_node_info *n);
/* Every node of the database (this one from memory), for a POP's answer.  NULL on -ENOMEM. */
struct mesh_nodes *mesh_nodes_now(const struct mesh *m);

/* mesh_wg.c: `wg set` on --wg-interface (nothing without it); each logs its failure. */
void wg_peer_add(const struct mesh *m, const struct pop *p);
void wg_peer_remove(const struct mesh *m, const char *name, const char *public_key);
/* Applies the key, listen port and every registered peer; removes unknown peers.  0 or -EIO. */
int wg_sync(struct mesh *m, char *err, size_t errcap);
/* --wg-private-key: its public key (`wg pubkey`) into m->public_key.  0 or a negative errno. */
int read_private_key(struct mesh *m, char *err, size_t errcap);

#endif
