/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-schedule: the clock events' local-time maths (daily, weekdays,
 * lists, midnight, seconds, DST gaps and overlaps in Berlin, New York and
 * Lord Howe's half-hour DST), the `at` syntax, the event list's
 * prepare/fire/missed life with an explicit "now", what a clock step does
 * (the ECANCELED path's recompute), and the timerfd itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "schedule.h"
#include "timeutil.h"

#define NS INT64_C(1000000000)
#define SUN (1u << 0)
#define MON (1u << 1)
#define WED (1u << 3)
#define FRI (1u << 5)
#define SAT (1u << 6)
#define WEEKDAYS 0x3eu
#define DAILY 0x7fu

static void zone(const char *tz) {
        setenv("TZ", tz, 1);
        tzset();
}

/* "YYYY-MM-DDTHH:MM[:SS]" in UTC -> epoch seconds. */
static time_t utc(const char *s) {
        struct tm tm = {0};

        assert_true(sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                           &tm.tm_min, &tm.tm_sec) >= 5);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return timegm(&tm);
}

static time_t next(int h, int m, int s, unsigned days, const char *after_utc) {
        time_t t = 0;

        assert_int_equal(schedule_next(h, m, s, days, utc(after_utc), &t), 0);
        return t;
}

static void test_daily_and_seconds(void **state) {
        zone("Europe/Berlin"); /* winter: UTC+1 */
        assert_int_equal(next(10, 0, 0, DAILY, "2026-03-10T08:00:00"), utc("2026-03-10T09:00:00"));
        /* Strictly after: at the very second it is tomorrow's. */
        assert_int_equal(next(10, 0, 0, DAILY, "2026-03-10T09:00:00"), utc("2026-03-11T09:00:00"));
        assert_int_equal(next(10, 0, 0, DAILY, "2026-03-10T08:59:59"), utc("2026-03-10T09:00:00"));
        assert_int_equal(next(10, 0, 30, DAILY, "2026-03-10T09:00:10"), utc("2026-03-10T09:00:30"));
        assert_int_equal(next(23, 59, 59, DAILY, "2026-03-10T08:00:00"), utc("2026-03-10T22:59:59"));
}

static void test_midnight_rollover(void **state) {
        zone("Europe/Berlin");
        /* 23:59:59 local -> 00:00:00 is one second later, the next day. */
        assert_int_equal(next(0, 0, 0, DAILY, "2026-03-10T22:59:59"), utc("2026-03-10T23:00:00"));
        /* Year and month ends. */
        assert_int_equal(next(0, 0, 0, DAILY, "2026-12-31T23:30:00"), utc("2027-01-01T23:00:00"));
        assert_int_equal(next(0, 0, 0, DAILY, "2026-12-31T22:30:00"), utc("2026-12-31T23:00:00"));
        assert_int_equal(next(6, 0, 0, DAILY, "2028-02-28T12:00:00"), utc("2028-02-29T05:00:00"));
}

static void test_days(void **state) {
        zone("UTC");
        /* 2026-11-27 is a Friday. */
        assert_int_equal(next(10, 0, 0, WEEKDAYS, "2026-11-27T11:00:00"), utc("2026-11-30T10:00:00"));
        assert_int_equal(next(10, 0, 0, WEEKDAYS, "2026-11-27T09:00:00"), utc("2026-11-27T10:00:00"));
        assert_int_equal(next(10, 0, 0, SAT | SUN, "2026-11-27T09:00:00"), utc("2026-11-28T10:00:00"));
        assert_int_equal(next(10, 0, 0, SAT | SUN, "2026-11-29T10:00:00"), utc("2026-12-05T10:00:00"));
        assert_int_equal(next(10, 0, 0, MON | WED | FRI, "2026-11-30T10:00:00"), utc("2026-12-02T10:00:00"));
        /* A single day a week later: only that day. */
        assert_int_equal(next(10, 0, 0, FRI, "2026-11-27T10:00:00"), utc("2026-12-04T10:00:00"));
        assert_int_equal(next(10, 0, 0, FRI, "2026-11-27T09:59:59"), utc("2026-11-27T10:00:00"));
}

static void test_invalid(void **state) {
        time_t t = 42;

        zone("UTC");
        assert_int_equal(schedule_next(10, 0, 0, 0, 0, &t), -EINVAL);
        assert_int_equal(schedule_next(24, 0, 0, DAILY, 0, &t), -EINVAL);
        assert_int_equal(schedule_next(10, 60, 0, DAILY, 0, &t), -EINVAL);
        assert_int_equal(schedule_local_time(2026, 2, 29, 10, 0, 0, &t), -EINVAL);
        assert_int_equal(schedule_local_time(2026, 13, 1, 10, 0, 0, &t), -EINVAL);
        assert_int_equal(t, 42);
}

