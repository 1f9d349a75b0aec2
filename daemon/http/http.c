/* SPDX-License-Identifier: GPL-3.0-or-later */
/* http.c: libmicrohttpd in "external select" mode with its epoll fd
 * watched by the loop's sd-event, so every request is served on the loop
 * thread, never the playout thread, and no state is shared across threads.
 *
 * DESIGN: the SSE feed. Events (cue, on_air, off_air, next, alert) are
 * formatted once, as a whole SSE frame ("id: N\nevent: ...\ndata: ...\n\n"),
 * into a ring of the last SSE_RING frames shared by every client. A new
 * client is a cursor into that ring (the sequence number of the next frame
 * and an offset into it) while MHD sends it the headers and the backlog
 * (the replay); then its connection is suspended and new frames are sent
 * on its socket directly, one non-blocking send each ("the direct phase"
 * below: resuming 1,000 connections through MHD for every cue cost ~28 us
 * a client). A send the socket does not take whole is kept in a bounded
 * buffer (SSE_DIRECT_BUF) flushed when the socket is writable. Bounded memory per client: the socket's
 * send buffer (HTTP_SNDBUF) plus MHD's per-connection pool; a client that
 * stops reading makes no progress and is closed by MHD's connection
 * timeout, or sooner when it falls SSE_MAX_LAG frames behind (we shut
 * its socket down, which MHD then closes). Drops are logged, rate-limited.
 *
 * Last-Event-ID: a reconnecting client resumes after that id, from the
 * ring, but never before the on_air frame of the story on air (it asked
 * for the missed cues of this story, not for old ones); a new client
 * starts at that on_air frame, so a page opened mid-story shows where the
 * story is. */
#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <stdarg.h>
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
#include "sink.h"

#define SSE_RING 1024u
#define SSE_MAX_LAG 256u
#define SSE_PING_USEC (15 * UINT64_C(1000000))
#define HTTP_TIMEOUT_S 10u
#define HTTP_POOL_BYTES (4 * 1024) /* per connection, zeroed by MHD: RSS per client; headers must fit */
#define HTTP_SNDBUF (64 * 1024)
#define SSE_BLOCK 1024
#define SSE_DIRECT_BUF (64 * 1024)
#define HTTP_HEADERS_NS (10 * UINT64_C(1000000000)) /* a request's headers must be in by then */
#define HTTP_SWEEP_USEC UINT64_C(1000000)

extern const unsigned char http_page[];
extern const size_t http_page_len;

struct frame {
        uint64_t seq; /* 0: empty slot */
        char *text;
        size_t len;
};

struct sse_client {
        struct http_server *srv;
        struct sse_client *prev, *next;
        struct MHD_Connection *conn;
        uint64_t seq;  /* next frame to send (MHD phase) */
        size_t offset; /* bytes of that frame already sent */
        bool suspended, ping, dropped, closed;
        bool started; /* MHD has had bytes from the reader: headers are out */
        /* Direct phase: once the backlog is out, the connection stays
         * suspended and frames are sent on its socket by us. */
        bool direct;
        int fd;
        sd_event_source *io;
        struct sendq out; /* what the socket has not taken, up to SSE_DIRECT_BUF */
};

/* Every connection, for the slowloris deadline: MHD's timeout restarts
 * at every byte, so a client sending one byte a second would hold a
 * connection forever without this. */
struct conn {
        struct conn *prev, *next;
        int fd;
        uint64_t deadline_ns; /* 0: headers are in (a request is being served) */
};

struct http_server {
        sd_event *event;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer, *ping;
        sd_event_source *kick;  /* runs MHD once after connections were resumed */
        sd_event_source *sweep; /* closes connections past their header deadline */
        struct conn *conns;
        struct http_handlers h;
        char *listen;

        struct frame ring[SSE_RING];
        uint64_t head;       /* seq of the newest frame; 0 none yet */
        uint64_t on_air_seq; /* on_air frame of the story on air, 0 none */
        struct sse_client *clients;
        size_t n_clients;
        uint64_t dropped;
        struct ratelimit rl, rl_mhd;
        bool closing; /* http_server_free: streams end quietly */
};

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static struct conn *conn_of(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return ci ? ci->socket_context : NULL;
}

/* ---- driving MHD from sd-event -------------------------------------- */

