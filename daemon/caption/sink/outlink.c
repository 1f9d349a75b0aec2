/* SPDX-License-Identifier: GPL-3.0-or-later */
/* outlink.c: see outlink.h. An RDS encoder is a device at the end of a
 * wire that can be unplugged, busy, or gone; the captions and the air must
 * not notice. So every descriptor is non-blocking, a stream connection is
 * made with a non-blocking connect() watched by an sd-event IO source,
 * bytes the peer has not taken wait in one bounded buffer, and anything
 * that does not fit is dropped rather than waited for. Whatever the peer
 * sends back (acknowledgements) is read and discarded, which is also how
 * a closed connection is noticed.
 *
 * Logging: the first failure of an episode is a warning that says what
 * happens next; repeats are debug lines; the recovery is an info line. */
#include "outlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "netaddr.h"

#define BACKOFF_MIN_USEC UINT64_C(1000000)
#define BACKOFF_MAX_USEC UINT64_C(60000000)

enum state { DOWN, CONNECTING, UP };

struct outlink {
        sd_event *event;
        enum outlink_kind kind;
        char *target, *name;
        int baud;
        void (*on_connect)(void *userdata);
        void *userdata;

        int fd;
        enum state state;
        bool is_regular; /* OUTLINK_PATH on a regular file */
        sd_event_source *io, *retry;
        uint64_t backoff_usec;
        bool failing; /* a failure was logged; the next success says so */
        unsigned long dropped;

        unsigned char buf[OUTLINK_BUFFER];
        size_t len;
};

static void link_close(struct outlink *l) {
        l->io = sd_event_source_disable_unref(l->io);
        if (l->fd >= 0)
                close(l->fd);
        l->fd = -1;
        l->len = 0;
        l->state = DOWN;
}

/* Logs the failure R of WHAT: a warning the first time, then debug. */
static void link_failed(struct outlink *l, int r, const char *what, const char *then) {
        if (!l->failing)
                log_warning_errno(r, "%s: %s: %m, %s", l->name, what, then);
        else
                log_debug_errno(r, "%s: %s: %m, %s", l->name, what, then);
        l->failing = true;
}

static void link_recovered(struct outlink *l, const char *what) {
        if (l->failing)
                log_info("%s: %s again", l->name, what);
        l->failing = false;
}

static int link_connect(struct outlink *l);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        (void)link_connect(userdata);
        return 0;
}

/* Closes the connection and tries again after the backoff. */
static void link_schedule_retry(struct outlink *l) {
        uint64_t now;
        int r;

        link_close(l);
        if (l->kind == OUTLINK_PATH) /* reopened on the next message */
                return;
        r = sd_event_now(l->event, CLOCK_MONOTONIC, &now);
        if (r >= 0) {
                if (!l->retry)
                        r = sd_event_add_time(l->event, &l->retry, CLOCK_MONOTONIC, now + l->backoff_usec,
                                              10000, on_retry, l);
                else {
                        r = sd_event_source_set_time(l->retry, now + l->backoff_usec);
                        if (r >= 0)
                                r = sd_event_source_set_enabled(l->retry, SD_EVENT_ONESHOT);
                }
        }
        if (r < 0)
                log_error_errno(r, "%s: cannot arm the reconnect timer: %m, giving up", l->name);
        l->backoff_usec = MIN(l->backoff_usec * 2, BACKOFF_MAX_USEC);
}

static int link_update_events(struct outlink *l) {
        uint32_t ev = EPOLLIN;

        if (l->state == CONNECTING || l->len > 0)
                ev |= EPOLLOUT;
        return sd_event_source_set_io_events(l->io, ev);
}

/* Writes what the buffer holds; -errno on a broken connection. */
static int link_flush(struct outlink *l) {
        while (l->len > 0) {
                ssize_t n = l->kind == OUTLINK_SERIAL
                                    ? write(l->fd, l->buf, l->len)
                                    : send(l->fd, l->buf, l->len, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -errno;
                }
                memmove(l->buf, l->buf + n, l->len - (size_t)n);
                l->len -= (size_t)n;
        }
        return link_update_events(l);
}

