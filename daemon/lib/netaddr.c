/* SPDX-License-Identifier: GPL-3.0-or-later */
/* netaddr.c: listen and connect addresses as written in the config, the
 * one parser of "HOST:PORT" (numeric hosts only). "*" binds the IPv6
 * wildcard with IPV6_V6ONLY off, so one socket takes IPv4 too. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

static int parse_port(const char *s, uint16_t *ret) {
        char *end;
        long v;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

/* "HOST:PORT" or "[HOST]:PORT": HOST's text (unbracketed, under 64
 * bytes, not empty) and where PORT begins; 0 or -EINVAL. */
static int split(const char *s, char host[static 64], const char **ret_port) {
        const char *colon, *h = s, *hend;

        if (!s)
                return -EINVAL;
        if (s[0] == '[') {
                hend = strchr(s, ']');
                if (!hend || hend[1] != ':')
                        return -EINVAL;
                h = s + 1;
                colon = hend + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                hend = colon;
        }
        if ((size_t)(hend - h) >= 64 || hend == h)
                return -EINVAL;
        memcpy(host, h, (size_t)(hend - h));
        host[hend - h] = '\0';
        *ret_port = colon + 1;
        return 0;
}

/* IPv4 bare, IPv6 in brackets, and "*" bare when WILDCARD. */
static int parse(const char *s, bool wildcard, struct netaddr *ret) {
        struct netaddr a = {0};
        char host[64];
        const char *port_text;
        uint16_t port;

        if (split(s, host, &port_text) < 0 || parse_port(port_text, &port) < 0)
                return -EINVAL;
        if (wildcard && strcmp(host, "*") == 0 && s[0] != '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.sa;

                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_any;
                in6->sin6_port = htons(port);
                a.len = sizeof *in6;
        } else if (s[0] != '[' && inet_pton(AF_INET, host, &((struct sockaddr_in *)&a.sa)->sin_addr) == 1) {
                struct sockaddr_in *in = (struct sockaddr_in *)&a.sa;

                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                a.len = sizeof *in;
        } else if (s[0] == '[' &&
                   inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a.sa)->sin6_addr) == 1) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.sa;

                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                a.len = sizeof *in6;
        } else
                return -EINVAL;
        *ret = a;
        return 0;
}

int netaddr_parse(const char *s, struct netaddr *ret) {
        return parse(s, true, ret);
}

int netaddr_parse_connect(const char *s, struct netaddr *ret) {
        return parse(s, false, ret);
}

int netaddr_split(const char *s, char **ret_host, char **ret_port) {
        _cleanup_free_ char *h = NULL, *p = NULL;
        struct netaddr a;
        char host[64];
        const char *port;

        if (netaddr_parse_connect(s, &a) < 0 || split(s, host, &port) < 0)
                return -EINVAL;
        h = strdup(host);
        p = strdup(port);
        if (!h || !p)
                return -ENOMEM;
        *ret_host = TAKE_PTR(h);
        *ret_port = TAKE_PTR(p);
        return 0;
}

int netaddr_listen(const struct netaddr *a, int backlog, bool reuseport) {
        _cleanup_close_ int fd = -1;
        int one = 1, zero = 0;

        fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
                return -errno;
        if (a->sa.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0)
                return -errno;
        if (listen(fd, backlog) < 0)
                return -errno;
        return TAKE_FD(fd);
}
