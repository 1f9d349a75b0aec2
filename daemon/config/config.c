/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config.c: reads nextupd.conf with libconfig and turns it into one
 * immutable struct nextup_config. libconfig stops at the first syntax
 * error, so that one is reported alone; once the file parses, every key
 * is checked and every problem collected (unknown keys, wrong types,
 * out-of-range values, bad names, missing required keys, keys that would
 * have no effect where they stand) so that an operator fixes the file in
 * one pass, as OpenBSD's daemons do with -n.
 * Errors are sorted by line and written as "PATH:LINE: key: message",
 * key being the dotted path ("captions.sinks[1].latency_ms", list indices
 * from 0). Relative paths resolve against the config file's folder, not
 * the daemon's working directory, which systemd sets to "/". Whether the
 * files exist is checked when they are used, not here. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <libconfig.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "config-internal.h"
#include "netaddr.h"

static const char *const file_drivers[] = {"wav", "raw", "au"};
static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug"};
static const char *const sink_types[] = {
        [SINK_TERMINAL] = "terminal", [SINK_JSONL] = "jsonl", [SINK_WEBVTT] = "webvtt",
        [SINK_RDS] = "rds",           [SINK_DLS] = "dls",     [SINK_ICECAST] = "icecast",
        [SINK_TCP] = "tcp",
};
static const char *const rds_dialects[] = {
        [RDS_DIALECT_FIFO] = "fifo",
        [RDS_DIALECT_LINE] = "line",
        [RDS_DIALECT_UECP] = "uecp",
};
static const char *const rds_policies[] = {
        [RDS_POLICY_NOW_NEXT] = "now_next",
        [RDS_POLICY_CAPTIONS] = "captions",
};
static const char *const rds_charsets[] = {"rds", "ascii"};
static const int bauds[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
static const char *const resume_policies[] = {
        [RESUME_AUTO] = "auto",
        [RESUME_POSITION] = "position",
        [RESUME_RESTART] = "restart",
        [RESUME_DROP] = "drop",
};
static const char *const filler_modes[] = {
        [FILLER_SHUFFLE] = "shuffle",
        [FILLER_LOOP] = "loop",
};
static const char *const schedule_modes[] = {
        [SCHEDULE_HARD] = "hard",
        [SCHEDULE_SOFT] = "soft",
        [SCHEDULE_WAIT] = "wait",
};
/* indexed like struct tm's tm_wday: bit 0 of schedule_config.days is Sunday */
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

#define DAYS_ALL 0x7fu
#define DAYS_WEEKDAYS 0x3eu
#define DAYS_WEEKENDS 0x41u

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nextup_config *, config_free);

const char *schedule_mode_to_string(enum schedule_mode m) {
        return (size_t)m < ELEMENTSOF(schedule_modes) ? schedule_modes[m] : NULL;
}

