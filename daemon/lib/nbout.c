/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nbout.c: see nbout.h. The descriptor's own O_NONBLOCK flag is not
 * touched: stdout and stderr share their open file description with the
 * shell or the service manager, which must not start seeing EAGAIN.
 * Instead each write is one that cannot block: send(MSG_DONTWAIT) on a
 * socket; on a pipe or terminal a write of at most PIPE_BUF bytes once
 * poll() says it is writable (a pipe then has a free page, a terminal
 * room, and a stopped terminal is not writable); a regular file is
 * written as is. */
#include "nbout.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes up to N bytes without blocking: bytes written (>= 0, 0 when the
 * descriptor takes nothing now) or -errno. */
static ssize_t write_some(int fd, const char *p, size_t n) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        struct stat st;
        ssize_t k;
        int fl;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISSOCK(st.st_mode))
                k = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        else if (S_ISREG(st.st_mode) || ((fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK)))
                k = write(fd, p, n);
        else {
                int r = poll(&pfd, 1, 0);

                if (r < 0)
                        return errno == EINTR ? 0 : -errno;
                if (r == 0 || !(pfd.revents & POLLOUT))
                        return pfd.revents & (POLLERR | POLLNVAL) ? -EPIPE : 0;
                k = write(fd, p, n < PIPE_BUF ? n : PIPE_BUF);
        }
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
        return k;
}

size_t nbout_flush(struct nbout *o) {
        size_t done = 0;

        if (o->len == 0)
                return 0;
        while (done < o->len) {
                ssize_t k = write_some(o->fd, o->buf + done, o->len - done);

                if (k < 0) { /* gone (EPIPE, EBADF): nothing will ever take it */
                        o->dropped++;
                        done = o->len;
                } else if (k == 0)
                        break;
                else
                        done += (size_t)k;
        }
        memmove(o->buf, o->buf + done, o->len - done);
        o->len -= done;
        return o->len;
}

int nbout_write(struct nbout *o, const char *data, size_t n) {
        if (o->len > 0)
                nbout_flush(o);
        /* Nothing waiting: straight out, and only the rest is queued. */
        while (o->len == 0 && n > 0) {
                ssize_t k = write_some(o->fd, data, n);

                if (k < 0) {
                        o->dropped++;
                        return -ENOBUFS;
                }
                if (k == 0)
                        break;
                data += k;
                n -= (size_t)k;
        }
        if (n == 0)
                return 0;
        if (o->len + n > o->cap) {
                o->dropped++;
                return -ENOBUFS;
        }
        if (!o->buf) {
                o->buf = malloc(o->cap);
                if (!o->buf)
                        return -ENOMEM;
        }
        memcpy(o->buf + o->len, data, n);
        o->len += n;
        return 0;
}

uint64_t nbout_take_dropped(struct nbout *o) {
        uint64_t d = o->dropped;

        o->dropped = 0;
        return d;
}

void nbout_done(struct nbout *o) {
        free(o->buf);
        o->buf = NULL;
        o->len = 0;
}
