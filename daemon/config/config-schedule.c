/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config-schedule.c: the schedule section (programme events at wall-clock
 * times: "HH:MM[:SS]", days as names or "daily"/"weekdays"/"weekends")
 * and the mode and day names shared with nextupctl's listing. */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config-internal.h"

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

void parse_schedule(struct errs *e, const config_setting_t *root, const char *dir, struct nextup_config *c) {
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