int schedule_mode_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(schedule_modes); i++)
                if (strcmp(s, schedule_modes[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *schedule_days_to_string(unsigned days, char buf[static 32]) {
        if (days == DAYS_ALL)
                return "daily";
        if (days == DAYS_WEEKDAYS)
                return "weekdays";
        if (days == DAYS_WEEKENDS)
                return "weekends";
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(day_names); i++)
                if (days & (1u << i)) {
                        if (buf[0])
                                strcat(buf, ",");
                        strcat(buf, day_names[i]);
                }
        return buf;
}

static inline void config_destroyp(config_t **c) {
        if (*c)
                config_destroy(*c);
}

static void parse_options(struct errs *e, const config_setting_t *g, struct nextup_config *c) {
        int n = config_setting_length(g);

        if (n == 0)
                return;
        c->output_options = calloc((size_t)n, sizeof *c->output_options);
        if (!c->output_options) {
                e->oom = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
                struct output_option *o = &c->output_options[c->n_output_options];

                if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                        err_at(e, s, NULL, "expected a string");
                        continue;
                }
                c->n_output_options++;
                set_str(e, &o->key, config_setting_name(s));
                set_str(e, &o->value, config_setting_get_string(s));
        }
}

static void parse_output(struct errs *e, const config_setting_t *root, const char *dir,
                         struct nextup_config *c) {
        static const char *const keys[] = {"driver", "file", "options", "rate", "channels", "fallback"};
        static const char *const fallbacks[] = {"none", "null"};
        const config_setting_t *g = get_aggregate(e, root, "output", false), *opts;
        const char *driver;
        bool file_driver;
        int r, fallback;

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        r = get_string(e, g, "driver", true, &driver);
        if (r > 0 && !is_word(driver)) {
                err_at(e, config_setting_get_member(g, "driver"), NULL,
                       "\"%s\" is not a libao driver name (a word such as \"pulse\")", driver);
                r = -EINVAL;
        } else if (r > 0 && output_driver_known(driver) == 0) {
                err_at(e, config_setting_get_member(g, "driver"), NULL,
                       "\"%s\" is not an output driver libao knows (\"default\", \"pulse\", \"alsa\", "
                       "\"null\", \"wav\", \"raw\", \"au\", ...)",
                       driver);
                r = -EINVAL;
        } else if (r > 0)
                set_str(e, &c->output_driver, driver);
        if (get_enum(e, g, "fallback", fallbacks, ELEMENTSOF(fallbacks), &fallback) > 0)
                c->output_fallback_null = fallback == 1;

        file_driver = strv_contains(file_drivers, ELEMENTSOF(file_drivers), c->output_driver);
        switch (get_path(e, g, "file", dir, &c->output_file)) {
        case 0:
                if (r >= 0 && file_driver)
                        err_at(e, g, "file", "required for the \"%s\" driver", c->output_driver);
                break;
        case 1:
                if (r >= 0 && !file_driver)
                        err_at(e, config_setting_get_member(g, "file"), NULL,
                               "only used by the file drivers wav, raw and au");
                break;
        }

        opts = get_aggregate(e, g, "options", false);
        if (opts)
                parse_options(e, opts, c);
        (void)get_int(e, g, "rate", 8000, 192000, &c->rate);
        (void)get_int(e, g, "channels", 1, 2, &c->channels);
}

/* A user or group given by name or number, resolved now so that a typo is
 * a config error rather than a client locked out at 3 am. */
static int resolve_id(const char *v, bool group, unsigned *ret) {
        char *end;
        unsigned long n;

        if (*v >= '0' && *v <= '9') {
                errno = 0;
                n = strtoul(v, &end, 10);
                if (errno || *end || n >= (unsigned long)UINT32_MAX)
                        return -EINVAL;
                *ret = (unsigned)n;
                return 0;
        }
        if (group) {
                struct group *gr = getgrnam(v);

                if (!gr)
                        return -ENOENT;
                *ret = (unsigned)gr->gr_gid;
        } else {
                struct passwd *pw = getpwnam(v);

                if (!pw)
                        return -ENOENT;
                *ret = (unsigned)pw->pw_uid;
        }
        return 0;
}

/* control.allow_users / allow_groups: a list or array of names or ids. */
static void get_ids(struct errs *e, const config_setting_t *g, const char *name, bool group, unsigned **ret,
                    size_t *ret_n) {
        const config_setting_t *s = config_setting_get_member(g, name);
        unsigned *ids;
        int n;

        if (!s)
                return;
        if (config_setting_type(s) != CONFIG_TYPE_LIST && config_setting_type(s) != CONFIG_TYPE_ARRAY) {
                err_at(e, s, NULL, "expected a list of %s names, such as [ \"%s\" ]",
                       group ? "group" : "user", group ? "nextup" : "root");
                return;
        }
        n = config_setting_length(s);
        ids = calloc((size_t)n + 1, sizeof *ids);
        if (!ids) {
                e->oom = true;
                return;
        }
        free(*ret);
        *ret = ids;
        *ret_n = 0;
        for (int i = 0; i < n; i++) {
                const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
                const char *v;

                if (config_setting_type(el) != CONFIG_TYPE_STRING) {
                        err_at(e, el, NULL, "expected a %s name or number as a string",
                               group ? "group" : "user");
                        continue;
                }
                v = config_setting_get_string(el);
                if (resolve_id(v, group, &ids[*ret_n]) < 0) {
                        err_at(e, el, NULL, "no %s \"%s\" on this system", group ? "group" : "user", v);
                        continue;
                }
                (*ret_n)++;
        }
}

static void parse_control(struct errs *e, const config_setting_t *root, const char *dir,
                          struct nextup_config *c) {
        static const char *const keys[] = {"socket",          "mode",        "group",       "idle_timeout_s",
                                           "max_connections", "allow_users", "allow_groups"};
        const config_setting_t *g = get_aggregate(e, root, "control", false);

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        if (get_path(e, g, "socket", dir, &c->control_socket) > 0 &&
            strlen(c->control_socket) >= SUN_PATH_MAX)
                err_at(e, config_setting_get_member(g, "socket"), NULL,
                       "\"%s\" is too long for a socket path (max %zu bytes)", c->control_socket,
                       SUN_PATH_MAX - 1);
        (void)get_mode(e, g, "mode", &c->control_mode);
        (void)get_int(e, g, "idle_timeout_s", 0, 86400, &c->control_idle_timeout_s);
        (void)get_int(e, g, "max_connections", 1, 10000, &c->control_max_connections);
        get_ids(e, g, "allow_users", false, (unsigned **)&c->control_allow_uids, &c->n_control_allow_uids);
        get_ids(e, g, "allow_groups", true, (unsigned **)&c->control_allow_gids, &c->n_control_allow_gids);
        if (get_group(e, g, "group", &c->control_gid) > 0 && c->control_gid != (gid_t)-1) {
                /* The socket's group is there for its members to drive the
                 * station: they pass the peer check too. */
                bool listed = false;

                for (size_t i = 0; i < c->n_control_allow_gids; i++)
                        listed |= c->control_allow_gids[i] == c->control_gid;
                if (!listed) {
                        gid_t *gids =
                                realloc(c->control_allow_gids, (c->n_control_allow_gids + 1) * sizeof *gids);

                        if (!gids) {
                                e->oom = true;
                                return;
                        }
                        gids[c->n_control_allow_gids++] = c->control_gid;
                        c->control_allow_gids = gids;
                }
        }
}

/* A listen address "HOST:PORT": 1 set, 0 absent, -EINVAL reported. */
static int get_listen(struct errs *e, const config_setting_t *g, const char *name, char **ret) {
        struct netaddr a;
        const char *v;
        int r;

        r = get_string(e, g, name, false, &v);
        if (r <= 0)
                return r;
        if (netaddr_parse(v, &a) < 0) {
                err_at(e, config_setting_get_member(g, name), NULL,
                       "\"%s\" is not a listen address (\"127.0.0.1:8080\", \"[::1]:8080\" or "
                       "\"*:8080\")",
                       v);
                return -EINVAL;
        }
        set_str(e, ret, v);
        return 1;
}

static void parse_http(struct errs *e, const config_setting_t *root, struct nextup_config *c) {
        static const char *const keys[] = {"listen", "latency_ms", "max_clients"};
        const config_setting_t *g = get_aggregate(e, root, "http", false);

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        if (get_listen(e, g, "listen", &c->http_listen) == 0)
                err_at(e, g, "listen", "required (\"127.0.0.1:8080\")");
        (void)get_int(e, g, "latency_ms", 0, 10000, &c->http_latency_ms);
        (void)get_int(e, g, "max_clients", 1, 100000, &c->http_max_clients);
}

static void sink_config_clear(struct sink_config *sc) {
        free(sc->path);
        free(sc->connect);
        free(sc->udp);
        free(sc->device);
        free(sc->template);
        free(sc->mount);
        free(sc->credentials);
        free(sc->listen);
}

/* Keys each sink type takes besides type and latency_ms. */
static const char *const sink_keys[][16] = {
        [SINK_TERMINAL] = {"show_speaker"},
        [SINK_JSONL] = {"path"},
        [SINK_WEBVTT] = {"path"},
        [SINK_RDS] = {"path", "connect", "udp", "device", "dialect", "policy", "charset", "dwell_ms", "baud",
                      "template", "rt_plus", "site_address", "encoder_address", "data_set",
                      "programme_service"},
        [SINK_DLS] = {"path", "dl_plus"},
        [SINK_ICECAST] = {"connect", "mount", "credentials"},
        [SINK_TCP] = {"listen"},
};

static bool sink_takes(int type, const char *key) {
        return strv_contains(sink_keys[type], ELEMENTSOF(sink_keys[type]), key);
}

/* "host:port" with a numeric host: name lookups would block the loop. */
static void get_hostport(struct errs *e, const config_setting_t *s, const char *name, char **ret) {
        const char *v, *colon;
        char host[64];
        unsigned char addr[16];
        bool ok = false;

        if (get_string(e, s, name, false, &v) <= 0)
                return;
        if (v[0] == '[') {
                const char *end = strchr(v, ']');

                if (end && end[1] == ':' && (size_t)(end - v - 1) < sizeof host) {
                        snprintf(host, sizeof host, "%.*s", (int)(end - v - 1), v + 1);
                        ok = inet_pton(AF_INET6, host, addr) == 1;
                        colon = end + 1;
                }
        } else if ((colon = strrchr(v, ':')) && (size_t)(colon - v) < sizeof host) {
                snprintf(host, sizeof host, "%.*s", (int)(colon - v), v);
                ok = inet_pton(AF_INET, host, addr) == 1;
        }
        if (ok) {
                const char *port = colon + 1;

                ok = *port && strspn(port, "0123456789") == strlen(port) && atoi(port) >= 1 &&
                     atoi(port) <= 65535;
        }
        if (!ok) {
                err_at(e, config_setting_get_member(s, name), NULL,
                       "\"%s\" is not HOST:PORT with a numeric IPv4 or [IPv6] address (names would need a "
                       "lookup that blocks)",
                       v);
                return;
        }
        set_str(e, ret, v);
}

/* A line template: {text} required, {ab} allowed, nothing else in braces. */
static void check_template(struct errs *e, const config_setting_t *s, const char *t) {
        bool text = false;

        for (const char *p = strchr(t, '{'); p; p = strchr(p + 1, '{')) {
                if (strncmp(p, "{text}", 6) == 0)
                        text = true;
                else if (strncmp(p, "{ab}", 4) != 0) {
                        err_at(e, config_setting_get_member(s, "template"), NULL,
                               "unknown placeholder at \"%.12s\" (use {text} and {ab})", p);
                        return;
                }
        }
        if (!text)
                err_at(e, config_setting_get_member(s, "template"), NULL, "must contain {text}");
}

static void parse_rds(struct errs *e, const config_setting_t *s, const char *dir, struct sink_config *sink) {
        static const char *const targets[] = {"path", "connect", "udp", "device"};
        int dialect = -1, policy = 0, charset = 0, n_targets = 0, baud = 9600;
        const char *t;

        if (get_enum(e, s, "dialect", rds_dialects, ELEMENTSOF(rds_dialects), &dialect) == 0)
                err_at(e, s, "dialect", "required for rds sinks (fifo, line or uecp)");
        if (dialect >= 0)
                sink->dialect = (enum rds_dialect)dialect;
        if (get_enum(e, s, "policy", rds_policies, ELEMENTSOF(rds_policies), &policy) > 0)
                sink->policy = (enum rds_policy)policy;
        if (get_enum(e, s, "charset", rds_charsets, ELEMENTSOF(rds_charsets), &charset) > 0)
                sink->ascii = charset == 1;
        (void)get_int(e, s, "dwell_ms", 1000, 60000, &sink->dwell_ms);
        get_hostport(e, s, "connect", &sink->connect);
        get_hostport(e, s, "udp", &sink->udp);
        (void)get_path(e, s, "device", dir, &sink->device);
        for (size_t i = 0; i < ELEMENTSOF(targets); i++)
                n_targets += config_setting_get_member(s, targets[i]) != NULL;
        if (n_targets != 1)
                err_at(e, s, NULL,
                       "an rds sink needs exactly one of path (FIFO or file), connect (TCP), udp "
                       "or device (serial); found %d",
                       n_targets);
        if (get_int(e, s, "baud", 1200, 115200, &baud) > 0) {
                bool ok = false;

                for (size_t i = 0; i < ELEMENTSOF(bauds); i++)
                        ok |= bauds[i] == baud;
                if (!ok)
                        err_at(e, config_setting_get_member(s, "baud"), NULL,
                               "%d is not a serial rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, "
                               "115200)",
                               baud);
                else if (!config_setting_get_member(s, "device"))
                        err_at(e, config_setting_get_member(s, "baud"), NULL, "only used with device");
        }
        sink->baud = baud;
        if (get_string(e, s, "template", false, &t) > 0) {
                if (dialect != RDS_DIALECT_LINE)
                        err_at(e, config_setting_get_member(s, "template"), NULL,
                               "only used by the line dialect");
                check_template(e, s, t);
                set_str(e, &sink->template, t);
        }
        (void)get_bool(e, s, "rt_plus", &sink->rt_plus);
        (void)get_int(e, s, "site_address", 0, 1023, &sink->site_address);
        (void)get_int(e, s, "encoder_address", 0, 63, &sink->encoder_address);
        (void)get_int(e, s, "data_set", 0, 255, &sink->data_set);
        (void)get_int(e, s, "programme_service", 0, 255, &sink->programme_service);
        if (dialect != RDS_DIALECT_UECP && dialect >= 0) {
                static const char *const uecp_only[] = {"site_address", "encoder_address", "data_set",
                                                        "programme_service"};

                for (size_t i = 0; i < ELEMENTSOF(uecp_only); i++)
                        if (config_setting_get_member(s, uecp_only[i]))
                                err_at(e, config_setting_get_member(s, uecp_only[i]), NULL,
                                       "only used by the uecp dialect");
        }
}

static void parse_icecast(struct errs *e, const config_setting_t *s, const char *dir,
                          struct sink_config *sink) {
        const char *mount;

        get_hostport(e, s, "connect", &sink->connect);
        if (!config_setting_get_member(s, "connect"))
                err_at(e, s, "connect", "required for icecast sinks (the server's HOST:PORT)");
        if (get_string(e, s, "mount", false, &mount) > 0) {
                if (mount[0] != '/' || strpbrk(mount, " ?#&%\"\r\n"))
                        err_at(e, config_setting_get_member(s, "mount"), NULL,
                               "\"%s\" is not a mount point (\"/name\", no spaces, ?, #, & or %%)", mount);
                else
                        set_str(e, &sink->mount, mount);
        } else if (!config_setting_get_member(s, "mount"))
                err_at(e, s, "mount", "required for icecast sinks (e.g. \"/live\")");
        if (get_path(e, s, "credentials", dir, &sink->credentials) == 0)
                err_at(e, s, "credentials", "required for icecast sinks (a file holding USER:PASSWORD)");
}

/* One element of captions.sinks. Checks that keys fit the sink's type,
 * since a "path" on a terminal sink would otherwise be silently dropped. */
static void parse_sink(struct errs *e, const config_setting_t *s, const char *dir,
                       struct sink_config *sink) {
        static const char *const keys[] = {"type",
                                           "latency_ms",
                                           "path",
                                           "show_speaker",
                                           "connect",
                                           "udp",
                                           "device",
                                           "dialect",
                                           "policy",
                                           "charset",
                                           "dwell_ms",
                                           "baud",
                                           "template",
                                           "rt_plus",
                                           "dl_plus",
                                           "site_address",
                                           "encoder_address",
                                           "data_set",
                                           "programme_service",
                                           "mount",
                                           "credentials",
                                           "listen"};
        int type = -1, r_type, r_path, r_listen;

        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
                err_at(e, s, NULL, "expected a group { ... }");
                return;
        }
        check_keys(e, s, keys, ELEMENTSOF(keys));
        r_type = get_enum(e, s, "type", sink_types, ELEMENTSOF(sink_types), &type);
        if (r_type == 0)
                err_at(e, s, "type", "required (terminal, jsonl, webvtt, rds, dls, icecast or tcp)");
        (void)get_int(e, s, "latency_ms", 0, 10000, &sink->latency_ms);
        r_path = get_path(e, s, "path", dir, &sink->path);
        r_listen = get_listen(e, s, "listen", &sink->listen);
        (void)get_bool(e, s, "show_speaker", &sink->show_speaker);
        (void)get_bool(e, s, "dl_plus", &sink->dl_plus);
        if (r_type <= 0)
                return;

        sink->type = (enum sink_type)type;
        if (type == SINK_TERMINAL && r_path > 0)
                err_at(e, config_setting_get_member(s, "path"), NULL, "not used by terminal sinks");
        if ((type == SINK_JSONL || type == SINK_WEBVTT || type == SINK_DLS) && r_path == 0)
                err_at(e, s, "path", "required for %s sinks", sink_types[type]);
        if (type == SINK_TCP && r_listen == 0)
                err_at(e, s, "listen", "required for tcp sinks (\"127.0.0.1:8081\")");
        if (type != SINK_TERMINAL && config_setting_get_member(s, "show_speaker"))
                err_at(e, config_setting_get_member(s, "show_speaker"), NULL, "only used by terminal sinks");
        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
                const char *key = config_setting_name(m);

                if (strv_contains(keys, ELEMENTSOF(keys), key) && strcmp(key, "type") != 0 &&
                    strcmp(key, "latency_ms") != 0 && strcmp(key, "show_speaker") != 0 &&
                    !(type == SINK_TERMINAL && strcmp(key, "path") == 0) && !sink_takes(type, key))
                        err_at(e, m, NULL, "not used by %s sinks", sink_types[type]);
        }
        if (type == SINK_RDS)
                parse_rds(e, s, dir, sink);
        else if (type == SINK_ICECAST)
                parse_icecast(e, s, dir, sink);
}

