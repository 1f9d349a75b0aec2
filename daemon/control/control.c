/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control.c: the control socket transport (see control.h). A Unix stream
 * socket served on the sd-event loop: each connection reads requests into a
 * fixed 64 KiB line buffer, answers each complete line through the handler
 * and queues the reply in an output buffer written as the socket drains.
 * Everything is non-blocking, so a slow or hostile client costs memory
 * bounded by the line and reply limits, never loop time. A connection a
 * handler subscribes also gets every control_broadcast() event queued the
 * same way; one that lets 1 MiB pile up is dropped. Loop thread only.
 *
 * Limits, so that no client can lock out the next one: the peer's
 * credentials are checked against the allow-list at accept; a client
 * silent for idle_timeout is closed (subscribers wait for events and are
 * exempt); the connection list is kept in order of last activity, and a
 * new client over max_connections closes the least recently active one
 * (a non-subscriber first). The input buffer grows with the line, so a
 * thousand idle clients cost a thousand small structs. Refusals are logged
 * once, then counted and summed up in one line per REFUSAL_LOG_USEC.
 *
 * The protocol's text (parsing a request, building replies, UTF-8 both
 * ways) is control-proto.c: pure, so the fuzzer and tests drive it alone. */
#include "control.h"

#include <assert.h>
#include <fcntl.h>
#include <pwd.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"

#define CONTROL_IN_CHUNK 4096u             /* input buffer growth step */
#define CONTROL_ACCEPT_RETRY_USEC 1000000u /* after EMFILE and friends */
#define REFUSAL_LOG_USEC (10u * 1000000u)  /* one summary line per this, at most */
#define PEER_GROUPS_MAX 256u

struct control_conn {
        struct control *control;
        struct control_conn *prev, *next; /* most recently active first */
        int fd;
        sd_event_source *source;
        sd_event_source *idle_source;
        struct control_peer peer;
        char *in; /* grows up to CONTROL_LINE_MAX + 2: line, '\n', NUL */
        size_t in_len, in_size;
        char *out;
        size_t out_start, out_len, out_size;
        bool closing;    /* flush what is queued, then close */
        bool subscribed; /* gets control_broadcast() events */
        bool dropped;    /* too slow a subscriber: freed at its next wakeup */
        bool denied;     /* peer not allowed: its first request is answered with why, then closed */
        bool held;       /* a request answered later (CONTROL_REPLY_LATER): read nothing more */
        bool gone;       /* closed and unlinked, kept only for its references */
        unsigned n_refs; /* control_conn_ref() by whoever owes a reply */
};

enum refusal {
        REFUSAL_EVICTED,  /* closed to make room for a new client */
        REFUSAL_DENIED,   /* peer not on the allow-list */
        REFUSAL_TOO_LONG, /* request line over CONTROL_LINE_MAX */
        REFUSAL_SLOW,     /* does not read its replies */
        _REFUSAL_MAX,
};

static const char *const refusal_what[_REFUSAL_MAX] = {
        [REFUSAL_EVICTED] = "idle connections closed to make room",
        [REFUSAL_DENIED] = "peers refused (not allowed)",
        [REFUSAL_TOO_LONG] = "requests too long",
        [REFUSAL_SLOW] = "clients dropped for not reading",
};

/* Only its address is used: never a JSON value. */
static char reply_later_marker;
struct json_object *const CONTROL_REPLY_LATER = (struct json_object *)&reply_later_marker;

struct control {
        sd_event *event;
        int fd;
        bool adopted; /* passed by systemd: not ours to close */
        char *path;   /* set when we created the socket file */
        sd_event_source *accept_source;
        sd_event_source *retry_source;
        control_handler_t handler;
        void *userdata;
        struct control_conn *connections, *last;
        unsigned n_connections;
        uint64_t idle_timeout_usec;
        unsigned max_connections;
        uid_t *allow_uids;
        size_t n_allow_uids;
        gid_t *allow_gids;
        size_t n_allow_gids;
        /* refusals since the last line logged about them */
        sd_event_source *refusal_source; /* set: a summary is due */
        unsigned n_refused[_REFUSAL_MAX];
};

