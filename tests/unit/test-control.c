/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-control.c: the control socket against real clients. A real sd-event
 * loop serves a socket in a temporary directory with an echo handler; the
 * clients are non-blocking sockets in the same thread, and the loop is
 * driven with sd_event_run() while they wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define TIMEOUT_USEC 3000000ULL

struct fixture {
        char dir[64];
        char subdir[96];
        char path[128];
        sd_event *e;
        struct control *c;
        int n_requests;
        struct control_conn *held; /* a "later" request, referenced */
};

struct client {
        int fd;
        char buf[256 * 1024];
        size_t len;
};

/* Echoes "cmd" and counts requests; "fail" gives an error reply, "big"
 * a 100 KiB reply (for the client that never reads), "subscribe" makes the
 * connection a subscriber and "emit" broadcasts an event. */
static struct json_object *echo_handler(struct control_conn *conn, struct json_object *req, void *userdata) {
        struct fixture *f = userdata;
        struct json_object *cmd, *reply;
        const char *name;

        assert_non_null(conn);
        assert_true(json_object_object_get_ex(req, "cmd", &cmd));
        name = json_object_get_string(cmd);
        f->n_requests++;
        if (strcmp(name, "fail") == 0)
                return control_error("failed as asked (%d)", 42);
        if (strcmp(name, "latin1") == 0) /* a file name as a Latin-1 system spells it */
                return control_error("cannot open '/srv/caf\xe9.mp3'");
        if (strcmp(name, "subscribe") == 0)
                control_conn_subscribe(conn);
        if (strcmp(name, "later") == 0) { /* answered by the test, through f->held */
                assert_null(f->held);
                f->held = control_conn_ref(conn);
                return CONTROL_REPLY_LATER;
        }
        if (strcmp(name, "emit") == 0) { /* an event caused by a command */
                struct json_object *ev = json_object_new_object();

                json_object_object_add(ev, "event", json_object_new_string("from_handler"));
                control_broadcast(f->c, ev);
                json_object_put(ev);
        }
        reply = control_ok();
        json_object_object_add(reply, "cmd", json_object_new_string(name));
        json_object_object_add(reply, "n", json_object_new_int(f->n_requests));
        if (strcmp(name, "big") == 0) {
                char *pad = malloc(100 * 1024 + 1);

                memset(pad, 'x', 100 * 1024);
                pad[100 * 1024] = '\0';
                json_object_object_add(reply, "pad", json_object_new_string(pad));
                free(pad);
        }
        return reply;
}

/* The daemon's defaults: 64 connections, 60 s idle timeout. */
static const struct control_options *opts(const char *path, mode_t mode) {
        static struct control_options o;

        o = (struct control_options){
                .path = path,
                .mode = mode,
                .idle_timeout_usec = 60000000u,
                .max_connections = 64,
        };
        return &o;
}

