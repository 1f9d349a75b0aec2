/* SPDX-License-Identifier: GPL-3.0-or-later */
/* icecast.c: the stream title that players show, kept to the story on
 * air through Icecast's admin metadata request:
 *   GET /admin/metadata?mount=/live&mode=updinfo&charset=UTF-8&song=TITLE
 * with HTTP basic authentication (the credentials come from a file named
 * in the config, read once when the sink is made, and never logged).
 *
 * The request is plain HTTP/1.0 on a fresh non-blocking connection driven
 * by an sd-event IO source, with a 5 s deadline: a server that is down,
 * slow or refusing costs one log line, never a wait on the loop. One
 * request is in flight at a time; a story change during it is kept as the
 * one pending title (only the latest matters) and sent when it ends. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "netaddr.h"
#include "outlink.h"
#include "queue.h"
#include "sink.h"

#define ICECAST_TIMEOUT_USEC UINT64_C(5000000)
#define ICECAST_REPLY_MAX 4096

struct icecast {
        char *name, *host, *port, *mount, *auth; /* auth: base64 of user:password */
        sd_event *event;
        sd_event_source *io, *timeout;
        int fd;
        char *request; /* in flight */
        size_t sent, req_len;
        char reply[ICECAST_REPLY_MAX];
        size_t got;
        char *title_in_flight, *pending; /* pending: next title to send, or NULL */
        bool failing;
};

static void to_base64(const unsigned char *in, size_t n, char *out) {
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);

                out[o++] = tab[v >> 18 & 63];
                out[o++] = tab[v >> 12 & 63];
                out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
                out[o++] = i + 2 < n ? tab[v & 63] : '=';
        }
        out[o] = '\0';
}

/* Percent-encodes S for a query string value. */
static char *url_encode(const char *s) {
        char *out = malloc(strlen(s) * 3 + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    strchr("-_.~", *p))
                        *o++ = (char)*p;
                else
                        o += sprintf(o, "%%%02X", *p);
        }
        *o = '\0';
        return out;
}

static void request_end(struct icecast *c) {
        c->io = sd_event_source_disable_unref(c->io);
        (void)sd_event_source_set_enabled(c->timeout, SD_EVENT_OFF);
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        free(c->request);
        c->request = NULL;
        free(c->title_in_flight);
        c->title_in_flight = NULL;
}

static void request_failed(struct icecast *c, int r, const char *what) {
        if (!c->failing)
                log_warning_errno(r, "%s: %s: %m; the stream title stays as it was", c->name, what);
        else
                log_debug_errno(r, "%s: %s: %m", c->name, what);
        c->failing = true;
}

static int request_start(struct icecast *c, const char *title);

/* After a request: the pending title, if any, goes next. */
static void request_next(struct icecast *c) {
        _cleanup_free_ char *t = c->pending;

        c->pending = NULL;
        request_end(c);
        if (t)
                (void)request_start(c, t);
}

static void reply_done(struct icecast *c) {
        int status = 0;
        char *eol;

        c->reply[c->got] = '\0';
        if (sscanf(c->reply, "HTTP/%*s %d", &status) != 1)
                status = 0;
        if (status == 200) {
                if (c->failing)
                        log_info("%s: stream title updated again", c->name);
                c->failing = false;
                log_debug("%s: stream title '%s'", c->name, c->title_in_flight);
        } else {
                eol = strpbrk(c->reply, "\r\n");
                if (eol)
                        *eol = '\0';
                if (!c->failing)
                        log_warning("%s: the server answered '%.80s'%s; the stream title stays as it was",
                                    c->name, c->got > 0 ? c->reply : "nothing",
                                    status == 401 ? " (check the credentials file)"
                                    : status == 400 || status == 404
                                            ? " (is a source connected to that mount?)"
                                            : "");
                c->failing = true;
        }
        request_next(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct icecast *c = userdata;
        ssize_t n;
        int err = 0;
        socklen_t len = sizeof err;

        if (c->sent < c->req_len) {
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err != 0) {
                        request_failed(c, -err, "cannot connect to the server");
                        request_next(c);
                        return 0;
                }
                n = send(fd, c->request + c->sent, c->req_len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        request_failed(c, -errno, "cannot send the metadata request");
                        request_next(c);
                        return 0;
                }
                if (n > 0)
                        c->sent += (size_t)n;
                if (c->sent == c->req_len)
                        (void)sd_event_source_set_io_events(s, EPOLLIN);
                return 0;
        }
        for (;;) {
                n = read(fd, c->reply + c->got, sizeof c->reply - 1 - c->got);
                if (n > 0) {
                        c->got += (size_t)n;
                        if (c->got == sizeof c->reply - 1) /* the status line is all we need */
                                break;
                        continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n < 0) {
                        request_failed(c, -errno, "reading the server's answer");
                        request_next(c);
                        return 0;
                }
                break; /* EOF: HTTP/1.0 ends the answer so */
        }
        reply_done(c);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct icecast *c = userdata;

        request_failed(c, -ETIMEDOUT, "the server did not answer within 5 s");
        request_next(c);
        return 0;
}

