/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-timing: the length-proportional estimate fills the voiced span
 * exactly, keeps cues contiguous and ordered, leaves given times alone and
 * refuses silent audio. With the shared fixtures (fixture.h) present, also measures how far
 * the estimate's sentence starts are from the fixture's truth. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "fixture.h"
#include "segment.h"
#include "timing.h"
#include "transcript.h"

static struct cue_list *cues_from(const char *text) {
        struct transcript *t = NULL;
        struct cue_list *l = NULL;
        char *error = NULL;

        if (transcript_parse(text, strlen(text), "inline", &t, &error) < 0)
                fail_msg("parse: %s", error ? error : "?");
        assert_int_equal(segment_transcript(t, NULL, &l), 0);
        transcript_free(t);
        return l;
}

static struct cue_list *seed_cues(void) {
        const char *dir = getenv("NEXTUP_SOURCE_DIR");
        struct transcript *t = NULL;
        struct cue_list *l = NULL;
        char *path, *error = NULL;

        assert_true(asprintf(&path, "%s/tests/unit/data/tillerson-putin.txt", dir ? dir : ".") > 0);
        if (transcript_load(path, &t, &error) < 0)
                fail_msg("%s", error ? error : "?");
        free(path);
        assert_int_equal(segment_transcript(t, NULL, &l), 0);
        transcript_free(t);
        return l;
}

static void test_to_string(void **state) {
        assert_string_equal(timing_source_to_string(TIMING_NONE), "none");
        assert_string_equal(timing_source_to_string(TIMING_GIVEN), "given");
        assert_string_equal(timing_source_to_string(TIMING_ESTIMATE), "estimate");
}

static void test_estimate_fills_span(void **state) {
        struct cue_list *l = seed_cues();
        /* 44.1 kHz, voiced from 0.5 s to 202.041 s */
        struct audio_scan scan = {44100, 8953108, 22050, 8910008};

        assert_int_equal(timing_assign(l, &scan), TIMING_ESTIMATE);
        assert_int_equal(l->cues[0].start_ms, 500);
        assert_int_equal(l->cues[l->n_cues - 1].end_ms, 8910008 * 1000LL / 44100);
        for (size_t i = 0; i < l->n_cues; i++) {
                assert_true(l->cues[i].start_ms < l->cues[i].end_ms);
                if (i + 1 < l->n_cues)
                        assert_int_equal(l->cues[i].end_ms, l->cues[i + 1].start_ms);
        }
        cue_list_free(l);
}

static void test_proportional(void **state) {
        /* Two sentences of the same length; the second is twice as long. */
        struct cue_list *l =
                cues_from("Aaaa bbbb cccc.\nAaaa bbbb cccc.\nAaaa bbbb cccc dddd eeee ffff gggg.\n");
        struct audio_scan scan = {1000, 100000, 10000, 90000};
        int64_t d0, d1, d2;

        assert_int_equal(l->n_cues, 3);
        assert_int_equal(timing_assign(l, &scan), TIMING_ESTIMATE);
        d0 = l->cues[1].start_ms - l->cues[0].start_ms;
        d1 = l->cues[2].start_ms - l->cues[1].start_ms;
        d2 = l->cues[2].end_ms - l->cues[2].start_ms;
        assert_int_equal(d0, d1);
        /* the third has no pause after it, so a bit under twice its words' share */
        assert_true(d2 > d0 * 3 / 2 && d2 < d0 * 5 / 2);
        assert_int_equal(l->cues[0].start_ms, 10000);
        assert_int_equal(l->cues[2].end_ms, 90000);
        cue_list_free(l);
}

