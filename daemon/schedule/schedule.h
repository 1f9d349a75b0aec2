/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schedule.h: clock events. Three layers, each usable alone:
 *  - pure local-time maths: when a wall-clock time next happens (DST gaps
 *    and overlaps resolved), and the `at` time syntax;
 *  - the event list and its state machine (waiting -> prepared at
 *    T - SCHEDULE_LEAD_S -> fired at T), driven by schedule_run() with an
 *    explicit "now", so tests need no clock;
 *  - one timerfd on CLOCK_REALTIME (absolute, cancel-on-set) watched by
 *    sd-event, which says when to run and when the clock was set.
 * Loop thread only. Times are CLOCK_REALTIME: seconds (time_t) for the
 * events, nanoseconds for "now" and deadlines. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"

/* An event's story is built (transcript parsed, audio scanned, aligned)
 * and a hard start handed to the playout thread this long before T. */
#define SCHEDULE_LEAD_S 10
/* An event whose time passed less than this long ago (the clock was set
 * forward, or the daemon restarted) still fires, late; older ones are
 * missed: a one-off one is dropped, a recurring one moves on. */
#define SCHEDULE_GRACE_S 60

/* `at` times must fall in [1970, 2100): what time_t, the nanosecond
 * deadlines (int64_t, good to 2262) and any sane programme can hold.
 * Anything else is refused when it is given, never dropped later. */
#define SCHEDULE_YEAR_MIN 1970
#define SCHEDULE_YEAR_MAX 2099
#define SCHEDULE_AT_MAX ((time_t)4102444800) /* 2100-01-01T00:00:00Z */

/* ---- pure ------------------------------------------------------------ */

/* The earliest instant whose local time is YEAR-MON-MDAY HOUR:MIN:SEC
 * (MON 1..12). In a DST gap (the time does not exist) the first instant
 * after it (the end of the gap); in an overlap (it exists twice) the first
 * of the two. Uses the process time zone (TZ, tzset). -EINVAL for fields
 * out of range. */
int schedule_local_time(int year, int mon, int mday, int hour, int min, int sec, time_t *ret);

/* The first occurrence strictly after AFTER of HOUR:MIN:SEC local time on
 * one of DAYS (bit 0 = Sunday .. bit 6 = Saturday), each day's occurrence
 * resolved as by schedule_local_time (so an overlap fires once). -EINVAL
 * for DAYS == 0 or fields out of range. */
int schedule_next(int hour, int min, int sec, unsigned days, time_t after, time_t *ret);

/* `at` times: "HH:MM[:SS]" (today) or "YYYY-MM-DDTHH:MM[:SS]" (a space for
 * the T is fine), local time, two digits each as in the config. -EINVAL
 * when malformed; -ERANGE when not after NOW (an HH:MM already passed
 * today is refused rather than taken as tomorrow: give the date). On
 * failure *RET_ERROR (caller frees, may be NULL on ENOMEM) says why.
 * -ERANGE too for a year outside SCHEDULE_YEAR_MIN..SCHEDULE_YEAR_MAX. */
int schedule_parse_at(const char *text, time_t now, time_t *ret, char **ret_error);

/* ---- the event list ------------------------------------------------- */

enum schedule_phase {
        SCHEDULE_WAITING,  /* before T - lead */
        SCHEDULE_PREPARED, /* prepare() called, fire() not yet */
};

struct schedule_event {
        uint64_t id; /* unique for the daemon's life; one-off ids persist */
        char *name;
        bool recurring;           /* from the config's schedule section */
        int hour, minute, second; /* recurring */
        unsigned days;            /* recurring */
        enum schedule_mode mode;
        int wait_s;
        char *audio, *transcript;
        time_t at;      /* the next (one-off: the only) occurrence */
        time_t last;    /* recurring: the occurrence fired last (never twice), 0 none */
        unsigned order; /* same second: lower plays first (config order, then one-offs as added) */
        enum schedule_phase phase;
};

struct schedule_ops {
        /* T - lead (or at once when added later than that). */
        void (*prepare)(struct schedule_event *ev, void *userdata);
        /* T. A one-off event is freed after this returns; a recurring one
         * moves on to its next occurrence (phase WAITING again). */
        void (*fire)(struct schedule_event *ev, void *userdata);
        /* Its time passed by more than SCHEDULE_GRACE_S unseen (clock set
         * forward, daemon down). Same life as after fire(). */
        void (*missed)(struct schedule_event *ev, void *userdata);
};

struct schedule;

int schedule_new(const struct schedule_ops *ops, void *userdata, struct schedule **ret);
/* Frees the events; calls no ops (the caller releases their userdata first). */
struct schedule *schedule_free(struct schedule *s);

/* Copies TMPL (its strings too) into a new event: TMPL->id 0 takes the
 * next id, else keeps it (restoring; the counter moves past it). A
 * recurring event computes its first occurrence after NOW_S; a one-off
 * one keeps TMPL->at. Sets order (config events keep TMPL->order, one-off
 * ones come after every recurring one, in id order). -ENOMEM, -EINVAL
 * (recurring with no days), -EEXIST (the id is taken), -ERANGE (a one-off
 * time before 1970 or from 2100 on: it could never be armed). */
int schedule_add(struct schedule *s, const struct schedule_event *tmpl, time_t now_s,
                 struct schedule_event **ret);
/* Removes ID (caller frees it with schedule_event_free), or NULL. */
struct schedule_event *schedule_take(struct schedule *s, uint64_t id);
struct schedule_event *schedule_event_free(struct schedule_event *ev);
struct schedule_event *schedule_find(const struct schedule *s, uint64_t id);

/* Events in air order: by time, then order. */
size_t schedule_size(const struct schedule *s);
struct schedule_event *schedule_get(const struct schedule *s, size_t index);
uint64_t schedule_next_id(const struct schedule *s);
void schedule_set_next_id(struct schedule *s, uint64_t id);

/* Calls prepare/fire/missed for everything due at NOW_NS, in air order;
 * returns the next deadline (ns), INT64_MAX when there is none. Ops may
 * not add or remove events. */
int64_t schedule_run(struct schedule *s, int64_t now_ns);
/* The clock was set (or the time zone changed): recurring events that
 * have not fired recompute their occurrence (one within the last
 * SCHEDULE_GRACE_S still counts, none already fired comes again). Call
 * schedule_run afterwards. */
void schedule_clock_changed(struct schedule *s, int64_t now_ns);

/* ---- the timer ------------------------------------------------------- */

struct schedule_timer;

/* CALLBACK runs on the loop when the armed time came, or when the clock
 * was set (CLOCK_CHANGED: deadlines must be recomputed and re-armed). */
int schedule_timer_new(sd_event *e, void (*callback)(bool clock_changed, void *userdata), void *userdata,
                       struct schedule_timer **ret);
struct schedule_timer *schedule_timer_free(struct schedule_timer *t);
/* Arms the timer for DEADLINE_NS (CLOCK_REALTIME, absolute); INT64_MAX
 * disarms. A deadline already past fires at once. */
int schedule_timer_arm(struct schedule_timer *t, int64_t deadline_ns);
