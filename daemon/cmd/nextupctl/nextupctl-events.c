/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-events.c: `nextupctl asrun [--since WHEN] [--until WHEN]
 * [--csv | --json]` and `nextupctl subscribe [--json]` (see
 * nextupctl-events.h). asrun asks for pages ({"cmd":"asrun",...,"offset"})
 * until the daemon sends no "next_offset", so a long log never exceeds the
 * daemon's reply limit. subscribe sends {"cmd":"subscribe"}, reads the
 * {"ok":true} reply and then prints every event line as it comes. Exit
 * codes as in nextupctl: 0 ok, 1 error reply or the stream ended, 2 usage
 * error or daemon unreachable. */
#include "nextupctl-events.h"

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
#include "nextupctl-common.h"

#define LINE_MAX_BYTES (64u * 1024u * 1024u)
#define EXIT_USAGE 2

struct opts {
        const char *socket, *since, *until, *cmd;
        bool json, csv;
};

struct reader {
        int fd;
        char *buf;
        size_t len, size;
};

static int usage_error(const char *msg, const char *arg) {
        fprintf(stderr, "nextupctl: %s%s%s%s\nTry 'nextupctl --help'.\n", msg, arg ? " '" : "",
                arg ? arg : "", arg ? "'" : "");
        return -EINVAL;
}

static bool is_ours(const char *cmd) {
        return strcmp(cmd, "asrun") == 0 || strcmp(cmd, "subscribe") == 0 || strcmp(cmd, "events") == 0;
}

static bool takes_value(const char *a) {
        return strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 || strcmp(a, "--since") == 0 ||
               strcmp(a, "--until") == 0;
}

bool events_wanted(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (takes_value(argv[i])) {
                        i++;
                        continue;
                }
                if (argv[i][0] != '-')
                        return is_ours(argv[i]);
        }
        return false;
}

static int64_t wall_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- WHEN ------------------------------------------------------------ */

