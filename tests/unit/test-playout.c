/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-playout.c: the playout thread's air features on a paced output
 * (wav file or null), checked against what the decoder gives for the
 * same files: start at a frame, hard start on its exact frame with the
 * fade before it, playout_end's fade, gap frames between items, the
 * silence detector, and an item that fails mid-way giving way at once.
 *
 * Fixtures (tests/fixtures/): tone-1s.mp3, tone-0.2s.mp3 (see
 * test-decoder.c) and silence-2s.mp3 (sox -n -r 44100 -c 1 trim 0 2 |
 * lame -b 32 --resample 44.1: digital silence). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ao/ao.h>
#include <math.h>
#include <mpg123.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aclock.h"
#include "cleanup.h"
#include "decoder.h"
#include "output.h"
#include "playout.h"
#include "playout-fixture.h"

static int16_t *decode_file(const char *path, int64_t *ret_n) {
        struct decoder *d = NULL;
        int16_t *pcm = NULL;
        int64_t n = 0, cap = 0;
        ssize_t r;

        assert_int_equal(decoder_open(path, RATE, 2, &d), 0);
        for (;;) {
                if (n + 4096 > cap) {
                        cap = (n + 4096) * 2;
                        pcm = realloc(pcm, (size_t)cap * 2 * sizeof *pcm);
                        assert_non_null(pcm);
                }
                r = decoder_read(d, pcm + n * 2, 4096);
                assert_true(r >= 0);
                if (r == 0)
                        break;
                n += r;
        }
        decoder_free(d);
        *ret_n = n;
        return pcm;
}

/* The samples of a WAV file written by libao; *ret_n frames (stereo). */
static int16_t *read_wav(const char *path, int64_t *ret_n) {
        unsigned char h[12];
        FILE *f = fopen(path, "re");
        int16_t *pcm = NULL;

        assert_non_null(f);
        assert_int_equal(fread(h, 1, 12, f), 12);
        while (fread(h, 1, 8, f) == 8) {
                uint32_t size = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;

                if (memcmp(h, "data", 4) == 0) {
                        pcm = malloc(size + 4);
                        assert_non_null(pcm);
                        assert_int_equal(fread(pcm, 1, size, f), size);
                        *ret_n = size / 4;
                        break;
                }
                fseek(f, size, SEEK_CUR);
        }
        fclose(f);
        assert_non_null(pcm);
        return pcm;
}

static void assert_frames_near(const int16_t *a, const int16_t *b, int64_t frames, int tolerance) {
        for (int64_t i = 0; i < frames * 2; i++)
                if (abs(a[i] - b[i]) > tolerance)
                        fail_msg("sample %lld differs: %d != %d", (long long)i, a[i], b[i]);
}

static void assert_frames_equal(const int16_t *a, const int16_t *b, int64_t frames) {
        assert_frames_near(a, b, frames, 0);
}

/* The raised cosine playout.c promises: 1 at FADE frames before the cut, 0 at it. */
static void assert_faded(const int16_t *got, const int16_t *orig, int64_t cut, int64_t fade) {
        int64_t loud = 0;

        for (int64_t i = cut - fade; i < cut; i++) {
                double g = 0.5 * (1.0 - cos(M_PI * (double)(cut - i) / (double)fade));

                for (int k = 0; k < 2; k++) {
                        long want = lrint(orig[i * 2 + k] * g);

                        if (labs(got[i * 2 + k] - want) > 1)
                                fail_msg("frame %lld (%lld before the cut): %d, want %ld", (long long)i,
                                         (long long)(cut - i), got[i * 2 + k], want);
                }
                if (abs(orig[i * 2]) > 1000)
                        loud++;
        }
        assert_true(loud > fade / 2); /* it faded a tone, not silence */
}