static int request_start(struct icecast *c, const char *title) {
        _cleanup_free_ char *song = url_encode(title), *mount = url_encode(c->mount);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
        struct addrinfo *ai = NULL;
        uint64_t now;
        int r;

        if (!song || !mount)
                return -ENOMEM;
        if (asprintf(&c->request,
                     "GET /admin/metadata?mount=%s&mode=updinfo&charset=UTF-8&song=%s HTTP/1.0\r\n"
                     "Host: %s:%s\r\nAuthorization: Basic %s\r\nUser-Agent: nextupd\r\n\r\n",
                     mount, song, c->host, c->port, c->auth) < 0) {
                c->request = NULL;
                return -ENOMEM;
        }
        c->req_len = strlen(c->request);
        c->sent = c->got = 0;
        c->title_in_flight = strdup(title);
        r = getaddrinfo(c->host, c->port, &hints, &ai) == 0 ? 0 : -EINVAL;
        if (r >= 0) {
                c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (c->fd < 0)
                        r = -errno;
                else if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
                        r = -errno;
                freeaddrinfo(ai);
        }
        if (r >= 0)
                r = sd_event_add_io(c->event, &c->io, c->fd, EPOLLOUT, on_io, c);
        if (r >= 0)
                r = sd_event_now(c->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_source_set_time(c->timeout, now + ICECAST_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timeout, SD_EVENT_ONESHOT);
        if (r < 0) {
                request_failed(c, r, "cannot connect to the server");
                request_end(c);
        }
        return r;
}

static int set_title(struct icecast *c, const char *title) {
        if (c->request) { /* one in flight: this one waits, replacing any older */
                char *t = strdup(title);

                if (!t)
                        return -ENOMEM;
                free(c->pending);
                c->pending = t;
                return 0;
        }
        (void)request_start(c, title); /* failures logged */
        return 0;
}

static int icecast_story_start(struct sink *s, const struct story *st) {
        return set_title(s->data, st->title && *st->title ? st->title : "(untitled)");
}

static int icecast_cue(struct sink *s, const struct story *st, const struct cue *c,
                       const struct cue_emit *e) {
        return 0;
}

static int icecast_story_end(struct sink *s, const struct story *st) {
        return 0;
}

static void icecast_free(struct sink *s) {
        struct icecast *c = s->data;

        if (!c)
                return;
        request_end(c);
        sd_event_source_disable_unref(c->timeout);
        sd_event_unref(c->event);
        if (c->auth)
                explicit_bzero(c->auth, strlen(c->auth));
        free(c->auth);
        free(c->pending);
        free(c->name);
        free(c->host);
        free(c->port);
        free(c->mount);
        free(c);
}

static const struct sink_ops icecast_ops = {
        .type = "icecast",
        .story_start = icecast_story_start,
        .cue = icecast_cue,
        .story_end = icecast_story_end,
        .free = icecast_free,
};

/* "user:password" from the first line of PATH, base64'd into *RET. */
static int read_credentials(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[512];
        size_t n;
        char *out;

        if (!f)
                return -errno;
        if (!fgets(line, sizeof line, f))
                return -EINVAL;
        n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (!strchr(line, ':')) {
                explicit_bzero(line, sizeof line);
                return -EINVAL;
        }
        out = malloc((n + 2) / 3 * 4 + 1);
        if (!out)
                return -ENOMEM;
        to_base64((const unsigned char *)line, n, out);
        explicit_bzero(line, sizeof line);
        *ret = out;
        return 0;
}

int sink_icecast_new(sd_event *event, const struct sink_config *sc, struct sink **ret) {
        struct icecast *c;
        int r;

        if (!event || !sc->connect || !sc->mount || !sc->credentials)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->fd = -1;
        c->event = sd_event_ref(event);
        r = netaddr_split(sc->connect, &c->host, &c->port);
        if (r >= 0) {
                c->mount = strdup(sc->mount);
                r = c->mount ? 0 : -ENOMEM;
        }
        if (r >= 0 && asprintf(&c->name, "icecast:'%s%s'", sc->connect, sc->mount) < 0) {
                c->name = NULL;
                r = -ENOMEM;
        }
        if (r >= 0) {
                r = read_credentials(sc->credentials, &c->auth);
                if (r < 0)
                        log_error_errno(
                                r, "%s: cannot read the credentials file '%s' (one line USER:PASSWORD): %m",
                                c->name, sc->credentials);
        }
        if (r >= 0)
                r = sd_event_add_time(event, &c->timeout, CLOCK_MONOTONIC, 0, 100000, on_timeout, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timeout, SD_EVENT_OFF);
        if (r >= 0)
                r = sink_alloc(&icecast_ops, c->name, sc, c, ret);
        if (r < 0)
                icecast_free(&(struct sink){.data = c});
        return r;
}
