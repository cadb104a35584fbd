/*
 * Socket addresses as users write them: "127.0.0.1:5300", "[::1]:853",
 * "10.53.0.1" (default port), "[2001:db8::1]".  Printed Knot style as
 * "10.53.0.1@853" in logs.
 */
#ifndef NET_ADDR_H
#define NET_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX 64

/*
 * Parses `s` into `ss`/`len`.  `default_port` is used when `s` has none
 * (0: a port is required).  Returns 0 or -EINVAL.
 */
int addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *ss,
               socklen_t *len);

/* "ip@port" into buf (ADDR_TEXT_MAX); returns buf. */
const char *addr_fmt(const struct sockaddr *sa, char *buf, size_t cap);
/* "ip" only. */
const char *addr_fmt_ip(const struct sockaddr *sa, char *buf, size_t cap);
uint16_t addr_port(const struct sockaddr *sa);
/* Same family, address and port. */
int addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* Same family and address, any port. */
int addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b);
socklen_t addr_len(const struct sockaddr *sa);

#endif
