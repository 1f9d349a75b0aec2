/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-schedule.c: `nextupctl at TIME [--hard | --soft | --wait S]
 * [--name NAME] AUDIO TRANSCRIPT`, `nextupctl schedule` and `nextupctl
 * unschedule ID` (see nextupctl-schedule.h). TIME goes to the daemon as
 * written: it is the daemon's local time that counts, and the daemon says
 * why a time is refused (malformed, or past). Exit codes as in nextupctl:
 * 0 ok, 1 error reply, 2 usage error or daemon unreachable. */
#include "nextupctl-schedule.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-util.h"
#include "nextupctl-common.h"

#define EXIT_USAGE 2

struct opts {
        const char *socket, *mode, *wait, *name;
        bool json;
        const char *args[5];
        int n_args;
};

/* "nextupctl: MSG 'ARG'" (ARG may be NULL). */
static int usage_error(const char *msg, const char *arg) {
        fprintf(stderr, "nextupctl: %s%s%s%s\nTry 'nextupctl --help'.\n", msg, arg ? " '" : "",
                arg ? arg : "", arg ? "'" : "");
        return -EINVAL;
}

static bool takes_value(const char *a) {
        return strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 || strcmp(a, "--wait") == 0 ||
               strcmp(a, "--name") == 0;
}

bool schedule_wanted(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (takes_value(argv[i])) {
                        i++;
                        continue;
                }
                if (argv[i][0] != '-')
                        return strcmp(argv[i], "at") == 0 || strcmp(argv[i], "schedule") == 0 ||
                               strcmp(argv[i], "unschedule") == 0;
        }
        return false;
}

static int set_mode(struct opts *o, const char *mode) {
        if (o->mode && strcmp(o->mode, mode) != 0)
                return usage_error("--hard, --soft and --wait exclude each other", NULL);
        o->mode = mode;
        return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                int r = 0;

                if (a[0] != '-' || a[1] == '\0') {
                        if (o->n_args >= (int)ELEMENTSOF(o->args))
                                return usage_error("too many arguments", NULL);
                        o->args[o->n_args++] = a;
                } else if (strcmp(a, "--json") == 0)
                        o->json = true;
                else if (strcmp(a, "--hard") == 0 || strcmp(a, "--soft") == 0)
                        r = set_mode(o, a + 2);
                else if (takes_value(a)) {
                        if (i + 1 >= argc)
                                return usage_error("this option needs an argument:", a);
                        if (strcmp(a, "--wait") == 0) {
                                r = set_mode(o, "wait");
                                o->wait = argv[++i];
                        } else if (strcmp(a, "--name") == 0)
                                o->name = argv[++i];
                        else
                                o->socket = argv[++i];
                } else
                        return usage_error("unknown option", a);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Plain decimal in [0, MAX]. */
static int parse_uint(const char *what, const char *s, long long max, long long *ret) {
        char *end;
        long long v;

        if (!s || !*s || strspn(s, "0123456789") != strlen(s))
                return usage_error(what, s ? s : "");
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || v > max)
                return usage_error(what, s);
        *ret = v;
        return 0;
}

static int add_path(const char *path, struct json_object *req, const char *key) {
        _cleanup_free_ char *abs = NULL;

        if (path[0] == '\0')
                return usage_error("empty file name", NULL);
        abs = ctl_abs_path(path);
        if (!abs)
                return -errno;
        json_object_object_add(req, key, json_object_new_string(abs));
        return 0;
}

static int build_at(const struct opts *o, struct json_object *req) {
        long long wait_s;
        int r;

        if (o->n_args != 4)
                return usage_error("'at' needs TIME AUDIO TRANSCRIPT", NULL);
        json_object_object_add(req, "time", json_object_new_string(o->args[1]));
        json_object_object_add(req, "mode", json_object_new_string(o->mode ? o->mode : "soft"));
        if (o->wait) {
                r = parse_uint("--wait needs seconds, 0..3600, not", o->wait, 3600, &wait_s);
                if (r < 0)
                        return r;
                json_object_object_add(req, "wait_s", json_object_new_int64(wait_s));
        }
        if (o->name)
                json_object_object_add(req, "name", json_object_new_string(o->name));
        r = add_path(o->args[2], req, "audio");
        return r < 0 ? r : add_path(o->args[3], req, "transcript");
}