static unsigned long long now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);

        strcpy(f->dir, "/tmp/test-control-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->subdir, sizeof f->subdir, "%s/run", f->dir);
        snprintf(f->path, sizeof f->path, "%s/nextup/control.sock", f->subdir);
        assert_int_equal(sd_event_new(&f->e), 0);
        assert_int_equal(control_new(f->e, opts(f->path, 0640), echo_handler, f, &f->c), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        char d[128];

        assert_null(control_free(f->c));
        assert_int_equal(access(f->path, F_OK), -1); /* we unlink what we created */
        snprintf(d, sizeof d, "%s/nextup", f->subdir);
        rmdir(d);
        rmdir(f->subdir);
        assert_int_equal(rmdir(f->dir), 0);
        sd_event_unref(f->e);
        free(f);
        return 0;
}

static struct client *client_new(const char *path) {
        struct client *cl = calloc(1, sizeof *cl);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        strcpy(sa.sun_path, path);
        cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(cl->fd >= 0);
        /* The listen backlog takes the connection before the loop runs. */
        assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(fcntl(cl->fd, F_SETFL, O_NONBLOCK), 0);
        return cl;
}

static void client_free(struct client *cl) {
        close(cl->fd);
        free(cl);
}

/* Sends all of DATA while running the loop; 0, or -EPIPE/-ECONNRESET
 * when the server closed the connection. */
static int client_send(struct fixture *f, struct client *cl, const char *data, size_t len) {
        unsigned long long deadline = now_usec() + TIMEOUT_USEC;

        while (len > 0) {
                ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EPIPE || errno == ECONNRESET)
                                return -errno;
                        assert_int_equal(errno, EAGAIN);
                        assert_true(now_usec() < deadline);
                        assert_true(sd_event_run(f->e, 10000) >= 0);
                        continue;
                }
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

static void client_send_str(struct fixture *f, struct client *cl, const char *s) {
        assert_int_equal(client_send(f, cl, s, strlen(s)), 0);
}

/* Next reply line (without '\n', caller frees), NULL at EOF; fails the
 * test after the timeout. */
static char *client_read_line(struct fixture *f, struct client *cl) {
        unsigned long long deadline = now_usec() + TIMEOUT_USEC;

        for (;;) {
                char *nl = memchr(cl->buf, '\n', cl->len), *line;
                ssize_t n;

                if (nl) {
                        size_t len = (size_t)(nl - cl->buf);

                        line = strndup(cl->buf, len);
                        memmove(cl->buf, nl + 1, cl->len - len - 1);
                        cl->len -= len + 1;
                        return line;
                }
                assert_true(cl->len < sizeof cl->buf);
                n = recv(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, 0);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return NULL;
                if (n > 0) {
                        cl->len += (size_t)n;
                        continue;
                }
                assert_int_equal(errno, EAGAIN);
                assert_true(now_usec() < deadline);
                assert_true(sd_event_run(f->e, 10000) >= 0);
        }
}

/* Runs the loop a little and asserts that no reply arrived. */
static void client_expect_silence(struct fixture *f, struct client *cl) {
        char c;

        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(f->e, 1000) >= 0);
        assert_int_equal(cl->len, 0);
        assert_int_equal(recv(cl->fd, &c, 1, MSG_PEEK), -1);
        assert_int_equal(errno, EAGAIN);
}

/* Reads one reply and checks "ok" and, when given, "cmd" or "error". */
static void expect_reply(struct fixture *f, struct client *cl, bool ok, const char *cmd_or_error) {
        char *line = client_read_line(f, cl);
        struct json_object *o, *v;

        assert_non_null(line);
        o = json_tokener_parse(line);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "ok", &v));
        assert_int_equal(json_object_get_boolean(v), ok);
        if (cmd_or_error) {
                assert_true(json_object_object_get_ex(o, ok ? "cmd" : "error", &v));
                assert_string_equal(json_object_get_string(v), cmd_or_error);
        }
        json_object_put(o);
        free(line);
}

static void expect_eof(struct fixture *f, struct client *cl) {
        char *line = client_read_line(f, cl);

        assert_null(line);
}

static void test_helpers(void **state) {
        struct json_object *o = control_error("no story #%d", 7);

        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"ok\":false,\"error\":\"no story #7\"}");
        json_object_put(o);
        o = control_ok();
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{\"ok\":true}");
        json_object_put(o);
}

