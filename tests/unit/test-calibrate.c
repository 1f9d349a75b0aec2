/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-calibrate.c: the latency calibration maths. The recording clock
 * keeps the tightest bound its reads give (late reads do not move it);
 * onsets need quiet before them; the marker is found only as its evenly
 * spaced run, not in speech before it; and a synthetic recording with the
 * marker heard 37 ms after it was handed, delivered in jittered chunks,
 * measures 37 ms. A silent recording, a marker with a burst missing, and
 * one that aired after the recording ended are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"

#define RATE 8000
#define MS(x) ((int64_t)(x)*1000000LL)

static void test_clock(void **state) {
        struct calibrate_clock c;
        int64_t t;

        (void)state;
        calibrate_clock_init(&c, 1000);
        assert_int_equal(calibrate_clock_frame_to_mono(&c, 0, &t), -ENODATA);
        calibrate_clock_add(&c, 10, (uint64_t)MS(15)); /* frame 10 by 15 ms: origin <= 5 ms */
        calibrate_clock_add(&c, 10, (uint64_t)MS(22)); /* frame 20 by 22 ms: origin <= 2 ms */
        calibrate_clock_add(&c, 10, (uint64_t)MS(40)); /* a late read: no change */
        assert_int_equal(calibrate_clock_frame_to_mono(&c, 0, &t), 0);
        assert_int_equal(t, MS(2));
        assert_int_equal(calibrate_clock_frame_to_mono(&c, 5, &t), 0);
        assert_int_equal(t, MS(7));
}

static void test_onsets(void **state) {
        int16_t pcm[100] = {0};
        int64_t on[8];

        (void)state;
        pcm[0] = 5000;  /* the start counts as quiet */
        pcm[3] = -5000; /* too soon after the last: same onset */
        pcm[30] = 4999; /* below the threshold */
        pcm[50] = -5000;
        pcm[99] = 6000;
        assert_int_equal(calibrate_find_onsets(pcm, 100, 5000, 20, on, 8), 3);
        assert_int_equal(on[0], 0);
        assert_int_equal(on[1], 50);
        assert_int_equal(on[2], 99);
        assert_int_equal(calibrate_find_onsets(pcm, 100, 5000, 20, on, 1), 3); /* counts past MAX */
}

static void test_find_marker(void **state) {
        int64_t step = CALIBRATE_STEP_MS * RATE / 1000, on[16];
        size_t n = 0;

        (void)state;
        on[n++] = 100;                         /* speech */
        on[n++] = 100 + step;                  /* looks like two bursts */
        on[n++] = 100 + 2 * step + RATE / 100; /* 10 ms off: not the pattern */
        for (int k = 0; k < CALIBRATE_COUNT; k++)
                on[n++] = 20000 + k * step + (k % 2 ? 8 : -8); /* spacing off by 2 ms */
        assert_int_equal(calibrate_find_marker(on, n, RATE, 0), 3);
        assert_int_equal(calibrate_find_marker(on, n, RATE, 20001), -ENOENT);
        assert_int_equal(calibrate_find_marker(on, n - 1, RATE, 0), -ENOENT);
}

/* A recording starting at origin 1 s: speech-like noise until the marker
 * goes on air at 1.5 s, its bursts heard LATENCY later; delivered in 5 ms
 * chunks each late by 0..4 ms, every tenth one prompt. */
static int16_t *make_recording(size_t n, int64_t on_air, double latency_ms, int skip_burst,
                               struct calibrate_clock *c) {
        int16_t *pcm = calloc(n, sizeof *pcm);
        int64_t origin = MS(1000);

        assert_non_null(pcm);
        for (size_t i = 0; i < (size_t)((on_air - origin) * RATE / 1000000000LL); i++)
                pcm[i] = (int16_t)(i % 997 < 400 ? 9000 * sin(i * 0.3) : 0);
        for (int k = 0; k < CALIBRATE_COUNT; k++) {
                double heard = (double)(on_air - origin) / 1e9 +
                               (CALIBRATE_FIRST_MS + k * CALIBRATE_STEP_MS + latency_ms) / 1e3;
                size_t start = (size_t)ceil(heard * RATE);

                for (size_t i = 0; k != skip_burst && i < CALIBRATE_BURST_MS * RATE / 1000; i++)
                        pcm[start + i] = (int16_t)(16000 * sin(2 * M_PI * 1000 * (double)i / RATE));
        }
        calibrate_clock_init(c, RATE);
        for (size_t f = 40, i = 0; f <= n; f += 40, i++)
                calibrate_clock_add(c, 40,
                                    (uint64_t)(origin + (int64_t)f * 1000000000LL / RATE +
                                               (i % 10 ? (int64_t)(i * 7919 % 4000) * 1000 : 0)));
        return pcm;
}

static void test_measure(void **state) {
        size_t n = 4 * RATE;
        struct calibrate_clock c;
        struct calibrate_result res;
        int16_t *pcm = make_recording(n, MS(1500), 37.0, -1, &c);

        (void)state;
        assert_int_equal(calibrate_measure(pcm, n, &c, MS(1500), &res), 0);
        assert_true(fabs(res.latency_ms - 37.0) < 0.5);
        assert_true(res.spread_ms < 0.5);
        assert_int_equal(res.peak, 16000);
        for (int k = 0; k < CALIBRATE_COUNT; k++)
                assert_true(fabs(res.burst_ms[k] - 37.0) < 0.5);
        /* Aired after the recording ended: nothing to find. */
        assert_int_equal(calibrate_measure(pcm, n, &c, MS(6000), &res), -ENOENT);
        memset(pcm, 0, n * sizeof *pcm);
        assert_int_equal(calibrate_measure(pcm, n, &c, MS(1500), &res), -ENOENT);
        free(pcm);

        pcm = make_recording(n, MS(1500), 37.0, 2, &c);
        assert_int_equal(calibrate_measure(pcm, n, &c, MS(1500), &res), -ENOENT);
        calibrate_clock_init(&c, RATE);
        assert_int_equal(calibrate_measure(pcm, 0, &c, MS(1500), &res), -ENODATA);
        free(pcm);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clock),
                cmocka_unit_test(test_onsets),
                cmocka_unit_test(test_find_marker),
                cmocka_unit_test(test_measure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