static void test_cue_from(void **state) {
        const char *wav = tmpfile_path("from.wav");
        struct playout_event started, ended;
        struct aclock *clock = NULL;
        struct aclock_sample s;
        int64_t n_ref, n_wav;
        _cleanup_free_ int16_t *ref = decode_file(fixture("tone-1s.mp3"), &n_ref);
        _cleanup_free_ int16_t *got = NULL;
        struct playout *p;

        p = start_playout("wav", wav, &clock);
        assert_int_equal(playout_cue_from(p, 1, fixture("tone-1s.mp3"), 30000), 0);
        expect_event(p, PLAYOUT_STARTED, 1, &started);
        assert_int_equal(started.start_frame, 30000);
        assert_int_equal(started.frames, n_ref);
        /* The clock counts the item's frames from where it started. */
        aclock_read(clock, &s);
        assert_int_equal(s.item_id, 1);
        assert_true(s.frames > 30000);
        expect_event(p, PLAYOUT_ENDED, 1, &ended);
        assert_int_equal(ended.reason, PLAYOUT_END_COMPLETE);
        assert_int_equal(ended.frames, n_ref - 30000);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        stop_playout(p, clock);

        got = read_wav(wav, &n_wav);
        assert_int_equal(n_wav, n_ref - 30000);
        /* After a seek mpg123 rebuilds its synthesis state from the frames
         * before: the samples agree to a few LSB. One frame off would be
         * hundreds off (a 440 Hz tone at -6 dBFS). */
        assert_frames_near(got, ref + 30000 * 2, n_wav, 4);
}

