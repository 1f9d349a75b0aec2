/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-aclock.c: the audio clock maths (media <-> monotonic, latency,
 * extrapolation, pause) and publish/read from two threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "aclock.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static struct aclock_sample sample(int64_t frames, uint64_t mono_ns, bool playing) {
        return (struct aclock_sample){
                .item_id = 7,
                .frames = frames,
                .mono_ns = mono_ns,
                .rate = 44100,
                .playing = playing,
        };
}

static void test_media_to_mono(void **state) {
        /* 1 s of the item handed at t = 100 s: frame 0 went out at 99 s. */
        struct aclock_sample s = sample(44100, 100 * SEC, true);

        assert_int_equal(aclock_media_to_mono(&s, 0, 0), 99 * SEC);
        assert_int_equal(aclock_media_to_mono(&s, 1000, 0), 100 * SEC);
        assert_int_equal(aclock_media_to_mono(&s, 2500, 0), 101 * SEC + 500 * MS);
        /* Latency makes everything heard later. */
        assert_int_equal(aclock_media_to_mono(&s, 2500, 120), 101 * SEC + 620 * MS);
        /* Negative latency (a sink that runs early) is plain arithmetic too. */
        assert_int_equal(aclock_media_to_mono(&s, 0, -10), 99 * SEC - 10 * MS);
}

static void test_media_to_mono_fraction(void **state) {
        /* 441 frames = 10 ms exactly; 1 frame = 22675.73 ns (floored). */
        struct aclock_sample s = sample(441, 10 * SEC, true);

        assert_int_equal(aclock_media_to_mono(&s, 10, 0), 10 * SEC);
        s.frames = 1;
        assert_int_equal(aclock_media_to_mono(&s, 0, 0), 10 * SEC - 22675);
}

static void test_media_to_mono_clamps(void **state) {
        /* Never wraps below zero. */
        struct aclock_sample s = sample(44100 * 10, 1 * SEC, true);

        assert_int_equal(aclock_media_to_mono(&s, 0, 0), 0);
}

static void test_no_drift_long_item(void **state) {
        /* 30 hours of frames: frames * 1e9 overflows 64 bits on the way;
         * the result must still be exact. */
        int64_t frames = 44100LL * 3600 * 30;
        struct aclock_sample s = sample(frames, 200000 * SEC, true);

        assert_int_equal(aclock_media_to_mono(&s, 0, 0), (200000 - 3600 * 30) * SEC);
        assert_int_equal(aclock_position_ms(&s, 200000 * SEC), 3600LL * 30 * 1000);
        /* Odd rate: 3 frames at 48 kHz is 62500 ns, not a rounding residue. */
        s = (struct aclock_sample){.frames = 48000LL * 3600 * 24 + 3, .rate = 48000, .mono_ns = 0};
        assert_int_equal(aclock_position_ms(&s, 0), 3600LL * 24 * 1000);
}

static void test_position_extrapolates(void **state) {
        struct aclock_sample s = sample(44100 * 2, 50 * SEC, true);

        assert_int_equal(aclock_position_ms(&s, 50 * SEC), 2000);
        assert_int_equal(aclock_position_ms(&s, 50 * SEC + 250 * MS), 2250);
        /* A reader with an older timestamp than the sample. */
        assert_int_equal(aclock_position_ms(&s, 50 * SEC - 20 * MS), 1980);
        /* Round trip: the position at the mono time of media t is t. */
        assert_int_equal(aclock_position_ms(&s, aclock_media_to_mono(&s, 12345, 0)), 12345);
}

static void test_position_paused(void **state) {
        struct aclock_sample s = sample(44100 * 3 + 22050, 50 * SEC, false);

        /* Paused: time passes, the position does not. */
        assert_int_equal(aclock_position_ms(&s, 50 * SEC), 3500);
        assert_int_equal(aclock_position_ms(&s, 80 * SEC), 3500);
}

static void test_publish_read(void **state) {
        struct aclock *c = NULL;
        struct aclock_sample s = sample(100, 5, true), got;

        assert_int_equal(aclock_new(&c), 0);
        aclock_read(c, &got);
        assert_int_equal(got.item_id, 0); /* nothing on air yet */
        assert_false(got.playing);
        aclock_publish(c, &s);
        assert_int_equal(s.seq, 1);
        aclock_publish(c, &s);
        assert_int_equal(s.seq, 2);
        aclock_read(c, &got);
        assert_int_equal(got.seq, 2);
        assert_int_equal(got.frames, 100);
        assert_int_equal(got.item_id, 7);
        assert_true(got.playing);
        assert_null(aclock_free(c));
        assert_null(aclock_free(NULL));
}

static void test_now_monotonic(void **state) {
        uint64_t a = aclock_now_ns(), b = aclock_now_ns();

        assert_true(a > 0);
        assert_true(b >= a);
}

/* A writer publishing frames == mono_ns while readers check they never
 * see a torn sample (frames and mono_ns from different publishes). */
static void *writer(void *userdata) {
        struct aclock *c = userdata;

        for (int64_t i = 1; i <= 100000; i++) {
                struct aclock_sample s = {.item_id = 1, .frames = i, .mono_ns = (uint64_t)i, .rate = 44100};
                aclock_publish(c, &s);
        }
        return NULL;
}

static void test_consistent_copies(void **state) {
        struct aclock *c = NULL;
        struct aclock_sample got;
        pthread_t t;
        uint64_t last_seq = 0;

        assert_int_equal(aclock_new(&c), 0);
        assert_int_equal(pthread_create(&t, NULL, writer, c), 0);
        do {
                aclock_read(c, &got);
                assert_int_equal((uint64_t)got.frames, got.mono_ns);
                assert_true(got.seq >= last_seq);
                assert_int_equal(got.seq, (uint64_t)got.frames);
                last_seq = got.seq;
        } while (got.frames < 100000);
        pthread_join(t, NULL);
        aclock_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_media_to_mono),         cmocka_unit_test(test_media_to_mono_fraction),
                cmocka_unit_test(test_media_to_mono_clamps),  cmocka_unit_test(test_no_drift_long_item),
                cmocka_unit_test(test_position_extrapolates), cmocka_unit_test(test_position_paused),
                cmocka_unit_test(test_publish_read),          cmocka_unit_test(test_now_monotonic),
                cmocka_unit_test(test_consistent_copies),
        };

        return cmocka_run_group_tests_name("aclock", tests, NULL, NULL);
}
