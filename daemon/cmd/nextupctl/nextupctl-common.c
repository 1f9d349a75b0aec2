/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-common.c: see nextupctl-common.h. One copy of the connect and
 * reply-reading code that nextupctl.c, -events.c, -schedule.c and
 * -calibrate.c each used to carry. */
#include "nextupctl-common.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-util.h"

int ctl_connect(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

const char *ctl_json_str(struct json_object *o, const char *key, const char *fallback) {
        const char *s = o ? json_get_str(o, key) : NULL;

        return s ? s : fallback;
}

long long ctl_json_int(struct json_object *o, const char *key, long long fallback) {
        int64_t v;

        return o && json_get_int(o, key, &v) > 0 ? v : fallback;
}

char *ctl_abs_path(const char *path) {
        _cleanup_free_ char *cwd = NULL;
        char *abs;

        if (path[0] == '/')
                return strdup(path);
        abs = realpath(path, NULL);
        if (abs)
                return abs;
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return NULL;
        if (asprintf(&abs, "%s/%s", cwd, path) < 0)
                return errno = ENOMEM, NULL;
        return abs;
}

long long ctl_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for EVENTS on FD until DEADLINE: 0 ready, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, long long deadline) {
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                long long left = deadline - ctl_now_ms();
                int n;

                if (left <= 0)
                        return -ETIMEDOUT;
                n = poll(&p, 1, (int)left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

static int send_all(int fd, const char *buf, size_t len, long long deadline) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                int r;

                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                return -errno;
                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

int ctl_send(int fd, struct json_object *req, long long deadline) {
        _cleanup_free_ char *line = NULL;

        if (asprintf(&line, "%s\n", json_object_to_json_string_ext(req, CTL_JSON_FLAGS)) < 0)
                return -ENOMEM;
        return send_all(fd, line, strlen(line), deadline);
}

/* Reads up to the first '\n'; returns the line without it. -EPIPE when
 * the daemon closed the connection first. */
static int read_line(int fd, long long deadline, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        for (;;) {
                ssize_t n;
                char *nl;
                int r;

                if (size - len < 4096) {
                        char *p;

                        if (size >= CTL_REPLY_MAX)
                                return -EMSGSIZE;
                        p = realloc(buf, size = size ? size * 2 : 8192);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = recv(fd, buf + len, size - len - 1, MSG_DONTWAIT);
                if (n == 0)
                        return -EPIPE;
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                return -errno;
                        r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                nl = memchr(buf + len, '\n', (size_t)n);
                len += (size_t)n;
                if (nl) {
                        *nl = '\0';
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
        }
}

int ctl_exchange(const char *path, struct json_object *req, char **ret_reply) {
        _cleanup_close_ int fd = -1;
        long long deadline;
        int r;

        r = ctl_connect(path, &fd);
        if (r < 0) {
                fprintf(stderr, "nextupctl: cannot connect to '%s': %s\n", path, strerror(-r));
                return r;
        }
        deadline = ctl_now_ms() + CTL_REPLY_TIMEOUT_MS;
        r = ctl_send(fd, req, deadline);
        if (r >= 0)
                r = read_line(fd, deadline, ret_reply);
        if (r == -ETIMEDOUT)
                fprintf(stderr, "nextupctl: no reply from '%s' within %d s\n", path,
                        CTL_REPLY_TIMEOUT_MS / 1000);
        else if (r == -EPIPE || r == -ECONNRESET)
                fprintf(stderr, "nextupctl: '%s' closed the connection without a reply\n", path);
        else if (r < 0)
                fprintf(stderr, "nextupctl: talking to '%s' failed: %s\n", path, strerror(-r));
        return r;
}

int ctl_check_reply(struct json_object *reply, const char *line) {
        struct json_object *ok;

        if (!reply || !json_object_object_get_ex(reply, "ok", &ok) ||
            !json_object_is_type(ok, json_type_boolean)) {
                fprintf(stderr, "nextupctl: invalid reply from the daemon: %s\n", line);
                return -EBADMSG;
        }
        if (!json_object_get_boolean(ok)) {
                fprintf(stderr, "nextupctl: %s\n", ctl_json_str(reply, "error", "unknown error"));
                return -EREMOTEIO;
        }
        return 0;
}

int ctl_request(const char *path, struct json_object *req, struct json_object **ret) {
        _cleanup_free_ char *line = NULL;
        struct json_object *reply;
        int r;

        r = ctl_exchange(path, req, &line);
        if (r < 0)
                return r;
        reply = json_tokener_parse(line);
        r = ctl_check_reply(reply, line);
        if (r < 0) {
                json_object_put(reply);
                return r;
        }
        *ret = reply;
        return 0;
}
