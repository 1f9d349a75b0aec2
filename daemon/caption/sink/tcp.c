/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink-tcp.c: the caption feed for automation: every event of feed.h as
 * one JSON line to every client connected to the listen address.
 * Read-only: what a client sends is read and thrown away.
 *
 * No client can slow the air: sockets are non-blocking, each client has a
 * bounded buffer (TCP_CLIENT_BUF bytes) of lines the kernel would not take
 * yet, flushed when the socket is writable; a client whose buffer would
 * overflow (it stopped reading) or that vanishes is dropped and logged,
 * rate-limited. The fan-out is a send() per client on the loop thread,
 * which never waits.
 *
 * A reload re-creates the sink while the old one serves the story on
 * air: the listen socket has SO_REUSEPORT so that both can be bound; the
 * old one's clients are closed when it is freed (they reconnect). */
#include "sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "feed.h"
#include "log.h"
#include "netaddr.h"
#include "ratelimit.h"
#include "sendq.h"

#define TCP_CLIENT_BUF (64 * 1024)
#define TCP_MAX_CLIENTS 1024

struct tcp_client {
        struct tcp_feed *feed;
        struct tcp_client *prev, *next;
        int fd;
        sd_event_source *io;
        char peer[64];
        struct sendq out; /* what the socket has not taken, up to TCP_CLIENT_BUF */
};

struct tcp_feed {
        char *name;
        int fd;
        sd_event_source *accept_io;
        struct tcp_client *clients;
        size_t n_clients;
        struct ratelimit rl;
};

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static void client_free(struct tcp_client *cl) {
        struct tcp_feed *f = cl->feed;

        if (cl->prev)
                cl->prev->next = cl->next;
        else
                f->clients = cl->next;
        if (cl->next)
                cl->next->prev = cl->prev;
        f->n_clients--;
        sd_event_source_disable_unref(cl->io);
        close(cl->fd);
        sendq_clear(&cl->out);
        free(cl);
}

static void client_drop(struct tcp_client *cl, const char *why) {
        unsigned suppressed;

        if (ratelimit_ok(&cl->feed->rl, mono_ns(), &suppressed))
                log_warning("%s: client %s %s, dropped (%u similar messages suppressed)", cl->feed->name,
                            cl->peer, why, suppressed);
        client_free(cl);
}

/* Sends what waits; watches for writability while some is left.
 * 0 or -errno (the caller drops the client). */
static int client_flush(struct tcp_client *cl) {
        int r = sendq_flush(&cl->out, cl->fd);

        if (r < 0)
                return r;
        return sd_event_source_set_io_events(cl->io, EPOLLIN | EPOLLRDHUP |
                                                             (sendq_pending(&cl->out) ? EPOLLOUT : 0));
}

/* LINE (with its newline) goes behind what waits, or the client is
 * dropped when the buffer cannot hold it: it has not read for too long. */
static void client_send(struct tcp_client *cl, const char *line, size_t n) {
        int r = sendq_send(&cl->out, cl->fd, line, n, TCP_CLIENT_BUF);

        if (r >= 0)
                r = sd_event_source_set_io_events(cl->io, EPOLLIN | EPOLLRDHUP |
                                                                  (sendq_pending(&cl->out) ? EPOLLOUT : 0));
        if (r == -ENOBUFS)
                client_drop(cl, "does not read (64 KiB unsent)");
        else if (r == -ENOMEM)
                client_drop(cl, "cannot get a buffer (out of memory)");
        else if (r < 0) {
                errno = -r;
                client_drop(cl, "write failed");
        }
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct tcp_client *cl = userdata;
        char junk[512];
        ssize_t n;

        if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* read-only feed: input is discarded; EOF means the client left */
                n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        log_info("%s: client %s disconnected", cl->feed->name, cl->peer);
                        client_free(cl);
                        return 0;
                }
        }
        if ((revents & EPOLLOUT) && client_flush(cl) < 0)
                client_drop(cl, "write failed");
        return 0;
}

