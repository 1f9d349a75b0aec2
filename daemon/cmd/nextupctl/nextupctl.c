/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl.c: the control client of nextupd. Builds one JSON request from
 * the command line, sends it as one line over the control socket, waits at
 * most 10 s for one reply line and prints it for humans (or raw with
 * --json). Exit 0 on an ok reply, 1 on an error reply, 2 on usage errors or
 * when the daemon cannot be reached. File arguments are made absolute here,
 * since the daemon does not share our working directory. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-util.h"
#include "nextupctl-common.h"
#include "nextupctl-calibrate.h"
#include "nextupctl-events.h"
#include "nextupctl-help.h"
#include "nextupctl-schedule.h"

#ifndef NEXTUP_VERSION
#define NEXTUP_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2

struct options {
        const char *socket;
        bool json;
        bool next;
        const char *at; /* --at N, validated later */
        char *args[8];  /* command and its operands */
        int n_args;
};

static void usage(FILE *f) {
        fputs("Usage: nextupctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
              "\n"
              "Commands:\n"
              "  add AUDIO TRANSCRIPT                      queue a story at the end\n"
              "  insert [--next | --at N] AUDIO TRANSCRIPT queue a story at position N (0 = next)\n"
              "  remove ID                                 drop a queued story\n"
              "  move ID POSITION                          move a queued story\n"
              "  list                                      show what is on air and queued\n"
              "  status                                    show the player state\n"
              "  skip | pause | resume | clear             control the player and queue\n"
              "  reopen                                    reopen the caption files (after logrotate)\n"
              "  asrun [--since WHEN] [--until WHEN] [--csv]\n"
              "                                            what aired (WHEN: 2026-11-27T10:00, 10:00,\n"
              "                                            -1h, -30m, -2d, epoch ms)\n"
              "  subscribe | events                        print events (next up, on/off air, queue,\n"
              "                                            alerts) until interrupted\n"
              "  at TIME [--hard | --soft | --wait S] [--name NAME] AUDIO TRANSCRIPT\n"
              "                                            play a story at TIME: HH:MM[:SS] today or\n"
              "                                            YYYY-MM-DDTHH:MM[:SS] (local); hard cuts what\n"
              "                                            plays, soft (default) makes it next up, wait\n"
              "                                            is soft unless that is more than S s late\n"
              "  schedule                                  list the clock events, next first\n"
              "  unschedule ID                             drop a one-off clock event\n"
              "  calibrate [--source PULSE_SOURCE [--server ADDR] | --record CMD]\n"
              "            [--rate N] [--channels N] [--marker MP3] [--timeout S]\n"
              "                                            measure the output latency (latency_ms)\n"
              "  help [COMMAND]                            this help, or COMMAND's (also COMMAND --help)\n"
              "\n"
              "Options:\n"
              "  -s, --socket PATH  control socket (default $NEXTUP_SOCKET, else " CTL_DEFAULT_SOCKET ")\n"
              "      --json         print the daemon's raw JSON reply\n"
              "  -h, --help         show this help\n"
              "  -V, --version      show the version\n",
              f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs("nextupctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'nextupctl --help'.\n", stderr);
        return -EINVAL;
}

/* Options may come before or after the command ("list --json"); "--" ends
 * them, for file names that start with '-'. Returns 1 when --help or
 * --version was handled. */
static int parse_argv(int argc, char **argv, struct options *o) {
        bool dashdash = false;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];

                /* "-1" is an operand, so that parse_index() can say why
                 * it is refused. */
                if (dashdash || a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9')) {
                        if (o->n_args >= (int)ELEMENTSOF(o->args))
                                return usage_error("too many arguments");
                        o->args[o->n_args++] = argv[i];
                } else if (strcmp(a, "--") == 0)
                        dashdash = true;
                else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        usage(stdout);
                        return 1;
                } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
                        puts("nextupctl " NEXTUP_VERSION);
                        return 1;
                } else if (strcmp(a, "--json") == 0)
                        o->json = true;
                else if (strcmp(a, "--next") == 0)
                        o->next = true;
                else if (strncmp(a, "--socket=", 9) == 0)
                        o->socket = a + 9;
                else if (strncmp(a, "--at=", 5) == 0)
                        o->at = a + 5;
                else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 || strcmp(a, "--at") == 0) {
                        if (i + 1 >= argc)
                                return usage_error("option '%s' needs an argument", a);
                        if (strcmp(a, "--at") == 0)
                                o->at = argv[++i];
                        else
                                o->socket = argv[++i];
                } else
                        return usage_error("unknown option '%s'", a);
        }
        return 0;
}

/* IDs and positions: plain decimal digits, nothing else (no sign, no
 * blanks), within int range. */
