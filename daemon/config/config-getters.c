/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config-getters.c: the error list of one load and the range-checked
 * getters every section parser uses. A getter that finds a problem records
 * it as "key: message" with the line of the setting and returns -EINVAL;
 * it never defaults silently. */
#include "config-internal.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"

void errs_done(struct errs *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->v[i].text);
        free(e->v);
}

/* The dotted path of S from the root: "output.rate", "captions.sinks[1]". */
void setting_key(const config_setting_t *s, char *buf, size_t size) {
        const config_setting_t *p = config_setting_parent(s);
        size_t n;

        buf[0] = '\0';
        if (!p)
                return;
        setting_key(p, buf, size);
        n = strlen(buf);
        if (config_setting_name(s))
                snprintf(buf + n, size - n, "%s%s", n > 0 ? "." : "", config_setting_name(s));
        else
                snprintf(buf + n, size - n, "[%d]", config_setting_index(s));
}

/* Records an error about WHERE (or about its missing member CHILD, which
 * has no line of its own, so the parent's line is used). */
void __attribute__((format(printf, 4, 5)))
err_at(struct errs *e, const config_setting_t *where, const char *child, const char *fmt, ...) {
        char key[KEY_MAX], msg[512];
        struct config_error *v;
        size_t n;
        va_list ap;

        setting_key(where, key, sizeof key);
        n = strlen(key);
        if (child)
                snprintf(key + n, sizeof key - n, "%s%s", n > 0 ? "." : "", child);
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        v = reallocarray(e->v, e->n + 1, sizeof *v);
        if (!v) {
                e->oom = true;
                return;
        }
        e->v = v;
        v[e->n] = (struct config_error){
                .file = config_setting_source_file(where),
                .line = config_setting_source_line(where),
                .seq = e->n,
        };
        if (asprintf(&v[e->n].text, "%s: %s", key, msg) < 0) {
                e->oom = true;
                return;
        }
        e->n++;
}

int error_cmp(const void *a, const void *b) {
        const struct config_error *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void errs_print(struct errs *e, FILE *f) {
        if (e->n > 1)
                qsort(e->v, e->n, sizeof *e->v, error_cmp);
        for (size_t i = 0; i < e->n; i++) {
                const char *file = e->v[i].file ?: e->path;

                if (e->v[i].line > 0)
                        fprintf(f, "%s:%d: %s\n", file, e->v[i].line, e->v[i].text);
                else
                        fprintf(f, "%s: %s\n", file, e->v[i].text);
        }
}

bool strv_contains(const char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (v[i] && strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* Reports each member of GROUP whose name is not in KNOWN. */
void check_keys(struct errs *e, const config_setting_t *group, const char *const *known, size_t n_known) {
        for (int i = 0; i < config_setting_length(group); i++) {
                const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);

                if (!strv_contains(known, n_known, config_setting_name(s)))
                        err_at(e, s, NULL, "unknown key");
        }
}

/* The getters: 0 when NAME is absent (*ret untouched, so the caller's
 * default stands), 1 when present and valid (*ret set), -EINVAL when
 * present but bad (reported, *ret untouched). */
int get_int(struct errs *e, const config_setting_t *parent, const char *name, int min, int max, int *ret) {
        const config_setting_t *s = config_setting_get_member(parent, name);
        long long v;

        if (!s)
                return 0;
        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
                err_at(e, s, NULL, "expected an integer");
                return -EINVAL;
        }
        v = config_setting_get_int64(s);
        if (v < min || v > max) {
                err_at(e, s, NULL, "%lld is out of range %d..%d", v, min, max);
                return -EINVAL;
        }
        *ret = (int)v;
        return 1;
}

int get_bool(struct errs *e, const config_setting_t *parent, const char *name, bool *ret) {
        const config_setting_t *s = config_setting_get_member(parent, name);

        if (!s)
                return 0;
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                err_at(e, s, NULL, "expected a boolean (true or false)");
                return -EINVAL;
        }
        *ret = config_setting_get_bool(s);
        return 1;
}

/* *ret points into the libconfig tree; copy it before config_destroy. */
int get_string(struct errs *e, const config_setting_t *parent, const char *name, bool allow_empty,
               const char **ret) {
        const config_setting_t *s = config_setting_get_member(parent, name);

        if (!s)
                return 0;
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                err_at(e, s, NULL, "expected a string");
                return -EINVAL;
        }
        if (!allow_empty && config_setting_get_string(s)[0] == '\0') {
                err_at(e, s, NULL, "must not be empty");
                return -EINVAL;
        }
        *ret = config_setting_get_string(s);
        return 1;
}