static void peer_name(int fd, char *buf, size_t size) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        char host[48] = "?";

        if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) {
                if (sa.ss_family == AF_INET)
                        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof host);
                else if (sa.ss_family == AF_INET6)
                        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof host);
                snprintf(buf, size, "%s:%u", host,
                         ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
                                                       : ((struct sockaddr_in6 *)&sa)->sin6_port));
        } else
                snprintf(buf, size, "fd %d", fd);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct tcp_feed *f = userdata;
        unsigned suppressed;

        for (;;) {
                struct tcp_client *cl;
                int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                int r;

                if (c < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
                            ratelimit_ok(&f->rl, mono_ns(), &suppressed))
                                log_warning_errno(errno, "%s: accept failed: %m, ignoring", f->name);
                        return 0;
                }
                if (f->n_clients >= TCP_MAX_CLIENTS) {
                        if (ratelimit_ok(&f->rl, mono_ns(), &suppressed))
                                log_warning("%s: %d clients already, refusing another", f->name,
                                            TCP_MAX_CLIENTS);
                        close(c);
                        continue;
                }
                cl = calloc(1, sizeof *cl);
                if (!cl) {
                        close(c);
                        continue;
                }
                cl->feed = f;
                cl->fd = c;
                peer_name(c, cl->peer, sizeof cl->peer);
                r = sd_event_add_io(sd_event_source_get_event(s), &cl->io, c, EPOLLIN | EPOLLRDHUP,
                                    on_client_io, cl);
                if (r < 0) {
                        log_warning_errno(r, "%s: cannot watch client %s: %m, dropped", f->name, cl->peer);
                        close(c);
                        free(cl);
                        continue;
                }
                cl->next = f->clients;
                if (f->clients)
                        f->clients->prev = cl;
                f->clients = cl;
                f->n_clients++;
                log_info("%s: client %s connected (%zu)", f->name, cl->peer, f->n_clients);
        }
}

/* Sends LINE (consumed) with a newline to every client. */
static int feed_broadcast(struct tcp_feed *f, char *line) {
        _cleanup_free_ char *l = line;
        size_t n;

        if (!l)
                return -ENOMEM;
        n = strlen(l);
        l[n] = '\n'; /* the NUL goes: n + 1 bytes are sent, never read as a string again */
        for (struct tcp_client *cl = f->clients, *next; cl; cl = next) {
                next = cl->next;
                client_send(cl, l, n + 1);
        }
        return 0;
}

static int tcp_story_start(struct sink *s, const struct story *st) {
        return feed_broadcast(s->data, feed_on_air(st));
}

static int tcp_cue(struct sink *s, const struct story *st, const struct cue *c, const struct cue_emit *e) {
        return feed_broadcast(s->data, feed_cue(st, c, e));
}

static int tcp_story_end(struct sink *s, const struct story *st) {
        return feed_broadcast(s->data, feed_off_air(st));
}

static int tcp_next_up(struct sink *s, const struct story *next, uint64_t mono) {
        return feed_broadcast(s->data, feed_next(next));
}

static int tcp_alert(struct sink *s, const char *what, const char *message, uint64_t mono) {
        return feed_broadcast(s->data, feed_alert(what, message));
}

static void tcp_feed_free(struct tcp_feed *f) {
        if (!f)
                return;
        while (f->clients)
                client_free(f->clients);
        sd_event_source_disable_unref(f->accept_io);
        if (f->fd >= 0)
                close(f->fd);
        free(f->name);
        free(f);
}

static void tcp_free(struct sink *s) {
        tcp_feed_free(s->data);
}

static const struct sink_ops tcp_ops = {
        .type = "tcp",
        .story_start = tcp_story_start,
        .cue = tcp_cue,
        .story_end = tcp_story_end,
        .free = tcp_free,
        .next_up = tcp_next_up,
        .alert = tcp_alert,
};

size_t sink_tcp_clients(const struct sink *s) {
        return s->ops == &tcp_ops ? ((const struct tcp_feed *)s->data)->n_clients : 0;
}

int sink_tcp_new(sd_event *event, const struct sink_config *sc, struct sink **ret) {
        struct netaddr a;
        struct tcp_feed *f;
        int r;

        if (!sc->listen || netaddr_parse(sc->listen, &a) < 0)
                return -EINVAL;
        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->fd = -1;
        f->rl = RATELIMIT_INIT(10000, 5);
        if (asprintf(&f->name, "tcp:'%s'", sc->listen) < 0) {
                f->name = NULL;
                tcp_feed_free(f);
                return -ENOMEM;
        }
        r = f->fd = netaddr_listen(&a, 128, true);
        if (r >= 0)
                r = sd_event_add_io(event, &f->accept_io, f->fd, EPOLLIN, on_accept, f);
        if (r >= 0)
                r = sink_alloc(&tcp_ops, f->name, sc, f, ret);
        if (r < 0) {
                tcp_feed_free(f);
                return r;
        }
        log_info("%s: caption feed listening", f->name);
        return 0;
}
