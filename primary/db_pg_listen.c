/*
 * PostgreSQL: the other nodes' commit announcements and the notifier lock
 * (db.h db_listen_start).  One thread per store with a connection of its
 * own: it LISTENs on DB_PG_CHANNEL, hands each announcement of its schema
 * to the store, and holds a session advisory lock (one per schema) when it
 * can get it: the node holding it is the one that sends NOTIFY to the POPs.
 * A lost connection is made again every 250 ms; the store then reads
 * everything again, and the lock (released with the session) is tried for
 * again.
 */
#include "primary/db_int.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* how often a node without the notifier lock tries for it, ms */
#define LISTEN_TICK_MS 1000
/* how often a lost listening connection is tried again, ms: after a failover
 * the node that takes the notifier lock NOTIFYs the POPs at once, so this
 * bounds how long a POP can lag the first writes on the new leader */
#define LISTEN_RETRY_MS 250
/* how long db_listen_start waits for the first connection, s */
#define LISTEN_START_S 5

struct db_listen {
	char *url;
	db_listen_fn fn;
	db_leader_fn leader_fn;
	void *ctx;
	int stop[2];            /* a pipe: written to stop the thread */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready;             /* the first connection was tried (under mu) */
	char schema[128];       /* current_schema() of the connection */
	bool leader;            /* the thread's own */
};

/* Waits up to `ms` for input on `fd` (-1: none) or the stop pipe; true when asked to stop. */
static bool
listen_wait(struct db_listen *l, int fd, int ms)
{
	struct pollfd p[2] = {{.fd = l->stop[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
	poll(p, fd >= 0 ? 2 : 1, ms);
	return (p[0].revents & POLLIN) != 0;
}

/* The one value of `sql` into buf; false on error. */
static bool
query1(PGconn *c, const char *sql, char *buf, size_t cap)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		snprintf(buf, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return ok;
}

/* A connection that LISTENs, or NULL (logged once per outage). */
static PGconn *
listen_connect(struct db_listen *l, bool *logged)
{
	char err[256] = "";
	PGconn *c = db_pg_connect(l->url, err, sizeof(err));
	if (c != NULL && PQstatus(c) == CONNECTION_OK) {
		/* named, so that pg_stat_activity tells it from the store's others */
		PGresult *r = PQexec(c, "SET application_name = 'anycst-listen'; "
		                        "LISTEN " DB_PG_CHANNEL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (ok && query1(c, "SELECT current_schema()", l->schema, sizeof(l->schema))) {
			*logged = false;
			return c;
		}
		snprintf(err, sizeof(err), "%.*s", (int)strcspn(PQerrorMessage(c), "\n"),
		         PQerrorMessage(c));
	}
	if (!*logged)
		log_warning(NULL, "store: PostgreSQL: cannot listen to the other nodes' commits: %s",
		            err);
	*logged = true;
	PQfinish(c);
	return NULL;
}

/* Tries for the notifier lock when it is not held. */
static void
try_lead(struct db_listen *l, PGconn *c)
{
	char v[8];
	if (l->leader || !query1(c, "SELECT pg_try_advisory_lock(hashtext('anycst-notifier ' || "
	                            "current_schema()))", v, sizeof(v)) || strcmp(v, "t") != 0)
		return;
	l->leader = true;
	log_notice(NULL, "store: this node holds the notifier lock: it NOTIFYs the POPs");
	l->leader_fn(l->ctx, true);
}

static void
set_ready(struct db_listen *l)
{
	pthread_mutex_lock(&l->mu);
	l->ready = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* Hands the pending announcements of this schema to the store. */
static void
deliver(struct db_listen *l, PGconn *c)
{
	size_t sl = strlen(l->schema);
	PGnotify *n;
	while ((n = PQnotifies(c)) != NULL) {
		if (strncmp(n->extra, l->schema, sl) == 0 && n->extra[sl] == ' ')
			l->fn(l->ctx, n->extra + sl + 1);
		PQfreemem(n);
	}
}

/* The connection was lost: the lock went with it. */
static void
lost(struct db_listen *l, PGconn *c)
{
	log_warning(NULL, "store: PostgreSQL: the listening connection was lost: %.*s",
	            (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
	PQfinish(c);
	if (l->leader) {
		l->leader = false;
		log_warning(NULL, "store: the notifier lock went with the connection");
		l->leader_fn(l->ctx, false);
	}
}

static void *
listen_main(void *arg)
{
	struct db_listen *l = arg;
	PGconn *c = NULL;
	bool logged = false, first = true;
	for (;;) {
		if (c == NULL) {
			c = listen_connect(l, &logged);
			if (c != NULL)
				try_lead(l, c);
			if (first)
				set_ready(l);
			if (c == NULL) {
				first = false;
				if (listen_wait(l, -1, LISTEN_RETRY_MS))
					break;
				continue;
			}
			if (!first)
				l->fn(l->ctx, NULL);   /* announcements may have been missed */
			first = false;
		}
		if (listen_wait(l, PQsocket(c), LISTEN_TICK_MS))
			break;
		if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK) {
			lost(l, c);
			c = NULL;
			continue;
		}
		deliver(l, c);
		try_lead(l, c);
		deliver(l, c);
	}
	PQfinish(c);
	return NULL;
}

static void
listen_free(struct db_listen *l)
{
	close(l->stop[0]);
	close(l->stop[1]);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->url);
	free(l);
}

struct db_listen *
db_pg_listen_start(const char *url, db_listen_fn fn, db_leader_fn leader, void *ctx)
{
	struct db_listen *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->fn = fn;
	l->leader_fn = leader;
	l->ctx = ctx;
	l->url = strdup(url);
	if (l->url == NULL || pipe(l->stop) != 0) {
		free(l->url);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
		listen_free(l);
		return NULL;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LISTEN_START_S;
	pthread_mutex_lock(&l->mu);
	while (!l->ready && pthread_cond_timedwait(&l->cv, &l->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&l->mu);
	return l;
}

void
db_pg_listen_stop(struct db_listen *l)
{
	if (write(l->stop[1], "x", 1) != 1)
		log_error(NULL, "store: cannot stop the PostgreSQL listener");
	pthread_join(l->thread, NULL);
	listen_free(l);
}
