/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-capfmt: exact WebVTT, SRT and JSON output for hand-made cues
 * (escaping, numbering, nulls), timestamps at the edges, and a round trip:
 * the seed story's cues written as WebVTT and SRT parse back to the same
 * spoken text and times. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capfmt.h"
#include "segment.h"
#include "transcript.h"

static struct cue sample_cues[] = {
        {.text = (char *)"Fish & chips <b>\n--> now",
         .spoken = (char *)"Fish & chips <b> --> now",
         .speaker = NULL,
         .start_ms = 500,
         .end_ms = 2250},
        {.text = (char *)">> Bye,\nKELEMEN \"says\" / \xe2\x80\x94 ok",
         .spoken = (char *)"Bye,",
         .speaker = (char *)"KELEMEN",
         .speaker_change = true,
         .sentence = 1,
         .start_ms = 3723456,
         .end_ms = 3724000},
};
static const struct cue_list sample = {sample_cues, 2, 2};

/* Runs a writer into memory and returns what it wrote. */
#define CAPTURE(call)                                                                                       \
        ({                                                                                                  \
                char *_buf = NULL;                                                                          \
                size_t _len = 0;                                                                            \
                FILE *f = open_memstream(&_buf, &_len);                                                     \
                assert_non_null(f);                                                                         \
                assert_int_equal((call), 0);                                                                \
                assert_int_equal(fclose(f), 0);                                                             \
                _buf;                                                                                       \
        })

static void test_timestamp(void **state) {
        char buf[16];

        capfmt_timestamp(0, '.', buf);
        assert_string_equal(buf, "00:00:00.000");
        capfmt_timestamp(3723456, '.', buf);
        assert_string_equal(buf, "01:02:03.456");
        capfmt_timestamp(3723456, ',', buf);
        assert_string_equal(buf, "01:02:03,456");
        capfmt_timestamp(59999, '.', buf);
        assert_string_equal(buf, "00:00:59.999");
        capfmt_timestamp(-5, '.', buf);
        assert_string_equal(buf, "00:00:00.000");
        capfmt_timestamp(100LL * 3600000 + 1, '.', buf);
        assert_string_equal(buf, "100:00:00.001");
        capfmt_timestamp(INT64_MAX, '.', buf); /* clamped, never overflows */
        assert_true(strlen(buf) < 16);
}

static void test_vtt(void **state) {
        char *out = CAPTURE(capfmt_vtt(f, &sample));

        assert_string_equal(
                out, "WEBVTT\n\n"
                     "00:00:00.500 --> 00:00:02.250\nFish &amp; chips &lt;b&gt;\n--&gt; now\n\n"
                     "01:02:03.456 --> 01:02:04.000\n&gt;&gt; Bye,\nKELEMEN \"says\" / \xe2\x80\x94 ok\n\n");
        free(out);

        out = CAPTURE(capfmt_vtt_cue(f, &sample_cues[0]));
        assert_string_equal(out,
                            "00:00:00.500 --> 00:00:02.250\nFish &amp; chips &lt;b&gt;\n--&gt; now\n\n");
        free(out);
}

static void test_srt(void **state) {
        char *out = CAPTURE(capfmt_srt(f, &sample));

        assert_string_equal(
                out, "1\n00:00:00,500 --> 00:00:02,250\nFish & chips <b>\n--> now\n\n"
                     "2\n01:02:03,456 --> 01:02:04,000\n>> Bye,\nKELEMEN \"says\" / \xe2\x80\x94 ok\n\n");
        free(out);
}

