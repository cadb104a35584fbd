/*
 * The POP registry: each POP's row, its DNS port and its TSIG key, written
 * in one transaction each (the store is the only owner of the database),
 * and the serials each POP acknowledged per zone (pop_serials).
 */
#include "primary/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

/* Binds text parameters 1.. of statement `id` from `v` and runs it. */
static int
run_texts(struct store *st, enum db_qid id, const char *const *v, size_t n)
{
	struct db_stmt *s = db_q(st->w, id);
	if (s == NULL)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		db_bind_text(s, (int)i + 1, v[i]);
	return db_run(s);
}

/* Several nodes: the others hear that the POP registry changed (store_set_pops_hook). */
static int
announce_pops(struct store *st)
{
	if (!db_shared(st->w))
		return 0;
	char payload[40];
	snprintf(payload, sizeof(payload), "%016" PRIx64 " pops", st->node_id);
	struct db_stmt *s = db_q(st->w, DBQ_ANNOUNCE);
	if (s == NULL)
		return -EIO;
	db_bind_text(s, 1, payload);
	return db_run(s) != 0 ? -EIO : 0;
}

void
store_set_pops_hook(struct store *st, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&st->heard_mu);
	st->pops_fn = fn;
	st->pops_ctx = ctx;
	pthread_mutex_unlock(&st->heard_mu);
}

int
store_pop_add(struct store *st, const struct store_pop *p, char *err, size_t errcap)
{
	int ret = w_begin(st);
	if (ret != 0) {
		set_err(err, errcap, "cannot write the database");
		return -EIO;
	}
	const char *key[] = {p->tsig_name, "hmac-sha256", p->tsig_secret};
	ret = run_texts(st, DBQ_TSIG_INSERT, key, 3);
	if (ret != 0) {
		if (ret != -EIO)
			set_err(err, errcap, "TSIG key '%s' already exists (delete it or pick another "
			        "POP name)", p->tsig_name);
		else
			set_err(err, errcap, "cannot write the TSIG key: %s", db_errmsg(st->w));
		w_rollback(st);
		return ret != -EIO ? -EEXIST : -EIO;
	}
	struct db_stmt *s = db_q(st->w, DBQ_POP_INSERT);
	ret = -EIO;
	if (s != NULL) {
		db_bind_text(s, 1, p->name);
		db_bind_text(s, 2, p->endpoint);
		db_bind_text(s, 3, p->public_key);
		db_bind_text(s, 4, p->mesh_ip);
		db_bind_text(s, 5, p->tsig_name);
		db_bind_i64(s, 6, p->created_at);
		ret = db_run(s);
	}
	if (ret == 0 && (s = db_q(st->w, DBQ_POP_PORT_INSERT)) == NULL)
		ret = -EIO;
	if (ret == 0) {
		db_bind_text(s, 1, p->name);
		db_bind_i64(s, 2, p->dns_port);
		ret = db_run(s);
	}
	if (ret != 0) {
		if (ret != -EIO)
			set_err(err, errcap, "POP '%s' (or its key or address) is already registered",
			        p->name);
		else
			set_err(err, errcap, "cannot write the POP: %s", db_errmsg(st->w));
		w_rollback(st);
		return ret != -EIO ? -EEXIST : -EIO;
	}
	if (announce_pops(st) != 0) {
		set_err(err, errcap, "cannot announce the POP to the other nodes: %s",
		        db_errmsg(st->w));
		w_rollback(st);
		return -EIO;
	}
	ret = w_commit(st);
	if (ret != 0)
		set_err(err, errcap, "cannot commit the POP");
	return ret;
}

int
store_pop_delete(struct store *st, const char *name, const char *tsig_name, char *err,
                 size_t errcap)
{
	static const enum db_qid ids[] = {DBQ_POP_PORT_DELETE, DBQ_POP_ACKS_DELETE, DBQ_POP_DELETE,
	                                  DBQ_TSIG_DELETE};
	const char *args[] = {name, name, name, tsig_name};
	int ret = w_begin(st);
	if (ret != 0) {
		set_err(err, errcap, "cannot write the database");
		return -EIO;
	}
	for (size_t i = 0; i < 4 && ret == 0; i++)
		ret = run_texts(st, ids[i], &args[i], 1) != 0 ? -EIO : 0;
	if (ret == 0)
		ret = announce_pops(st);
	if (ret == 0) {
		ret = w_commit(st);
		if (ret != 0)
			set_err(err, errcap, "cannot commit");
		return ret;
	}
	set_err(err, errcap, "%s", db_errmsg(st->w));
	w_rollback(st);
	return -EIO;
}

int
store_pop_list(struct store *st, store_pop_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	struct db_stmt *s = db_q(c->db, DBQ_POPS_ALL);
	if (s == NULL) {
		pool_put(st, c);
		return -EIO;
	}
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(s)) == DB_ROW) {
		struct store_pop p = {
			.name = db_col_text(s, 0),
			.endpoint = db_col_text(s, 1),
			.public_key = db_col_text(s, 2),
			.mesh_ip = db_col_text(s, 3),
			.tsig_name = db_col_text(s, 4),
			.dns_port = (uint16_t)db_col_int(s, 5),
			.created_at = db_col_i64(s, 6),
			.tsig_secret = db_col_text(s, 7),
		};
		ret = fn(ctx, &p);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	pool_put(st, c);
	return ret;
}