static int refusal_summary(sd_event_source *s, uint64_t usec, void *userdata) {
        struct control *c = userdata;
        char line[512];
        size_t n = 0;

        c->refusal_source = sd_event_source_disable_unref(c->refusal_source);
        for (int i = 0; i < _REFUSAL_MAX; i++) {
                if (c->n_refused[i] > 0 && n < sizeof line)
                        n += (size_t)snprintf(line + n, sizeof line - n, "%s%u %s", n ? ", " : "",
                                              c->n_refused[i], refusal_what[i]);
                c->n_refused[i] = 0;
        }
        if (n > 0)
                log_warning("Control socket, in the last %u s: %s", REFUSAL_LOG_USEC / 1000000u, line);
        return 0;
}

/* Logs the first refusal of a quiet spell in full; later ones within
 * REFUSAL_LOG_USEC are only counted, and refusal_summary() sums them up, so
 * a flood of clients costs two log lines per interval, not one per client. */
static void __attribute__((format(printf, 3, 4)))
note_refusal(struct control *c, enum refusal why, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (c->refusal_source) {
                c->n_refused[why]++;
                return;
        }
        r = sd_event_add_time_relative(c->event, &c->refusal_source, CLOCK_MONOTONIC, REFUSAL_LOG_USEC,
                                       1000000, refusal_summary, c);
        if (r < 0)
                c->refusal_source = NULL;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                msg = NULL;
        log_warning("%s", msg ? msg : refusal_what[why]);
}

static void list_unlink(struct control *c, struct control_conn *conn) {
        if (conn->prev)
                conn->prev->next = conn->next;
        else
                c->connections = conn->next;
        if (conn->next)
                conn->next->prev = conn->prev;
        else
                c->last = conn->prev;
        conn->prev = conn->next = NULL;
}

static void list_push_front(struct control *c, struct control_conn *conn) {
        conn->prev = NULL;
        conn->next = c->connections;
        if (c->connections)
                c->connections->prev = conn;
        else
                c->last = conn;
        c->connections = conn;
}

/* The client did something: first in line to stay, idle timer restarted. */
static void connection_touch(struct control_conn *conn) {
        struct control *c = conn->control;
        uint64_t now;

        if (c->connections != conn) {
                list_unlink(c, conn);
                list_push_front(c, conn);
        }
        if (conn->idle_source && c->idle_timeout_usec > 0 &&
            sd_event_now(c->event, CLOCK_MONOTONIC, &now) >= 0)
                (void)sd_event_source_set_time(conn->idle_source, now + c->idle_timeout_usec);
}

/* Closing a Unix socket with unread input resets it, and the client then
 * loses the reply that said why (a line too long): what is already queued
 * is read and thrown away first, within a bound. */
static void drain_input(int fd) {
        char buf[16384];

        for (int i = 0; i < 64; i++)
                if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
                        break;
}

/* Closes CONN and unlinks it, whatever closes it (the client, an idle
 * timeout, eviction, a refusal); its memory waits for the last
 * control_conn_unref() when a reply is still owed (CONTROL_REPLY_LATER),
 * so the holder's pointer stays valid and its reply becomes a no-op. */
static void connection_free(struct control_conn *conn) {
        struct control *c = conn->control;

        if (!conn->gone) {
                if (conn->closing)
                        drain_input(conn->fd);
                list_unlink(c, conn);
                c->n_connections--;
                conn->source = sd_event_source_disable_unref(conn->source);
                conn->idle_source = sd_event_source_disable_unref(conn->idle_source);
                closep(&conn->fd);
                conn->gone = true;
                conn->control = NULL;
        }
        if (conn->n_refs > 0)
                return;
        free(conn->in);
        free(conn->out);
        free(conn);
}

/* Appends TEXT and a newline to the output buffer. -ENOBUFS when the
 * client has left more than CONTROL_OUT_MAX unread. */
static int connection_queue(struct control_conn *conn, const char *text) {
        _cleanup_free_ char *repaired = control_utf8_repair(text, strlen(text));
        size_t len, pending = conn->out_len - conn->out_start;

        if (repaired)
                text = repaired;
        len = strlen(text);

        if (pending + len + 1 > CONTROL_OUT_MAX)
                return -ENOBUFS;
        if (conn->out_start > 0) {
                memmove(conn->out, conn->out + conn->out_start, pending);
                conn->out_start = 0;
                conn->out_len = pending;
        }
        if (conn->out_len + len + 1 > conn->out_size) {
                size_t size = MAX(conn->out_size * 2, conn->out_len + len + 1);
                char *p = realloc(conn->out, size);

                if (!p)
                        return -ENOMEM;
                conn->out = p;
                conn->out_size = size;
        }
        memcpy(conn->out + conn->out_len, text, len);
        conn->out[conn->out_len + len] = '\n';
        conn->out_len += len + 1;
        return 0;
}