static void mhd_rearm(struct http_server *s) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now;

        if (MHD_get_timeout(s->mhd, &ms) != MHD_YES) {
                (void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        (void)sd_event_source_set_time(s->timer, now + (uint64_t)ms * 1000);
        (void)sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void mhd_run(struct http_server *s) {
        if (MHD_run(s->mhd) != MHD_YES)
                log_debug("http: MHD_run failed, ignoring");
        mhd_rearm(s);
}

static int on_mhd_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        mhd_run(userdata);
        return 0;
}

static void direct_fan_out(struct http_server *s);

/* Low priority: the caption timers due now have all fired first. */
static int on_kick(sd_event_source *src, void *userdata) {
        direct_fan_out(userdata);
        mhd_run(userdata);
        return 0;
}

static int on_mhd_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        mhd_run(userdata);
        return 0;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
        struct http_server *s = cls;
        _cleanup_free_ char *msg = NULL;
        unsigned suppressed;
        size_t n;

        if (!ratelimit_ok(&s->rl_mhd, now_ns(), &suppressed))
                return;
        if (vasprintf(&msg, fmt, ap) < 0)
                return;
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
                msg[--n] = '\0';
        log_warning("http: %s (%u similar messages suppressed)", msg, suppressed);
}

/* ---- SSE clients ----------------------------------------------------- */

/* MHD processes resumed connections in its next MHD_run; the epoll fd
 * does not always become readable for it, so the kick source runs it once
 * the loop is done with more urgent sources. */
static void client_resume(struct sse_client *c) {
        if (!c->suspended)
                return;
        c->suspended = false;
        MHD_resume_connection(c->conn);
        (void)sd_event_source_set_enabled(c->srv->kick, SD_EVENT_ONESHOT);
}

static void client_log_drop(struct http_server *s, const char *why) {
        unsigned suppressed;

        s->dropped++;
        if (ratelimit_ok(&s->rl, now_ns(), &suppressed))
                log_warning("http: SSE client %s, dropped (%u similar messages suppressed)", why,
                            suppressed);
}

/* Too far behind: the reader ends the stream if MHD calls it again; if
 * it is waiting for a socket that never drains, shut that down so that
 * MHD notices now rather than at its timeout. */
static void client_drop(struct sse_client *c, const char *why) {
        const union MHD_ConnectionInfo *ci;

        if (c->dropped)
                return;
        c->dropped = true;
        client_log_drop(c->srv, why);
        if (c->suspended) {
                client_resume(c);
                return;
        }
        ci = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
                (void)shutdown(ci->connect_fd, SHUT_RDWR);
}

static const struct frame *ring_get(const struct http_server *s, uint64_t seq) {
        const struct frame *f = &s->ring[seq % SSE_RING];

        return f->seq == seq ? f : NULL;
}

/* ---- the direct phase -------------------------------------------------
 * MHD writes a connection's bytes, then suspends it and leaves its socket
 * alone until it is resumed. The response has no chunked encoding
 * (MHD_RF_HTTP_1_0_COMPATIBLE_STRICT: the body is the raw event stream,
 * closed at the end), and the reader is only called once all it returned
 * before has been sent; so once the reader has nothing left to give, the
 * socket carries nothing of MHD's and further frames can be sent on it
 * directly: one non-blocking send per client and event, as the tcp sink
 * does, instead of a resume, an MHD run and a suspend. To end the stream
 * the connection is resumed and the reader says so; MHD closes it. */

static void direct_stop(struct sse_client *c) {
        c->io = sd_event_source_disable_unref(c->io);
        sendq_clear(&c->out);
        c->direct = false;
}

/* Hands the connection back to MHD to be closed (DROPPED: with an error). */
static void direct_end(struct sse_client *c, const char *why) {
        if (why) {
                c->dropped = true;
                client_log_drop(c->srv, why);
        } else
                c->closed = true;
        direct_stop(c);
        c->suspended = false;
        MHD_resume_connection(c->conn);
        (void)sd_event_source_set_enabled(c->srv->kick, SD_EVENT_ONESHOT);
}

static int direct_flush(struct sse_client *c) {
        int r = sendq_flush(&c->out, c->fd);

        if (r < 0)
                return r;
        return sd_event_source_set_io_events(c->io,
                                             EPOLLIN | EPOLLRDHUP | (sendq_pending(&c->out) ? EPOLLOUT : 0));
}