/* ---- the primary nodes (schema 0011) ------------------------------------------------- */

int
store_node_put(struct store *st, const struct store_node *n)
{
	if (w_begin(st) != 0)
		return -EIO;
	/* one node on a database only this process opens (SQLite): its row is the only one,
	 * whatever --mesh-ip it had before */
	struct db_stmt *s = NULL;
	int ret = 0;
	if (!db_shared(st->w))
		ret = (s = db_q(st->w, DBQ_NODES_CLEAR)) == NULL || db_run(s) != 0 ? -EIO : 0;
	s = ret == 0 ? db_q(st->w, DBQ_NODE_PUT) : NULL;
	ret = -EIO;
	if (s != NULL) {
		db_bind_text(s, 1, n->mesh_ip);
		db_bind_i64(s, 2, n->xfr_port);
		db_bind_i64(s, 3, n->quic_port);
		db_bind_text(s, 4, n->quic_pin);
		db_bind_text(s, 5, n->public_key);
		db_bind_text(s, 6, n->wg_endpoint);
		db_bind_i64(s, 7, n->started_at);
		ret = db_run(s) != 0 ? -EIO : 0;
	}
	if (ret != 0) {
		log_error(NULL, "store: cannot record this primary node: %s", db_errmsg(st->w));
		w_rollback(st);
		return -EIO;
	}
	return w_commit_quiet(st) != 0 ? -EIO : 0;
}

int
store_node_list(struct store *st, store_node_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	struct db_stmt *s = db_q(c->db, DBQ_NODES_ALL);
	if (s == NULL) {
		pool_put(st, c);
		return -EIO;
	}
	int rc = DB_DONE, ret = 0;
	while (ret == 0 && (rc = db_step(s)) == DB_ROW) {
		struct store_node n = {
			.mesh_ip = db_col_text(s, 0),
			.xfr_port = (uint16_t)db_col_int(s, 1),
			.quic_port = (uint16_t)db_col_int(s, 2),
			.quic_pin = db_col_text(s, 3),
			.public_key = db_col_text(s, 4),
			.wg_endpoint = db_col_text(s, 5),
			.started_at = db_col_i64(s, 6),
		};
		if (n.mesh_ip != NULL)
			ret = fn(ctx, &n);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	pool_put(st, c);
	return ret;
}

int
store_node_delete(struct store *st, const char *mesh_ip)
{
	if (w_begin(st) != 0)
		return -EIO;
	struct db_stmt *s = db_q(st->w, DBQ_NODE_DELETE);
	int ret = -EIO;
	if (s != NULL) {
		db_bind_text(s, 1, mesh_ip);
		ret = db_run(s) != 0 ? -EIO : db_changes(st->w) == 0 ? -ENOENT : 0;
	}
	if (ret != 0) {
		if (ret == -EIO)
			log_error(NULL, "store: cannot remove primary node %s: %s", mesh_ip,
			          db_errmsg(st->w));
		w_rollback(st);
		return ret;
	}
	return w_commit_quiet(st) != 0 ? -EIO : 0;
}

/* ---- POP acknowledgements ----------------------------------------------------------- */

int
store_pop_acks_put(struct store *st, const struct store_pop_ack *acks, size_t n)
{
	int ret = 0;
	for (size_t done = 0; done < n && ret == 0;) {
		size_t end = n - done > STORE_ACKS_BATCH ? done + STORE_ACKS_BATCH : n;
		struct db_stmt *s = NULL;
		pthread_mutex_lock(&st->wmu);
		ret = db_begin(st->w);
		if (ret == 0 && (s = db_q(st->w, DBQ_POP_ACK_PUT)) == NULL)
			ret = -EIO;
		for (; ret == 0 && done < end; done++) {
			const struct store_pop_ack *a = &acks[done];
			db_bind_text(s, 1, a->pop);
			db_bind_text(s, 2, a->zone);
			db_bind_i64(s, 3, a->serial);
			db_bind_i64(s, 4, a->how);
			db_bind_text(s, 5, a->transport != NULL ? a->transport : "");
			db_bind_text(s, 6, a->address != NULL ? a->address : "");
			db_bind_i64(s, 7, a->at_ms);
			ret = db_run(s);
		}
		if (ret == 0)
			ret = db_commit(st->w);
		if (ret != 0)
			db_rollback(st->w);
		pthread_mutex_unlock(&st->wmu);
	}
	return ret;
}

int
store_pop_acks_list(struct store *st, store_pop_ack_fn fn, void *ctx)
{
	struct conn *c = pool_get(st);
	if (c == NULL)
		return -EIO;
	struct db_stmt *s = db_q(c->db, DBQ_POP_ACKS_ALL);
	if (s == NULL) {
		pool_put(st, c);
		return -EIO;
	}
	int ret = 0, rc = DB_DONE;
	while (ret == 0 && (rc = db_step(s)) == DB_ROW) {
		struct store_pop_ack a = {
			.pop = db_col_text(s, 0),
			.zone = db_col_text(s, 1),
			.serial = (uint32_t)db_col_i64(s, 2),
			.how = db_col_int(s, 3),
			.transport = db_col_text(s, 4),
			.address = db_col_text(s, 5),
			.at_ms = db_col_i64(s, 6),
		};
		if (a.pop != NULL && a.zone != NULL)
			ret = fn(ctx, &a);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	pool_put(st, c);
	return ret;
}
