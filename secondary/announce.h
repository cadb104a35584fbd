/*
 * Health-gated anycast announcement through BIRD 2.
 *
 * Mechanism (chosen over driving birdc): the anycast address (for example
 * 192.0.2.53/32) sits on its own interface, `--anycast-iface NAME` (a veth
 * end or any link; Debian's kernel may lack the `dummy` type).  BIRD
 * announces it with `protocol direct` restricted to that interface, so
 * raising the interface announces the POP and lowering it withdraws the
 * route at once (BIRD follows link changes over netlink and sends the BGP
 * withdrawal immediately).  The daemon needs CAP_NET_ADMIN for that.
 *
 * A thread ticks every ANNOUNCE_TICK_MS:
 *   - health_check(); unhealthy: lower the interface (withdraw) at once;
 *   - healthy and withdrawn: raise it once `holddown_s` seconds have passed
 *     since the last withdrawal (the start counts as one), which damps
 *     flapping; healthy and announced: keep it up (re-raise if someone
 *     lowered it);
 *   - every second, connect to BIRD's control socket and read its greeting.
 * Faults (interface missing or not settable, BIRD's socket missing or
 * refusing) never stop the DNS service: each is logged when it appears or
 * changes and then at most once a minute, and /healthz reports them.
 *
 * Crash safety: announce_new() forks a tiny watchdog process holding the
 * read end of a pipe; when the daemon exits for any reason (even SIGKILL),
 * the pipe closes and the watchdog lowers the interface, so a dead daemon
 * never keeps attracting traffic.
 *
 * Log lines (stable wording):
 *   notice: announce, interface any0 up, POP announced
 *   warning: announce, interface any0 down, POP withdrawn (zone example.com. expired)
 *   error: announce, interface any0 missing (No such device)
 *   error: announce, BIRD control socket /run/bird/bird.ctl, Connection refused
 */
#ifndef SECONDARY_ANNOUNCE_H
#define SECONDARY_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>

struct health;
struct announce;

#define ANNOUNCE_TICK_MS 100
#define ANNOUNCE_LOG_EVERY_S 60

struct announce_cfg {
	const char *iface;            /* NULL: no announcement, health only */
	const char *bird_socket;      /* NULL: BIRD not checked */
	unsigned holddown_s;
	const char *identity;         /* POP name for /metrics; NULL: none */
};

/*
 * Lowers the interface (a new process starts withdrawn) and forks the
 * watchdog.  Call before any thread is started.  Strings in cfg must outlive
 * the object.  NULL on ENOMEM (a missing interface is no error: a fault).
 */
struct announce *announce_new(const struct announce_cfg *cfg);

/* Starts the tick thread judging `h` (borrowed).  0 or -errno. */
int announce_start(struct announce *a, struct health *h);

/*
 * Withdraws (lowers the interface), stops the thread and the watchdog,
 * frees.  NULL is a no-op.
 */
void announce_free(struct announce *a);

/*
 * For /healthz: appends one line per current fault (interface, BIRD) to
 * `buf` (NUL-terminated, `cap` bytes) and returns their count; 0 when there
 * is no announce object.  Thread-safe.
 */
unsigned announce_healthz(char *buf, size_t cap);

/*
 * For /metrics: a malloc'd block of Prometheus text (POP info, announce
 * state, health, RRL counters), or NULL on ENOMEM.  Thread-safe.
 * `healthy_now` (0 or 1) is the health verdict to report, -1: the last tick's.
 */
char *announce_metrics_text(int healthy_now);

/* Interface helpers (exported for the tests): 1 up, 0 down, or -errno. */
int announce_iface_get(const char *iface);
int announce_iface_set(const char *iface, bool up);

/* Connects to a BIRD control socket and reads its greeting: 0 or -errno. */
int announce_bird_probe(const char *path, int timeout_ms);
/* Sets net.ipv6.conf.IFACE.keep_addr_on_down to 1 (Linux otherwise drops the
 * interface's IPv6 addresses, the anycast one too, each time it goes down).
 * 0, or a negative errno (-ENOENT: no IPv6 or no such interface). */
int announce_iface_keep_v6(const char *iface);

#endif