static void test_speaker_change_pauses_longer(void **state) {
        struct cue_list *l =
                cues_from("Aaaa bbbb.\n\nAaaa bbbb.\n\nKELEMEN: Aaaa bbbb.\n\nKELEMEN: Aaaa bbbb.\n");
        struct audio_scan scan = {1000, 100000, 0, 100000};

        assert_int_equal(l->n_cues, 4);
        assert_int_equal(timing_assign(l, &scan), TIMING_ESTIMATE);
        /* cue 1 -> 2 crosses the speaker change: a longer gap than 0 -> 1 */
        assert_true(l->cues[2].start_ms - l->cues[1].start_ms > l->cues[1].start_ms - l->cues[0].start_ms);
        assert_int_equal(l->cues[3].start_ms - l->cues[2].start_ms,
                         l->cues[1].start_ms - l->cues[0].start_ms);
        cue_list_free(l);
}

static void test_given_untouched(void **state) {
        struct cue_list *l =
                cues_from("WEBVTT\n\n00:01.000 --> 00:02.000\nOne.\n\n00:05.000 --> 00:07.000\nTwo.\n");
        struct audio_scan silent = {44100, 441000, -1, -1};

        assert_int_equal(timing_assign(l, &silent), TIMING_GIVEN);
        assert_int_equal(l->cues[0].start_ms, 1000);
        assert_int_equal(l->cues[0].end_ms, 2000);
        assert_int_equal(l->cues[1].start_ms, 5000);
        assert_int_equal(l->cues[1].end_ms, 7000);
        cue_list_free(l);
}

static void test_silent_refused(void **state) {
        struct cue_list *l = cues_from("Nothing will be heard.\n");
        struct audio_scan silent = {44100, 441000, -1, -1};
        struct audio_scan no_rate = {0, 441000, 10, 20};

        assert_int_equal(timing_assign(l, &silent), -EINVAL);
        assert_int_equal(timing_assign(l, &no_rate), -EINVAL);
        assert_int_equal(l->cues[0].start_ms, -1);
        cue_list_free(l);
}

/* Optional: mean and worst error of sentence starts against truth.json. */
static void test_truth_error(void **state) {
        _cleanup_free_ char *path = fixture_shared("stories/tillerson-putin/truth.json");
        struct json_object *root, *sentences, *v;
        struct audio_scan scan = {44100, 0, 0, 0};
        struct cue_list *l;
        int64_t sum = 0, worst = 0;
        size_t s = 0;

        if (!path)
                skip();
        root = json_object_from_file(path);
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "sentences", &sentences));
        assert_true(json_object_object_get_ex(root, "speech_start_ms", &v));
        scan.first_voiced = json_object_get_int64(v) * 441 / 10;
        assert_true(json_object_object_get_ex(root, "speech_end_ms", &v));
        scan.last_voiced = json_object_get_int64(v) * 441 / 10;
        scan.frames = scan.last_voiced + 44100;

        l = seed_cues();
        assert_int_equal(timing_assign(l, &scan), TIMING_ESTIMATE);
        for (size_t i = 0; i < l->n_cues; i++) {
                struct json_object *o, *start;
                int64_t err;

                if (i > 0 && l->cues[i].sentence == l->cues[i - 1].sentence)
                        continue;
                o = json_object_array_get_idx(sentences, s++);
                assert_true(json_object_object_get_ex(o, "start_ms", &start));
                err = llabs(l->cues[i].start_ms - json_object_get_int64(start));
                sum += err;
                worst = err > worst ? err : worst;
        }
        assert_int_equal(s, json_object_array_length(sentences));
        print_message("estimate vs truth: mean %lld ms, worst %lld ms over %zu sentences\n",
                      (long long)(sum / (int64_t)s), (long long)worst, s);
        assert_true(sum / (int64_t)s < 1000);
        assert_true(worst < 3500);
        cue_list_free(l);
        json_object_put(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_to_string),       cmocka_unit_test(test_estimate_fills_span),
                cmocka_unit_test(test_proportional),    cmocka_unit_test(test_speaker_change_pauses_longer),
                cmocka_unit_test(test_given_untouched), cmocka_unit_test(test_silent_refused),
                cmocka_unit_test(test_truth_error),
        };

        return cmocka_run_group_tests_name("timing", tests, NULL, NULL);
}