static bool all_digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* "HH:MM[:SS]" at P; returns the characters used, 0 when not a time. */
static int parse_hms(const char *p, struct tm *tm) {
        int h, mi, sec = 0, n = 0, n2 = 0;

        if (sscanf(p, "%2d:%2d%n", &h, &mi, &n) != 2 || p[0] < '0' || p[0] > '9')
                return 0;
        if (p[n] == ':' && sscanf(p + n + 1, "%2d%n", &sec, &n2) == 1)
                n += 1 + n2;
        if (h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
                return 0;
        tm->tm_hour = h, tm->tm_min = mi, tm->tm_sec = sec;
        return n;
}

/* The zone suffix: "" local, "Z" UTC, "+HH:MM"/"-HHMM" offsets. */
static int to_ms(struct tm *tm, const char *zone, int64_t *ret) {
        int oh, om, n = 0;
        time_t t;

        if (*zone == '\0') {
                tm->tm_isdst = -1;
                t = mktime(tm);
        } else if (strcmp(zone, "Z") == 0 || strcmp(zone, "z") == 0)
                t = timegm(tm);
        else if ((zone[0] == '+' || zone[0] == '-') &&
                 (sscanf(zone + 1, "%2d:%2d%n", &oh, &om, &n) == 2 ||
                  sscanf(zone + 1, "%2d%2d%n", &oh, &om, &n) == 2) &&
                 zone[1 + n] == '\0' && oh <= 23 && om <= 59) {
                t = timegm(tm);
                t -= (zone[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (int64_t)t * 1000;
        return 0;
}

int events_parse_when(const char *s, int64_t now_ms, int64_t *ret) {
        struct tm tm = {0};
        time_t now = (time_t)(now_ms / 1000);
        long long v;
        char unit;
        int y, mo, d, n = 0;

        if (all_digits(s)) {
                errno = 0;
                v = strtoll(s, NULL, 10);
                if (errno)
                        return -EINVAL;
                return *ret = v, 0;
        }
        if (s[0] == '-' && sscanf(s + 1, "%lld%c%n", &v, &unit, &n) == 2 && s[1 + n] == '\0' && v >= 0 &&
            all_digits((char[]){s[1], 0})) {
                long long mult = unit == 's'   ? 1000
                                 : unit == 'm' ? 60000
                                 : unit == 'h' ? 3600000
                                 : unit == 'd' ? 86400000
                                               : 0;
                if (!mult || v > 100LL * 365 * 86400000 / mult)
                        return -EINVAL;
                return *ret = now_ms - v * mult, 0;
        }
        if ((n = parse_hms(s, &tm)) > 0) { /* a time today, local */
                struct tm today;

                localtime_r(&now, &today);
                tm.tm_year = today.tm_year, tm.tm_mon = today.tm_mon, tm.tm_mday = today.tm_mday;
                return s[n] == '\0' ? to_ms(&tm, "", ret) : -EINVAL;
        }
        if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || mo < 1 || mo > 12 || d < 1 ||
            d > 31)
                return -EINVAL;
        tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
        s += n;
        if (*s == 'T' || *s == 't' || *s == ' ') {
                n = parse_hms(s + 1, &tm);
                if (n == 0)
                        return -EINVAL;
                s += 1 + n;
        }
        return to_ms(&tm, s, ret);
}

/* ---- talking to the daemon ------------------------------------------ */

/* Next line (caller frees) from R; keeps what follows it for the next
 * call. TIMEOUT_MS < 0 waits for ever. -EPIPE at EOF, -ETIMEDOUT. */
static int reader_line(struct reader *r, int timeout_ms, char **ret) {
        for (;;) {
                char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
                struct pollfd p = {.fd = r->fd, .events = POLLIN};
                ssize_t n;

                if (nl) {
                        size_t l = (size_t)(nl - r->buf);

                        *ret = strndup(r->buf, l);
                        if (!*ret)
                                return -ENOMEM;
                        memmove(r->buf, nl + 1, r->len - l - 1);
                        r->len -= l + 1;
                        return 0;
                }
                if (r->size - r->len < 4096) {
                        char *b;

                        if (r->size >= LINE_MAX_BYTES)
                                return -EMSGSIZE;
                        b = realloc(r->buf, r->size = r->size ? r->size * 2 : 16384);
                        if (!b)
                                return -ENOMEM;
                        r->buf = b;
                }
                n = poll(&p, 1, timeout_ms);
                if (n == 0)
                        return -ETIMEDOUT;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                n = recv(r->fd, r->buf + r->len, r->size - r->len, 0);
                if (n == 0)
                        return -EPIPE;
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                r->len += (size_t)n;
        }
}

static const char *errno_text(int r) {
        return r == -ETIMEDOUT ? "no reply in time"
               : r == -EPIPE   ? "the daemon closed the connection"
                               : strerror(-r);
}

/* One request on a fresh connection; *RET is the parsed ok reply. Returns
 * an exit status (0 ok; 2 the daemon could not be asked). */
static int exchange(const char *path, struct json_object *req, struct json_object **ret) {
        int r = ctl_request(path, req, ret);

        if (r == -EBADMSG || r == -EREMOTEIO)
                return EXIT_FAILURE;
        return r < 0 ? EXIT_USAGE : 0;
}

/* ---- printing -------------------------------------------------------- */

/* ISO 8601 local time with offset, "2026-11-27T10:00:01.234+01:00"; not
 * ISO: "2026-11-27 10:00:01". "" for an unknown time. */
static const char *fmt_wall(long long ms, bool iso, char buf[static 48]) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        char zone[8];

        if (ms < 0 || !localtime_r(&t, &tm))
                return "";
        if (!iso) {
                strftime(buf, 48, "%Y-%m-%d %H:%M:%S", &tm);
                return buf;
        }
        strftime(zone, sizeof zone, "%z", &tm); /* +0100 */
        strftime(buf, 48, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + strlen(buf), 48 - strlen(buf), ".%03lld%.3s:%.2s", ms % 1000, zone, zone + 3);
        return buf;
}

static void fmt_dur(long long ms, char buf[static 32]) {
        if (ms < 0)
                snprintf(buf, 32, "--:--");
        else
                snprintf(buf, 32, "%02lld:%02lld", ms / 60000, ms / 1000 % 60);
}

/* RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
static void csv_field(const char *s, bool last) {
        if (!s)
                s = "";
        if (strpbrk(s, ",\"\r\n")) {
                putchar('"');
                for (; *s; s++) {
                        if (*s == '"')
                                putchar('"');
                        putchar(*s);
                }
                putchar('"');
        } else
                fputs(s, stdout);
        fputs(last ? "\r\n" : ",", stdout);
}

static void csv_int(long long v, bool last) {
        char buf[32];

        if (v >= 0)
                snprintf(buf, sizeof buf, "%lld", v);
        else
                buf[0] = '\0';
        csv_field(buf, last);
}

static const char *const csv_header[] = {
        "id",           "kind",         "title",      "start",      "end",    "start_ms",
        "end_ms",       "scheduled_ms", "planned_ms", "played_ms",  "reason", "cues_emitted",
        "cues_dropped", "timing",       "audio",      "transcript",
};

static void print_csv(struct json_object *records) {
        char b1[48], b2[48];

        for (size_t i = 0; i < sizeof csv_header / sizeof csv_header[0]; i++)
                csv_field(csv_header[i], i + 1 == sizeof csv_header / sizeof csv_header[0]);
        for (size_t i = 0; i < json_object_array_length(records); i++) {
                struct json_object *r = json_object_array_get_idx(records, i);

                csv_int(ctl_json_int(r, "id", -1), false);
                csv_field(ctl_json_str(r, "kind", NULL), false);
                csv_field(ctl_json_str(r, "title", NULL), false);
                csv_field(fmt_wall(ctl_json_int(r, "start_ms", -1), true, b1), false);
                csv_field(fmt_wall(ctl_json_int(r, "end_ms", -1), true, b2), false);
                csv_int(ctl_json_int(r, "start_ms", -1), false);
                csv_int(ctl_json_int(r, "end_ms", -1), false);
                csv_int(ctl_json_int(r, "scheduled_ms", -1), false);
                csv_int(ctl_json_int(r, "planned_ms", -1), false);
                csv_int(ctl_json_int(r, "played_ms", -1), false);
                csv_field(ctl_json_str(r, "reason", NULL), false);
                csv_int(ctl_json_int(r, "cues_emitted", -1), false);
                csv_int(ctl_json_int(r, "cues_dropped", -1), false);
                csv_field(ctl_json_str(r, "timing", NULL), false);
                csv_field(ctl_json_str(r, "audio", NULL), false);
                csv_field(ctl_json_str(r, "transcript", NULL), true);
        }
}

static void print_table(struct json_object *records) {
        size_t n = json_object_array_length(records);

        if (n == 0) {
                puts("No as-run records in that time");
                return;
        }
        printf("%-19s  %-8s  %-5s  %-6s %-12s  %-5s  %-9s  %s\n", "START", "END", "PLAN", "PLAYED", "REASON",
               "ID", "KIND", "TITLE");
        for (size_t i = 0; i < n; i++) {
                struct json_object *r = json_object_array_get_idx(records, i);
                char start[48], end[48], plan[32], played[32];

                fmt_wall(ctl_json_int(r, "start_ms", -1), false, start);
                fmt_wall(ctl_json_int(r, "end_ms", -1), false, end);
                fmt_dur(ctl_json_int(r, "planned_ms", -1), plan);
                fmt_dur(ctl_json_int(r, "played_ms", -1), played);
                printf("%-19s  %-8s  %-5s  %-6s %-12s  #%-4lld  %-9s  %s\n", start,
                       strlen(end) > 11 ? end + 11 : end, plan, played, ctl_json_str(r, "reason", "?"),
                       ctl_json_int(r, "id", -1), ctl_json_str(r, "kind", "?"),
                       ctl_json_str(r, "title", ""));
        }
}

/* ---- the commands ---------------------------------------------------- */

static int cmd_asrun(const struct opts *o) {
        _cleanup_json_ struct json_object *all = json_object_new_array();
        int64_t since = 0, until = 0, offset = 0, now = wall_now_ms();
        int r;

        if ((o->since && events_parse_when(o->since, now, &since) < 0) ||
            (o->until && events_parse_when(o->until, now, &until) < 0)) {
                usage_error("invalid time (try 2026-11-27T10:00, 10:00, -1h or epoch ms)",
                            o->since && events_parse_when(o->since, now, &since) < 0 ? o->since : o->until);
                return EXIT_USAGE;
        }
        do {
                _cleanup_json_ struct json_object *req = json_object_new_object(), *reply = NULL;
                struct json_object *recs;

                json_object_object_add(req, "cmd", json_object_new_string("asrun"));
                if (o->since)
                        json_object_object_add(req, "since", json_object_new_int64(since));
                if (o->until)
                        json_object_object_add(req, "until", json_object_new_int64(until));
                if (offset > 0)
                        json_object_object_add(req, "offset", json_object_new_int64(offset));
                r = exchange(o->socket, req, &reply);
                if (r != 0)
                        return r;
                if (json_object_object_get_ex(reply, "records", &recs) &&
                    json_object_is_type(recs, json_type_array))
                        for (size_t i = 0; i < json_object_array_length(recs); i++)
                                json_object_array_add(all,
                                                      json_object_get(json_object_array_get_idx(recs, i)));
                offset = ctl_json_int(reply, "next_offset", -1);
        } while (offset > 0);

        if (o->json) {
                _cleanup_json_ struct json_object *out = json_object_new_object();

                json_object_object_add(out, "ok", json_object_new_boolean(1));
                json_object_object_add(out, "records", json_object_get(all));
                puts(json_object_to_json_string_ext(out, CTL_JSON_FLAGS));
        } else if (o->csv)
                print_csv(all);
        else
                print_table(all);
        return EXIT_SUCCESS;
}

static void print_event(struct json_object *ev) {
        const char *name = ctl_json_str(ev, "event", NULL);
        struct json_object *story = NULL;
        char t[48], d[32];
        time_t now = time(NULL);
        struct tm tm;

        localtime_r(&now, &tm);
        strftime(t, sizeof t, "%H:%M:%S", &tm);
        json_object_object_get_ex(ev, "story", &story);
        if (!name)
                printf("%s %s\n", t, json_object_to_json_string_ext(ev, CTL_JSON_FLAGS));
        else if (strcmp(name, "next_up") == 0 && story)
                printf("%s Next up: #%lld %s\n", t, ctl_json_int(story, "id", -1),
                       ctl_json_str(story, "title", ""));
        else if (strcmp(name, "next_up") == 0)
                printf("%s Next up: nothing\n", t);
        else if (strcmp(name, "on_air") == 0)
                printf("%s On air: #%lld %s\n", t, ctl_json_int(story, "id", -1),
                       ctl_json_str(story, "title", ""));
        else if (strcmp(name, "off_air") == 0) {
                fmt_dur(ctl_json_int(ev, "played_ms", -1), d);
                printf("%s Off air: #%lld %s (%s, %s played)\n", t, ctl_json_int(story, "id", -1),
                       ctl_json_str(story, "title", ""), ctl_json_str(ev, "reason", "?"), d);
        } else if (strcmp(name, "queue_changed") == 0)
                printf("%s Queue changed: %lld stories\n", t, ctl_json_int(ev, "queue_length", -1));
        else if (strcmp(name, "alert") == 0)
                printf("%s ALERT %s: %s\n", t, ctl_json_str(ev, "what", "?"),
                       ctl_json_str(ev, "message", ""));
        else
                printf("%s %s: %s\n", t, name, json_object_to_json_string_ext(ev, CTL_JSON_FLAGS));
}

static int cmd_subscribe(const struct opts *o) {
        _cleanup_json_ struct json_object *req = json_object_new_object(), *reply = NULL;
        _cleanup_close_ int fd = -1;
        struct reader rd = {0};
        int r, status = EXIT_FAILURE;

        r = ctl_connect(o->socket, &fd);
        if (r < 0) {
                fprintf(stderr, "nextupctl: cannot connect to '%s': %s\n", o->socket, strerror(-r));
                return EXIT_USAGE;
        }
        rd.fd = fd;
        json_object_object_add(req, "cmd", json_object_new_string("subscribe"));
        r = ctl_send(fd, req, ctl_now_ms() + CTL_REPLY_TIMEOUT_MS);
        for (bool first = true; r >= 0; first = false) {
                _cleanup_free_ char *line = NULL;
                _cleanup_json_ struct json_object *ev = NULL;

                r = reader_line(&rd, first ? CTL_REPLY_TIMEOUT_MS : -1, &line);
                if (r < 0)
                        break;
                ev = json_tokener_parse(line);
                if (first) {
                        status = ctl_check_reply(ev, line) < 0 ? EXIT_FAILURE : 0;
                        if (status != 0)
                                break;
                        status = EXIT_FAILURE;
                        /* stderr, so stdout stays pure events; scripts
                         * may wait for this line. */
                        fprintf(stderr, "Listening for events on '%s'\n", o->socket);
                        continue;
                }
                if (o->json)
                        puts(line);
                else if (ev && !json_object_object_get_ex(ev, "ok", NULL))
                        print_event(ev);
                fflush(stdout);
        }
        free(rd.buf);
        if (r < 0)
                fprintf(stderr, "nextupctl: event stream from '%s' ended: %s\n", o->socket, errno_text(r));
        return status;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (takes_value(a)) {
                        if (i + 1 >= argc)
                                return usage_error("option needs an argument:", a);
                        if (strcmp(a, "--since") == 0)
                                o->since = argv[++i];
                        else if (strcmp(a, "--until") == 0)
                                o->until = argv[++i];
                        else
                                o->socket = argv[++i];
                } else if (strncmp(a, "--since=", 8) == 0)
                        o->since = a + 8;
                else if (strncmp(a, "--until=", 8) == 0)
                        o->until = a + 8;
                else if (strncmp(a, "--socket=", 9) == 0)
                        o->socket = a + 9;
                else if (strcmp(a, "--json") == 0)
                        o->json = true;
                else if (strcmp(a, "--csv") == 0)
                        o->csv = true;
                else if (a[0] == '-')
                        return usage_error("unknown option", a);
                else if (o->cmd)
                        return usage_error("unexpected argument", a);
                else
                        o->cmd = a;
        }
        if (strcmp(o->cmd, "asrun") != 0 && (o->since || o->until || o->csv))
                return usage_error("--since, --until and --csv only go with 'asrun'", NULL);
        if (o->csv && o->json)
                return usage_error("use either --csv or --json, not both", NULL);
        return 0;
}

int events_main(int argc, char **argv) {
        struct opts o = {0};
        const char *env = getenv("NEXTUP_SOCKET");

        if (parse_opts(argc, argv, &o) < 0)
                return EXIT_USAGE;
        if (!o.socket)
                o.socket = env && env[0] ? env : CTL_DEFAULT_SOCKET;
        if (strcmp(o.cmd, "asrun") == 0)
                return cmd_asrun(&o);
        return cmd_subscribe(&o);
}