/* Sends TEXT, or keeps what the socket does not take now. */
static void direct_send(struct sse_client *c, const char *text, size_t n) {
        int r = sendq_send(&c->out, c->fd, text, n, SSE_DIRECT_BUF);

        if (r >= 0)
                r = sd_event_source_set_io_events(c->io, EPOLLIN | EPOLLRDHUP |
                                                                 (sendq_pending(&c->out) ? EPOLLOUT : 0));
        if (r == -ENOBUFS)
                direct_end(c, "does not read (64 KiB unsent)");
        else if (r == -ENOMEM)
                direct_end(c, "cannot get a buffer (out of memory)");
        else if (r < 0)
                direct_end(c, "vanished (write failed)");
}

static int on_direct_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct sse_client *c = userdata;
        char junk[256];

        if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                ssize_t n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);

                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        direct_end(c, NULL); /* the client left */
                        return 0;
                }
        }
        if ((revents & EPOLLOUT) && direct_flush(c) < 0)
                direct_end(c, "vanished (write failed)");
        return 0;
}

/* Sends every direct client the frames it has not had yet. */
static void direct_fan_out(struct http_server *s) {
        for (struct sse_client *c = s->clients; c; c = c->next) {
                if (!c->direct)
                        continue;
                if (c->ping && c->seq > s->head)
                        direct_send(c, ":ping\n\n", 7);
                c->ping = false;
                while (c->direct && c->seq <= s->head) {
                        const struct frame *f = ring_get(s, c->seq);

                        if (!f) {
                                direct_end(c, "fell out of the replay ring");
                                break;
                        }
                        direct_send(c, f->text, f->len);
                        c->seq++;
                }
        }
}

/* From the reader, with nothing left to send: 0, or -errno (stay with MHD). */
static int direct_start(struct sse_client *c) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int r;

        if (!ci)
                return -EBADF;
        c->fd = ci->connect_fd;
        r = sd_event_add_io(c->srv->event, &c->io, c->fd, EPOLLIN | EPOLLRDHUP, on_direct_io, c);
        if (r < 0)
                return r;
        c->direct = true;
        return 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
        struct sse_client *c = cls;
        struct http_server *s = c->srv;
        size_t n = 0;

        if (s->closing || c->closed)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (c->dropped)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (!c->started && c->seq > s->head && max >= 8) {
                /* the first bytes go out with the headers: after them the
                 * reader is called again only once both are sent */
                memcpy(buf, ":ok\n\n", 5);
                c->started = true;
                return 5;
        }
        if (c->seq <= s->head && !ring_get(s, c->seq)) {
                client_drop(c, "fell out of the replay ring");
                return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        while (c->seq <= s->head && n < max) {
                const struct frame *f = ring_get(s, c->seq);
                size_t k = MIN(f->len - c->offset, max - n);

                memcpy(buf + n, f->text + c->offset, k);
                n += k;
                c->offset += k;
                if (c->offset == f->len) {
                        c->seq++;
                        c->offset = 0;
                }
        }
        if (n == 0 && c->ping && max >= 8) {
                memcpy(buf, ":ping\n\n", 7);
                n = 7;
        }
        c->ping = false;
        if (n > 0) {
                c->started = true;
                return (ssize_t)n;
        }
        /* nothing to send: wait for the next frame (MHD: suspending from the
         * content reader and returning 0 is the documented way); all that
         * was returned before is sent, so frames can go out directly */
        if (c->started && !c->direct && direct_start(c) < 0)
                log_debug("http: SSE client stays with MHD (cannot watch its socket)");
        c->suspended = true;
        MHD_suspend_connection(c->conn);
        return 0;
}

static void sse_free(void *cls) {
        struct sse_client *c = cls;
        struct http_server *s = c->srv;

        direct_stop(c);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        free(c);
}

/* The first frame a client gets: after LAST_ID when it gave one, never
 * before the story on air began. */
static uint64_t sse_start_seq(struct http_server *s, struct MHD_Connection *conn) {
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
        uint64_t oldest = s->head >= SSE_RING ? s->head - SSE_RING + 1 : 1;
        uint64_t start = s->on_air_seq ? s->on_air_seq : s->head + 1;
        char *end;

        if (h && *h) {
                unsigned long long id;

                errno = 0;
                id = strtoull(h, &end, 10);
                if (errno == 0 && *end == '\0' && id <= s->head)
                        start = MAX(start, (uint64_t)id + 1);
        }
        return MAX(start, oldest);
}