static void test_dst_berlin(void **state) {
        zone("Europe/Berlin");
        /* Spring forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does
         * not exist and fires at the first valid instant after, 03:00 CEST. */
        assert_int_equal(next(2, 30, 0, DAILY, "2026-03-28T12:00:00"), utc("2026-03-29T01:00:00"));
        assert_int_equal(next(2, 30, 0, DAILY, "2026-03-29T01:00:00"), utc("2026-03-30T00:30:00"));
        /* Just before the gap and just after: unaffected. */
        assert_int_equal(next(1, 59, 59, DAILY, "2026-03-28T12:00:00"), utc("2026-03-29T00:59:59"));
        assert_int_equal(next(3, 0, 0, DAILY, "2026-03-28T12:00:00"), utc("2026-03-29T01:00:00"));
        /* Fall back 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice;
         * the first (CEST) fires and the second does not. */
        assert_int_equal(next(2, 30, 0, DAILY, "2026-10-24T12:00:00"), utc("2026-10-25T00:30:00"));
        assert_int_equal(next(2, 30, 0, DAILY, "2026-10-25T00:30:00"), utc("2026-10-26T01:30:00"));
        /* Summer: UTC+2. */
        assert_int_equal(next(10, 0, 0, DAILY, "2026-07-01T00:00:00"), utc("2026-07-01T08:00:00"));
}

static void test_dst_new_york(void **state) {
        zone("America/New_York");
        /* 2026-03-08 02:00 EST -> 03:00 EDT. */
        assert_int_equal(next(2, 30, 0, DAILY, "2026-03-07T12:00:00"), utc("2026-03-08T07:00:00"));
        assert_int_equal(next(2, 0, 0, DAILY, "2026-03-07T12:00:00"), utc("2026-03-08T07:00:00"));
        /* 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 twice, the first fires. */
        assert_int_equal(next(1, 30, 0, DAILY, "2026-10-31T12:00:00"), utc("2026-11-01T05:30:00"));
        assert_int_equal(next(1, 30, 0, DAILY, "2026-11-01T05:30:00"), utc("2026-11-02T06:30:00"));
        /* Weekdays across the change: Sunday 11-01 is skipped anyway. */
        assert_int_equal(next(1, 30, 0, WEEKDAYS, "2026-10-30T12:00:00"), utc("2026-11-02T06:30:00"));
}

static void test_dst_half_hour(void **state) {
        zone("Australia/Lord_Howe");
        /* 2026-10-04 02:00 -> 02:30 (+10:30 -> +11): 02:15 fires at 02:30. */
        assert_int_equal(next(2, 15, 0, DAILY, "2026-10-03T00:00:00"), utc("2026-10-03T15:30:00"));
}

static void test_parse_at(void **state) {
        time_t now, t = 42;
        char *err = NULL;

        zone("Europe/Berlin");
        now = utc("2026-11-27T09:30:00"); /* 10:30 local */
        assert_int_equal(schedule_parse_at("11:00", now, &t, &err), 0);
        assert_int_equal(t, utc("2026-11-27T10:00:00"));
        assert_null(err);
        assert_int_equal(schedule_parse_at("10:30:01", now, &t, &err), 0);
        assert_int_equal(t, now + 1);
        assert_int_equal(schedule_parse_at("2026-11-28T10:00", now, &t, &err), 0);
        assert_int_equal(t, utc("2026-11-28T09:00:00"));
        assert_int_equal(schedule_parse_at("2026-11-28 10:00:05", now, &t, &err), 0);
        assert_int_equal(t, utc("2026-11-28T09:00:05"));

        t = 42;
        /* Passed today: refused, with the dated form to use. */
        assert_int_equal(schedule_parse_at("10:00", now, &t, &err), -ERANGE);
        assert_non_null(strstr(err, "has passed today"));
        assert_non_null(strstr(err, "2026-11-27T10:00:00"));
        free(err);
        assert_int_equal(schedule_parse_at("10:30:00", now, &t, &err), -ERANGE); /* now is not after now */
        free(err);
        assert_int_equal(schedule_parse_at("2026-11-27T10:29", now, &t, &err), -ERANGE);
        assert_non_null(strstr(err, "in the past"));
        free(err);
        static const char *const bad[] = {"1:00",       "10:0",          "10",     "25:00",
                                          "10:60",      "10:00:60",      "10:00:", "2026-02-30T10:00",
                                          "2026-11-28", "2026-11-28T",   "10:00x", " 10:00",
                                          "",           "26-11-28T10:00"};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                assert_int_equal(schedule_parse_at(bad[i], now, &t, &err), -EINVAL);
                assert_non_null(err);
                free(err);
        }
        assert_int_equal(t, 42);
}

