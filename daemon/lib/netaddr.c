/* SPDX-License-Identifier: GPL-3.0-or-later */
/* netaddr.c: listen addresses as written in the config. "*" binds the
 * IPv6 wildcard with IPV6_V6ONLY off, so one socket takes IPv4 too. */
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

int netaddr_parse(const char *s, struct netaddr *ret) {
        struct netaddr a = {0};
        char host[64];
        const char *colon, *h = s, *hend;
        uint16_t port;

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
        if ((size_t)(hend - h) >= sizeof host || hend == h)
                return -EINVAL;
        memcpy(host, h, (size_t)(hend - h));
        host[hend - h] = '\0';
        if (parse_port(colon + 1, &port) < 0)
                return -EINVAL;
        if (strcmp(host, "*") == 0 && s[0] != '[') {
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
