/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config-internal.h: what the section parsers (config.c, config-captions.c,
 * config-schedule.c) share with each other and with the
 * checked getters of config-getters.c. Private to daemon/config. */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/un.h>

#define KEY_MAX 256
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct config_error {
        const char *file; /* NULL: the main file */
        int line;         /* 0: no line known */
        size_t seq;       /* keeps messages of one line in the order found */
        char *text;       /* "key: message" */
};

/* Every error found in one load. Collected first, printed sorted by line. */
struct errs {
        const char *path; /* as given on the command line */
        struct config_error *v;
        size_t n;
        bool oom;
};

void errs_done(struct errs *e);

void setting_key(const config_setting_t *s, char *buf, size_t size);

void __attribute__((format(printf, 4, 5)))
err_at(struct errs *e, const config_setting_t *where, const char *child, const char *fmt, ...);

int error_cmp(const void *a, const void *b);

void errs_print(struct errs *e, FILE *f);

bool strv_contains(const char *const *v, size_t n, const char *s);

void check_keys(struct errs *e, const config_setting_t *group, const char *const *known, size_t n_known);

int get_int(struct errs *e, const config_setting_t *parent, const char *name, int min, int max, int *ret);

int get_bool(struct errs *e, const config_setting_t *parent, const char *name, bool *ret);

int get_string(struct errs *e, const config_setting_t *parent, const char *name, bool allow_empty,
               const char **ret);

int get_enum(struct errs *e, const config_setting_t *parent, const char *name, const char *const *names,
             size_t n_names, int *ret);

void set_str(struct errs *e, char **dst, const char *src);

/* V as an absolute path: itself when it is one, else joined to DIR.
 * malloc'd, NULL when out of memory. */
char *path_resolve(const char *dir, const char *v);

int get_path(struct errs *e, const config_setting_t *parent, const char *name, const char *dir, char **ret);

const config_setting_t *get_aggregate(struct errs *e, const config_setting_t *parent, const char *name,
                                      bool list);

bool is_word(const char *s);

int get_mode(struct errs *e, const config_setting_t *parent, const char *name, mode_t *ret);
/* A group name (or number) that exists on this system, as its gid. */
int get_group(struct errs *e, const config_setting_t *parent, const char *name, gid_t *ret);

/* Reports the second of two list elements that share a FIELD value
 * (VALUES: that field of each of the N elements, NULL: none). */
void check_unique(struct errs *e, const config_setting_t *list, const char *field, const char *what,
                  const char *const *values, size_t n);

struct nextup_config;
struct sink_config;

/* The section parsers outside config.c: each reads its section of ROOT
 * into C (paths relative to DIR), recording every problem in E. */
void parse_captions(struct errs *e, const config_setting_t *root, const char *dir, struct nextup_config *c);
void parse_http(struct errs *e, const config_setting_t *root, struct nextup_config *c);
void parse_schedule(struct errs *e, const config_setting_t *root, const char *dir, struct nextup_config *c);

/* Frees what one sink's config holds. */
void sink_config_clear(struct sink_config *sc);
