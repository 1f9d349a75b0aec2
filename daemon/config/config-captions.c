/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config-captions.c: the captions section (its sinks, each type with the
 * keys it takes) and the http section, the two that name network
 * addresses. Hosts must be numeric: a name lookup would block the loop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config-internal.h"
#include "netaddr.h"

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

void parse_http(struct errs *e, const config_setting_t *root, struct nextup_config *c) {
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

void sink_config_clear(struct sink_config *sc) {
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
        struct netaddr a;
        const char *v;

        if (get_string(e, s, name, false, &v) <= 0)
                return;
        if (netaddr_parse_connect(v, &a) < 0) {
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

void parse_captions(struct errs *e, const config_setting_t *root, const char *dir, struct nextup_config *c) {
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