static void link_up(struct outlink *l) {
        l->state = UP;
        l->backoff_usec = BACKOFF_MIN_USEC;
        if (l->failing)
                link_recovered(l, "connected");
        else
                log_info("%s: connected", l->name);
        (void)link_update_events(l);
        if (l->on_connect)
                l->on_connect(l->userdata);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct outlink *l = userdata;
        unsigned char junk[4096];
        int r;

        if (l->state == CONNECTING) {
                socklen_t len = sizeof r;

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
                        r = errno;
                if (r != 0) {
                        link_failed(l, -r, "cannot connect", "retrying");
                        link_schedule_retry(l);
                        return 0;
                }
                link_up(l);
                return 0;
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                        ssize_t n = read(fd, junk, sizeof junk);

                        if (n > 0)
                                continue;
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                break;
                        link_failed(l, n == 0 ? -ECONNRESET : -errno, "connection lost", "reconnecting");
                        link_schedule_retry(l);
                        return 0;
                }
        }
        if (revents & EPOLLOUT) {
                r = link_flush(l);
                if (r < 0) {
                        link_failed(l, r, "write failed", "reconnecting");
                        link_schedule_retry(l);
                }
        }
        return 0;
}

static int open_socket(struct outlink *l) {
        _cleanup_free_ char *host = NULL, *port = NULL;
        struct addrinfo hints = {
                .ai_socktype = l->kind == OUTLINK_UDP ? SOCK_DGRAM : SOCK_STREAM,
                .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        };
        struct addrinfo *ai = NULL;
        int fd, r;

        r = netaddr_split(l->target, &host, &port);
        if (r < 0)
                return r;
        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0)
                return -EINVAL;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                freeaddrinfo(ai);
                return r;
        }
        r = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
        freeaddrinfo(ai);
        if (r < 0 && r != -EINPROGRESS) {
                close(fd);
                return r;
        }
        l->fd = fd;
        l->state = r == -EINPROGRESS ? CONNECTING : UP;
        return 0;
}

static speed_t baud_to_speed(int baud) {
        switch (baud) {
        case 1200:
                return B1200;
        case 2400:
                return B2400;
        case 4800:
                return B4800;
        case 9600:
                return B9600;
        case 19200:
                return B19200;
        case 38400:
                return B38400;
        case 57600:
                return B57600;
        case 115200:
                return B115200;
        }
        return B0;
}

static int open_serial(struct outlink *l) {
        struct termios t;
        int fd;

        fd = open(l->target, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* A pty or a device: raw 8N1 at the rate; a non-tty (a test's FIFO
         * pair) is used as it is. */
        if (tcgetattr(fd, &t) == 0) {
                cfmakeraw(&t);
                t.c_cflag |= CLOCAL | CREAD;
                t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB);
                cfsetispeed(&t, baud_to_speed(l->baud));
                cfsetospeed(&t, baud_to_speed(l->baud));
                (void)tcsetattr(fd, TCSANOW, &t);
        }
        l->fd = fd;
        l->state = UP;
        return 0;
}

/* Opens the FIFO or file for one message: a FIFO without a reader fails
 * with ENXIO, which is the "nobody listens" case. */