/* Issue 8: "9999-12-31T23:59:59" overflowed the nanosecond deadline
 * (UBSan abort; release builds said ok and then dropped the event as
 * missed). Years outside 1970..2099 are refused at once, with the reason. */
static void test_parse_at_range(void **state) {
        static const char *const far[] = {"9999-12-31T23:59:59", "2100-01-01T00:00", "1969-12-31T23:59",
                                          "0000-01-01T00:00"};
        time_t now, t = 42;
        char *err = NULL;

        zone("Pacific/Kiritimati"); /* UTC+14: 2099-12-31T23:59 local is still 2099 in UTC */
        now = utc("2026-11-27T09:30:00");
        for (size_t i = 0; i < sizeof far / sizeof *far; i++) {
                assert_int_equal(schedule_parse_at(far[i], now, &t, &err), -ERANGE);
                assert_non_null(strstr(err, "1970..2099"));
                free(err);
        }
        assert_int_equal(t, 42);
        assert_int_equal(schedule_parse_at("2099-12-31T23:59:59", now, &t, &err), 0);
        assert_true(t < SCHEDULE_AT_MAX);
        zone("America/Los_Angeles"); /* UTC-8: the last minute of 2099 is 2100 in UTC */
        assert_int_equal(schedule_parse_at("2099-12-31T23:59:59", now, &t, &err), -ERANGE);
        assert_non_null(strstr(err, "out of range"));
        free(err);
}

/* ---- the event list -------------------------------------------------- */

struct log {
        char text[512];
};

static void note(struct log *l, const char *what, const struct schedule_event *ev) {
        char buf[64];

        snprintf(buf, sizeof buf, "%s:%s ", what, ev->name);
        strncat(l->text, buf, sizeof l->text - strlen(l->text) - 1);
}

static void on_prepare(struct schedule_event *ev, void *u) {
        note(u, "prepare", ev);
}
static void on_fire(struct schedule_event *ev, void *u) {
        note(u, "fire", ev);
}
static void on_missed(struct schedule_event *ev, void *u) {
        note(u, "missed", ev);
}

static const struct schedule_ops ops = {.prepare = on_prepare, .fire = on_fire, .missed = on_missed};

static struct schedule_event *add_daily(struct schedule *s, const char *name, int h, int m, unsigned order,
                                        time_t now) {
        struct schedule_event t = {.name = (char *)name,
                                   .recurring = true,
                                   .hour = h,
                                   .minute = m,
                                   .days = DAILY,
                                   .order = order,
                                   .audio = (char *)"/a.mp3"};
        struct schedule_event *ev = NULL;

        assert_int_equal(schedule_add(s, &t, now, &ev), 0);
        return ev;
}

static struct schedule_event *add_once(struct schedule *s, const char *name, time_t at) {
        struct schedule_event t = {.name = (char *)name, .at = at, .audio = (char *)"/a.mp3"};
        struct schedule_event *ev = NULL;

        assert_int_equal(schedule_add(s, &t, 0, &ev), 0);
        return ev;
}

/* A one-off time that could never be armed (from a state file, say) is
 * refused by schedule_add, not kept to be dropped as missed. */
static void test_add_out_of_range(void **state) {
        struct log l = {""};
        struct schedule *s = NULL;
        struct schedule_event t = {.name = (char *)"far", .audio = (char *)"/a.mp3"}, *ev = NULL;

        zone("UTC");
        assert_int_equal(schedule_new(&ops, &l, &s), 0);
        t.at = utc("2100-01-01T00:00:00");
        assert_int_equal(schedule_add(s, &t, 0, &ev), -ERANGE);
        t.at = (time_t)253402300799; /* 9999-12-31T23:59:59Z */
        assert_int_equal(schedule_add(s, &t, 0, &ev), -ERANGE);
        t.at = -1;
        assert_int_equal(schedule_add(s, &t, 0, &ev), -ERANGE);
        assert_null(ev);
        assert_int_equal(schedule_size(s), 0);
        t.at = utc("2099-12-31T23:59:59");
        assert_int_equal(schedule_add(s, &t, 0, &ev), 0);
        /* its deadline is representable: armed, not missed */
        assert_int_equal(schedule_run(s, utc("2026-11-27T09:00:00") * NS), (t.at - SCHEDULE_LEAD_S) * NS);
        assert_string_equal(l.text, "");
        schedule_free(s);
}