static void test_json(void **state) {
        char *out = CAPTURE(capfmt_json(f, "A \"Title\" / 1", 203041, &sample));
        struct json_object *o, *cues, *c, *v;

        assert_string_equal(out, "{\"title\":\"A \\\"Title\\\" / 1\",\"duration_ms\":203041,\"cues\":["
                                 "{\"start_ms\":500,\"end_ms\":2250,\"speaker\":null,\"text\":\"Fish & "
                                 "chips <b>\\n--> now\"},"
                                 "{\"start_ms\":3723456,\"end_ms\":3724000,\"speaker\":\"KELEMEN\","
                                 "\"text\":\">> Bye,\\nKELEMEN \\\"says\\\" / \xe2\x80\x94 ok\"}]}\n");
        o = json_tokener_parse(out);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "cues", &cues));
        assert_int_equal(json_object_array_length(cues), 2);
        c = json_object_array_get_idx(cues, 1);
        assert_true(json_object_object_get_ex(c, "text", &v));
        assert_string_equal(json_object_get_string(v), sample_cues[1].text);
        json_object_put(o);
        free(out);

        out = CAPTURE(capfmt_json(f, NULL, 0, &(struct cue_list){NULL, 0, 0}));
        assert_string_equal(out, "{\"title\":null,\"duration_ms\":0,\"cues\":[]}\n");
        free(out);
}

static struct cue_list *seed_timed(char **ret_title) {
        const char *dir = getenv("NEXTUP_SOURCE_DIR");
        struct transcript *t = NULL;
        struct cue_list *l = NULL;
        char *path, *error = NULL;

        assert_true(asprintf(&path, "%s/tests/unit/data/tillerson-putin.txt", dir ? dir : ".") > 0);
        if (transcript_load(path, &t, &error) < 0)
                fail_msg("%s", error ? error : "?");
        free(path);
        assert_int_equal(segment_transcript(t, NULL, &l), 0);
        /* capfmt is linked without timing.c: odd, uneven times by hand */
        for (size_t i = 0; i < l->n_cues; i++) {
                l->cues[i].start_ms = 500 + (int64_t)i * 3001 + (int64_t)(i % 7);
                l->cues[i].end_ms = l->cues[i].start_ms + 2999;
        }
        *ret_title = strdup(t->title);
        transcript_free(t);
        return l;
}

/* What we write, our own parser reads back: same words, same times. */
static void check_round_trip(const struct cue_list *l, const char *out, const char *name) {
        struct transcript *back = NULL;
        char *error = NULL;

        if (transcript_parse(out, strlen(out), name, &back, &error) < 0)
                fail_msg("%s", error ? error : "?");
        assert_true(back->timed);
        assert_int_equal(back->n_turns, l->n_cues);
        for (size_t i = 0; i < l->n_cues; i++) {
                assert_string_equal(back->turns[i].text, l->cues[i].spoken);
                assert_int_equal(back->turns[i].start_ms, l->cues[i].start_ms);
                assert_int_equal(back->turns[i].end_ms, l->cues[i].end_ms);
        }
        transcript_free(back);
}

static void test_round_trip(void **state) {
        char *title = NULL;
        struct cue_list *l = seed_timed(&title);
        char *out;

        out = CAPTURE(capfmt_vtt(f, l));
        check_round_trip(l, out, "seed.vtt");
        free(out);
        out = CAPTURE(capfmt_srt(f, l));
        check_round_trip(l, out, "seed.srt");
        free(out);

        out = CAPTURE(capfmt_json(f, title, 203041, l));
        {
                struct json_object *o = json_tokener_parse(out), *v;

                assert_non_null(o);
                assert_true(json_object_object_get_ex(o, "title", &v));
                assert_string_equal(json_object_get_string(v), title);
                assert_true(json_object_object_get_ex(o, "cues", &v));
                assert_int_equal(json_object_array_length(v), l->n_cues);
                json_object_put(o);
        }
        free(out);
        free(title);
        cue_list_free(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timestamp),  cmocka_unit_test(test_vtt),
                cmocka_unit_test(test_srt),        cmocka_unit_test(test_json),
                cmocka_unit_test(test_round_trip),
        };

        return cmocka_run_group_tests_name("capfmt", tests, NULL, NULL);
}
