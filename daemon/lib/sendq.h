/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sendq.h: what a non-blocking stream socket has not taken yet. A send
 * goes straight to the socket when nothing waits; the rest waits in a
 * buffer of at most a given size, allocated only while something waits
 * (a thousand clients that keep up hold no buffers). The owner watches
 * for EPOLLOUT while sendq_pending() and calls sendq_flush then. The TCP
 * caption feed and the SSE direct phase use it. One owner thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sendq {
        char *buf; /* LIMIT bytes while something waits, else NULL */
        size_t len;
};

/* Sends DATA behind what waits. 0 sent or kept; -ENOBUFS when more than
 * LIMIT bytes would wait (the peer does not read); -ENOMEM; -errno of
 * send (the peer is gone). On failure the caller drops the peer. */
int sendq_send(struct sendq *q, int fd, const void *data, size_t n, size_t limit);
/* Sends what waits, as much as the socket takes: 0, or -errno of send. */
int sendq_flush(struct sendq *q, int fd);
/* Forgets what waits and frees the buffer. */
void sendq_clear(struct sendq *q);

static inline bool sendq_pending(const struct sendq *q) {
        return q->len > 0;
}