static void parse_sinks(struct errs *e, const config_setting_t *list, const char *dir,
                        struct nextup_config *c) {
        size_t n = (size_t)config_setting_length(list);
        struct sink_config *sinks = NULL;

        /* an explicit empty list means no caption output at all */
        if (n > 0) {
                sinks = calloc(n, sizeof *sinks);
                if (!sinks) {
                        e->oom = true;
                        return;
                }
        }
        for (size_t i = 0; i < c->n_sinks; i++)
                sink_config_clear(&c->sinks[i]);
        free(c->sinks);
        c->sinks = sinks;
        c->n_sinks = n;
        for (size_t i = 0; i < n; i++) {
                sinks[i] = (struct sink_config){.type = SINK_TERMINAL,
                                                .show_speaker = true,
                                                .dwell_ms = 4000,
                                                .baud = 9600,
                                                .rt_plus = true,
                                                .dl_plus = true};
                parse_sink(e, config_setting_get_elem(list, (unsigned)i), dir, &sinks[i]);
        }
}

static void parse_captions(struct errs *e, const config_setting_t *root, const char *dir,
                           struct nextup_config *c) {
        static const char *const keys[] = {"max_chars", "max_lines", "speaker_mark", "sinks"};
        const config_setting_t *g = get_aggregate(e, root, "captions", false), *sinks;
        const char *mark;

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        (void)get_int(e, g, "max_chars", 10, 200, &c->max_chars);
        (void)get_int(e, g, "max_lines", 1, 5, &c->max_lines);
        /* "" is valid: no mark at speaker changes */
        if (get_string(e, g, "speaker_mark", true, &mark) > 0)
                set_str(e, &c->speaker_mark, mark);
        sinks = get_aggregate(e, g, "sinks", true);
        if (sinks)
                parse_sinks(e, sinks, dir, c);
}

