/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schedule.c: clock events: when a local wall-clock time happens, the
 * list of events with their waiting -> prepared -> fired life, and the
 * CLOCK_REALTIME timer that drives them.
 *
 * Local time is resolved with mktime() both ways round (tm_isdst 0 and 1)
 * and checked with localtime_r(), because mktime(tm_isdst = -1) is
 * unspecified in an overlap and silently shifts a time in a gap by the
 * DST offset. Events hold absolute CLOCK_REALTIME seconds: a clock step
 * does not change what instant "10:00 local" is, only how far away it is,
 * so a step needs a re-armed timer (the timerfd is cancel-on-set and tells
 * us) and late events are caught by SCHEDULE_GRACE_S. */
#include "schedule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "timeutil.h"

/* ---- local time ------------------------------------------------------ */

/* Wall-clock fields as one ordered number (not a duration). */
static int64_t wall_key(int year, int mon, int mday, int hour, int min, int sec) {
        return ((((((int64_t)year * 13 + mon) * 32 + mday) * 24 + hour) * 60 + min) * 60) + sec;
}

static int64_t wall_key_of(time_t t) {
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return INT64_MIN;
        return wall_key(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int days_in_month(int year, int mon) {
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        return mon == 2 && leap ? 29 : days[mon - 1];
}

/* mktime() of the fields with the given tm_isdst; -1 when it fails. */
static time_t make_time(int year, int mon, int mday, int hour, int min, int sec, int isdst) {
        struct tm tm = {
                .tm_year = year - 1900,
                .tm_mon = mon - 1,
                .tm_mday = mday,
                .tm_hour = hour,
                .tm_min = min,
                .tm_sec = sec,
                .tm_isdst = isdst,
        };

        return mktime(&tm);
}

/* In a gap: the first instant whose wall time is at or after WANT,
 * between LO (before it) and HI (after it). Wall time only moves forward
 * across a gap, so bisection is sound. */
static time_t gap_end(time_t lo, time_t hi, int64_t want) {
        while (hi - lo > 1) {
                time_t mid = lo + (hi - lo) / 2;

                if (wall_key_of(mid) >= want)
                        hi = mid;
                else
                        lo = mid;
        }
        return hi;
}

int schedule_local_time(int year, int mon, int mday, int hour, int min, int sec, time_t *ret) {
        int64_t want = wall_key(year, mon, mday, hour, min, sec);
        time_t c[2];
        bool found = false;
        time_t best = 0;

        if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || mday < 1 ||
            mday > days_in_month(year, mon) || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
            sec > 59)
                return -EINVAL;
        for (int dst = 0; dst <= 1; dst++) {
                c[dst] = make_time(year, mon, mday, hour, min, sec, dst);
                /* Exists with this offset: the first of an overlap wins. */
                if (wall_key_of(c[dst]) == want && (!found || c[dst] < best)) {
                        best = c[dst];
                        found = true;
                }
        }
        if (!found) {
                time_t lo = MIN(c[0], c[1]), hi = MAX(c[0], c[1]);

                if (wall_key_of(lo) < want && wall_key_of(hi) > want)
                        best = gap_end(lo, hi, want);
                else
                        best = hi; /* no gap seen: take what mktime() made of it */
        }
        *ret = best;
        return 0;
}

int schedule_next(int hour, int min, int sec, unsigned days, time_t after, time_t *ret) {
        struct tm a;

        if ((days & 0x7f) == 0 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
                return -EINVAL;
        if (!localtime_r(&after, &a))
                return -EINVAL;
        /* Today's occurrence may be past; a week and a day covers any set of days. */
        for (int i = 0; i <= 8; i++) {
                struct tm d = {.tm_year = a.tm_year,
                               .tm_mon = a.tm_mon,
                               .tm_mday = a.tm_mday + i,
                               .tm_hour = 12,
                               .tm_isdst = -1};
                time_t t;

                if (mktime(&d) == (time_t)-1 || !(days & (1u << d.tm_wday)))
                        continue;
                if (schedule_local_time(d.tm_year + 1900, d.tm_mon + 1, d.tm_mday, hour, min, sec, &t) < 0)
                        continue;
                if (t > after) {
                        *ret = t;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Exactly N digits at *P; advances *P. */
static bool take_digits(const char **p, int n, int *ret) {
        int v = 0;

        for (int i = 0; i < n; i++) {
                if ((*p)[i] < '0' || (*p)[i] > '9')
                        return false;
                v = v * 10 + (*p)[i] - '0';
        }
        *p += n;
        *ret = v;
        return true;
}

static bool take_char(const char **p, const char *set) {
        if (**p && strchr(set, **p)) {
                (*p)++;
                return true;
        }
        return false;
}

/* "[YYYY-MM-DD(T| )]HH:MM[:SS]"; *RET_DATE tells whether a date was there. */
static bool parse_at_fields(const char *p, int f[6], bool *ret_date) {
        const char *q = p;

        *ret_date = take_digits(&q, 4, &f[0]) && take_char(&q, "-");
        if (*ret_date) {
                if (!take_digits(&q, 2, &f[1]) || !take_char(&q, "-") || !take_digits(&q, 2, &f[2]) ||
                    !take_char(&q, "Tt "))
                        return false;
                p = q;
        }
        if (!take_digits(&p, 2, &f[3]) || !take_char(&p, ":") || !take_digits(&p, 2, &f[4]))
                return false;
        f[5] = 0;
        if (take_char(&p, ":") && !take_digits(&p, 2, &f[5]))
                return false;
        return *p == '\0';
}

int schedule_parse_at(const char *text, time_t now, time_t *ret, char **ret_error) {
        int f[6] = {0};
        bool dated;
        time_t t;

        *ret_error = NULL;
        if (!text || !parse_at_fields(text, f, &dated)) {
                if (asprintf(ret_error,
                             "'%s' is not a time: use HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS] (local time)",
                             text ? text : "") < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        if (dated && (f[0] < SCHEDULE_YEAR_MIN || f[0] > SCHEDULE_YEAR_MAX)) {
                if (asprintf(ret_error, "'%s': the year must be %d..%d", text, SCHEDULE_YEAR_MIN,
                             SCHEDULE_YEAR_MAX) < 0)
                        *ret_error = NULL;
                return -ERANGE;
        }
        if (!dated) {
                struct tm today;

                localtime_r(&now, &today);
                f[0] = today.tm_year + 1900;
                f[1] = today.tm_mon + 1;
                f[2] = today.tm_mday;
        }
        if (schedule_local_time(f[0], f[1], f[2], f[3], f[4], f[5], &t) < 0) {
                if (asprintf(ret_error, "'%s': no such date or time", text) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        if (t < 0 || t >= SCHEDULE_AT_MAX) { /* a time zone can push the edge of a year over */
                if (asprintf(ret_error, "'%s' is out of range (%d..%d)", text, SCHEDULE_YEAR_MIN,
                             SCHEDULE_YEAR_MAX) < 0)
                        *ret_error = NULL;
                return -ERANGE;
        }
        if (t <= now) {
                int n = dated ? asprintf(ret_error, "'%s' is in the past", text)
                              : asprintf(ret_error,
                                         "%02d:%02d:%02d has passed today; give a date "
                                         "(%04d-%02d-%02dT%02d:%02d:%02d) for another day",
                                         f[3], f[4], f[5], f[0], f[1], f[2], f[3], f[4], f[5]);
                if (n < 0)
                        *ret_error = NULL;
                return -ERANGE;
        }
        *ret = t;
        return 0;
}

/* ---- the event list -------------------------------------------------- */

struct schedule {
        struct schedule_ops ops;
        void *userdata;
        struct schedule_event **events;
        size_t n, allocated;
        uint64_t next_id;
};

int schedule_new(const struct schedule_ops *ops, void *userdata, struct schedule **ret) {
        struct schedule *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        s->ops = *ops;
        s->userdata = userdata;
        s->next_id = 1;
        *ret = s;
        return 0;
}

struct schedule_event *schedule_event_free(struct schedule_event *ev) {
        if (ev) {
                free(ev->name);
                free(ev->audio);
                free(ev->transcript);
                free(ev);
        }
        return NULL;
}

struct schedule *schedule_free(struct schedule *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                schedule_event_free(s->events[i]);
        free(s->events);
        free(s);
        return NULL;
}

static int event_cmp(const void *a, const void *b) {
        const struct schedule_event *x = *(struct schedule_event *const *)a,
                                    *y = *(struct schedule_event *const *)b;

        if (x->at != y->at)
                return x->at < y->at ? -1 : 1;
        if (x->order != y->order)
                return x->order < y->order ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

static void sort_events(struct schedule *s) {
        if (s->n > 1)
                qsort(s->events, s->n, sizeof *s->events, event_cmp);
}

struct schedule_event *schedule_find(const struct schedule *s, uint64_t id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->events[i]->id == id)
                        return s->events[i];
        return NULL;
}

static struct schedule_event *event_dup(const struct schedule_event *tmpl) {
        struct schedule_event *ev = calloc(1, sizeof *ev);

        if (!ev)
                return NULL;
        *ev = *tmpl;
        ev->name = tmpl->name ? strdup(tmpl->name) : NULL;
        ev->audio = tmpl->audio ? strdup(tmpl->audio) : NULL;
        ev->transcript = tmpl->transcript ? strdup(tmpl->transcript) : NULL;
        if ((tmpl->name && !ev->name) || (tmpl->audio && !ev->audio) ||
            (tmpl->transcript && !ev->transcript))
                return schedule_event_free(ev);
        ev->phase = SCHEDULE_WAITING;
        return ev;
}

/* One-off events come after all recurring ones at the same second. */
#define ORDER_ONE_OFF 0x80000000u

int schedule_add(struct schedule *s, const struct schedule_event *tmpl, time_t now_s,
                 struct schedule_event **ret) {
        _cleanup_(freep) struct schedule_event *ev = NULL;
        int r;

        if (tmpl->id != 0 && schedule_find(s, tmpl->id))
                return -EEXIST;
        if (!tmpl->recurring && (tmpl->at < 0 || tmpl->at >= SCHEDULE_AT_MAX))
                return -ERANGE;
        if (s->n == s->allocated) {
                size_t n = s->allocated ? s->allocated * 2 : 8;
                struct schedule_event **a = reallocarray(s->events, n, sizeof *a);

                if (!a)
                        return -ENOMEM;
                s->events = a;
                s->allocated = n;
        }
        ev = event_dup(tmpl);
        if (!ev)
                return -ENOMEM;
        if (ev->recurring) {
                r = schedule_next(ev->hour, ev->minute, ev->second, ev->days, MAX(now_s, ev->last), &ev->at);
                if (r < 0) {
                        schedule_event_free(TAKE_PTR(ev));
                        return r;
                }
        }
        ev->id = tmpl->id ? tmpl->id : s->next_id;
        s->next_id = MAX(s->next_id, ev->id + 1);
        if (!ev->recurring)
                ev->order = ORDER_ONE_OFF + (unsigned)(ev->id & 0x7fffffff);
        s->events[s->n++] = ev;
        sort_events(s);
        if (ret)
                *ret = ev;
        TAKE_PTR(ev);
        return 0;
}

struct schedule_event *schedule_take(struct schedule *s, uint64_t id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->events[i]->id == id) {
                        struct schedule_event *ev = s->events[i];

                        memmove(s->events + i, s->events + i + 1, (s->n - i - 1) * sizeof *s->events);
                        s->n--;
                        return ev;
                }
        return NULL;
}

size_t schedule_size(const struct schedule *s) {
        return s->n;
}

struct schedule_event *schedule_get(const struct schedule *s, size_t index) {
        return index < s->n ? s->events[index] : NULL;
}

uint64_t schedule_next_id(const struct schedule *s) {
        return s->next_id;
}

void schedule_set_next_id(struct schedule *s, uint64_t id) {
        s->next_id = MAX(s->next_id, id);
}

/* After fire() or missed(): a one-off event goes (returns true), a
 * recurring one moves on to its next occurrence after AFTER. */
static bool retire(struct schedule *s, size_t i, time_t after) {
        struct schedule_event *ev = s->events[i];

        if (!ev->recurring) {
                schedule_event_free(schedule_take(s, ev->id));
                return true;
        }
        ev->last = ev->at;
        ev->phase = SCHEDULE_WAITING;
        if (schedule_next(ev->hour, ev->minute, ev->second, ev->days, MAX(ev->at, after), &ev->at) < 0)
                ev->at += 86400; /* not reached: days was checked when added */
        return false;
}

/* One event at NOW_NS; true when it left the list. */
static bool run_one(struct schedule *s, size_t i, int64_t now_ns) {
        struct schedule_event *ev = s->events[i];
        int64_t at_ns = (int64_t)ev->at * NSEC_PER_SEC;
        time_t now_s = (time_t)(now_ns / NSEC_PER_SEC);

        if (now_ns > at_ns + SCHEDULE_GRACE_S * NSEC_PER_SEC) {
                s->ops.missed(ev, s->userdata);
                return retire(s, i, now_s);
        }
        if (ev->phase == SCHEDULE_WAITING && now_ns >= at_ns - SCHEDULE_LEAD_S * NSEC_PER_SEC) {
                ev->phase = SCHEDULE_PREPARED;
                s->ops.prepare(ev, s->userdata);
        }
        if (ev->phase == SCHEDULE_PREPARED && now_ns >= at_ns) {
                s->ops.fire(ev, s->userdata);
                return retire(s, i, now_s - SCHEDULE_GRACE_S);
        }
        return false;
}

int64_t schedule_run(struct schedule *s, int64_t now_ns) {
        int64_t next = INT64_MAX;

        sort_events(s);
        for (size_t i = 0; i < s->n;)
                if (!run_one(s, i, now_ns))
                        i++;
        sort_events(s);
        for (size_t i = 0; i < s->n; i++) {
                const struct schedule_event *ev = s->events[i];
                int64_t t = (int64_t)ev->at * NSEC_PER_SEC;

                if (ev->phase == SCHEDULE_WAITING)
                        t -= SCHEDULE_LEAD_S * NSEC_PER_SEC;
                next = MIN(next, t);
        }
        return next;
}

void schedule_clock_changed(struct schedule *s, int64_t now_ns) {
        time_t now_s = (time_t)(now_ns / NSEC_PER_SEC);

        /* An occurrence older than the grace stays as it is: run() reports
         * it missed. Otherwise the occurrence is recomputed, which only
         * changes anything when the time zone did. */
        for (size_t i = 0; i < s->n; i++) {
                struct schedule_event *ev = s->events[i];
                time_t t;

                if (!ev->recurring || ev->at < now_s - SCHEDULE_GRACE_S)
                        continue;
                if (schedule_next(ev->hour, ev->minute, ev->second, ev->days,
                                  MAX(ev->last, now_s - SCHEDULE_GRACE_S - 1), &t) >= 0 &&
                    t != ev->at) {
                        log_info("Schedule '%s': next occurrence moved by %+lld s",
                                 ev->name ? ev->name : "?", (long long)(t - ev->at));
                        ev->at = t;
                }
        }
        sort_events(s);
}

/* ---- the timer ------------------------------------------------------- */

struct schedule_timer {
        int fd;
        sd_event_source *source;
        void (*callback)(bool clock_changed, void *userdata);
        void *userdata;
};

static int on_timerfd(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct schedule_timer *t = userdata;
        uint64_t expirations;
        ssize_t n = read(fd, &expirations, sizeof expirations);

        /* timerfd_create(2): with TFD_TIMER_CANCEL_ON_SET, read() fails
         * with ECANCELED when the realtime clock undergoes a discontinuous
         * change; the timer is then disarmed until set again. */
        if (n < 0 && errno == EAGAIN)
                return 0;
        if (n < 0 && errno != ECANCELED)
                log_warning_errno(-errno, "Reading the schedule timer failed: %m, re-arming");
        t->callback(n < 0 && errno == ECANCELED, t->userdata);
        return 0;
}

int schedule_timer_new(sd_event *e, void (*callback)(bool clock_changed, void *userdata), void *userdata,
                       struct schedule_timer **ret) {
        struct schedule_timer *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        t->callback = callback;
        t->userdata = userdata;
        t->fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
        if (t->fd < 0) {
                r = -errno;
                free(t);
                return r;
        }
        r = sd_event_add_io(e, &t->source, t->fd, EPOLLIN, on_timerfd, t);
        if (r < 0) {
                schedule_timer_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

struct schedule_timer *schedule_timer_free(struct schedule_timer *t) {
        if (!t)
                return NULL;
        sd_event_source_disable_unref(t->source);
        if (t->fd >= 0)
                close(t->fd);
        free(t);
        return NULL;
}

int schedule_timer_arm(struct schedule_timer *t, int64_t deadline_ns) {
        struct itimerspec its = {0};

        if (deadline_ns != INT64_MAX) {
                deadline_ns = MAX(deadline_ns, 1); /* 0 would disarm */
                its.it_value.tv_sec = (time_t)(deadline_ns / NSEC_PER_SEC);
                its.it_value.tv_nsec = (long)(deadline_ns % NSEC_PER_SEC);
        }
        if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
                return -errno;
        return 0;
}
