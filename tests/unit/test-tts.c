/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-tts.c: tokens are what the truth files call words (punctuation kept,
 * lone dashes dropped, characters counted in UTF-8); engine events map onto
 * them monotonically (a number said as several words keeps its first, a
 * token read together with the one before shares its start, events that go
 * back are ignored); and with the real espeak-ng, "$400,000", "U.S.-Russia"
 * and "well-known" each get one start, in order, inside the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tts.h"

static const char *text =
        "It cost $400,000 \xe2\x80\x94 in the U.S.-Russia caf\xc3\xa9 at a well-known place.";

static void test_tokenize(void **state) {
        static const char *want[] = {"It",          "cost", "$400,000", "in",         "the",   "U.S.-Russia",
                                     "caf\xc3\xa9", "at",   "a",        "well-known", "place."};
        struct tts_token *tok = NULL;
        int n = tts_tokenize(text, &tok);

        assert_int_equal(n, 11);
        for (int i = 0; i < n; i++) {
                size_t len = tok[i].byte_end - tok[i].byte_start;
                assert_int_equal(len, strlen(want[i]));
                assert_memory_equal(text + tok[i].byte_start, want[i], len);
        }
        assert_int_equal(tok[3].char_start, 19); /* the em dash is one character */
        assert_int_equal(tok[7].char_start, 43); /* after "café ": é is one character */
        free(tok);
        assert_int_equal(tts_tokenize(" - \xe2\x80\x94 ", &tok), 0);
        assert_null(tok);
}

static void test_map_events(void **state) {
        struct tts_token *tok = NULL;
        int n = tts_tokenize(text, &tok);
        const struct tts_event ev[] = {
                {0, 10},    {3, 200},   {8, 500},   {9, 700},
                {10, 900},                                      /* dollar, four hundred, thousand */
                {0, 950},                                       /* back to the start: ignored */
                {19, 1200}, {22, 1300}, {26, 1500}, {27, 1600}, /* U, S inside U.S.-Russia */
                {38, 1800}, {43, 2100},                         /* café; "at a" one event */
                {48, 2400}, {53, 2600}, {59, 2800},
        };
        const int64_t want[] = {10, 200, 500, 1200, 1300, 1500, 1800, 2100, 2100, 2400, 2800};
        int64_t got[11];

        assert_int_equal(n, 11);
        tts_map_events(ev, sizeof(ev) / sizeof(ev[0]), tok, (size_t)n, got);
        assert_memory_equal(got, want, sizeof(want));
        free(tok);
}

struct sink {
        size_t samples;
        double energy;
};

static int count_audio(void *ud, const int16_t *pcm, size_t n) {
        struct sink *s = ud;

        for (size_t i = 0; i < n; i++)
                s->energy += (double)pcm[i] * pcm[i];
        s->samples += n;
        return 0;
}

static void test_engine(void **state) {
        struct tts_opts o = TTS_OPTS_DEFAULT;
        struct tts_token *tok = NULL;
        struct sink s = {};
        int64_t starts[11], samples = 0;
        int rate = tts_rate(), n;

        if (rate < 0)
                skip();
        n = tts_tokenize(text, &tok);
        assert_int_equal(tts_synth(text, &o, count_audio, &s, tok, (size_t)n, starts, &samples), 0);
        assert_int_equal(samples, (int64_t)s.samples);
        assert_true(s.energy > 0);
        for (int i = 1; i < n; i++)
                assert_true(starts[i] >= starts[i - 1]);
        assert_true(starts[n - 1] < samples);
        /* "dollar(s) four hundred thousand" takes far longer than one word */
        assert_true(starts[3] - starts[2] > rate * 8 / 10);
        /* these get a start of their own; "the" and "a" may be read together
         * with the word before ("in the", "at a") and share its start */
        static const int own[] = {1, 2, 3, 5, 6, 7, 9, 10};
        for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++)
                assert_true(starts[own[k]] > starts[own[k] - 1]);
        o.voice = "no-such-voice";
        assert_int_equal(tts_synth(text, &o, count_audio, &s, tok, (size_t)n, starts, &samples), -ENOENT);
        free(tok);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tokenize),
                cmocka_unit_test(test_map_events),
                cmocka_unit_test(test_engine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