/* Takes ownership of REPLY. A NULL reply (json-c out of memory) still
 * gets an answer so the client is not left waiting. */
static int connection_reply(struct control_conn *conn, struct json_object *reply) {
        int r;

        if (!reply)
                return connection_queue(conn, "{\"ok\":false,\"error\":\"out of memory\"}");
        r = connection_queue(conn, json_object_to_json_string_ext(reply, CONTROL_JSON_FLAGS));
        json_object_put(reply);
        return r;
}

static struct json_object *connection_answer(struct control_conn *conn, char *line, size_t len) {
        struct json_object *req = NULL, *reply = NULL;

        if (conn->denied) {
                conn->closing = true;
                return control_error("permission denied: user %s (uid %u) is not in control.allow_users or "
                                     "control.allow_groups",
                                     conn->peer.user, (unsigned)conn->peer.uid);
        }
        if (control_parse_request(line, len, &req, &reply) < 0)
                return reply;
        reply = conn->control->handler(conn, req, conn->control->userdata);
        json_object_put(req);
        return reply;
}

/* Answers every complete line in the input buffer; at EOF also the
 * unterminated rest. Returns the first error of the output queue. */
static int connection_process(struct control_conn *conn, bool eof) {
        size_t start = 0;
        int r = 0;

        while (r >= 0 && !conn->dropped && !conn->held && !(conn->denied && conn->closing) &&
               start < conn->in_len) {
                struct json_object *reply;
                char *line = conn->in + start, *nl;
                size_t len;

                nl = memchr(line, '\n', conn->in_len - start);
                if (!nl && !eof)
                        break;
                len = nl ? (size_t)(nl - line) : conn->in_len - start;
                start += len + (nl ? 1 : 0);
                line[len] = '\0';
                if (len > 0 && line[len - 1] == '\r') /* telnet, socat crlf */
                        line[--len] = '\0';
                if (len == 0)
                        continue;
                reply = connection_answer(conn, line, len);
                if (reply == CONTROL_REPLY_LATER) {
                        /* The daemon owes this client an answer: it is not
                         * idle, and the timer waits until the reply. */
                        conn->held = true;
                        if (conn->idle_source)
                                (void)sd_event_source_set_enabled(conn->idle_source, SD_EVENT_OFF);
                } else
                        r = connection_reply(conn, reply);
        }
        memmove(conn->in, conn->in + start, conn->in_len - start);
        conn->in_len -= start;
        return r;
}