static void test_end_fade(void **state) {
        const char *wav = tmpfile_path("end.wav");
        struct playout_event ended, started2;
        struct aclock *clock = NULL;
        int64_t n1, n2, n_wav, cut;
        _cleanup_free_ int16_t *ref1 = decode_file(fixture("tone-1s.mp3"), &n1);
        _cleanup_free_ int16_t *ref2 = decode_file(fixture("tone-0.2s.mp3"), &n2);
        _cleanup_free_ int16_t *got = NULL;
        struct playout *p;

        p = start_playout("wav", wav, &clock);
        assert_int_equal(playout_cue_from(p, 1, fixture("tone-1s.mp3"), 0), 0);
        assert_int_equal(playout_cue_from(p, 2, fixture("tone-0.2s.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 1, NULL);
        usleep(300000); /* into the tone (0.25 .. 0.75 s) */
        assert_int_equal(playout_end(p, PLAYOUT_END_FADED, 100), 0);
        expect_event(p, PLAYOUT_ENDED, 1, &ended);
        assert_int_equal(ended.reason, PLAYOUT_END_FADED);
        cut = ended.frames;
        assert_true(cut > 4410 + 11025 && cut < 33075);
        /* The cued item follows in the same buffer. */
        expect_event(p, PLAYOUT_STARTED, 2, &started2);
        assert_int_equal(started2.mono_ns, ended.mono_ns);
        expect_event(p, PLAYOUT_ENDED, 2, NULL);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        stop_playout(p, clock);

        got = read_wav(wav, &n_wav);
        assert_int_equal(n_wav, cut + n2);
        assert_frames_equal(got, ref1, cut - 4410);
        assert_faded(got, ref1, cut, 4410);
        assert_frames_equal(got + cut * 2, ref2, n2);
}

static void test_hard_start(void **state) {
        const char *wav = tmpfile_path("hard.wav");
        struct playout_event started1, ended1, started2, ended2, started3;
        struct aclock *clock = NULL;
        int64_t n1, n2, n_wav, cut, want;
        _cleanup_free_ int16_t *ref1 = decode_file(fixture("tone-1s.mp3"), &n1);
        _cleanup_free_ int16_t *ref2 = decode_file(fixture("tone-0.2s.mp3"), &n2);
        _cleanup_free_ int16_t *got = NULL;
        struct playout *p;
        uint64_t at;

        p = start_playout("wav", wav, &clock);
        assert_int_equal(playout_cue_from(p, 1, fixture("tone-1s.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 1, &started1);
        assert_int_equal(playout_cue_from(p, 3, fixture("tone-0.2s.mp3"), 0), 0);
        /* 0.4 s into item 1: inside its tone, so the fade has something to shape. */
        at = started1.mono_ns + MS(400);
        assert_int_equal(playout_hard_start(p, 2, fixture("tone-0.2s.mp3"), at, 50), 0);
        expect_event(p, PLAYOUT_ENDED, 1, &ended1);
        assert_int_equal(ended1.reason, PLAYOUT_END_CUT);
        expect_event(p, PLAYOUT_STARTED, 2, &started2);
        /* Frame 0 of item 2 went out at AT: to the millisecond by the
         * frames of item 1 that went out before it (the exact check), and
         * by the event within the wake slack: the event is stamped when
         * the paced write returns, which a loaded machine delays. */
        assert_true(llabs((long long)(started2.mono_ns - at)) <= WAKE_SLACK_NS);
        cut = ended1.frames;
        want = (int64_t)((at - started1.mono_ns) * RATE / 1000000000ULL);
        assert_true(llabs((long long)(cut - want)) <= RATE / 1000);
        /* The cued item stayed cued: it follows the hard one. */
        expect_event(p, PLAYOUT_ENDED, 2, &ended2);
        assert_int_equal(ended2.reason, PLAYOUT_END_COMPLETE);
        expect_event(p, PLAYOUT_STARTED, 3, &started3);
        assert_int_equal(started3.mono_ns, ended2.mono_ns);
        expect_event(p, PLAYOUT_ENDED, 3, NULL);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        stop_playout(p, clock);

        got = read_wav(wav, &n_wav);
        assert_int_equal(n_wav, cut + 2 * n2);
        assert_frames_equal(got, ref1, cut - 2205);
        assert_faded(got, ref1, cut, 2205);
        assert_frames_equal(got + cut * 2, ref2, n2);
}

static void test_hard_start_idle(void **state) {
        struct playout_event started, ev;
        struct aclock *clock = NULL;
        struct playout *p;
        uint64_t at;

        p = start_playout("null", NULL, &clock);
        /* A file that cannot play fails at its time and cuts nothing. */
        at = aclock_now_ns() + MS(100);
        assert_int_equal(playout_hard_start(p, 7, tmpfile_path("missing.mp3"), at, 50), 0);
        expect_event(p, PLAYOUT_ENDED, 7, &ev);
        assert_int_equal(ev.reason, PLAYOUT_END_ERROR);
        assert_true(ev.mono_ns >= at);

        /* Idle at its time: it starts then, not at the next idle poll. */
        at = aclock_now_ns() + MS(250);
        assert_int_equal(playout_hard_start(p, 8, fixture("tone-0.2s.mp3"), at, 50), 0);
        assert_int_equal(wait_event(p, &ev, 200), 0); /* not early */
        expect_event(p, PLAYOUT_STARTED, 8, &started);
        assert_true(llabs((long long)(started.mono_ns - at)) <= WAKE_SLACK_NS);
        expect_event(p, PLAYOUT_ENDED, 8, NULL);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);

        /* Cancelled: nothing starts. */
        assert_int_equal(playout_hard_start(p, 9, fixture("tone-0.2s.mp3"), aclock_now_ns() + MS(100), 0),
                         0);
        assert_int_equal(playout_hard_start(p, 0, NULL, 0, 0), 0);
        assert_int_equal(wait_event(p, &ev, 250), 0);
        stop_playout(p, clock);
}

static void test_gap(void **state) {
        const char *wav = tmpfile_path("gap.wav");
        struct playout_event ended1, started2;
        struct aclock *clock = NULL;
        int64_t n2, n_wav;
        _cleanup_free_ int16_t *ref = decode_file(fixture("tone-0.2s.mp3"), &n2);
        _cleanup_free_ int16_t *got = NULL;
        struct playout *p;

        p = start_playout("wav", wav, &clock);
        assert_int_equal(playout_set_options(p, 50, -50, 0), 0);
        assert_int_equal(playout_cue_from(p, 1, fixture("tone-0.2s.mp3"), 0), 0);
        assert_int_equal(playout_cue_from(p, 2, fixture("tone-0.2s.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 1, NULL);
        expect_event(p, PLAYOUT_ENDED, 1, &ended1);
        assert_int_equal(ended1.frames, n2); /* the gap is no item's */
        expect_event(p, PLAYOUT_STARTED, 2, &started2);
        assert_true(llabs((long long)(started2.mono_ns - ended1.mono_ns - MS(50))) <= WAKE_SLACK_NS);
        expect_event(p, PLAYOUT_ENDED, 2, NULL);
        expect_event(p, PLAYOUT_IDLE, 0, NULL); /* no gap after the last */
        stop_playout(p, clock);

        got = read_wav(wav, &n_wav);
        assert_int_equal(n_wav, 2 * n2 + 2205);
        assert_frames_equal(got, ref, n2);
        for (int64_t i = n2 * 2; i < (n2 + 2205) * 2; i++)
                assert_int_equal(got[i], 0);
        assert_frames_equal(got + (n2 + 2205) * 2, ref, n2);
}

static void test_silence(void **state) {
        struct playout_event started, silence, ev;
        struct aclock *clock = NULL;
        struct playout *p;
        int64_t after;

        p = start_playout("null", NULL, &clock);
        assert_int_equal(playout_set_options(p, 0, -50, 300), 0);
        assert_int_equal(playout_cue_from(p, 1, fixture("silence-2s.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 1, &started);
        expect_event(p, PLAYOUT_SILENCE, 1, &silence);
        after = (int64_t)(silence.mono_ns - started.mono_ns);
        /* At the end of the buffer that completes 300 ms (20 ms buffers),
         * give or take the jitter of the times the buffers went out. */
        assert_true(after >= (int64_t)MS(299) && after <= (int64_t)MS(321));
        /* Once per item. */
        assert_int_equal(wait_event(p, &ev, 300), 0);
        assert_int_equal(playout_cue_from(p, 2, fixture("tone-1s.mp3"), 0), 0);
        assert_int_equal(playout_end(p, PLAYOUT_END_SILENCE, 0), 0);
        expect_event(p, PLAYOUT_ENDED, 1, &ev);
        assert_int_equal(ev.reason, PLAYOUT_END_SILENCE);
        /* A tone with 0.25 s of silence at each end is not silent. */
        expect_event(p, PLAYOUT_STARTED, 2, NULL);
        expect_event(p, PLAYOUT_ENDED, 2, &ev);
        assert_int_equal(ev.reason, PLAYOUT_END_COMPLETE);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        stop_playout(p, clock);
}

static void test_error_midway(void **state) {
        char head[4000], junk[40000];
        const char *bad = tmpfile_path("junk.mp3");
        struct playout_event started1, ended1, started2;
        struct aclock *clock = NULL;
        struct playout *p;
        FILE *f;

        /* 4000 good bytes, then more junk than mpg123 resyncs over: the
         * decoder gives up mid-way with -EIO. */
        f = fopen(fixture("tone-1s.mp3"), "re");
        assert_non_null(f);
        assert_int_equal(fread(head, 1, sizeof head, f), sizeof head);
        fclose(f);
        memset(junk, 'x', sizeof junk);
        f = fopen(bad, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(head, 1, sizeof head, f), sizeof head);
        assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
        assert_int_equal(fclose(f), 0);

        p = start_playout("null", NULL, &clock);
        assert_int_equal(playout_cue_from(p, 1, bad, 0), 0);
        assert_int_equal(playout_cue_from(p, 2, fixture("tone-0.2s.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 1, &started1);
        expect_event(p, PLAYOUT_ENDED, 1, &ended1);
        assert_int_equal(ended1.reason, PLAYOUT_END_ERROR);
        assert_int_equal(ended1.error, -EIO);
        assert_true(ended1.frames > 10000); /* it did play its good part */
        expect_event(p, PLAYOUT_STARTED, 2, &started2);
        assert_true(started2.mono_ns - ended1.mono_ns < MS(100));
        expect_event(p, PLAYOUT_ENDED, 2, NULL);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        stop_playout(p, clock);
}

static int setup(void **state) {
        return tmpdir_setup("test-playout");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cue_from),     cmocka_unit_test(test_end_fade),
                cmocka_unit_test(test_hard_start),   cmocka_unit_test(test_hard_start_idle),
                cmocka_unit_test(test_gap),          cmocka_unit_test(test_silence),
                cmocka_unit_test(test_error_midway),
        };
        int r;

        mpg123_init();
        ao_initialize();
        r = cmocka_run_group_tests_name("playout", tests, setup, tmpdir_teardown);
        ao_shutdown();
        return r;
}
