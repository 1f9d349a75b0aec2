/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-when: nextupctl's WHEN parser for `asrun --since/--until`, in a
 * fixed time zone (TZ set here) against a fixed "now". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "nextupctl-events.h"

/* 2026-11-27T12:34:56.789Z */
#define NOW INT64_C(1795782896789)

static int64_t when(const char *s) {
        int64_t v = -1;

        assert_int_equal(events_parse_when(s, NOW, &v), 0);
        return v;
}

static void bad(const char *s) {
        int64_t v = 42;

        assert_int_equal(events_parse_when(s, NOW, &v), -EINVAL);
        assert_int_equal(v, 42);
}

static void test_utc_zone(void **state) {
        setenv("TZ", "UTC", 1);
        tzset();
        assert_int_equal(when("1700000000000"), INT64_C(1700000000000));
        assert_int_equal(when("-1h"), NOW - 3600000);
        assert_int_equal(when("-30m"), NOW - 1800000);
        assert_int_equal(when("-2d"), NOW - 2 * 86400000);
        assert_int_equal(when("-45s"), NOW - 45000);
        assert_int_equal(when("2026-11-27T10:00"), INT64_C(1795773600000));
        assert_int_equal(when("2026-11-27 10:00:00"), INT64_C(1795773600000));
        assert_int_equal(when("2026-11-27t10:00:30"), INT64_C(1795773630000));
        assert_int_equal(when("2026-11-27"), INT64_C(1795737600000));
        assert_int_equal(when("10:00"), INT64_C(1795773600000)); /* today */
        assert_int_equal(when("2026-11-27T10:00Z"), INT64_C(1795773600000));
        assert_int_equal(when("2026-11-27T11:00+01:00"), INT64_C(1795773600000));
        assert_int_equal(when("2026-11-27T05:00-0500"), INT64_C(1795773600000));
}

/* Local forms follow TZ (CET is UTC+1 in November); explicit zones don't. */
static void test_local_zone(void **state) {
        setenv("TZ", "Europe/Berlin", 1);
        tzset();
        assert_int_equal(when("2026-11-27T10:00"), INT64_C(1795773600000) - 3600000);
        assert_int_equal(when("10:00:00"), INT64_C(1795773600000) - 3600000);
        assert_int_equal(when("2026-11-27T10:00Z"), INT64_C(1795773600000));
        /* Summer: CEST, UTC+2 */
        assert_int_equal(when("2026-07-01T12:00"), INT64_C(1782900000000));
}

static void test_bad(void **state) {
        bad("");
        bad("yesterday");
        bad("-1y");
        bad("-h");
        bad("--1h");
        bad("1h");
        bad("25:00");
        bad("10:60");
        bad("2026-13-01");
        bad("2026-11-27T");
        bad("2026-11-27T10:00+1");
        bad("2026-11-27T10:00 junk");
        bad("10:00x");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utc_zone),
                cmocka_unit_test(test_local_zone),
                cmocka_unit_test(test_bad),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
