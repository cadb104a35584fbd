/*
 * The mesh's WireGuard side (mesh_int.h): `wg` runs without a shell
 * (posix_spawnp) with an argument vector, to derive the primary's public
 * key and to apply the POP peers to --wg-interface.
 */
#include "primary/mesh_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"
#include "util/keyfile.h"
#include "util/log.h"

extern char **environ;

/*
 * Runs `wg` with `args` (NULL-terminated, without argv[0]), feeding `in`
 * on stdin when not NULL and reading up to cap-1 bytes of stdout into
 * `out` when not NULL.  0, or -EIO when it cannot run or exits non-zero.
 */
static int
run_wg(const struct mesh *m, const char *const *args, const char *in, char *out, size_t cap)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = m->o.wg_command != NULL ? m->o.wg_command : "wg";
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int pin[2] = {-1, -1}, pout[2] = {-1, -1};
	int ret = -EIO;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* The daemon blocks SIGTERM/SIGINT/SIGHUP for sigwait and ignores SIGPIPE:
	 * the child starts with a clean mask and default handlers. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0)
		goto out;
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ) != 0)
		goto out;
	close(pin[0]);
	close(pout[1]);
	pin[0] = pout[1] = -1;
	if (in != NULL) {
		size_t len = strlen(in);
		ssize_t w = write(pin[1], in, len);
		(void)w;
	}
	close(pin[1]);
	pin[1] = -1;
	size_t got = 0;
	char sink[256];
	for (;;) {
		char *dst = out != NULL && got + 1 < cap ? out + got : sink;
		size_t room = out != NULL && got + 1 < cap ? cap - 1 - got : sizeof(sink);
		ssize_t r = read(pout[0], dst, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst != sink)
			got += (size_t)r;
	}
	if (out != NULL)
		out[got] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
	}
	return ret;
}

void
wg_peer_add(const struct mesh *m, const struct pop *p)
{
	if (m->o.wg_interface == NULL)
		return;
	char allowed[MESH_IP_TEXT + 8], ka[8];
	snprintf(allowed, sizeof(allowed), "%s/%u", p->ip_text,
	         strchr(p->ip_text, ':') != NULL ? 128u : 32u);
	snprintf(ka, sizeof(ka), "%d", MESH_KEEPALIVE);
	const char *args[] = {"set", m->o.wg_interface, "peer", p->public_key, "allowed-ips", allowed,
	                      "endpoint", p->endpoint, "persistent-keepalive", ka, NULL};
	if (run_wg(m, args, NULL, NULL, 0) != 0)
		log_error(NULL, "mesh, POP %s, cannot add the peer to interface %s (wg set failed)",
		          p->name, m->o.wg_interface);
	else
		log_info(NULL, "mesh, POP %s, peer %s added to %s", p->name, p->ip_text,
		         m->o.wg_interface);
}

void
wg_peer_remove(const struct mesh *m, const char *name, const char *public_key)
{
	if (m->o.wg_interface == NULL)
		return;
	const char *args[] = {"set", m->o.wg_interface, "peer", public_key, "remove", NULL};
	if (run_wg(m, args, NULL, NULL, 0) != 0)
		log_error(NULL, "mesh, POP %s, cannot remove the peer from interface %s", name,
		          m->o.wg_interface);
	else
		log_info(NULL, "mesh, POP %s, peer removed from %s", name, m->o.wg_interface);
}

int
wg_sync(struct mesh *m, char *err, size_t errcap)
{
	if (m->o.wg_interface == NULL)
		return 0;
	char port[8];
	snprintf(port, sizeof(port), "%u", m->listen_port);
	if (m->o.wg_private_key != NULL) {
		const char *args[] = {"set", m->o.wg_interface, "private-key", m->o.wg_private_key,
		                      "listen-port", port, NULL};
		if (run_wg(m, args, NULL, NULL, 0) != 0) {
			set_err(err, errcap, "--wg-interface %s: wg set private-key failed (does the "
			        "interface exist?)", m->o.wg_interface);
			return -EIO;
		}
	}
	char peers[16384];
	const char *show[] = {"show", m->o.wg_interface, "peers", NULL};
	if (run_wg(m, show, NULL, peers, sizeof(peers)) != 0) {
		set_err(err, errcap, "--wg-interface %s: wg show failed (does the interface exist?)",
		        m->o.wg_interface);
		return -EIO;
	}
	for (char *line = peers, *nl; *line != '\0'; line = nl) {
		nl = line + strcspn(line, "\n");
		if (*nl == '\n')
			*nl++ = '\0';
		if (*line == '\0')
			continue;
		bool known = false;
		for (size_t i = 0; i < m->npops && !known; i++)
			known = strcmp(m->pops[i]->public_key, line) == 0;
		if (!known)
			wg_peer_remove(m, "(unregistered)", line);
	}
	for (size_t i = 0; i < m->npops; i++)
		wg_peer_add(m, m->pops[i]);
	return 0;
}

int
read_private_key(struct mesh *m, char *err, size_t errcap)
{
	const char *path = m->o.wg_private_key;
	if (path == NULL)
		return 0;
	/* read to derive the public key, then forgotten: `wg set` reads the file itself */
	char buf[128];
	ssize_t n = keyfile_read("--wg-private-key", path, buf, sizeof(buf), err, errcap);
	if (n < 0)
		return n == -EPERM ? -EPERM : -EIO;
	char why[160];
	if (mesh_key_parse(buf, NULL, why, sizeof(why)) != 0) {
		explicit_bzero(buf, sizeof(buf));
		set_err(err, errcap, "--wg-private-key: %s holds no WireGuard key", path);
		return -EINVAL;
	}
	char pub[128];
	const char *args[] = {"pubkey", NULL};
	char in[sizeof(buf) + 2];
	snprintf(in, sizeof(in), "%s\n", buf);
	explicit_bzero(buf, sizeof(buf));
	int wr = run_wg(m, args, in, pub, sizeof(pub));
	explicit_bzero(in, sizeof(in));
	if (wr != 0) {
		set_err(err, errcap, "--wg-private-key: cannot derive the public key (is wireguard-tools' "
		        "wg installed?)");
		return -EIO;
	}
	size_t pl = strcspn(pub, "\r\n");
	pub[pl] = '\0';
	if (mesh_key_parse(pub, NULL, why, sizeof(why)) != 0) {
		set_err(err, errcap, "--wg-private-key: wg pubkey gave no key");
		return -EIO;
	}
	memcpy(m->public_key, pub, MESH_KEY_TEXT);
	m->has_key = true;
	return 0;
}