static void test_event_life(void **state) {
        struct log l = {""};
        struct schedule *s = NULL;
        time_t now = utc("2026-11-27T09:00:00");
        struct schedule_event *news;

        zone("UTC");
        assert_int_equal(schedule_new(&ops, &l, &s), 0);
        news = add_daily(s, "news", 10, 0, 0, now);
        assert_int_equal(news->at, utc("2026-11-27T10:00:00"));
        assert_int_equal(news->id, 1);
        /* Next deadline: the preparation, SCHEDULE_LEAD_S before. */
        assert_int_equal(schedule_run(s, now * NS), (news->at - SCHEDULE_LEAD_S) * NS);
        assert_string_equal(l.text, "");
        assert_int_equal(schedule_run(s, (news->at - SCHEDULE_LEAD_S) * NS), news->at * NS);
        assert_string_equal(l.text, "prepare:news ");
        assert_int_equal(news->phase, SCHEDULE_PREPARED);
        assert_int_equal(schedule_run(s, news->at * NS - 1), news->at * NS);
        assert_string_equal(l.text, "prepare:news ");
        /* Fires, then moves on to tomorrow and is never fired twice. */
        schedule_run(s, news->at * NS);
        assert_string_equal(l.text, "prepare:news fire:news ");
        assert_int_equal(news->at, utc("2026-11-28T10:00:00"));
        assert_int_equal(news->last, utc("2026-11-27T10:00:00"));
        assert_int_equal(news->phase, SCHEDULE_WAITING);
        assert_int_equal(schedule_size(s), 1);
        schedule_free(s);
}

static void test_one_off_and_order(void **state) {
        struct log l = {""};
        struct schedule *s = NULL;
        time_t now = utc("2026-11-27T09:00:00"), at = utc("2026-11-27T10:00:00");

        zone("UTC");
        assert_int_equal(schedule_new(&ops, &l, &s), 0);
        add_once(s, "once", at);
        add_daily(s, "second", 10, 0, 1, now);
        add_daily(s, "first", 10, 0, 0, now);
        add_once(s, "early", at - 5);
        assert_string_equal(schedule_get(s, 0)->name, "early");
        /* Same second: config order, then one-off events as added. */
        assert_string_equal(schedule_get(s, 1)->name, "first");
        assert_string_equal(schedule_get(s, 2)->name, "second");
        assert_string_equal(schedule_get(s, 3)->name, "once");
        /* Added late (within the lead): prepared at the first run. */
        schedule_run(s, (at - 3) * NS);
        assert_string_equal(l.text, "prepare:early fire:early prepare:first prepare:second prepare:once ");
        assert_int_equal(schedule_size(s), 3); /* the fired one-off is gone */
        l.text[0] = 0;
        schedule_run(s, at * NS);
        assert_string_equal(l.text, "fire:first fire:second fire:once ");
        assert_int_equal(schedule_size(s), 2);
        assert_null(schedule_find(s, 1));
        /* Ids are never reused; restored ids move the counter. */
        assert_int_equal(schedule_next_id(s), 5);
        {
                struct schedule_event t = {.id = 9, .name = (char *)"restored", .at = at + 100};
                assert_int_equal(schedule_add(s, &t, 0, NULL), 0);
                assert_int_equal(schedule_add(s, &t, 0, NULL), -EEXIST);
        }
        assert_int_equal(schedule_next_id(s), 10);
        schedule_event_free(schedule_take(s, 9));
        assert_null(schedule_take(s, 9));
        schedule_free(s);
}

static void test_missed_and_grace(void **state) {
        struct log l = {""};
        struct schedule *s = NULL;
        time_t now = utc("2026-11-27T09:00:00"), at = utc("2026-11-27T10:00:00");

        zone("UTC");
        assert_int_equal(schedule_new(&ops, &l, &s), 0);
        add_once(s, "late", at);
        add_once(s, "gone", at - 3600);
        add_daily(s, "news", 9, 0, 0, now - 1); /* 09:00 today */
        /* 30 s late: still fires (prepared first); an hour late: missed. */
        schedule_run(s, (at + 30) * NS);
        assert_string_equal(l.text, "missed:news missed:gone prepare:late fire:late ");
        assert_int_equal(schedule_size(s), 1);
        assert_int_equal(schedule_get(s, 0)->at, utc("2026-11-28T09:00:00"));
        schedule_free(s);
}