static void parse_startup(struct errs *e, const config_setting_t *root, const char *dir,
                          struct nextup_config *c) {
        static const char *const keys[] = {"audio", "transcript"};
        const config_setting_t *list = get_aggregate(e, root, "startup", true);
        size_t n;

        if (!list || config_setting_length(list) == 0)
                return;
        n = (size_t)config_setting_length(list);
        c->startup = calloc(n, sizeof *c->startup);
        if (!c->startup) {
                e->oom = true;
                return;
        }
        c->n_startup = n;
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);

                if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
                        err_at(e, s, NULL, "expected a group { audio = ...; transcript = ...; }");
                        continue;
                }
                check_keys(e, s, keys, ELEMENTSOF(keys));
                if (get_path(e, s, "audio", dir, &c->startup[i].audio) == 0)
                        err_at(e, s, "audio", "required");
                if (get_path(e, s, "transcript", dir, &c->startup[i].transcript) == 0)
                        err_at(e, s, "transcript", "required");
        }
}

static void parse_playout(struct errs *e, const config_setting_t *root, struct nextup_config *c) {
        static const char *const keys[] = {"gap_ms", "fade_ms", "resume", "resume_min_s", "stale_s"};
        const config_setting_t *g = get_aggregate(e, root, "playout", false);
        int resume, r;

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        (void)get_int(e, g, "gap_ms", 0, 10000, &c->gap_ms);
        (void)get_int(e, g, "fade_ms", 0, 10000, &c->fade_ms);
        r = get_enum(e, g, "resume", resume_policies, ELEMENTSOF(resume_policies), &resume);
        if (r > 0)
                c->resume = (enum resume_policy)resume;
        (void)get_int(e, g, "resume_min_s", 0, 86400, &c->resume_min_s);
        (void)get_int(e, g, "stale_s", 0, 604800, &c->stale_s);
        /* the threshold only decides between position and restart under "auto" */
        if (r >= 0 && c->resume != RESUME_AUTO && config_setting_get_member(g, "resume_min_s"))
                err_at(e, config_setting_get_member(g, "resume_min_s"), NULL,
                       "only used with resume = \"auto\"");
}

