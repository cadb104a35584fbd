/*
 * Announcement state machine, interface control, BIRD probe and the
 * watchdog process (see announce.h).  One object per process: /healthz and
 * /metrics find it through a global pointer set by announce_start.
 */
#include "secondary/announce.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "secondary/health.h"
#include "secondary/rrl.h"
#include "util/log.h"

#define BIRD_PROBE_EVERY_MS 1000
#define BIRD_PROBE_TIMEOUT_MS 300

struct fault_log {
	char text[256];               /* "" while there is no fault */
	int64_t logged_ms;
};

struct announce {
	struct announce_cfg cfg;
	struct health *health;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pid_t wd_pid;
	int wd_fd;                    /* write end of the watchdog's pipe */

	pthread_mutex_t lock;         /* guards everything below */
	bool announced;
	bool healthy;
	int64_t withdrawn_ms;
	int64_t bird_probe_ms;        /* tick thread only */
	uint64_t announces, withdrawals;
	struct fault_log iface_fault, bird_fault;
};

static _Atomic(struct announce *) g_announce;

int
announce_iface_get(const char *iface)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	size_t n = strlen(iface);
	if (n == 0 || n >= IFNAMSIZ)
		return -EINVAL;
	memcpy(ifr.ifr_name, iface, n);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int ret = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 ? ((ifr.ifr_flags & IFF_UP) != 0) : -errno;
	close(fd);
	return ret;
}

int
announce_iface_set(const char *iface, bool up)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	size_t n = strlen(iface);
	if (n == 0 || n >= IFNAMSIZ)
		return -EINVAL;
	memcpy(ifr.ifr_name, iface, n);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int ret = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
		ret = -errno;
		goto out;
	}
	if (((ifr.ifr_flags & IFF_UP) != 0) == up)
		goto out;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
		ret = -errno;
out:
	close(fd);
	return ret;
}

int
announce_iface_keep_v6(const char *iface)
{
	char path[128];
	if (strlen(iface) >= IFNAMSIZ || strchr(iface, '/') != NULL || iface[0] == '.')
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/keep_addr_on_down", iface);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char cur[8] = "";
	ssize_t n = read(fd, cur, sizeof(cur) - 1);
	int ret = 0;
	if (n > 0 && cur[0] == '1') {
		ret = 0;
	} else if (pwrite(fd, "1\n", 2, 0) != 2) {
		ret = -errno;
	}
	close(fd);
	return ret;
}

int
announce_bird_probe(const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int ret = 0;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 && errno != EINPROGRESS) {
		/* EAGAIN: the listen backlog is full, BIRD is not accepting */
		ret = -errno;
		goto out;
	}
	/* BIRD greets every client with "0001 BIRD 2.x.y ready." */
	char buf[128] = "";
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t deadline = health_now_ms() + timeout_ms;
	while (got < 5) {
		int64_t left = deadline - health_now_ms();
		if (left <= 0) {
			ret = -ETIMEDOUT;
			goto out;
		}
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			ret = pr == 0 ? -ETIMEDOUT : -errno;
			goto out;
		}
		ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (r == 0) {
			ret = -ECONNRESET;
			goto out;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		got += (size_t)r;
	}
	if (memcmp(buf, "0001 ", 5) != 0)
		ret = -EPROTO;
out:
	close(fd);
	return ret;
}

/* Logs a fault when it appears or changes, then at most once a minute. */
static void
fault_report(struct fault_log *f, const char *text, int64_t now)
{
	if (text == NULL) {
		if (f->text[0] != '\0')
			log_notice(NULL, "announce, recovered from: %s", f->text);
		f->text[0] = '\0';
		return;
	}
	if (strcmp(f->text, text) == 0 && now - f->logged_ms < ANNOUNCE_LOG_EVERY_S * 1000)
		return;
	snprintf(f->text, sizeof(f->text), "%s", text);
	f->logged_ms = now;
	log_error(NULL, "announce, %s", text);
}