static void test_socket_file(void **state) {
        struct fixture *f = *state;
        struct stat st;

        assert_int_equal(stat(f->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_valid_request(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);
        char *line;

        client_send_str(f, cl, "{\"cmd\":\"status\",\"x\":[1,2]}\n");
        line = client_read_line(f, cl);
        assert_string_equal(line, "{\"ok\":true,\"cmd\":\"status\",\"n\":1}");
        free(line);
        /* Slashes stay unescaped; non-ASCII UTF-8 passes through. */
        client_send_str(f, cl, "{\"cmd\":\"/a/b h\xc3\xa9llo \xe2\x9c\x93\"}\n");
        expect_reply(f, cl, true, "/a/b h\xc3\xa9llo \xe2\x9c\x93");
        client_send_str(f, cl, "{\"cmd\":\"fail\"}\n");
        expect_reply(f, cl, false, "failed as asked (42)");
        client_free(cl);
}

static void test_bad_requests_keep_connection(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);

        client_send_str(f, cl, "hello world\n");
        expect_reply(f, cl, false, "invalid JSON: unexpected character");
        client_send_str(f, cl, "{\"cmd\":\n");
        expect_reply(f, cl, false, "invalid JSON: unexpected end of data");
        client_send_str(f, cl, "{\"cmd\":\"x\"} trailing\n");
        expect_reply(f, cl, false, "invalid JSON: unexpected text after the JSON value");
        client_send_str(f, cl, "[1,2]\n");
        expect_reply(f, cl, false, "request is not a JSON object");
        client_send_str(f, cl, "{\"cmd\":5}\n");
        expect_reply(f, cl, false, "request has no \"cmd\" string");
        client_send_str(f, cl, "{\"id\":5}\n");
        expect_reply(f, cl, false, "request has no \"cmd\" string");
        assert_int_equal(f->n_requests, 0); /* none reached the handler */

        client_send_str(f, cl, "{\"cmd\":\"still-here\"}\n");
        expect_reply(f, cl, true, "still-here");
        client_free(cl);
}

static void test_binary(void **state) {
        static const char nul[] = "{\"cmd\":\"a\0b\"}\n";
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);

        assert_int_equal(client_send(f, cl, nul, sizeof nul - 1), 0);
        expect_reply(f, cl, false, "request is not valid UTF-8 text");
        client_send_str(f, cl, "{\"cmd\":\"\xff\xfe\"}\n");
        expect_reply(f, cl, false, "request is not valid UTF-8 text");
        client_send_str(f, cl, "{\"cmd\":\"\xc0\xaf\"}\n"); /* overlong '/' */
        expect_reply(f, cl, false, "request is not valid UTF-8 text");
        client_send_str(f, cl, "{\"cmd\":\"\xed\xa0\x80\"}\n"); /* surrogate */
        expect_reply(f, cl, false, "request is not valid UTF-8 text");
        client_send_str(f, cl, "{\"cmd\":\"\xe2\x9c\"}\n"); /* truncated */
        expect_reply(f, cl, false, "request is not valid UTF-8 text");
        assert_int_equal(f->n_requests, 0);
        client_send_str(f, cl, "{\"cmd\":\"ok\"}\n");
        expect_reply(f, cl, true, "ok");
        client_free(cl);
}

/* A request of LEN bytes (without the newline), then '\n'. */
static char *make_request(size_t len) {
        static const char head[] = "{\"cmd\":\"long\",\"pad\":\"";
        char *s = malloc(len + 2);

        assert_true(len >= sizeof head + 1);
        memcpy(s, head, sizeof head - 1);
        memset(s + sizeof head - 1, 'p', len - (sizeof head - 1) - 2);
        memcpy(s + len - 2, "\"}\n", 4);
        return s;
}

static void test_line_limit(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);
        char *req = make_request(65536);

        client_send_str(f, cl, req); /* exactly at the limit */
        expect_reply(f, cl, true, "long");
        free(req);

        req = make_request(65537);
        (void)client_send(f, cl, req, strlen(req));
        expect_reply(f, cl, false, "request line too long (limit 65536 bytes)");
        expect_eof(f, cl);
        free(req);
        client_free(cl);
}

static void test_huge_line_then_new_connection(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);
        size_t len = 1024 * 1024;
        char *req = make_request(len);
        int r;

        client_send_str(f, cl, "{\"cmd\":\"before\"}\n");
        r = client_send(f, cl, req, len + 1);
        assert_true(r == 0 || r == -EPIPE || r == -ECONNRESET);
        expect_reply(f, cl, true, "before");
        expect_reply(f, cl, false, "request line too long (limit 65536 bytes)");
        expect_eof(f, cl);
        client_free(cl);
        free(req);

        cl = client_new(f->path);
        client_send_str(f, cl, "{\"cmd\":\"after\"}\n");
        expect_reply(f, cl, true, "after");
        client_free(cl);
}

static void test_pipelined(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);
        char *line;

        client_send_str(f, cl, "{\"cmd\":\"a\"}\n{\"cmd\":\"b\"}\n\n\r\n{\"cmd\":\"c\"}\r\n");
        for (int i = 1; i <= 3; i++) {
                char want[64];

                snprintf(want, sizeof want, "{\"ok\":true,\"cmd\":\"%c\",\"n\":%d}", 'a' + i - 1, i);
                line = client_read_line(f, cl);
                assert_string_equal(line, want);
                free(line);
        }
        client_expect_silence(f, cl); /* empty lines get no reply */
        client_free(cl);
}

static void test_split_request(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);

        client_send_str(f, cl, "{\"cmd\":\"sp");
        client_expect_silence(f, cl);
        client_send_str(f, cl, "lit\"}\n");
        expect_reply(f, cl, true, "split");
        client_expect_silence(f, cl);
        assert_int_equal(f->n_requests, 1);
        client_free(cl);
}

/* A client that shuts down its sending side still gets its replies, even
 * for a last line without '\n' (echo -n ... | nc -U -N). */