/* Sends what is queued; 1 when the connection is finished and may go. */
static int connection_flush(struct control_conn *conn) {
        uint32_t events;
        int r;

        while (conn->out_start < conn->out_len) {
                ssize_t n = send(conn->fd, conn->out + conn->out_start, conn->out_len - conn->out_start,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                conn->out_start += (size_t)n;
                if (n > 0)
                        connection_touch(conn);
        }
        if (conn->out_start == conn->out_len) {
                conn->out_start = conn->out_len = 0;
                if (conn->closing && !conn->held) /* a held request still gets its reply */
                        return 1;
        }
        events = (conn->closing || conn->held ? 0 : EPOLLIN) | (conn->out_len > 0 ? EPOLLOUT : 0);
        r = sd_event_source_set_io_events(conn->source, events);
        return r < 0 ? r : 0;
}

/* One read per wakeup: epoll is level-triggered, so other clients get
 * their turn between the chunks of a big sender. */
static int connection_grow_input(struct control_conn *conn) {
        size_t size;
        char *p;

        if (conn->in_size - conn->in_len > CONTROL_IN_CHUNK / 2 || conn->in_size >= CONTROL_LINE_MAX + 2)
                return 0;
        size = MIN(MAX(conn->in_size * 2, (size_t)CONTROL_IN_CHUNK), (size_t)CONTROL_LINE_MAX + 2);
        p = realloc(conn->in, size);
        if (!p)
                return -ENOMEM;
        conn->in = p;
        conn->in_size = size;
        return 0;
}

static int connection_read(struct control_conn *conn) {
        size_t room;
        ssize_t n;
        int r;

        r = connection_grow_input(conn);
        if (r < 0)
                return r;
        /* room for one byte past the limit (to tell a line too long) and the NUL */
        room = MIN(conn->in_size - 1, (size_t)CONTROL_LINE_MAX + 1) - conn->in_len;
        n = recv(conn->fd, conn->in + conn->in_len, room, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n > 0)
                connection_touch(conn);
        conn->in_len += (size_t)n;
        r = connection_process(conn, n == 0);
        if (r < 0)
                return r;
        if (n == 0) {
                /* The client may have shut down only its sending side and
                 * still wait for our replies (nc -N, socat). */
                conn->closing = true;
                return 0;
        }
        if (conn->in_len == 0 && conn->in_size > CONTROL_IN_CHUNK) {
                /* a big request is done: do not keep its buffer */
                free(conn->in);
                conn->in = NULL;
                conn->in_size = 0;
        }
        if (conn->in_len > CONTROL_LINE_MAX) {
                conn->closing = true;
                note_refusal(conn->control, REFUSAL_TOO_LONG,
                             "Control request over %u bytes from uid %u (%s), closing the connection",
                             CONTROL_LINE_MAX, (unsigned)conn->peer.uid, conn->peer.user);
                return connection_reply(
                        conn, control_error("request line too long (limit %u bytes)", CONTROL_LINE_MAX));
        }
        return 0;
}

static int connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct control_conn *conn = userdata;
        int r = 0;

        if (conn->dropped) {
                connection_free(conn);
                return 0;
        }
        if (conn->held && (revents & (EPOLLHUP | EPOLLERR)))
                r = -EPIPE; /* gone while its reply is owed */
        else if (!conn->closing && !conn->held && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                r = connection_read(conn);
        if (r >= 0)
                r = connection_flush(conn);
        if (r == -ENOBUFS)
                note_refusal(conn->control, REFUSAL_SLOW,
                             "Control client uid %u (%s) does not read its replies (over %u bytes queued), "
                             "disconnecting",
                             (unsigned)conn->peer.uid, conn->peer.user, CONTROL_OUT_MAX);
        else if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                log_debug_errno(r, "Control connection failed, closing: %m");
        if (r != 0 || conn->dropped)
                connection_free(conn);
        return 0;
}

static int connection_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        struct control_conn *conn = userdata;

        assert(!conn->held); /* the timer is off while a reply is owed */
        log_debug("Control client uid %u (%s) idle for %" PRIu64 " s, closing", (unsigned)conn->peer.uid,
                  conn->peer.user, conn->control->idle_timeout_usec / 1000000u);
        connection_free(conn);
        return 0;
}

static int connection_new(struct control *c, int fd, const struct control_peer *peer, bool denied) {
        struct control_conn *conn;
        uint64_t now;
        int r;

        conn = calloc(1, sizeof *conn);
        if (!conn)
                return -ENOMEM;
        conn->control = c;
        conn->fd = fd;
        conn->peer = *peer;
        conn->denied = denied;
        r = sd_event_add_io(c->event, &conn->source, fd, EPOLLIN, connection_io, conn);
        if (r >= 0 && c->idle_timeout_usec > 0) {
                r = sd_event_now(c->event, CLOCK_MONOTONIC, &now);
                if (r >= 0)
                        r = sd_event_add_time(c->event, &conn->idle_source, CLOCK_MONOTONIC,
                                              now + c->idle_timeout_usec, 1000000, connection_idle, conn);
        }
        if (r < 0) {
                sd_event_source_disable_unref(conn->source);
                free(conn);
                return r;
        }
        list_push_front(c, conn);
        c->n_connections++;
        return 0;
}

struct control_conn *control_conn_ref(struct control_conn *conn) {
        conn->n_refs++;
        return conn;
}

void control_conn_unref(struct control_conn *conn) {
        if (!conn)
                return;
        assert(conn->n_refs > 0);
        if (--conn->n_refs == 0 && conn->gone)
                connection_free(conn);
}