static void
first_line(const char *s, char *out, size_t cap)
{
	size_t n = strcspn(s, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * One tick of the state machine, with the health verdict `res` and, when
 * `probed`, the result `bird` of a BIRD probe (both taken without the lock:
 * a slow BIRD must not hold up /healthz).  Called with a->lock held.
 */
static void
tick(struct announce *a, int64_t now, const struct health_result *rp, bool probed, int bird)
{
	const struct health_result res = *rp;
	a->healthy = res.healthy;

	if (probed) {
		char t[256];
		snprintf(t, sizeof(t), "BIRD control socket %s, %s", a->cfg.bird_socket,
		         strerror(-bird));
		fault_report(&a->bird_fault, bird == 0 ? NULL : t, now);
	}
	if (a->cfg.iface == NULL)
		return;

	const char *ifn = a->cfg.iface;
	int cur = announce_iface_get(ifn);
	char t[256];
	if (cur < 0) {
		snprintf(t, sizeof(t), "interface %s missing (%s)", ifn, strerror(-cur));
		fault_report(&a->iface_fault, t, now);
		if (a->announced) {
			/* Without its interface the route is gone: count it withdrawn. */
			a->announced = false;
			a->withdrawn_ms = now;
			a->withdrawals++;
		}
		return;
	}
	bool want;
	if (!res.healthy)
		want = false;
	else if (a->announced)
		want = true;
	else
		want = now - a->withdrawn_ms >= (int64_t)a->cfg.holddown_s * 1000;
	if (want == a->announced && (cur == 1) == want) {
		fault_report(&a->iface_fault, NULL, now);
		return;
	}
	int r = announce_iface_set(ifn, want);
	if (r != 0) {
		snprintf(t, sizeof(t), "interface %s cannot be set %s (%s)", ifn,
		         want ? "up" : "down", strerror(-r));
		fault_report(&a->iface_fault, t, now);
		return;
	}
	fault_report(&a->iface_fault, NULL, now);
	if (want == a->announced)
		return;   /* re-asserted a state someone else changed */
	a->announced = want;
	if (want) {
		a->announces++;
		log_notice(NULL, "announce, interface %s up, POP announced", ifn);
	} else {
		char why[256];
		first_line(res.why, why, sizeof(why));
		a->withdrawals++;
		a->withdrawn_ms = now;
		log_warning(NULL, "announce, interface %s down, POP withdrawn (%s)", ifn, why);
	}
}

#define HEALTH_SHARE 20

static void *
tick_main(void *arg)
{
	struct announce *a = arg;
	struct health_result res;
	/* A check reads every zone (100,000 with a big catalog: tens of ms):
	 * it runs at most 1/HEALTH_SHARE of the time, the last verdict meanwhile. */
	int64_t check_due = 0;
	while (!atomic_load(&a->stop)) {
		int64_t now = health_now_ms();
		bool probed = false;
		int bird = 0;
		if (a->cfg.bird_socket != NULL && now - a->bird_probe_ms >= BIRD_PROBE_EVERY_MS) {
			a->bird_probe_ms = now;   /* only this thread touches it */
			bird = announce_bird_probe(a->cfg.bird_socket, BIRD_PROBE_TIMEOUT_MS);
			probed = true;
		}
		if (now >= check_due) {
			health_check(a->health, now, &res);
			check_due = now + (health_now_ms() - now) * HEALTH_SHARE;
		}
		pthread_mutex_lock(&a->lock);
		tick(a, now, &res, probed, bird);
		pthread_mutex_unlock(&a->lock);
		struct timespec ts = {.tv_sec = 0, .tv_nsec = ANNOUNCE_TICK_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The watchdog: waits for the daemon's end of the pipe to close, withdraws. */
static void __attribute__((noreturn))
watchdog_main(int rfd, const char *iface)
{
	signal(SIGTERM, SIG_IGN);   /* systemd signals the whole cgroup at stop */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, "anycst-withdraw", 0, 0, 0);
	for (;;) {
		char c;
		ssize_t r = read(rfd, &c, 1);
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	int ret = announce_iface_set(iface, false);
	if (ret == 0)
		log_warning(NULL, "announce, daemon gone, interface %s down, POP withdrawn", iface);
	_exit(0);
}

struct announce *
announce_new(const struct announce_cfg *cfg)
{
	struct announce *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->cfg = *cfg;
	a->wd_fd = -1;
	a->wd_pid = -1;
	pthread_mutex_init(&a->lock, NULL);
	a->withdrawn_ms = health_now_ms();
	a->bird_probe_ms = a->withdrawn_ms - BIRD_PROBE_EVERY_MS;
	if (cfg->iface == NULL)
		return a;
	/* Linux drops an interface's IPv6 addresses when it goes down unless
	 * keep_addr_on_down: the anycast IPv6 address would be gone for good
	 * after the first withdrawal (CAP_NET_ADMIN may set it).  ENOENT: no
	 * IPv6, or no such interface (reported below). */
	int k = announce_iface_keep_v6(cfg->iface);
	if (k != 0 && k != -ENOENT)
		log_warning(NULL, "announce, cannot keep the IPv6 addresses of %s while it is down "
		            "(%s): set net.ipv6.conf.%s.keep_addr_on_down=1", cfg->iface,
		            strerror(-k), cfg->iface);
	/* A new process starts withdrawn; the hold-down runs from now. */
	int r = announce_iface_set(cfg->iface, false);
	if (r != 0) {
		char t[256];
		snprintf(t, sizeof(t), "interface %s missing (%s)", cfg->iface, strerror(-r));
		fault_report(&a->iface_fault, t, a->withdrawn_ms);
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		log_warning(NULL, "announce, no watchdog (pipe: %s)", strerror(errno));
		return a;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Keep stdio (logs) and the pipe only: no socket of the daemon's
		 * stays open in the watchdog. */
		close(p[1]);
		if (p[0] > 3)
			close_range(3, (unsigned)p[0] - 1, 0);
		close_range((unsigned)p[0] + 1, ~0u, 0);
		watchdog_main(p[0], cfg->iface);
	}
	close(p[0]);
	if (pid < 0) {
		log_warning(NULL, "announce, no watchdog (fork: %s)", strerror(errno));
		close(p[1]);
		return a;
	}
	a->wd_pid = pid;
	a->wd_fd = p[1];
	return a;
}

int
announce_start(struct announce *a, struct health *h)
{
	a->health = h;
	if (pthread_create(&a->thread, NULL, tick_main, a) != 0)
		return -EAGAIN;
	a->started = true;
	atomic_store(&g_announce, a);
	if (a->cfg.iface != NULL)
		log_notice(NULL, "announce, anycast interface %s, hold-down %u s%s%s",
		           a->cfg.iface, a->cfg.holddown_s,
		           a->cfg.bird_socket ? ", BIRD control socket " : "",
		           a->cfg.bird_socket ? a->cfg.bird_socket : "");
	return 0;
}

void
announce_free(struct announce *a)
{
	if (a == NULL)
		return;
	atomic_store(&g_announce, NULL);
	atomic_store(&a->stop, true);
	if (a->started)
		pthread_join(a->thread, NULL);
	if (a->cfg.iface != NULL && announce_iface_set(a->cfg.iface, false) == 0 && a->announced)
		log_notice(NULL, "announce, interface %s down, POP withdrawn (stopping)",
		           a->cfg.iface);
	if (a->wd_fd >= 0)
		close(a->wd_fd);
	if (a->wd_pid > 0)
		waitpid(a->wd_pid, NULL, 0);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static void
add(char *buf, size_t cap, const char *line)
{
	size_t len = strnlen(buf, cap);
	if (len + 1 < cap)
		snprintf(buf + len, cap - len, "%s", line);
}

unsigned
announce_healthz(char *buf, size_t cap)
{
	if (cap > 0)
		buf[0] = '\0';
	struct announce *a = atomic_load(&g_announce);
	if (a == NULL || cap == 0)
		return 0;
	unsigned n = 0;
	pthread_mutex_lock(&a->lock);
	char line[300];
	if (a->iface_fault.text[0] != '\0') {
		snprintf(line, sizeof(line), "announce: %s\n", a->iface_fault.text);
		add(buf, cap, line);
		n++;
	}
	if (a->bird_fault.text[0] != '\0') {
		snprintf(line, sizeof(line), "announce: %s\n", a->bird_fault.text);
		add(buf, cap, line);
		n++;
	}
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* Appends `s` escaped as a Prometheus label value. */
static void
label(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; s != NULL && *s != '\0' && o + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

char *
announce_metrics_text(int healthy_now)
{
	struct announce *a = atomic_load(&g_announce);
	struct rrl_stats rs;
	rrl_stats_sum(&rs);
	char pop[2 * 255 + 4] = "";   /* --identity (<= 255 bytes), escaped */
	bool healthy = false, announced = false, iface = false;
	uint64_t ann = 0, wd = 0;
	if (a != NULL) {
		pthread_mutex_lock(&a->lock);
		label(pop, sizeof(pop), a->cfg.identity);
		healthy = healthy_now >= 0 ? healthy_now != 0 : a->healthy;
		announced = a->announced;
		iface = a->cfg.iface != NULL;
		ann = a->announces;
		wd = a->withdrawals;
		pthread_mutex_unlock(&a->lock);
	}
	size_t cap = 16384;
	char *b = malloc(cap);
	if (b == NULL)
		return NULL;
	int n = snprintf(b, cap,
	    "# HELP anycst_secondary_info The POP this secondary serves (--identity).\n"
	    "# TYPE anycst_secondary_info gauge\n"
	    "anycst_secondary_info{pop=\"%s\"} 1\n"
	    "# HELP anycst_secondary_healthy 1 when the POP can serve the catalog (health policy).\n"
	    "# TYPE anycst_secondary_healthy gauge\n"
	    "anycst_secondary_healthy{pop=\"%s\"} %d\n"
	    "# HELP anycst_secondary_announced 1 while the anycast interface is up (BGP route).\n"
	    "# TYPE anycst_secondary_announced gauge\n"
	    "anycst_secondary_announced{pop=\"%s\"} %d\n"
	    "# HELP anycst_secondary_announce_changes_total Announcements and withdrawals.\n"
	    "# TYPE anycst_secondary_announce_changes_total counter\n"
	    "anycst_secondary_announce_changes_total{pop=\"%s\",event=\"announce\"} %llu\n"
	    "anycst_secondary_announce_changes_total{pop=\"%s\",event=\"withdraw\"} %llu\n"
	    "# HELP anycst_secondary_rrl_responses_total UDP responses judged by RRL.\n"
	    "# TYPE anycst_secondary_rrl_responses_total counter\n"
	    "anycst_secondary_rrl_responses_total{pop=\"%s\",action=\"passed\"} %llu\n"
	    "anycst_secondary_rrl_responses_total{pop=\"%s\",action=\"slipped\"} %llu\n"
	    "anycst_secondary_rrl_responses_total{pop=\"%s\",action=\"dropped\"} %llu\n"
	    "anycst_secondary_rrl_responses_total{pop=\"%s\",action=\"whitelisted\"} %llu\n"
	    "# HELP anycst_secondary_rrl_limited_total Responses over the RRL rate.\n"
	    "# TYPE anycst_secondary_rrl_limited_total counter\n"
	    "anycst_secondary_rrl_limited_total{pop=\"%s\"} %llu\n",
	    pop, pop, healthy ? 1 : 0, pop, iface && announced ? 1 : 0,
	    pop, (unsigned long long)ann, pop, (unsigned long long)wd,
	    pop, (unsigned long long)rs.passed, pop, (unsigned long long)rs.slipped,
	    pop, (unsigned long long)rs.dropped, pop, (unsigned long long)rs.whitelisted,
	    pop, (unsigned long long)rs.limited);
	if (n < 0 || (size_t)n >= cap) {
		free(b);
		return NULL;
	}
	return b;
}