static void test_half_close(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);

        client_send_str(f, cl, "{\"cmd\":\"one\"}\n{\"cmd\":\"two\"}");
        assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
        expect_reply(f, cl, true, "one");
        expect_reply(f, cl, true, "two");
        expect_eof(f, cl);
        client_free(cl);
}

/* Replies pile up for a client that never reads: past 1 MiB it is
 * disconnected; others are unaffected. */
static void test_non_reader_disconnected(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path), *other;
        unsigned long long deadline = now_usec() + TIMEOUT_USEC;
        char req[32 * 16];

        req[0] = '\0';
        for (int i = 0; i < 30; i++)
                strcat(req, "{\"cmd\":\"big\"}\n");
        client_send_str(f, cl, req);
        for (;;) {
                assert_true(now_usec() < deadline);
                assert_true(sd_event_run(f->e, 10000) >= 0);
                if (send(cl->fd, "\n", 1, MSG_NOSIGNAL) < 0) {
                        assert_true(errno == EPIPE || errno == ECONNRESET);
                        break;
                }
        }
        assert_true(f->n_requests >= 10); /* 10 x 100 KiB > 1 MiB */
        client_free(cl);

        other = client_new(f->path);
        client_send_str(f, other, "{\"cmd\":\"fine\"}\n");
        expect_reply(f, other, true, "fine");
        client_free(other);
}

/* Over the limit, the least recently active clients are closed (and told
 * why) to let new ones in: 70 clients, the first 6 go. */
static void test_connection_limit(void **state) {
        struct fixture *f = *state;
        struct client *cl[70];
        int served = 0, evicted = 0;

        for (int i = 0; i < 70; i++)
                cl[i] = client_new(f->path);
        for (int i = 0; i < 70; i++) {
                char *line;

                if (client_send(f, cl[i], "{\"cmd\":\"hi\"}\n", 13) < 0) {
                        evicted++;
                        assert_true(i < 6);
                        continue;
                }
                line = client_read_line(f, cl[i]);
                assert_non_null(line);
                if (strstr(line, "too many control connections")) {
                        assert_true(i < 6);
                        evicted++;
                } else
                        served++;
                free(line);
        }
        assert_int_equal(served, 64);
        assert_int_equal(evicted, 6);
        assert_int_equal(control_connections(f->c), 64);
        for (int i = 0; i < 70; i++)
                client_free(cl[i]);

        cl[0] = client_new(f->path); /* slots are freed on close */
        client_send_str(f, cl[0], "{\"cmd\":\"again\"}\n");
        expect_reply(f, cl[0], true, "again");
        client_free(cl[0]);
}

/* A thousand clients that connect and say nothing cannot lock out the
 * next one (issue 8: 64 idle connections locked out every client). */
static void test_idle_crowd_does_not_lock_out(void **state) {
        struct fixture *f = *state;
        enum { N = 1000 };
        struct client **crowd = calloc(N, sizeof *crowd), *cl;

        for (int i = 0; i < N; i++) {
                crowd[i] = client_new(f->path);
                if (i % 100 == 99) /* keep the listen backlog short */
                        for (int k = 0; k < 5; k++)
                                assert_true(sd_event_run(f->e, 1000) >= 0);
        }
        cl = client_new(f->path);
        client_send_str(f, cl, "{\"cmd\":\"fresh\"}\n");
        expect_reply(f, cl, true, "fresh");
        assert_true(control_connections(f->c) <= 64);
        client_free(cl);
        for (int i = 0; i < N; i++)
                client_free(crowd[i]);
        free(crowd);
}

/* A client silent for the idle timeout is closed; a subscriber is not. */
static void test_idle_timeout(void **state) {
        struct fixture *f = *state;
        struct control_options o = *opts(f->path, 0600);
        struct client *cl, *sub;
        unsigned long long start;
        char *line;

        o.idle_timeout_usec = 200000;
        assert_int_equal(control_set_options(f->c, &o), 0);
        cl = client_new(f->path);
        sub = client_new(f->path);
        client_send_str(f, sub, "{\"cmd\":\"subscribe\"}\n");
        expect_reply(f, sub, true, "subscribe");
        client_send_str(f, cl, "{\"cmd\":\"hi\"}\n");
        expect_reply(f, cl, true, "hi");
        start = now_usec();
        line = client_read_line(f, cl); /* EOF once the timer fires (1 s accuracy) */
        assert_null(line);
        assert_true(now_usec() - start >= 150000);
        assert_int_equal(control_subscribers(f->c), 1);
        client_send_str(f, sub, "{\"cmd\":\"still\"}\n");
        expect_reply(f, sub, true, "still");
        client_free(sub);
        client_free(cl);
}