/* A string out of NAMES; *ret is its index. */
int get_enum(struct errs *e, const config_setting_t *parent, const char *name, const char *const *names,
             size_t n_names, int *ret) {
        const char *v;
        char list[256] = "";
        int r;

        r = get_string(e, parent, name, true, &v);
        if (r <= 0)
                return r;
        for (size_t i = 0; i < n_names; i++)
                if (strcmp(names[i], v) == 0) {
                        *ret = (int)i;
                        return 1;
                }
        for (size_t i = 0; i < n_names; i++) {
                size_t n = strlen(list);
                snprintf(list + n, sizeof list - n, "%s%s", i > 0 ? ", " : "", names[i]);
        }
        err_at(e, config_setting_get_member(parent, name), NULL, "\"%s\" is not one of %s", v, list);
        return -EINVAL;
}

/* Replaces *dst by a copy of SRC; remembers allocation failure in E. */
void set_str(struct errs *e, char **dst, const char *src) {
        char *copy = strdup(src);

        if (!copy) {
                e->oom = true;
                return;
        }
        free(*dst);
        *dst = copy;
}

char *path_resolve(const char *dir, const char *v) {
        char *abs;

        if (v[0] == '/')
                return strdup(v);
        return asprintf(&abs, "%s/%s", dir, v) < 0 ? NULL : abs;
}

/* A non-empty path; relative ones are joined to DIR (absolute). */
int get_path(struct errs *e, const config_setting_t *parent, const char *name, const char *dir, char **ret) {
        const char *v;
        char *abs;
        int r;

        r = get_string(e, parent, name, false, &v);
        if (r <= 0)
                return r;
        abs = path_resolve(dir, v);
        if (!abs) {
                e->oom = true;
                return -ENOMEM;
        }
        free(*ret);
        *ret = abs;
        return 1;
}

/* A member that must be a group (or list, when LIST): NULL when absent or
 * of another type (reported). */
const config_setting_t *get_aggregate(struct errs *e, const config_setting_t *parent, const char *name,
                                      bool list) {
        const config_setting_t *s = config_setting_get_member(parent, name);
        int type;

        if (!s)
                return NULL;
        type = config_setting_type(s);
        /* "x = ();" and "x = [];" both read as an empty list */
        if (list &&
            (type == CONFIG_TYPE_LIST || (type == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0)))
                return s;
        if (!list && type == CONFIG_TYPE_GROUP)
                return s;
        err_at(e, s, NULL, list ? "expected a list ( ... )" : "expected a group { ... }");
        return NULL;
}

bool is_word(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n < 64 &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

int get_group(struct errs *e, const config_setting_t *parent, const char *name, gid_t *ret) {
        const config_setting_t *s = config_setting_get_member(parent, name);
        struct group grp, *found = NULL;
        char buf[4096], *end;
        const char *v;
        unsigned long n;
        int r;

        if (!s)
                return 0;
        if (config_setting_type(s) != CONFIG_TYPE_STRING || !*(v = config_setting_get_string(s))) {
                err_at(e, s, NULL, "expected a group name such as \"nextup\"");
                return -EINVAL;
        }
        errno = 0;
        n = strtoul(v, &end, 10);
        if (*end == '\0' && errno == 0 && n < (gid_t)-1) {
                *ret = (gid_t)n;
                return 1;
        }
        r = getgrnam_r(v, &grp, buf, sizeof buf, &found);
        if (r != 0 || !found) {
                err_at(e, s, NULL, "no such group \"%s\"%s%s", v, r ? ": " : "", r ? strerror(r) : "");
                return -ENOENT;
        }
        *ret = found->gr_gid;
        return 1;
}

/* "0660", "660", "0600": at most four octal digits, no bits above 0777. */
int get_mode(struct errs *e, const config_setting_t *parent, const char *name, mode_t *ret) {
        const config_setting_t *s = config_setting_get_member(parent, name);
        const char *v;
        size_t n;

        if (!s)
                return 0;
        /* libconfig has no octal integers: 0660 would silently read as 660 */
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                err_at(e, s, NULL, "expected an octal string such as \"0660\"");
                return -EINVAL;
        }
        v = config_setting_get_string(s);
        n = strlen(v);
        if (n == 0 || n > 4 || strspn(v, "01234567") != n || strtoul(v, NULL, 8) > 0777) {
                err_at(e, s, NULL, "\"%s\" is not an octal mode such as \"0660\"", v);
                return -EINVAL;
        }
        *ret = (mode_t)strtoul(v, NULL, 8);
        return 1;
}

/* Reports the second of two list elements that share a FIELD value. */
void check_unique(struct errs *e, const config_setting_t *list, const char *field, const char *what,
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