static void parse_filler(struct errs *e, const config_setting_t *root, const char *dir,
                         struct nextup_config *c) {
        static const char *const keys[] = {"path", "mode"};
        const config_setting_t *g = get_aggregate(e, root, "filler", false);
        int mode, r_path;

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        r_path = get_path(e, g, "path", dir, &c->filler_path);
        if (get_enum(e, g, "mode", filler_modes, ELEMENTSOF(filler_modes), &mode) > 0) {
                c->filler_mode = (enum filler_mode)mode;
                if (r_path == 0)
                        err_at(e, config_setting_get_member(g, "mode"), NULL,
                               "only used with a filler path");
        }
}

/* Thresholds may stay set while the detector is switched off, so that it
 * can be switched back on by flipping one key. */
static void parse_silence(struct errs *e, const config_setting_t *root, struct nextup_config *c) {
        static const char *const keys[] = {"enabled", "dbfs", "ms"};
        const config_setting_t *g = get_aggregate(e, root, "silence", false);

        if (!g)
                return;
        check_keys(e, g, keys, ELEMENTSOF(keys));
        (void)get_bool(e, g, "enabled", &c->silence_enabled);
        (void)get_int(e, g, "dbfs", -96, 0, &c->silence_dbfs);
        (void)get_int(e, g, "ms", 500, 600000, &c->silence_ms);
}