/* Answers the held request with {"ok":true,"cmd":CMD} and drops the
 * reference, as a handler that deferred its reply does. */
static void reply_held(struct fixture *f, const char *cmd) {
        struct json_object *reply = control_ok();

        assert_non_null(f->held);
        json_object_object_add(reply, "cmd", json_object_new_string(cmd));
        control_conn_reply(f->held, reply);
        control_conn_unref(f->held);
        f->held = NULL;
}

/* A client waiting for a held reply is not idle: the daemon owes it an
 * answer. Its idle time starts at the reply. */
static void test_held_reply_not_idle(void **state) {
        struct fixture *f = *state;
        struct control_options o = *opts(f->path, 0600);
        struct client *cl;
        unsigned long long start;

        o.idle_timeout_usec = 200000;
        assert_int_equal(control_set_options(f->c, &o), 0);
        cl = client_new(f->path);
        client_send_str(f, cl, "{\"cmd\":\"later\"}\n{\"cmd\":\"after\"}\n");
        start = now_usec();
        while (now_usec() - start < 1500000) /* past the timeout and its 1 s accuracy */
                assert_true(sd_event_run(f->e, 10000) >= 0);
        assert_non_null(f->held);
        assert_int_equal(control_connections(f->c), 1);
        client_expect_silence(f, cl);
        reply_held(f, "later");
        expect_reply(f, cl, true, "later");
        expect_reply(f, cl, true, "after"); /* read once the held one was answered */
        start = now_usec();
        expect_eof(f, cl); /* idle again now */
        assert_true(now_usec() - start >= 150000);
        client_free(cl);
}

/* Evicting a client whose reply is held closes it but leaves the holder's
 * reference valid (ASan checks); the late reply is dropped. */
static void test_held_reply_evicted(void **state) {
        struct fixture *f = *state;
        struct control_options o = *opts(f->path, 0600);
        struct client *a, *b;
        char *line;

        o.max_connections = 1;
        assert_int_equal(control_set_options(f->c, &o), 0);
        a = client_new(f->path);
        client_send_str(f, a, "{\"cmd\":\"later\"}\n");
        while (!f->held)
                assert_true(sd_event_run(f->e, 10000) >= 0);
        b = client_new(f->path);
        client_send_str(f, b, "{\"cmd\":\"hi\"}\n");
        expect_reply(f, b, true, "hi");
        assert_int_equal(control_connections(f->c), 1);
        line = client_read_line(f, a);
        assert_non_null(line);
        assert_non_null(strstr(line, "too many control connections"));
        free(line);
        expect_eof(f, a);
        reply_held(f, "later"); /* a no-op; the last unref frees it */
        client_free(a);
        client_free(b);
}

/* A client that hangs up while its reply is held. */
static void test_held_reply_client_gone(void **state) {
        struct fixture *f = *state;
        struct client *a = client_new(f->path);

        client_send_str(f, a, "{\"cmd\":\"later\"}\n");
        while (!f->held)
                assert_true(sd_event_run(f->e, 10000) >= 0);
        client_free(a);
        for (int i = 0; i < 50 && control_connections(f->c) > 0; i++)
                assert_true(sd_event_run(f->e, 10000) >= 0);
        assert_int_equal(control_connections(f->c), 0);
        reply_held(f, "later");
}

/* Runs the loop until child PID exits; its exit status. */
static int run_until_exit(struct fixture *f, pid_t pid) {
        unsigned long long deadline = now_usec() + TIMEOUT_USEC;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                assert_true(r >= 0);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
                assert_true(now_usec() < deadline);
                assert_true(sd_event_run(f->e, 10000) >= 0);
        }
}

/* As uid/gid 65534, connects and sends "hi"; exits 0 when the reply
 * contains WANT. */
static pid_t fork_other_user(const char *path, const char *want) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                char buf[1024] = "";
                ssize_t n;
                int fd;

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(3);
                strcpy(sa.sun_path, path);
                fd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                        _exit(4);
                (void)!write(fd, "{\"cmd\":\"hi\"}\n", 13);
                n = read(fd, buf, sizeof buf - 1);
                if (n <= 0)
                        _exit(5);
                buf[n] = '\0';
                _exit(strstr(buf, want) ? 0 : 6);
        }
        return pid;
}

