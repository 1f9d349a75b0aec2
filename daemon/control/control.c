/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control.c: the control socket transport (see control.h). A Unix stream
 * socket served on the sd-event loop: each connection reads requests into a
 * fixed 64 KiB line buffer, answers each complete line through the handler
 * and queues the reply in an output buffer written as the socket drains.
 * Everything is non-blocking, so a slow or hostile client costs memory
 * bounded by the line and reply limits, never loop time. A connection a
 * handler subscribes also gets every control_broadcast() event queued the
 * same way; one that lets 1 MiB pile up is dropped. Loop thread only. */
#include "control.h"

#include <assert.h>
#include <fcntl.h>
#include <json-c/json.h>
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

#define CONTROL_LINE_MAX 65536u         /* bytes of one request, without '\n' */
#define CONTROL_OUT_MAX (1024u * 1024u) /* unsent replies before we give up */
#define CONTROL_CONNECTIONS_MAX 64u
#define CONTROL_ACCEPT_RETRY_USEC 1000000u /* after EMFILE and friends */
#define CONTROL_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct control_conn {
        struct control *control;
        struct control_conn *prev, *next;
        int fd;
        sd_event_source *source;
        char *in; /* CONTROL_LINE_MAX + 2: line, '\n', NUL */
        size_t in_len;
        char *out;
        size_t out_start, out_len, out_size;
        bool closing;    /* flush what is queued, then close */
        bool subscribed; /* gets control_broadcast() events */
        bool dropped;    /* too slow a subscriber: freed at its next wakeup */
        bool held;       /* a request answered later (CONTROL_REPLY_LATER): read nothing more */
        bool gone;       /* closed and unlinked, kept only for its references */
        unsigned n_refs; /* control_conn_ref() by whoever owes a reply */
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
        struct control_conn *connections;
        unsigned n_connections;
};

struct json_object *control_error(const char *fmt, ...) {
        struct json_object *o = json_object_new_object();
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                msg = NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(0));
        json_object_object_add(o, "error", json_object_new_string(msg ? msg : "out of memory"));
        return o;
}

struct json_object *control_ok(void) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ok", json_object_new_boolean(1));
        return o;
}

/* Strict UTF-8: no NUL, no overlong forms, no surrogates, nothing past
 * U+10FFFF. json-c would otherwise pass such bytes on to the handler. */
static bool utf8_is_valid(const unsigned char *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                uint32_t cp, min;
                size_t len;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xE0) == 0xC0)
                        len = 2, cp = c & 0x1F, min = 0x80;
                else if ((c & 0xF0) == 0xE0)
                        len = 3, cp = c & 0x0F, min = 0x800;
                else if ((c & 0xF8) == 0xF0)
                        len = 4, cp = c & 0x07, min = 0x10000;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += len;
        }
        return true;
}

/* Closes CONN and unlinks it; its memory waits for the last
 * control_conn_unref() when a reply is still owed. */
static void connection_free(struct control_conn *conn) {
        struct control *c = conn->control;

        if (!conn->gone) {
                if (conn->prev)
                        conn->prev->next = conn->next;
                else
                        c->connections = conn->next;
                if (conn->next)
                        conn->next->prev = conn->prev;
                c->n_connections--;
                conn->source = sd_event_source_disable_unref(conn->source);
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
        size_t len = strlen(text), pending = conn->out_len - conn->out_start;

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

/* Parses one complete JSON value; trailing non-blank text is an error
 * (json_tokener_parse_verbose() would silently ignore it). */
static struct json_object *parse_request(const char *line, size_t len, const char **ret_error) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o;
        size_t end;

        if (!tok) {
                *ret_error = "out of memory";
                return NULL;
        }
        /* len + 1 hands the tokener the NUL too, which ends the input. */
        o = json_tokener_parse_ex(tok, line, (int)len + 1);
        if (!o)
                *ret_error = json_tokener_error_desc(json_tokener_get_error(tok));
        else {
                end = json_tokener_get_parse_end(tok);
                if (end < len && line[end + strspn(line + end, " \t\r")] != '\0') {
                        json_object_put(o);
                        o = NULL;
                        *ret_error = "unexpected text after the JSON value";
                }
        }
        json_tokener_free(tok);
        return o;
}

static struct json_object *connection_answer(struct control_conn *conn, char *line, size_t len) {
        struct json_object *req, *cmd, *reply;
        const char *error = NULL;

        if (!utf8_is_valid((const unsigned char *)line, len))
                return control_error("request is not valid UTF-8 text");
        req = parse_request(line, len, &error);
        if (!req)
                return control_error("invalid JSON: %s", error);
        if (!json_object_is_type(req, json_type_object))
                reply = control_error("request is not a JSON object");
        else if (!json_object_object_get_ex(req, "cmd", &cmd) || !json_object_is_type(cmd, json_type_string))
                reply = control_error("request has no \"cmd\" string");
        else
                reply = conn->control->handler(conn, req, conn->control->userdata);
        json_object_put(req);
        return reply;
}

/* Answers every complete line in the input buffer; at EOF also the
 * unterminated rest. Returns the first error of the output queue. */
static int connection_process(struct control_conn *conn, bool eof) {
        size_t start = 0;
        int r = 0;

        while (r >= 0 && !conn->dropped && !conn->held && start < conn->in_len) {
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
                if (reply == CONTROL_REPLY_LATER)
                        conn->held = true;
                else
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
static int connection_read(struct control_conn *conn) {
        size_t room = CONTROL_LINE_MAX + 1 - conn->in_len;
        ssize_t n;
        int r;

        n = recv(conn->fd, conn->in + conn->in_len, room, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
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
        if (conn->in_len > CONTROL_LINE_MAX) {
                conn->closing = true;
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
                log_warning("Control client does not read its replies (over %u bytes queued), "
                            "disconnecting",
                            CONTROL_OUT_MAX);
        else if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                log_debug_errno(r, "Control connection failed, closing: %m");
        if (r != 0 || conn->dropped)
                connection_free(conn);
        return 0;
}

static int connection_new(struct control *c, int fd) {
        struct control_conn *conn;
        int r;

        conn = calloc(1, sizeof *conn);
        if (!conn)
                return -ENOMEM;
        conn->control = c;
        conn->fd = fd;
        conn->in = malloc(CONTROL_LINE_MAX + 2);
        if (!conn->in) {
                free(conn);
                return -ENOMEM;
        }
        r = sd_event_add_io(c->event, &conn->source, fd, EPOLLIN, connection_io, conn);
        if (r < 0) {
                free(conn->in);
                free(conn);
                return r;
        }
        conn->next = c->connections;
        if (c->connections)
                c->connections->prev = conn;
        c->connections = conn;
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
                log_warning("Event subscriber does not read its events (over %u bytes queued), "
                            "disconnecting",
                            CONTROL_OUT_MAX);
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
                if (c->n_connections >= CONTROL_CONNECTIONS_MAX) {
                        log_warning("Too many control connections (%u), refusing one", c->n_connections);
                        close(cfd);
                        continue;
                }
                r = connection_new(c, cfd);
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
        return 0;
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

int control_new(sd_event *e, const char *path, mode_t mode, control_handler_t handler, void *userdata,
                struct control **ret) {
        struct control *c;
        int r;

        assert(e && handler && ret);
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->fd = -1;
        c->handler = handler;
        c->userdata = userdata;

        r = control_adopt(c);
        if (r == 0)
                r = control_listen(c, path, mode);
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
