/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sendq.c: see sendq.h. MSG_NOSIGNAL: a peer that left is an EPIPE, not
 * a SIGPIPE; MSG_DONTWAIT: never blocks, whatever the socket's flags. */
#include "sendq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int sendq_flush(struct sendq *q, int fd) {
        while (q->len > 0) {
                ssize_t n = send(fd, q->buf, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                memmove(q->buf, q->buf + n, q->len - (size_t)n);
                q->len -= (size_t)n;
        }
        if (q->len == 0)
                sendq_clear(q); /* caught up: no buffer held */
        return 0;
}

int sendq_send(struct sendq *q, int fd, const void *data, size_t n, size_t limit) {
        const char *p = data;

        if (q->len == 0) { /* nothing waits: straight to the socket, keep only the rest */
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (k == (ssize_t)n)
                        return 0;
                if (k > 0) {
                        p += k;
                        n -= (size_t)k;
                }
        }
        if (q->len + n > limit)
                return -ENOBUFS;
        if (!q->buf && !(q->buf = malloc(limit)))
                return -ENOMEM;
        memcpy(q->buf + q->len, p, n);
        q->len += n;
        return sendq_flush(q, fd);
}

void sendq_clear(struct sendq *q) {
        free(q->buf);
        q->buf = NULL;
        q->len = 0;
}