/* The ECANCELED path: what the daemon does when the timerfd says the
 * clock was set. */
static void test_clock_changed(void **state) {
        struct log l = {""};
        struct schedule *s = NULL;
        time_t now = utc("2026-11-27T09:00:00");
        struct schedule_event *news;

        zone("UTC");
        assert_int_equal(schedule_new(&ops, &l, &s), 0);
        news = add_daily(s, "news", 10, 0, 0, now);
        /* Set back an hour before it fired: same instant, not moved. */
        schedule_clock_changed(s, (now - 3600) * NS);
        assert_int_equal(news->at, utc("2026-11-27T10:00:00"));
        schedule_run(s, utc("2026-11-27T10:00:00") * NS);
        assert_string_equal(l.text, "prepare:news fire:news ");
        /* Set back after it fired: it does not fire again today. */
        schedule_clock_changed(s, utc("2026-11-27T09:59:00") * NS);
        assert_int_equal(news->at, utc("2026-11-28T10:00:00"));
        l.text[0] = 0;
        schedule_run(s, utc("2026-11-27T10:00:00") * NS);
        assert_string_equal(l.text, "");
        /* Set forward past it by less than the grace: fires, late. */
        schedule_clock_changed(s, utc("2026-11-28T10:00:20") * NS);
        assert_int_equal(news->at, utc("2026-11-28T10:00:00"));
        schedule_run(s, utc("2026-11-28T10:00:20") * NS);
        assert_string_equal(l.text, "prepare:news fire:news ");
        /* Set forward past it by more: missed, moves on. */
        l.text[0] = 0;
        schedule_clock_changed(s, utc("2026-11-29T12:00:00") * NS);
        schedule_run(s, utc("2026-11-29T12:00:00") * NS);
        assert_string_equal(l.text, "missed:news ");
        assert_int_equal(news->at, utc("2026-11-30T10:00:00"));
        /* The time zone changed: the same local time is another instant. */
        zone("Europe/Berlin");
        schedule_clock_changed(s, utc("2026-11-29T12:00:00") * NS);
        assert_int_equal(news->at, utc("2026-11-30T09:00:00"));
        schedule_free(s);
}

/* ---- the timer ------------------------------------------------------- */

static void on_timer(bool clock_changed, void *userdata) {
        int *fired = userdata;

        *fired = clock_changed ? 2 : 1;
}

static void test_timer(void **state) {
        sd_event *e = NULL;
        struct schedule_timer *t = NULL;
        int fired = 0;
        int64_t start = wall_now_ns();

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(schedule_timer_new(e, on_timer, &fired, &t), 0);
        assert_int_equal(schedule_timer_arm(t, start + 20000000), 0);
        while (!fired)
                assert_true(sd_event_run(e, 1000000) >= 0);
        assert_int_equal(fired, 1);
        assert_true(wall_now_ns() >= start + 20000000);
        assert_true(wall_now_ns() < start + 500000000);
        /* Disarmed: nothing comes. */
        fired = 0;
        assert_int_equal(schedule_timer_arm(t, start + 30000000), 0);
        assert_int_equal(schedule_timer_arm(t, INT64_MAX), 0);
        assert_int_equal(sd_event_run(e, 60000), 0);
        assert_int_equal(fired, 0);
        /* In the past: at once. */
        assert_int_equal(schedule_timer_arm(t, start - 1000000000), 0);
        assert_true(sd_event_run(e, 1000000) > 0);
        assert_int_equal(fired, 1);
        schedule_timer_free(t);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_daily_and_seconds),
                cmocka_unit_test(test_midnight_rollover),
                cmocka_unit_test(test_days),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_dst_berlin),
                cmocka_unit_test(test_dst_new_york),
                cmocka_unit_test(test_dst_half_hour),
                cmocka_unit_test(test_parse_at),
                cmocka_unit_test(test_parse_at_range),
                cmocka_unit_test(test_add_out_of_range),
                cmocka_unit_test(test_event_life),
                cmocka_unit_test(test_one_off_and_order),
                cmocka_unit_test(test_missed_and_grace),
                cmocka_unit_test(test_clock_changed),
                cmocka_unit_test(test_timer),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