static enum MHD_Result serve_events(struct http_server *s, struct MHD_Connection *conn) {
        struct MHD_Response *resp;
        struct sse_client *c;
        enum MHD_Result ret;

        c = calloc(1, sizeof *c);
        if (!c)
                return MHD_NO;
        c->srv = s;
        c->conn = conn;
        c->seq = sse_start_seq(s, conn);
        c->fd = -1;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, c, sse_free);
        if (!resp) {
                free(c);
                return MHD_NO;
        }
        /* the raw stream, no chunked encoding: see "the direct phase" */
        (void)MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Appends a frame (TEXT: the event's JSON, consumed) and wakes every
 * waiting client. */
static int sse_push(struct http_server *s, const char *event, char *json) {
        _cleanup_free_ char *j = json;
        struct frame *f;
        char *text;
        int n;

        if (!j)
                return -ENOMEM;
        n = asprintf(&text, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", s->head + 1, event, j);
        if (n < 0)
                return -ENOMEM;
        s->head++;
        f = &s->ring[s->head % SSE_RING];
        free(f->text);
        *f = (struct frame){.seq = s->head, .text = text, .len = (size_t)n};
        for (struct sse_client *c = s->clients; c; c = c->next) {
                if (c->direct)
                        continue; /* on_kick sends, after the other sinks' timers */
                else if (c->dropped || c->closed)
                        continue;
                else if (s->head - c->seq >= SSE_MAX_LAG && s->head >= c->seq)
                        client_drop(c, "does not read (256 events behind)");
                else
                        client_resume(c);
        }
        (void)sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT);
        return 0;
}

static int on_ping(sd_event_source *src, uint64_t usec, void *userdata) {
        struct http_server *s = userdata;

        for (struct sse_client *c = s->clients; c; c = c->next)
                if (c->direct) {
                        c->ping = true;
                        (void)sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT);
                } else if (c->suspended && !c->dropped && !c->closed) {
                        c->ping = true;
                        client_resume(c);
                }
        (void)sd_event_source_set_time(src, usec + SSE_PING_USEC);
        return 0;
}

/* ---- plain routes ---------------------------------------------------- */

static enum MHD_Result reply_buf(struct MHD_Connection *conn, unsigned code, const char *type, void *buf,
                                 size_t len, enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, mode);
        enum MHD_Result ret;

        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(buf);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", type);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        ret = MHD_queue_response(conn, code, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *text) {
        return reply_buf(conn, code, "text/plain; charset=utf-8", (void *)text, strlen(text),
                         MHD_RESPMEM_PERSISTENT);
}

/* Runs WRITE into a memory buffer and replies with it. */
static enum MHD_Result reply_written(struct MHD_Connection *conn, const char *type,
                                     int (*write)(void *userdata, FILE *f), void *userdata) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r;

        if (!f)
                return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        r = write(userdata, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r == -ENOENT ? reply_text(conn, MHD_HTTP_NOT_FOUND, "no such story\n")
                                    : reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                                 "cannot build the reply\n");
        }
        return reply_buf(conn, MHD_HTTP_OK, type, buf, len, MHD_RESPMEM_MUST_FREE);
}

static int write_status(void *userdata, FILE *f) {
        struct http_server *s = userdata;
        struct json_object *o = s->h.status(s->h.userdata);

        if (!o)
                return -ENOMEM;
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), f);
        fputc('\n', f);
        json_object_put(o);
        return 0;
}

static int write_metrics(void *userdata, FILE *f) {
        struct http_server *s = userdata;
        int r = s->h.metrics(s->h.userdata, f);

        if (r < 0)
                return r;
        fprintf(f,
                "nextup_feed_clients{feed=\"sse\"} %zu\n"
                "# HELP nextup_feed_clients_dropped_total Feed clients dropped for not reading.\n"
                "# TYPE nextup_feed_clients_dropped_total counter\n"
                "nextup_feed_clients_dropped_total{feed=\"sse\"} %" PRIu64 "\n",
                s->n_clients, s->dropped);
        return 0;
}

struct vtt_req {
        struct http_server *s;
        uint64_t id;
};

static int write_vtt(void *userdata, FILE *f) {
        struct vtt_req *v = userdata;

        return v->s->h.story_vtt(v->s->h.userdata, v->id, f);
}

