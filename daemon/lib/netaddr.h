/* SPDX-License-Identifier: GPL-3.0-or-later */
/* netaddr.h: "HOST:PORT" addresses: where the network feeds listen, where
 * the RDS/DLS/Icecast sinks connect. Pure but for netaddr_listen; any
 * thread. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

struct netaddr {
        struct sockaddr_storage sa;
        socklen_t len;
};

/* Parses "127.0.0.1:8080", "[::1]:8080" or "*:8080" (every IPv6 and IPv4
 * address). Numeric only (no name lookups: a listen address is known).
 * 0 or -EINVAL; *ret untouched on failure. */
int netaddr_parse(const char *s, struct netaddr *ret);

/* The same for an address to connect to: "127.0.0.1:5000" or
 * "[::1]:5000", no "*". 0 or -EINVAL; *ret untouched on failure. */
int netaddr_parse_connect(const char *s, struct netaddr *ret);

/* A connect address (netaddr_parse_connect) as the text of its host
 * (without brackets) and of its port, both malloc'd: for getaddrinfo and
 * an HTTP Host line. 0, -EINVAL or -ENOMEM; nothing set on failure. */
int netaddr_split(const char *s, char **ret_host, char **ret_port);

/* Opens a non-blocking, close-on-exec TCP socket listening on A with
 * SO_REUSEADDR, and SO_REUSEPORT when REUSEPORT (a sink re-created by a
 * reload binds while the old one still listens). Returns the fd or -errno. */
int netaddr_listen(const struct netaddr *a, int backlog, bool reuseport);