static int open_path(struct outlink *l) {
        struct stat st;
        int fd;

        fd = open(l->target, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        l->fd = fd;
        l->is_regular = S_ISREG(st.st_mode);
        l->state = UP;
        return 0;
}

static int link_connect(struct outlink *l) {
        int r;

        link_close(l);
        switch (l->kind) {
        case OUTLINK_PATH:
                return open_path(l);
        case OUTLINK_TCP:
        case OUTLINK_UDP:
                r = open_socket(l);
                break;
        case OUTLINK_SERIAL:
                r = open_serial(l);
                break;
        default:
                r = -EINVAL;
        }
        if (r >= 0)
                r = sd_event_add_io(l->event, &l->io, l->fd, EPOLLIN, on_io, l);
        if (r < 0) {
                link_failed(l, r, "cannot connect", "retrying");
                link_schedule_retry(l);
                return r;
        }
        if (l->state == UP)
                link_up(l);
        else
                (void)link_update_events(l);
        return 0;
}

int outlink_new(sd_event *event, enum outlink_kind kind, const char *target, int baud, const char *name,
                void (*on_connect)(void *userdata), void *userdata, struct outlink **ret) {
        struct outlink *l;

        if (!event || !target)
                return -EINVAL;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->target = strdup(target);
        l->name = strdup(name);
        if (!l->target || !l->name) {
                outlink_free(l);
                return -ENOMEM;
        }
        l->event = sd_event_ref(event);
        l->kind = kind;
        l->baud = baud;
        l->on_connect = on_connect;
        l->userdata = userdata;
        l->fd = -1;
        l->backoff_usec = BACKOFF_MIN_USEC;
        if (kind != OUTLINK_PATH)
                (void)link_connect(l); /* failures logged, retried */
        *ret = l;
        return 0;
}

struct outlink *outlink_free(struct outlink *l) {
        if (!l)
                return NULL;
        link_close(l);
        sd_event_source_disable_unref(l->retry);
        sd_event_unref(l->event);
        free(l->target);
        free(l->name);
        free(l);
        return NULL;
}

static int send_path(struct outlink *l, const void *msg, size_t len) {
        ssize_t n;
        int r;

        if (l->fd < 0) {
                r = open_path(l);
                if (r < 0) {
                        link_failed(l, r == -ENXIO ? -EPIPE : r,
                                    r == -ENXIO ? "no reader on the FIFO" : "cannot open",
                                    "text dropped until it can be written");
                        return -ENOTCONN;
                }
        }
        if (l->is_regular) { /* the file holds the latest message */
                n = pwrite(l->fd, msg, len, 0);
                if (n == (ssize_t)len && ftruncate(l->fd, (off_t)len) < 0)
                        n = -1;
        } else
                n = write(l->fd, msg, len); /* a pipe takes <= PIPE_BUF bytes whole or not at all */
        if (n == (ssize_t)len) {
                link_recovered(l, "writing");
                return 0;
        }
        r = n < 0 ? -errno : -EIO;
        if (r == -EAGAIN) {
                link_failed(l, r, "the reader is not reading", "text dropped");
                return -ENOBUFS;
        }
        link_failed(l, r, "write failed", "text dropped, reopening for the next");
        link_close(l);
        return r;
}

int outlink_send(struct outlink *l, const void *msg, size_t len) {
        ssize_t n;
        int r;

        if (l->kind == OUTLINK_PATH) {
                r = send_path(l, msg, len);
                if (r < 0)
                        l->dropped++;
                return r;
        }
        if (l->state != UP) {
                l->dropped++;
                return -ENOTCONN;
        }
        if (l->kind == OUTLINK_UDP) {
                n = send(l->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n == (ssize_t)len) {
                        link_recovered(l, "sending");
                        return 0;
                }
                r = n < 0 ? -errno : -EIO;
                link_failed(l, r, "send failed", "text dropped");
                l->dropped++;
                return r;
        }
        if (len > sizeof l->buf - l->len) {
                l->dropped++;
                link_failed(l, -ENOBUFS, "the encoder is not reading (buffer full)",
                            "text dropped, reconnecting");
                link_schedule_retry(l);
                return -ENOBUFS;
        }
        memcpy(l->buf + l->len, msg, len);
        l->len += len;
        r = link_flush(l);
        if (r < 0) {
                link_failed(l, r, "write failed", "reconnecting");
                link_schedule_retry(l);
                return r;
        }
        return 0;
}

unsigned long outlink_dropped(const struct outlink *l) {
        return l->dropped;
}