void control_conn_reply(struct control_conn *conn, struct json_object *reply) {
        int r;

        if (conn->gone || !conn->held) {
                json_object_put(reply);
                return;
        }
        conn->held = false;
        connection_touch(conn); /* its idle time starts now */
        if (conn->idle_source)
                (void)sd_event_source_set_enabled(conn->idle_source, SD_EVENT_ONESHOT);
        r = connection_reply(conn, reply);
        if (r >= 0) /* the requests that came after the held one */
                r = connection_process(conn, false);
        if (r >= 0)
                r = connection_flush(conn);
        if (r != 0)
                connection_free(conn); /* our caller still holds a reference */
}

void control_conn_subscribe(struct control_conn *conn) {
        conn->subscribed = true;
        /* a subscriber waits for events: silence is what it is for */
        conn->idle_source = sd_event_source_disable_unref(conn->idle_source);
}

const struct control_peer *control_conn_peer(const struct control_conn *conn) {
        return &conn->peer;
}

unsigned control_connections(const struct control *c) {
        return c->n_connections;
}

unsigned control_subscribers(const struct control *c) {
        unsigned n = 0;

        for (struct control_conn *conn = c->connections; conn; conn = conn->next)
                n += conn->subscribed && !conn->dropped;
        return n;
}

/* A subscriber that cannot take more is shut down and freed at its next
 * wakeup, never here: we may be inside its own handler (a command it sent
 * caused the event). shutdown() makes that wakeup come at once. */
static void connection_drop(struct control_conn *conn, int error) {
        if (error == -ENOBUFS)
                note_refusal(conn->control, REFUSAL_SLOW,
                             "Event subscriber uid %u (%s) does not read its events (over %u bytes queued), "
                             "disconnecting",
                             (unsigned)conn->peer.uid, conn->peer.user, CONTROL_OUT_MAX);
        else
                log_warning_errno(error, "Cannot queue an event for a subscriber: %m, disconnecting");
        conn->dropped = true;
        (void)shutdown(conn->fd, SHUT_RDWR);
        (void)sd_event_source_set_io_events(conn->source, EPOLLIN);
}

void control_broadcast(struct control *c, struct json_object *ev) {
        const char *text = json_object_to_json_string_ext(ev, CONTROL_JSON_FLAGS);

        if (!text)
                return;
        for (struct control_conn *conn = c->connections; conn; conn = conn->next) {
                int r;

                if (!conn->subscribed || conn->dropped || conn->closing)
                        continue;
                r = connection_queue(conn, text);
                if (r >= 0)
                        r = sd_event_source_set_io_events(conn->source, EPOLLIN | EPOLLOUT);
                if (r < 0)
                        connection_drop(conn, r);
        }
}

static int control_retry_accept(sd_event_source *s, uint64_t usec, void *userdata) {
        struct control *c = userdata;

        c->retry_source = sd_event_source_disable_unref(c->retry_source);
        return sd_event_source_set_enabled(c->accept_source, SD_EVENT_ON);
}

/* Out of file descriptors: a level-triggered listener would spin, so
 * pause accepting for a second instead. */
static int control_pause_accept(struct control *c, int error) {
        int r;

        log_warning_errno(error, "Cannot accept control connections: %m; retrying in 1 s");
        r = sd_event_source_set_enabled(c->accept_source, SD_EVENT_OFF);
        if (r < 0 || c->retry_source)
                return r;
        return sd_event_add_time_relative(c->event, &c->retry_source, CLOCK_MONOTONIC,
                                          CONTROL_ACCEPT_RETRY_USEC, 100000, control_retry_accept, c);
}

/* Best effort, without blocking: a client refused at the door is told why. */
static void send_refusal(int fd, const char *message) {
        struct json_object *o = control_error("%s", message);
        const char *text = o ? json_object_to_json_string_ext(o, CONTROL_JSON_FLAGS) : NULL;

        if (text) {
                (void)!send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)!send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        json_object_put(o);
}

static void *memdup(const void *p, size_t n) {
        void *q = malloc(n);

        return q ? memcpy(q, p, n) : NULL;
}

static bool id_in(const unsigned *v, size_t n, unsigned id) {
        for (size_t i = 0; i < n; i++)
                if (v[i] == id)
                        return true;
        return false;
}

/* Root and the daemon's own user (who can read all the daemon can
 * anyway), then the allow-lists; groups include the supplementary ones
 * (SO_PEERGROUPS), as a member of "nextup" expects. */