/* Without asrun.path the log lives in state_dir, wherever that ended up. */
static void parse_asrun(struct errs *e, const config_setting_t *root, const char *dir,
                        struct nextup_config *c) {
        static const char *const keys[] = {"path"};
        const config_setting_t *g = get_aggregate(e, root, "asrun", false);

        if (g) {
                check_keys(e, g, keys, ELEMENTSOF(keys));
                (void)get_path(e, g, "path", dir, &c->asrun_path);
        }
        if (!c->asrun_path && asprintf(&c->asrun_path, "%s/asrun.jsonl", c->state_dir) < 0) {
                c->asrun_path = NULL;
                e->oom = true;
        }
}

/* Two decimal digits at P: 0..99, or -1. */
static int two_digits(const char *p) {
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
                return -1;
        return (p[0] - '0') * 10 + (p[1] - '0');
}

/* "HH:MM" or "HH:MM:SS", 00:00:00..23:59:59, two digits each. */
static int get_time(struct errs *e, const config_setting_t *parent, const char *name,
                    struct schedule_config *ev) {
        const char *v;
        size_t n;
        int r, h, m, sec = 0;

        r = get_string(e, parent, name, false, &v);
        if (r <= 0)
                return r;
        n = strlen(v);
        h = two_digits(v);
        m = n >= 5 ? two_digits(v + 3) : -1;
        if (n == 8)
                sec = v[5] == ':' ? two_digits(v + 6) : -1;
        if ((n != 5 && n != 8) || v[2] != ':' || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) {
                err_at(e, config_setting_get_member(parent, name), NULL,
                       "\"%s\" is not a time HH:MM[:SS] from 00:00:00 to 23:59:59", v);
                return -EINVAL;
        }
        ev->hour = h;
        ev->minute = m;
        ev->second = sec;
        return 1;
}

/* Index in day_names of the N characters at P (any case), or -1. */
static int day_index(const char *p, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(day_names); i++)
                if (n == 3 && strncasecmp(p, day_names[i], 3) == 0)
                        return (int)i;
        return -1;
}

/* "daily", "weekdays", "weekends" or a list such as "mon,wed,fri" (any
 * case, blanks after commas allowed, each day once) -> bit 0 = Sunday. */
static int get_days(struct errs *e, const config_setting_t *parent, const char *name, unsigned *ret) {
        const char *v, *p;
        unsigned days = 0;
        int r, d;

        r = get_string(e, parent, name, false, &v);
        if (r <= 0)
                return r;
        if (strcasecmp(v, "daily") == 0)
                days = DAYS_ALL;
        else if (strcasecmp(v, "weekdays") == 0)
                days = DAYS_WEEKDAYS;
        else if (strcasecmp(v, "weekends") == 0)
                days = DAYS_WEEKENDS;
        else
                for (p = v;; p++) {
                        size_t n;

                        p += strspn(p, " ");
                        n = strcspn(p, ", ");
                        d = day_index(p, n);
                        if (d < 0)
                                goto bad;
                        if (days & (1u << d)) {
                                err_at(e, config_setting_get_member(parent, name), NULL,
                                       "\"%s\": %s given twice", v, day_names[d]);
                                return -EINVAL;
                        }
                        days |= 1u << d;
                        p += n + strspn(p + n, " ");
                        if (*p == '\0')
                                break;
                        if (*p != ',')
                                goto bad;
                }
        *ret = days;
        return 1;
bad:
        err_at(e, config_setting_get_member(parent, name), NULL,
               "\"%s\" is not daily, weekdays, weekends or a list of mon, tue, wed, thu, fri, sat, sun", v);
        return -EINVAL;
}

/* One element of schedule. wait_s is refused outside mode "wait", where
 * it would be silently without effect. */
static void parse_event(struct errs *e, const config_setting_t *s, const char *dir, size_t index,
                        struct schedule_config *ev) {
        static const char *const keys[] = {
                "name", "time", "days", "mode", "wait_s", "audio", "transcript",
        };
        const char *name;
        int mode, r_mode;

        if (get_string(e, s, "name", false, &name) > 0)
                set_str(e, &ev->name, name);
        else if (asprintf(&ev->name, "schedule[%zu]", index) < 0) {
                ev->name = NULL;
                e->oom = true;
        }
        check_keys(e, s, keys, ELEMENTSOF(keys));
        if (get_time(e, s, "time", ev) == 0)
                err_at(e, s, "time", "required (HH:MM or HH:MM:SS)");
        (void)get_days(e, s, "days", &ev->days);
        r_mode = get_enum(e, s, "mode", schedule_modes, ELEMENTSOF(schedule_modes), &mode);
        if (r_mode > 0)
                ev->mode = (enum schedule_mode)mode;
        (void)get_int(e, s, "wait_s", 0, 3600, &ev->wait_s);
        if (r_mode >= 0 && ev->mode != SCHEDULE_WAIT && config_setting_get_member(s, "wait_s"))
                err_at(e, config_setting_get_member(s, "wait_s"), NULL, "only used with mode = \"wait\"");
        if (get_path(e, s, "audio", dir, &ev->audio) == 0)
                err_at(e, s, "audio", "required");
        if (get_path(e, s, "transcript", dir, &ev->transcript) == 0)
                err_at(e, s, "transcript", "required");
}