/* SO_PEERCRED: a user not on the allow-list is told so and served
 * nothing; once allowed (by uid or by group) it is served. */
static void test_peer_allow_list(void **state) {
        struct fixture *f = *state;
        struct control_options o = *opts(f->path, 0600);
        uid_t uid = 65534;
        gid_t gid = 65534;

        if (geteuid() != 0)
                skip(); /* needs root to be another user */
        assert_int_equal(chmod(f->path, 0666), 0);
        assert_int_equal(chmod(f->dir, 0755), 0);
        assert_int_equal(chmod(f->subdir, 0755), 0);
        assert_int_equal(
                run_until_exit(
                        f, fork_other_user(f->path, "permission denied: user nobody (uid 65534) is not in")),
                0);
        assert_int_equal(f->n_requests, 0);
        o.allow_uids = &uid;
        o.n_allow_uids = 1;
        assert_int_equal(control_set_options(f->c, &o), 0);
        assert_int_equal(run_until_exit(f, fork_other_user(f->path, "\"cmd\":\"hi\"")), 0);
        o.n_allow_uids = 0;
        o.allow_gids = &gid;
        o.n_allow_gids = 1;
        assert_int_equal(control_set_options(f->c, &o), 0);
        assert_int_equal(run_until_exit(f, fork_other_user(f->path, "\"cmd\":\"hi\"")), 0);
        assert_int_equal(f->n_requests, 2);
}

/* Issue 8: a Latin-1 file name went out as a raw 0xE9 byte, a reply that
 * is not JSON text. Every line leaving the socket is valid UTF-8. */
static void test_replies_are_utf8(void **state) {
        struct fixture *f = *state;
        struct client *cl = client_new(f->path);
        char *line;

        client_send_str(f, cl, "{\"cmd\":\"latin1\"}\n");
        line = client_read_line(f, cl);
        assert_non_null(line);
        assert_string_equal(line, "{\"ok\":false,\"error\":\"cannot open '/srv/caf\xef\xbf\xbd.mp3'\"}");
        free(line);
        client_free(cl);
}

static struct json_object *event(const char *name, size_t pad) {
        struct json_object *ev = json_object_new_object();

        json_object_object_add(ev, "event", json_object_new_string(name));
        if (pad > 0) {
                char *p = malloc(pad + 1);

                memset(p, 'x', pad);
                p[pad] = '\0';
                json_object_object_add(ev, "pad", json_object_new_string(p));
                free(p);
        }
        return ev;
}

/* Only subscribers get events, each as one line, in order; a subscriber
 * may still send requests. */
static void test_subscribe_broadcast(void **state) {
        struct fixture *f = *state;
        struct client *sub = client_new(f->path), *plain = client_new(f->path);
        struct json_object *ev;
        char *line;

        client_send_str(f, sub, "{\"cmd\":\"subscribe\"}\n");
        expect_reply(f, sub, true, "subscribe");
        client_send_str(f, plain, "{\"cmd\":\"hello\"}\n");
        expect_reply(f, plain, true, "hello");
        assert_int_equal(control_subscribers(f->c), 1);

        ev = event("one", 0);
        control_broadcast(f->c, ev);
        json_object_put(ev);
        ev = event("two/x", 0);
        control_broadcast(f->c, ev);
        json_object_put(ev);
        line = client_read_line(f, sub);
        assert_string_equal(line, "{\"event\":\"one\"}");
        free(line);
        line = client_read_line(f, sub);
        assert_string_equal(line, "{\"event\":\"two/x\"}");
        free(line);
        client_expect_silence(f, plain);

        /* An event a subscriber's own command causes comes before its reply. */
        client_send_str(f, sub, "{\"cmd\":\"emit\"}\n");
        line = client_read_line(f, sub);
        assert_string_equal(line, "{\"event\":\"from_handler\"}");
        free(line);
        expect_reply(f, sub, true, "emit");
        client_expect_silence(f, plain);

        client_free(sub);
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(f->e, 1000) >= 0);
        assert_int_equal(control_subscribers(f->c), 0);
        client_free(plain);
}

/* A subscriber that stops reading is dropped once over 1 MiB, without the
 * broadcaster ever waiting; a reading one keeps every event. */