static int parse_index(const char *what, const char *s, struct json_object *req, const char *key) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > INT_MAX)
                return usage_error("invalid %s '%s': expected a non-negative integer", what, s);
        json_object_object_add(req, key, json_object_new_int64(v));
        return 0;
}

static int add_path(const char *what, const char *path, struct json_object *req, const char *key) {
        _cleanup_free_ char *abs = NULL;

        if (path[0] == '\0')
                return usage_error("empty %s file name", what);
        abs = ctl_abs_path(path);
        if (!abs)
                return usage_error("cannot resolve '%s': %s", path, strerror(errno));
        json_object_object_add(req, key, json_object_new_string(abs));
        return 0;
}

static int build_story(struct options *o, struct json_object *req) {
        int r;

        if (o->n_args != 3)
                return usage_error("'%s' needs AUDIO and TRANSCRIPT", o->args[0]);
        r = add_path("audio", o->args[1], req, "audio");
        if (r >= 0)
                r = add_path("transcript", o->args[2], req, "transcript");
        return r;
}

static int build_insert(struct options *o, struct json_object *req) {
        int r;

        if (o->next && o->at)
                return usage_error("use either --next or --at, not both");
        r = build_story(o, req);
        if (r < 0)
                return r;
        if (o->at)
                return parse_index("position", o->at, req, "position");
        json_object_object_add(req, "position", json_object_new_int(0));
        return 0;
}

/* Checks the operands of CMD and fills REQ. */
static int build_request(struct options *o, struct json_object *req) {
        static const char *const bare[] = {"list", "status", "skip", "pause", "resume", "clear", "reopen"};
        const char *cmd = o->args[0];
        int r;

        if ((o->next || o->at) && strcmp(cmd, "insert") != 0)
                return usage_error("--next and --at only go with 'insert'");
        if (strcmp(cmd, "add") == 0)
                return build_story(o, req);
        if (strcmp(cmd, "insert") == 0)
                return build_insert(o, req);
        if (strcmp(cmd, "remove") == 0) {
                if (o->n_args != 2)
                        return usage_error("'remove' needs an ID");
                return parse_index("ID", o->args[1], req, "id");
        }
        if (strcmp(cmd, "move") == 0) {
                if (o->n_args != 3)
                        return usage_error("'move' needs an ID and a POSITION");
                r = parse_index("ID", o->args[1], req, "id");
                return r < 0 ? r : parse_index("position", o->args[2], req, "position");
        }
        for (size_t i = 0; i < ELEMENTSOF(bare); i++)
                if (strcmp(cmd, bare[i]) == 0)
                        return o->n_args == 1 ? 0 : usage_error("'%s' takes no arguments", cmd);
        return usage_error("unknown command '%s'", cmd);
}

/* mm:ss, minutes not capped; "--:--" for an unknown (negative) time. */
static const char *fmt_time(long long ms, char buf[static 32]) {
        if (ms < 0)
                return "--:--";
        snprintf(buf, 32, "%02lld:%02lld", ms / 60000, ms / 1000 % 60);
        return buf;
}

static void print_list(struct json_object *reply) {
        struct json_object *on_air = json_get_typed(reply, "on_air", json_type_object), *queue;
        char t[32];
        size_t n = 0;

        if (on_air)
                printf("On air: #%-3lld  %s  %s\n", ctl_json_int(on_air, "id", -1),
                       fmt_time(ctl_json_int(on_air, "duration_ms", -1), t),
                       ctl_json_str(on_air, "title", ""));
        else
                puts("On air: nothing");
        if (json_object_object_get_ex(reply, "queue", &queue) && json_object_is_type(queue, json_type_array))
                n = json_object_array_length(queue);
        if (n == 0)
                puts("Queue is empty");
        for (size_t i = 0; i < n; i++) {
                struct json_object *s = json_object_array_get_idx(queue, i);

                printf("%3zu  #%-3lld  %s  %s\n", i, ctl_json_int(s, "id", -1),
                       fmt_time(ctl_json_int(s, "duration_ms", -1), t), ctl_json_str(s, "title", ""));
        }
}

/* Local HH:MM:SS of wall-clock MS; "unknown" when negative. */
static const char *fmt_clock(long long ms, char buf[static 32]) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (ms < 0 || !localtime_r(&t, &tm) || strftime(buf, 32, "%H:%M:%S", &tm) == 0)
                return "unknown";
        return buf;
}