/* Reports the second of two list elements that share a FIELD value. */
static void check_unique(struct errs *e, const config_setting_t *list, const char *field, const char *what,
                         const char *const *values, size_t n) {
        for (size_t i = 1; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (values[i] && values[j] && strcmp(values[i], values[j]) == 0) {
                                const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
                                const config_setting_t *f = config_setting_get_member(s, field);

                                err_at(e, f ?: s, f ? NULL : field, "\"%s\" is also %s[%zu]", values[i],
                                       what, j);
                                break;
                        }
}

static void parse_schedule(struct errs *e, const config_setting_t *root, const char *dir,
                           struct nextup_config *c) {
        const config_setting_t *list = get_aggregate(e, root, "schedule", true);
        _cleanup_free_ const char **names = NULL;
        size_t n;

        if (!list || config_setting_length(list) == 0)
                return;
        n = (size_t)config_setting_length(list);
        c->schedule = calloc(n, sizeof *c->schedule);
        names = calloc(n, sizeof *names);
        if (!c->schedule || !names) {
                e->oom = true;
                return;
        }
        c->n_schedule = n;
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
                struct schedule_config *ev = &c->schedule[i];

                *ev = (struct schedule_config){.days = DAYS_ALL, .mode = SCHEDULE_SOFT, .wait_s = 30};
                if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
                        err_at(e, s, NULL,
                               "expected a group { time = ...; audio = ...; transcript = ...; }");
                        continue;
                }
                parse_event(e, s, dir, i, ev);
                names[i] = ev->name;
        }
        /* names identify events in nextupctl and in the saved state */
        check_unique(e, list, "name", "the name of schedule", names, n);
}

static void parse_dropbox(struct errs *e, const config_setting_t *s, const char *dir,
                          struct dropbox_config *d) {
        static const char *const keys[] = {"path", "position", "settle_ms", "quarantine"};

        check_keys(e, s, keys, ELEMENTSOF(keys));
        if (get_path(e, s, "path", dir, &d->path) == 0)
                err_at(e, s, "path", "required");
        (void)get_int(e, s, "position", -1, 1000, &d->position);
        (void)get_int(e, s, "settle_ms", 0, 600000, &d->settle_ms);
        (void)get_path(e, s, "quarantine", dir, &d->quarantine);
        if (!d->quarantine && d->path && asprintf(&d->quarantine, "%s/quarantine", d->path) < 0) {
                d->quarantine = NULL;
                e->oom = true;
        }
}

static void parse_dropboxes(struct errs *e, const config_setting_t *root, const char *dir,
                            struct nextup_config *c) {
        const config_setting_t *list = get_aggregate(e, root, "dropbox", true);
        _cleanup_free_ const char **paths = NULL;
        size_t n;

        if (!list || config_setting_length(list) == 0)
                return;
        n = (size_t)config_setting_length(list);
        c->dropboxes = calloc(n, sizeof *c->dropboxes);
        paths = calloc(n, sizeof *paths);
        if (!c->dropboxes || !paths) {
                e->oom = true;
                return;
        }
        c->n_dropboxes = n;
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);

                c->dropboxes[i] = (struct dropbox_config){.position = -1, .settle_ms = 2000};
                if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
                        err_at(e, s, NULL, "expected a group { path = ...; }");
                        continue;
                }
                parse_dropbox(e, s, dir, &c->dropboxes[i]);
                paths[i] = c->dropboxes[i].path;
        }
        /* one folder watched twice would queue every story twice */
        check_unique(e, list, "path", "the path of dropbox", paths, n);
}

static void parse_root(struct errs *e, const config_setting_t *root, const char *dir,
                       struct nextup_config *c) {
        static const char *const keys[] = {
                "output", "control", "state_dir", "log_level", "captions", "startup", "playout",
                "filler", "silence", "asrun",     "schedule",  "dropbox",  "http",
        };
        int level;

        check_keys(e, root, keys, ELEMENTSOF(keys));
        parse_output(e, root, dir, c);
        parse_control(e, root, dir, c);
        (void)get_path(e, root, "state_dir", dir, &c->state_dir);
        if (get_enum(e, root, "log_level", log_levels, ELEMENTSOF(log_levels), &level) > 0)
                c->log_level = LOG_ERR + level;
        parse_captions(e, root, dir, c);
        parse_startup(e, root, dir, c);
        parse_playout(e, root, c);
        parse_filler(e, root, dir, c);
        parse_silence(e, root, c);
        parse_asrun(e, root, dir, c); /* after state_dir: its default lives there */
        parse_schedule(e, root, dir, c);
        parse_dropboxes(e, root, dir, c);
        parse_http(e, root, c);
}

/* The documented defaults (docs/interfaces.md); the file overrides them. */
static int config_new_default(struct nextup_config **ret) {
        struct nextup_config *c = calloc(1, sizeof *c);
        struct group *grp;

        if (!c)
                return -ENOMEM;
        *c = (struct nextup_config){
                .output_driver = strdup("default"),
                .rate = 44100,
                .channels = 2,
                .control_socket = strdup("/run/nextup/control.sock"),
                .control_mode = 0660,
                .control_gid = (gid_t)-1,
                .control_idle_timeout_s = 60,
                .control_max_connections = 64,
                .state_dir = strdup("/var/lib/nextup"),
                .log_level = LOG_INFO,
                .max_chars = 37,
                .max_lines = 2,
                .speaker_mark = strdup(">>"),
                .sinks = calloc(1, sizeof(struct sink_config)),
                .gap_ms = 0,
                .fade_ms = 250,
                .resume = RESUME_AUTO,
                .resume_min_s = 300,
                .stale_s = 3600,
                .filler_mode = FILLER_SHUFFLE,
                .silence_enabled = true,
                .silence_dbfs = -50,
                .silence_ms = 10000,
                .http_max_clients = 2000,
                /* asrun_path follows state_dir, so it is set once the file is read */
        };
        if (!c->output_driver || !c->control_socket || !c->state_dir || !c->speaker_mark || !c->sinks) {
                config_free(c);
                return -ENOMEM;
        }
        grp = getgrnam("nextup");
        if (grp) {
                c->control_allow_gids = calloc(1, sizeof *c->control_allow_gids);
                if (!c->control_allow_gids) {
                        config_free(c);
                        return -ENOMEM;
                }
                c->control_allow_gids[0] = grp->gr_gid;
                c->n_control_allow_gids = 1;
        }
        /* no captions.sinks in the file: captions on the terminal */
        c->sinks[0] = (struct sink_config){.type = SINK_TERMINAL, .show_speaker = true};
        c->n_sinks = 1;
        *ret = c;
        return 0;
}