static void test_slow_subscriber_dropped(void **state) {
        struct fixture *f = *state;
        struct client *slow = client_new(f->path), *fast = client_new(f->path);
        unsigned long long t0;
        int got = 0;

        client_send_str(f, slow, "{\"cmd\":\"subscribe\"}\n");
        expect_reply(f, slow, true, "subscribe");
        client_send_str(f, fast, "{\"cmd\":\"subscribe\"}\n");
        expect_reply(f, fast, true, "subscribe");
        t0 = now_usec();
        for (int i = 0; i < 30; i++) { /* 30 x 64 KiB > 1 MiB + socket buffers */
                struct json_object *ev = event("big", 64 * 1024);
                char *line;

                control_broadcast(f->c, ev);
                json_object_put(ev);
                line = client_read_line(f, fast);
                assert_non_null(line);
                assert_true(strncmp(line, "{\"event\":\"big\",", 15) == 0);
                got++;
                free(line);
        }
        assert_true(now_usec() - t0 < TIMEOUT_USEC);
        assert_int_equal(got, 30);
        assert_int_equal(control_subscribers(f->c), 1);
        /* The slow one was shut down: it reads what was sent, then EOF. */
        for (;;) {
                char *line = client_read_line(f, slow);

                if (!line)
                        break;
                free(line);
        }
        client_free(slow);
        client_free(fast);
}

/* Open connections and unread replies at control_free: no leak (ASan). */
static void test_free_with_clients(void **state) {
        struct fixture *f = *state;
        struct client *a = client_new(f->path), *b = client_new(f->path);

        client_send_str(f, a, "{\"cmd\":\"a\"}\n");
        client_send_str(f, b, "{\"cmd\":\"b\"}\n{\"cmd\":\"partial");
        expect_reply(f, a, true, "a");
        expect_reply(f, b, true, "b");
        assert_null(control_free(f->c));
        f->c = NULL;
        expect_eof(f, a);
        expect_eof(f, b);
        client_free(a);
        client_free(b);
}

/* Another live server on the path: refused, and its socket left alone. */
static void test_live_socket_not_taken(void **state) {
        struct fixture *f = *state;
        struct control *second = NULL;
        struct client *cl;

        assert_int_equal(control_new(f->e, opts(f->path, 0600), echo_handler, f, &second), -EADDRINUSE);
        assert_null(second);
        cl = client_new(f->path);
        client_send_str(f, cl, "{\"cmd\":\"first\"}\n");
        expect_reply(f, cl, true, "first");
        client_free(cl);
}

static void test_stale_socket_replaced(void **state) {
        struct fixture *f = *state;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct client *cl;
        struct stat st;
        int fd;

        f->c = control_free(f->c);
        /* A socket file with nobody listening: what a crash leaves. */
        strcpy(sa.sun_path, f->path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        close(fd);
        assert_int_equal(stat(f->path, &st), 0);

        assert_int_equal(control_new(f->e, opts(f->path, 0600), echo_handler, f, &f->c), 0);
        assert_int_equal(stat(f->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        cl = client_new(f->path);
        client_send_str(f, cl, "{\"cmd\":\"new\"}\n");
        expect_reply(f, cl, true, "new");
        client_free(cl);
}

static void test_regular_file_not_replaced(void **state) {
        struct fixture *f = *state;
        struct control *c = NULL;
        FILE *file;

        f->c = control_free(f->c);
        file = fopen(f->path, "w");
        assert_non_null(file);
        fclose(file);
        assert_int_equal(control_new(f->e, opts(f->path, 0600), echo_handler, f, &c), -EEXIST);
        assert_null(c);
        assert_int_equal(unlink(f->path), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_helpers),
                cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_valid_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_requests_keep_connection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
                cmocka_unit_test_setup_teardown(test_line_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_huge_line_then_new_connection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
                cmocka_unit_test_setup_teardown(test_split_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
                cmocka_unit_test_setup_teardown(test_non_reader_disconnected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idle_crowd_does_not_lock_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_reply_not_idle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_reply_evicted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_reply_client_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_replies_are_utf8, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_allow_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_subscribe_broadcast, setup, teardown),
                cmocka_unit_test_setup_teardown(test_slow_subscriber_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_with_clients, setup, teardown),
                cmocka_unit_test_setup_teardown(test_live_socket_not_taken, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_regular_file_not_replaced, setup, teardown),
        };

        return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
