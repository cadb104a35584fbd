/* Address parsing and printing for flags, config files and logs. */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_port(const char *p, uint16_t *port)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int
addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *portp = NULL;
	size_t hl;
	memset(ss, 0, sizeof(*ss));
	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL)
			return -EINVAL;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (rb[1] == ':')
			portp = rb + 2;
		else if (rb[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			/* bare IPv6 without brackets: no port */
			colon = NULL;
		}
		const char *at = colon != NULL ? colon : strchr(s, '@');
		hl = at != NULL ? (size_t)(at - s) : strlen(s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (at != NULL)
			portp = at + 1;
	}
	uint16_t port = default_port;
	if (portp != NULL) {
		if (parse_port(portp, &port) != 0)
			return -EINVAL;
	} else if (default_port == 0) {
		return -EINVAL;
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

const char *
addr_fmt_ip(const struct sockaddr *sa, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
		          (socklen_t)cap);
	else
		snprintf(buf, cap, "?");
	return buf;
}

const char *
addr_fmt(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	addr_fmt_ip(sa, ip, sizeof(ip));
	snprintf(buf, cap, "%s@%u", ip, addr_port(sa));
	return buf;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

socklen_t
addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int
addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_equal_ip(a, b) && addr_port(a) == addr_port(b);
}