/* Reads PATH whole, so that errno is ours to report (libconfig's own
 * reader only says "file I/O error"). */
static int read_file(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        for (;;) {
                size_t n;

                if (size - len < 4096) {
                        char *p = realloc(buf, size = size ? size * 2 : 16384);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = fread(buf + len, 1, size - len - 1, f);
                if (n == 0) {
                        if (ferror(f))
                                return errno > 0 ? -errno : -EIO;
                        break;
                }
                len += n;
        }
        buf[len] = '\0';
        /* libconfig would stop at a NUL and ignore the rest of the file */
        if (memchr(buf, '\0', len))
                return -EBADMSG;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The absolute folder of PATH, against which relative paths resolve. */
static int config_dir(const char *path, char **ret) {
        _cleanup_free_ char *copy = strdup(path), *cwd = NULL;
        const char *d;
        char *dir;

        if (!copy)
                return -ENOMEM;
        d = dirname(copy);
        if (d[0] == '/')
                dir = strdup(d);
        else {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
                if (strcmp(d, ".") == 0)
                        dir = TAKE_PTR(cwd);
                else if (asprintf(&dir, "%s/%s", cwd, d) < 0)
                        dir = NULL;
        }
        if (!dir)
                return -ENOMEM;
        *ret = dir;
        return 0;
}

static void syntax_error(const config_t *cfg, const char *path, FILE *errs) {
        const char *text = config_error_text(cfg) ?: "syntax error";
        const char *file = config_error_file(cfg) ?: path;

        /* libconfig 1.5 mostly says just "syntax error": do not stutter */
        if (strcmp(text, "syntax error") == 0)
                fprintf(errs, "%s:%d: syntax error\n", file, config_error_line(cfg));
        else
                fprintf(errs, "%s:%d: syntax error: %s\n", file, config_error_line(cfg), text);
}

static int parse_text(const char *path, const char *text, FILE *errs, struct nextup_config *c) {
        _cleanup_(errs_done) struct errs e = {.path = path};
        _cleanup_(config_destroyp) config_t *cfgp = NULL;
        _cleanup_free_ char *dir = NULL;
        config_t cfg;
        int r;

        r = config_dir(path, &dir);
        if (r < 0)
                return r;
        config_init(&cfg);
        cfgp = &cfg;
        config_set_include_dir(&cfg, dir);
        if (!config_read_string(&cfg, text)) {
                syntax_error(&cfg, path, errs);
                return -EINVAL;
        }
        parse_root(&e, config_root_setting(&cfg), dir, c);
        if (e.oom)
                return -ENOMEM;
        errs_print(&e, errs);
        return e.n > 0 ? -EINVAL : 0;
}

int config_load(const char *path, FILE *errs, struct nextup_config **ret) {
        _cleanup_(config_freep) struct nextup_config *c = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_file(path, &text);
        if (r < 0) {
                fprintf(errs, "%s: cannot read: %s\n", path,
                        r == -EBADMSG ? "contains a NUL byte" : strerror(-r));
                return r;
        }
        r = config_new_default(&c);
        if (r >= 0) {
                c->path = strdup(path);
                if (!c->path)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = parse_text(path, text, errs, c);
        if (r == -EINVAL)
                return r;
        if (r < 0) {
                fprintf(errs, "%s: %s\n", path, strerror(-r));
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

struct nextup_config *config_free(struct nextup_config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->output_driver);
        free(c->output_file);
        for (size_t i = 0; i < c->n_output_options; i++) {
                free(c->output_options[i].key);
                free(c->output_options[i].value);
        }
        free(c->output_options);
        free(c->control_socket);
        free(c->control_allow_uids);
        free(c->control_allow_gids);
        free(c->state_dir);
        free(c->speaker_mark);
        for (size_t i = 0; i < c->n_sinks; i++)
                sink_config_clear(&c->sinks[i]);
        free(c->sinks);
        free(c->http_listen);
        for (size_t i = 0; i < c->n_startup; i++) {
                free(c->startup[i].audio);
                free(c->startup[i].transcript);
        }
        free(c->startup);
        free(c->filler_path);
        free(c->asrun_path);
        for (size_t i = 0; i < c->n_schedule; i++) {
                free(c->schedule[i].name);
                free(c->schedule[i].audio);
                free(c->schedule[i].transcript);
        }
        free(c->schedule);
        for (size_t i = 0; i < c->n_dropboxes; i++) {
                free(c->dropboxes[i].path);
                free(c->dropboxes[i].quarantine);
        }
        free(c->dropboxes);
        free(c);
        return NULL;
}