static bool peer_allowed(const struct control *c, int fd, const struct ucred *cred) {
        gid_t groups[PEER_GROUPS_MAX];
        socklen_t len = sizeof groups;

        if (cred->uid == 0 || cred->uid == geteuid())
                return true;
        if (id_in(c->allow_uids, c->n_allow_uids, cred->uid) ||
            id_in(c->allow_gids, c->n_allow_gids, cred->gid))
                return true;
        if (c->n_allow_gids == 0 || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof groups[0]; i++)
                if (id_in(c->allow_gids, c->n_allow_gids, groups[i]))
                        return true;
        return false;
}

static void peer_name(uid_t uid, char *buf, size_t size) {
        struct passwd pw, *res = NULL;
        char tmp[1024];

        if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res && strlen(res->pw_name) < size)
                snprintf(buf, size, "%s", res->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned)uid);
}

/* Who is calling, and may they: 1 allowed, 0 not (noted; the connection
 * is kept just long enough to answer its first request with why, as a
 * reply sent before the client's request would be lost to a reset), or
 * -errno. */
static int peer_check(struct control *c, int fd, struct control_peer *ret) {
        struct ucred cred;
        socklen_t len = sizeof cred;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        *ret = (struct control_peer){.uid = cred.uid, .gid = cred.gid, .pid = cred.pid};
        peer_name(cred.uid, ret->user, sizeof ret->user);
        if (peer_allowed(c, fd, &cred))
                return 1;
        note_refusal(c, REFUSAL_DENIED, "Control connection from uid %u (%s, pid %d) refused: not allowed",
                     (unsigned)cred.uid, ret->user, (int)cred.pid);
        return 0;
}

/* Full house: the least recently active client goes, a non-subscriber
 * first, so that a fresh client is never locked out by idle ones; one
 * waiting for a held reply is busy, not idle, and goes last of all. Its
 * holder keeps a reference: connection_free() only closes it then. */
static void evict_one(struct control *c) {
        struct control_conn *victim = NULL;

        for (struct control_conn *p = c->last; p && !victim; p = p->prev)
                if (!p->subscribed && !p->held)
                        victim = p;
        for (struct control_conn *p = c->last; p && !victim; p = p->prev)
                if (!p->subscribed)
                        victim = p;
        if (!victim)
                victim = c->last;
        if (!victim)
                return;
        note_refusal(c, REFUSAL_EVICTED,
                     "Control connection limit (%u) reached, closing the least recently active "
                     "(uid %u, %s)",
                     c->max_connections, (unsigned)victim->peer.uid, victim->peer.user);
        if (!victim->closing && victim->out_len == victim->out_start)
                send_refusal(victim->fd, "closed: too many control connections, this one was idle longest");
        connection_free(victim);
}

static int control_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct control *c = userdata;

        for (;;) {
                int cfd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), r;

                if (cfd < 0) {
                        r = -errno;
                        if (r == -EAGAIN)
                                return 0;
                        if (r == -EINTR || r == -ECONNABORTED)
                                continue;
                        return control_pause_accept(c, r);
                }
                struct control_peer peer;

                r = peer_check(c, cfd, &peer);
                if (r < 0) {
                        log_debug_errno(r, "Cannot read the credentials of a control client, closing: %m");
                        close(cfd);
                        continue;
                }
                while (c->n_connections >= c->max_connections && c->n_connections > 0)
                        evict_one(c);
                r = connection_new(c, cfd, &peer, r == 0);
                if (r < 0) {
                        close(cfd);
                        log_warning_errno(r, "Failed to set up control connection, closing it: %m");
                }
        }
}

/* mkdir -p of PATH's parent directories. */
static int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        int r;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        r = fileio_mkdir_p(dir, mode);
        if (r < 0)
                return log_error_errno(r, "Failed to create directory '%s': %m", dir);
        return 0;
}

static int sockaddr_un_set(struct sockaddr_un *sa, const char *path) {
        memset(sa, 0, sizeof *sa);
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof sa->sun_path)
                return log_error_errno(ENAMETOOLONG, "Control socket path '%s' is too long", path);
        strcpy(sa->sun_path, path);
        return 0;
}