/* 3d04h, 1h02m, 5m07s, 12s. */
static const char *fmt_uptime(long long ms, char buf[static 32]) {
        long long s = ms / 1000;

        if (s >= 86400)
                snprintf(buf, 32, "%lldd%02lldh", s / 86400, s / 3600 % 24);
        else if (s >= 3600)
                snprintf(buf, 32, "%lldh%02lldm", s / 3600, s / 60 % 60);
        else if (s >= 60)
                snprintf(buf, 32, "%lldm%02llds", s / 60, s % 60);
        else
                snprintf(buf, 32, "%llds", s);
        return buf;
}

static void print_status(struct json_object *reply) {
        struct json_object *on_air = json_get_typed(reply, "on_air", json_type_object),
                           *next = json_get_typed(reply, "next", json_type_object),
                           *alert = json_get_typed(reply, "last_alert", json_type_object);
        long long n = ctl_json_int(reply, "queue_length", 0);
        char t1[32], t2[32];

        printf("State: %s\n", ctl_json_str(reply, "state", "unknown"));
        if (on_air)
                printf("On air: %s %s/%s\n", ctl_json_str(on_air, "title", ""),
                       fmt_time(ctl_json_int(reply, "position_ms", -1), t1),
                       fmt_time(ctl_json_int(on_air, "duration_ms", -1), t2));
        else
                puts("On air: nothing");
        printf("Next up: %s\n", next ? ctl_json_str(next, "title", "") : "nothing");
        printf("Queue: %lld %s, ends at %s\n", n, n == 1 ? "story" : "stories",
               fmt_clock(ctl_json_int(reply, "queue_end_ms", -1), t1));
        printf("Output: %s (%s)\n", ctl_json_str(reply, "output", "unknown"),
               strcmp(ctl_json_str(reply, "output_state", "up"), "down") == 0 ? "DOWN: not on air" : "up");
        if (alert)
                printf("Last alert: %s %s\n", fmt_clock(ctl_json_int(alert, "time_ms", -1), t1),
                       ctl_json_str(alert, "message", ""));
        else
                puts("Last alert: none");
        printf("Daemon: nextupd %s, up %s\n", ctl_json_str(reply, "version", "unknown"),
               fmt_uptime(ctl_json_int(reply, "uptime_ms", 0), t2));
}

/* Returns the exit status for REPLY_LINE. */
static int handle_reply(const char *cmd, const char *reply_line, bool json) {
        _cleanup_json_ struct json_object *reply = json_tokener_parse(reply_line);
        struct json_object *ok;

        if (!reply || !json_object_object_get_ex(reply, "ok", &ok) ||
            !json_object_is_type(ok, json_type_boolean)) {
                fprintf(stderr, "nextupctl: invalid reply from the daemon: %s\n", reply_line);
                return EXIT_FAILURE;
        }
        if (json)
                puts(reply_line);
        if (!json_object_get_boolean(ok)) {
                fprintf(stderr, "nextupctl: %s\n", ctl_json_str(reply, "error", "unknown error"));
                return EXIT_FAILURE;
        }
        if (json)
                return EXIT_SUCCESS;
        if (strcmp(cmd, "add") == 0 || strcmp(cmd, "insert") == 0)
                printf("Queued #%lld '%s' at position %lld\n", ctl_json_int(reply, "id", -1),
                       ctl_json_str(reply, "title", ""), ctl_json_int(reply, "position", -1));
        else if (strcmp(cmd, "list") == 0)
                print_list(reply);
        else if (strcmp(cmd, "status") == 0)
                print_status(reply);
        return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        _cleanup_json_ struct json_object *req = NULL;
        _cleanup_free_ char *reply_line = NULL;
        struct options o = {0};
        const char *env = getenv("NEXTUP_SOCKET");
        int r;

        if (help_wanted(argc, argv))
                return help_main(argc, argv, usage);
        if (calibrate_wanted(argc, argv))
                return calibrate_main(argc, argv);
        if (events_wanted(argc, argv))
                return events_main(argc, argv);
        if (schedule_wanted(argc, argv))
                return schedule_main(argc, argv);
        r = parse_argv(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_USAGE;
        if (o.n_args == 0) {
                usage_error("no command given");
                return EXIT_USAGE;
        }
        if (!o.socket)
                o.socket = env && env[0] ? env : CTL_DEFAULT_SOCKET;
        if (o.socket[0] == '\0') {
                usage_error("empty socket path");
                return EXIT_USAGE;
        }

        req = json_object_new_object();
        json_object_object_add(req, "cmd", json_object_new_string(o.args[0]));
        r = build_request(&o, req);
        if (r == -ENOMEM) {
                fputs("nextupctl: out of memory\n", stderr);
                return EXIT_FAILURE;
        }
        if (r < 0)
                return EXIT_USAGE;

        r = ctl_exchange(o.socket, req, &reply_line);
        if (r < 0)
                return EXIT_USAGE;
        return handle_reply(o.args[0], reply_line, o.json);
}