/* "/stories/ID.vtt" -> ID; false for anything else. */
static bool parse_story_url(const char *url, uint64_t *ret) {
        const char *p = url + strlen("/stories/");
        unsigned long long id;
        char *end;

        if (strncmp(url, "/stories/", strlen("/stories/")) != 0 || *p < '0' || *p > '9')
                return false;
        errno = 0;
        id = strtoull(p, &end, 10);
        if (errno != 0 || strcmp(end, ".vtt") != 0)
                return false;
        *ret = id;
        return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        static int first;
        struct http_server *s = cls;
        uint64_t id;

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only\n");
        if (!*con_cls) { /* headers are in; a GET has no body to wait for */
                struct conn *k = conn_of(conn);

                if (k)
                        k->deadline_ns = 0;
                *con_cls = &first;
                return MHD_YES;
        }
        if (*upload_data_size > 0)
                return reply_text(conn, MHD_HTTP_BAD_REQUEST, "a GET has no body\n");
        if (strcmp(url, "/") == 0)
                return reply_buf(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)http_page,
                                 http_page_len, MHD_RESPMEM_PERSISTENT);
        if (strcmp(url, "/events") == 0)
                return serve_events(s, conn);
        if (strcmp(url, "/status") == 0)
                return reply_written(conn, "application/json", write_status, s);
        if (strcmp(url, "/metrics") == 0)
                return reply_written(conn, "text/plain; version=0.0.4; charset=utf-8", write_metrics, s);
        if (parse_story_url(url, &id)) {
                struct vtt_req v = {s, id};

                return reply_written(conn, "text/vtt; charset=utf-8", write_vtt, &v);
        }
        return reply_text(conn, MHD_HTTP_NOT_FOUND,
                          "not found (/, /events, /status, /metrics, /stories/ID.vtt)\n");
}

/* Small send buffers: what a stalled client can hold is bounded. Every
 * connection gets a header deadline (struct conn). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct http_server *s = cls;
        const union MHD_ConnectionInfo *ci;
        struct conn *k = *socket_context;
        int size = HTTP_SNDBUF;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (!k)
                        return;
                if (k->prev)
                        k->prev->next = k->next;
                else
                        s->conns = k->next;
                if (k->next)
                        k->next->prev = k->prev;
                free(k);
                *socket_context = NULL;
                return;
        }
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci)
                return;
        (void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        k = calloc(1, sizeof *k);
        if (!k)
                return; /* no deadline for this one; MHD's timeout still applies */
        k->fd = ci->connect_fd;
        k->deadline_ns = now_ns() + HTTP_HEADERS_NS;
        k->next = s->conns;
        if (s->conns)
                s->conns->prev = k;
        s->conns = k;
        *socket_context = k;
}

static int on_sweep(sd_event_source *src, uint64_t usec, void *userdata) {
        struct http_server *s = userdata;
        uint64_t now = now_ns();
        unsigned suppressed;

        for (struct conn *k = s->conns; k; k = k->next) {
                if (k->deadline_ns == 0 || now < k->deadline_ns)
                        continue;
                k->deadline_ns = 0;
                if (ratelimit_ok(&s->rl, now, &suppressed))
                        log_warning("http: request headers not complete after %u s (slowloris?), "
                                    "connection closed (%u similar messages suppressed)",
                                    (unsigned)(HTTP_HEADERS_NS / 1000000000), suppressed);
                (void)shutdown(k->fd, SHUT_RDWR);
        }
        (void)sd_event_source_set_time(src, usec + HTTP_SWEEP_USEC);
        return 0;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
        struct http_server *s = cls;
        struct conn *k = conn_of(conn);
        unsigned suppressed;

        if (k) /* a kept-alive connection: the next request's headers have a deadline too */
                k->deadline_ns = now_ns() + HTTP_HEADERS_NS;
        if (s->closing || code == MHD_REQUEST_TERMINATED_COMPLETED_OK ||
            code == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN || code == MHD_REQUEST_TERMINATED_CLIENT_ABORT)
                return;
        if (ratelimit_ok(&s->rl, now_ns(), &suppressed))
                log_warning("http: connection closed: %s (%u similar messages suppressed)",
                            code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timed out (client too slow)"
                            : code == MHD_REQUEST_TERMINATED_READ_ERROR
                                    ? "read error (malformed or cut request)"
                                    : "error",
                            suppressed);
}

/* ---- the sink that feeds /events ------------------------------------- */