/* A socket file left by a crashed daemon is removed; one a live daemon
 * answers on is not ours to take. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : log_error_errno(errno, "Cannot stat '%s': %m", path);
        if (!S_ISSOCK(st.st_mode))
                return log_error_errno(EEXIST, "'%s' exists and is not a socket", path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create socket: %m");
        if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 || errno == EAGAIN)
                return log_error_errno(EADDRINUSE, "Another daemon is listening on '%s'", path);
        if (errno != ECONNREFUSED)
                return log_error_errno(errno, "Cannot probe existing socket '%s': %m", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove stale socket '%s': %m", path);
        log_info("Removed stale control socket '%s'", path);
        return 0;
}

static int control_listen(struct control *c, const char *path, mode_t mode) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa;
        int r;

        r = sockaddr_un_set(&sa, path);
        if (r < 0)
                return r;
        r = mkdir_parents(path, 0755);
        if (r < 0)
                return r;
        r = remove_stale_socket(path, &sa);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create socket: %m");
        if (bind(fd, (const struct sockaddr *)&sa, sizeof sa) < 0)
                return log_error_errno(errno, "Failed to bind control socket '%s': %m", path);
        c->path = strdup(path);
        if (!c->path) {
                unlink(path);
                return -ENOMEM;
        }
        /* Before listen(), so nobody connects under the umask's mode. */
        if (chmod(path, mode) < 0)
                return log_error_errno(errno, "Failed to chmod '%s' to %04o: %m", path, (unsigned)mode);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Failed to listen on '%s': %m", path);
        c->fd = TAKE_FD(fd);
        return 0;
}

int control_set_group(struct control *c, gid_t gid) {
        if (c->adopted || gid == (gid_t)-1 || !c->path)
                return 0;
        /* The mode was set before listen(); until this chown the group is
         * our own, so the window only ever refuses. */
        if (chown(c->path, (uid_t)-1, gid) < 0)
                return log_error_errno(errno, "Failed to give control socket '%s' to group %u: %m", c->path,
                                       (unsigned)gid);
        return 1;
}

/* The first socket systemd passed, if it is a listening Unix stream. */
static int control_adopt(struct control *c) {
        int fd = SD_LISTEN_FDS_START, flags;

        if (sd_listen_fds(0) < 1 || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                return 0;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return log_error_errno(errno, "Failed to make passed socket non-blocking: %m");
        c->fd = fd;
        c->adopted = true;
        log_info("Using the control socket passed by systemd");
        return 1;
}

int control_set_options(struct control *c, const struct control_options *o) {
        uid_t *uids = NULL;
        gid_t *gids = NULL;

        if (o->n_allow_uids > 0) {
                uids = memdup(o->allow_uids, o->n_allow_uids * sizeof *uids);
                if (!uids)
                        return -ENOMEM;
        }
        if (o->n_allow_gids > 0) {
                gids = memdup(o->allow_gids, o->n_allow_gids * sizeof *gids);
                if (!gids) {
                        free(uids);
                        return -ENOMEM;
                }
        }
        free(c->allow_uids);
        free(c->allow_gids);
        c->allow_uids = uids;
        c->n_allow_uids = o->n_allow_uids;
        c->allow_gids = gids;
        c->n_allow_gids = o->n_allow_gids;
        c->idle_timeout_usec = o->idle_timeout_usec;
        c->max_connections = MAX(o->max_connections, 1u);
        return 0;
}

int control_new(sd_event *e, const struct control_options *o, control_handler_t handler, void *userdata,
                struct control **ret) {
        struct control *c;
        int r;

        assert(e && o && handler && ret);
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->fd = -1;
        c->handler = handler;
        c->userdata = userdata;

        r = control_set_options(c, o);
        if (r >= 0)
                r = control_adopt(c);
        if (r == 0)
                r = control_listen(c, o->path, o->mode);
        if (r >= 0) {
                r = sd_event_add_io(e, &c->accept_source, c->fd, EPOLLIN, control_accept, c);
                if (r < 0)
                        log_error_errno(r, "Failed to watch control socket: %m");
        }
        if (r < 0) {
                control_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

struct control *control_free(struct control *c) {
        if (!c)
                return NULL;
        while (c->connections)
                connection_free(c->connections);
        sd_event_source_disable_unref(c->accept_source);
        sd_event_source_disable_unref(c->retry_source);
        sd_event_source_disable_unref(c->refusal_source);
        free(c->allow_uids);
        free(c->allow_gids);
        /* An adopted socket stays open: systemd passes it once, and a
         * later control_new() (reload) can adopt it again. */
        if (!c->adopted)
                closep(&c->fd);
        if (c->path)
                unlink(c->path);
        free(c->path);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
