/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-asr.c: espeak-ng phonemes map onto CMU phones; tokens take their
 * dictionary form; words CMUdict lacks (names, numbers, hyphenated
 * compounds) get a pronunciation from espeak-ng; the grammar built from a
 * cue list has every word in order, pause and noise loops, and the arcs
 * that pass a sentence over. Skips when the acoustic model is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr.h"

static void test_espeak_to_cmu(void **state) {
        char *p = NULL;

        assert_int_equal(asr_espeak_to_cmu("t'Il3s@n", &p), 7);
        assert_string_equal(p, "T IH L ER S AH N");
        free(p);
        assert_int_equal(asr_espeak_to_cmu("k'ElI2m,En", &p), 7);
        assert_string_equal(p, "K EH L IH M EH N");
        free(p);
        assert_int_equal(asr_espeak_to_cmu("tS'eIndZ aI@", &p), 6);
        assert_string_equal(p, "CH EY N JH AY ER");
        free(p);
}

static void test_word_form(void **state) {
        static const char *in[] = {"Kremlin.", "\xe2\x80\x9cPutin\xe2\x80\x99s", "U.S.", "(well-known),",
                                   "--"};
        static const char *want[] = {"kremlin", "putin's", "u.s.", "well-known", ""};

        for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
                char *f = asr_word_form(in[i]);

                assert_non_null(f);
                assert_string_equal(f, want[i]);
                free(f);
        }
}

static int model_missing(void) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/en-us/mdef", asr_model_dir());
        f = fopen(path, "r");
        if (f)
                fclose(f);
        return !f;
}

static void test_oov_and_grammar(void **state) {
        /* Two sentences: "Tillerson met Kelemenski." "It cost $400 at www.npr.org." */
        static const char *tok[] = {"Tillerson", "met",  "Kelemenski.", "It",
                                    "cost",      "$400", "at",          "www.npr.org."};
        static const size_t sent[] = {0, 3};
        struct asr *a = NULL;
        char *p, *g = NULL;
        size_t len = 0;
        FILE *f;

        if (model_missing())
                skip();
        assert_int_equal(asr_new(tok, 8, sent, 2, &a), 0);
        /* In CMUdict. */
        p = asr_pronunciation(a, 1);
        assert_string_equal(p, "M EH T");
        free(p);
        /* Names and numbers from espeak-ng. */
        p = asr_pronunciation(a, 2);
        assert_non_null(p);
        assert_non_null(strstr(p, "K EH L"));
        free(p);
        p = asr_pronunciation(a, 5);
        assert_non_null(p);
        assert_non_null(strstr(p, "F AO R"));
        free(p);
        p = asr_pronunciation(a, 7);
        assert_non_null(p);
        assert_true(strlen(p) > 10);
        free(p);
        /* The grammar: a word arc per token in order, a null arc passing
         * the first sentence over, fillers on the states. */
        f = open_memstream(&g, &len);
        asr_write_grammar(a, f);
        fclose(f);
        assert_non_null(strstr(g, "NUM_STATES 11"));
        assert_non_null(strstr(g, "TRANSITION 0 1 "));
        assert_non_null(strstr(g, "tillerson"));
        assert_non_null(strstr(g, "TRANSITION 7 8 "));
        assert_non_null(strstr(g, "www.npr.org"));
        assert_non_null(strstr(g, "TRANSITION 0 0 0.005000 <sil>"));
        /* Sentence 0 passed over: a null arc to a landing state of its own
         * (8 + 1 + 1) whose only way on is sentence 1's first word, with no
         * filler loop there (no chained passes); the last sentence passed
         * over: a null arc to the end. */
        assert_non_null(strstr(g, "TRANSITION 0 10 "));
        assert_non_null(strstr(g, "TRANSITION 10 4 1.000000 it\n"));
        assert_null(strstr(g, "TRANSITION 10 10"));
        assert_non_null(strstr(g, "TRANSITION 3 8 "));
        free(g);
        asr_free(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_espeak_to_cmu),
                cmocka_unit_test(test_word_form),
                cmocka_unit_test(test_oov_and_grammar),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