static int build_request(const struct opts *o, struct json_object *req) {
        const char *cmd = o->args[0];
        long long id;
        int r;

        json_object_object_add(req, "cmd", json_object_new_string(cmd));
        if ((o->mode || o->name) && strcmp(cmd, "at") != 0)
                return usage_error("--hard, --soft, --wait and --name are options of 'at', not of", cmd);
        if (strcmp(cmd, "at") == 0)
                return build_at(o, req);
        if (strcmp(cmd, "unschedule") == 0) {
                if (o->n_args != 2)
                        return usage_error("'unschedule' needs an event ID", NULL);
                r = parse_uint("the event ID must be a number, not", o->args[1], INT64_MAX, &id);
                if (r < 0)
                        return r;
                json_object_object_add(req, "event", json_object_new_int64(id));
                return 0;
        }
        if (o->n_args != 1)
                return usage_error("'schedule' takes no arguments", NULL);
        return 0;
}

/* ---- printing -------------------------------------------------------- */

static const char *local_time(long long ms, char buf[static 32]) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (ms < 0 || !localtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return "?";
        return buf;
}

static void print_schedule(struct json_object *reply) {
        struct json_object *events, *rec;
        size_t n = 0;
        char t[32];

        if (json_object_object_get_ex(reply, "events", &events) &&
            json_object_is_type(events, json_type_array))
                n = json_object_array_length(events);
        if (n == 0)
                puts("Nothing scheduled");
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(events, i);
                bool recurring =
                        json_object_object_get_ex(e, "recurring", &rec) && json_object_get_boolean(rec);
                char mode[32];

                if (strcmp(ctl_json_str(e, "mode", ""), "wait") == 0)
                        snprintf(mode, sizeof mode, "wait %llds", ctl_json_int(e, "wait_s", -1));
                else
                        snprintf(mode, sizeof mode, "%s", ctl_json_str(e, "mode", ""));
                printf("#%-3lld  %s  %-9s  %-8s  %-8s  %s  %s\n", ctl_json_int(e, "event", -1),
                       local_time(ctl_json_int(e, "at_ms", -1), t), mode,
                       recurring ? ctl_json_str(e, "days", "") : "once", ctl_json_str(e, "state", ""),
                       ctl_json_str(e, "name", ""), ctl_json_str(e, "audio", ""));
        }
}

static int handle_reply(const struct opts *o, const char *line) {
        _cleanup_json_ struct json_object *reply = json_tokener_parse(line);
        struct json_object *ok;
        char t[32];

        if (!reply || !json_object_object_get_ex(reply, "ok", &ok) ||
            !json_object_is_type(ok, json_type_boolean)) {
                fprintf(stderr, "nextupctl: invalid reply from the daemon: %s\n", line);
                return EXIT_FAILURE;
        }
        if (o->json)
                puts(line);
        if (!json_object_get_boolean(ok)) {
                fprintf(stderr, "nextupctl: %s\n", ctl_json_str(reply, "error", ""));
                return EXIT_FAILURE;
        }
        if (o->json)
                return EXIT_SUCCESS;
        if (strcmp(o->args[0], "at") == 0)
                printf("Scheduled event #%lld '%s' (%s) at %s\n", ctl_json_int(reply, "event", -1),
                       ctl_json_str(reply, "name", ""), ctl_json_str(reply, "mode", ""),
                       local_time(ctl_json_int(reply, "at_ms", -1), t));
        else if (strcmp(o->args[0], "schedule") == 0)
                print_schedule(reply);
        return EXIT_SUCCESS;
}

int schedule_main(int argc, char **argv) {
        _cleanup_json_ struct json_object *req = json_object_new_object();
        _cleanup_free_ char *line = NULL;
        struct opts o = {0};
        const char *env = getenv("NEXTUP_SOCKET");
        int r;

        if (!req)
                return EXIT_FAILURE;
        r = parse_opts(argc, argv, &o);
        if (r < 0 || o.n_args == 0)
                return EXIT_USAGE;
        if (!o.socket)
                o.socket = env && env[0] ? env : CTL_DEFAULT_SOCKET;
        r = build_request(&o, req);
        if (r == -ENOMEM) {
                fputs("nextupctl: out of memory\n", stderr);
                return EXIT_FAILURE;
        }
        if (r < 0)
                return EXIT_USAGE;
        if (ctl_exchange(o.socket, req, &line) < 0)
                return EXIT_USAGE;
        return handle_reply(&o, line);
}