static int hs_story_start(struct sink *k, const struct story *st) {
        struct http_server *s = k->data;
        int r = sse_push(s, "on_air", feed_on_air(st));

        if (r >= 0)
                s->on_air_seq = s->head;
        return r;
}

static int hs_cue(struct sink *k, const struct story *st, const struct cue *c, const struct cue_emit *e) {
        return sse_push(k->data, "cue", feed_cue(st, c, e));
}

static int hs_story_end(struct sink *k, const struct story *st) {
        struct http_server *s = k->data;

        s->on_air_seq = 0;
        return sse_push(s, "off_air", feed_off_air(st));
}

static int hs_next_up(struct sink *k, const struct story *next, uint64_t mono) {
        return sse_push(k->data, "next", feed_next(next));
}

static int hs_alert(struct sink *k, const char *what, const char *message, uint64_t mono) {
        return sse_push(k->data, "alert", feed_alert(what, message));
}

static void hs_free(struct sink *k) {
}

static const struct sink_ops http_sink_ops = {
        .type = "sse",
        .story_start = hs_story_start,
        .cue = hs_cue,
        .story_end = hs_story_end,
        .free = hs_free,
        .next_up = hs_next_up,
        .alert = hs_alert,
};

int http_server_sink_new(struct http_server *s, const struct sink_config *sc, struct sink **ret) {
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, "sse:'%s'", s->listen) < 0)
                return -ENOMEM;
        return sink_alloc(&http_sink_ops, name, sc, s, ret);
}

/* ---- life cycle ------------------------------------------------------ */

int http_server_new(sd_event *event, const char *listen, int max_clients, const struct http_handlers *h,
                    struct http_server **ret) {
        const union MHD_DaemonInfo *info;
        struct http_server *s;
        struct netaddr a;
        int fd, r;

        if (netaddr_parse(listen, &a) < 0)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->h = *h;
        s->rl = RATELIMIT_INIT(10000, 5);
        s->rl_mhd = RATELIMIT_INIT(10000, 5);
        s->listen = strdup(listen);
        if (!s->listen) {
                http_server_free(s);
                return -ENOMEM;
        }
        fd = netaddr_listen(&a, 1024, false);
        if (fd < 0) {
                http_server_free(s);
                return fd;
        }
        s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
                                  NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                                  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)max_clients, MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_BYTES,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                                  on_connection, s, MHD_OPTION_END);
        if (!s->mhd) {
                close(fd);
                http_server_free(s);
                return -EIO;
        }
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        r = info ? sd_event_add_io(event, &s->io, info->epoll_fd, EPOLLIN, on_mhd_io, s) : -EIO;
        if (r >= 0) /* after the caption timers: they fire on time, then clients are written */
                r = sd_event_source_set_priority(s->io, SD_EVENT_PRIORITY_NORMAL + 10);
        if (r >= 0)
                r = sd_event_add_defer(event, &s->kick, on_kick, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->kick, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_source_set_priority(s->kick, SD_EVENT_PRIORITY_NORMAL + 10);
        if (r >= 0)
                r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000, on_mhd_timer, s);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &s->ping, CLOCK_MONOTONIC, SSE_PING_USEC, 1000000,
                                               on_ping, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->ping, SD_EVENT_ON);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &s->sweep, CLOCK_MONOTONIC, HTTP_SWEEP_USEC, 100000,
                                               on_sweep, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->sweep, SD_EVENT_ON);
        if (r < 0) {
                http_server_free(s);
                return r;
        }
        mhd_rearm(s);
        log_info("http: serving the caption page on '%s'", listen);
        *ret = s;
        return 0;
}

struct http_server *http_server_free(struct http_server *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->ping);
        sd_event_source_disable_unref(s->sweep);
        if (s->mhd) {
                s->kick = sd_event_source_disable_unref(s->kick);
                /* suspended connections must be resumed before the daemon stops */
                s->closing = true;
                for (struct sse_client *c = s->clients; c; c = c->next) {
                        direct_stop(c);
                        client_resume(c);
                }
                MHD_run(s->mhd);
                MHD_stop_daemon(s->mhd); /* closes the listen socket too */
        }
        for (size_t i = 0; i < SSE_RING; i++)
                free(s->ring[i].text);
        free(s->listen);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

size_t http_server_sse_clients(const struct http_server *s) {
        return s ? s->n_clients : 0;
}

uint64_t http_server_sse_dropped(const struct http_server *s) {
        return s ? s->dropped : 0;
}
