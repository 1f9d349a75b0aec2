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
 * files exist is checked when they are used, not here. The sections that
 * name network addresses (captions, http) are read in config-captions.c,
 * the schedule in config-schedule.c, with config-getters.c's getters. */
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

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nextup_config *, config_free);

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

static void add_root(struct errs *e, struct nextup_config *c, const char *path, bool dir_of) {
        char *r, **n;

        if (!path)
                return;
        if (dir_of) {
                const char *slash = strrchr(path, '/');

                r = strndup(path, slash && slash != path ? (size_t)(slash - path) : 1);
        } else
                r = strdup(path);
        n = r ? realloc(c->media_roots, (c->n_media_roots + 1) * sizeof *n) : NULL;
        if (!n) {
                free(r);
                e->oom = true;
                return;
        }
        c->media_roots = n;
        c->media_roots[c->n_media_roots++] = r;
}

/* media_roots = ( "/srv/audio", ... ); relative entries join the config's
 * directory. Absent: the folders the config itself names. */
static void parse_media_roots(struct errs *e, const config_setting_t *root, const char *dir,
                              struct nextup_config *c) {
        const config_setting_t *list = config_setting_get_member(root, "media_roots");

        if (!list) {
                add_root(e, c, c->state_dir, false);
                for (size_t i = 0; i < c->n_dropboxes; i++)
                        add_root(e, c, c->dropboxes[i].path, false);
                add_root(e, c, c->filler_path, false);
                for (size_t i = 0; i < c->n_startup; i++) {
                        add_root(e, c, c->startup[i].audio, true);
                        add_root(e, c, c->startup[i].transcript, true);
                }
                for (size_t i = 0; i < c->n_schedule; i++) {
                        add_root(e, c, c->schedule[i].audio, true);
                        add_root(e, c, c->schedule[i].transcript, true);
                }
                return;
        }
        if (config_setting_type(list) != CONFIG_TYPE_LIST &&
            config_setting_type(list) != CONFIG_TYPE_ARRAY) {
                err_at(e, list, NULL, "expected a list of folders ( \"/srv/audio\", ... )");
                return;
        }
        if (config_setting_length(list) == 0) {
                err_at(e, list, NULL, "at least one folder is needed (nothing could be queued)");
                return;
        }
        for (int i = 0; i < config_setting_length(list); i++) {
                const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
                const char *v = config_setting_get_string(s);
                _cleanup_free_ char *abs = NULL;

                if (!v || !v[0]) {
                        err_at(e, s, NULL, "expected a folder (a non-empty string)");
                        continue;
                }
                abs = path_resolve(dir, v);
                if (!abs) {
                        e->oom = true;
                        return;
                }
                add_root(e, c, abs, false);
        }
}

static void parse_root(struct errs *e, const config_setting_t *root, const char *dir,
                       struct nextup_config *c) {
        static const char *const keys[] = {
                "output", "control", "state_dir", "log_level", "captions", "startup", "playout",
                "filler", "silence", "asrun",     "schedule",  "dropbox",  "http",    "media_roots",
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
        parse_media_roots(e, root, dir, c); /* last: its default names the folders above */
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
        for (size_t i = 0; i < c->n_media_roots; i++)
                free(c->media_roots[i]);
        free(c->media_roots);
        free(c);
        return NULL;
}
