/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cache: the timing cache's key and its round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "segment.h"

static char dir[] = "/tmp/test-cache.XXXXXX";
static char audio[256];

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static struct cue_list *make_cues(const char *a, const char *b) {
        struct cue_list *l = calloc(1, sizeof *l);
        l->n_cues = 2;
        l->cues = calloc(2, sizeof *l->cues);
        l->cues[0] = (struct cue){.text = strdup(a), .spoken = strdup(a), .start_ms = 100, .end_ms = 900};
        l->cues[1] = (struct cue){.text = strdup(b), .spoken = strdup(b), .start_ms = 900, .end_ms = 2000};
        return l;
}

static int setup(void **state) {
        assert_non_null(mkdtemp(dir));
        snprintf(audio, sizeof audio, "%s/a.mp3", dir);
        write_file(audio, "not really audio, but bytes to hash");
        return 0;
}

static int teardown(void **state) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd);
}

static void test_key_depends_on_content(void **state) {
        struct cue_list *l = make_cues("Hello there.", "General Kenobi."),
                        *m = make_cues("Hello there", ". General Kenobi.");
        char k1[CACHE_KEY_LEN + 1], k2[CACHE_KEY_LEN + 1], k3[CACHE_KEY_LEN + 1], k4[CACHE_KEY_LEN + 1];

        assert_int_equal(cache_key(audio, l, "v1", k1), 0);
        assert_int_equal(strlen(k1), CACHE_KEY_LEN);
        assert_int_equal(cache_key(audio, l, "v1", k2), 0);
        assert_string_equal(k1, k2);
        assert_int_equal(cache_key(audio, l, "v2", k3), 0); /* aligner version */
        assert_string_not_equal(k1, k3);
        assert_int_equal(cache_key(audio, m, "v1", k4), 0); /* same letters, other cues */
        assert_string_not_equal(k1, k4);
        write_file(audio, "other bytes");
        assert_int_equal(cache_key(audio, l, "v1", k4), 0);
        assert_string_not_equal(k1, k4);
        assert_int_equal(cache_key("/nonexistent/x.mp3", l, "v1", k4), -ENOENT);
        cue_list_free(l);
        cue_list_free(m);
}

static void test_round_trip(void **state) {
        struct cue_list *l = make_cues("One.", "Two."), *back = make_cues("One.", "Two.");
        struct audio_scan scan = {44100, 441000, 22050, 400000}, got = {};
        char cdir[300];

        snprintf(cdir, sizeof cdir, "%s/cache", dir);
        assert_int_equal(cache_load(cdir, "0123", back, &got), -ENOENT);
        assert_int_equal(cache_store(cdir, "0123", l, &scan, TIMING_ALIGNED), 0);
        back->cues[0].start_ms = back->cues[1].start_ms = -1;
        assert_int_equal(cache_load(cdir, "0123", back, &got), TIMING_ALIGNED);
        assert_int_equal(back->cues[0].start_ms, 100);
        assert_int_equal(back->cues[1].end_ms, 2000);
        assert_int_equal(got.frames, 441000);
        assert_int_equal(got.first_voiced, 22050);
        assert_int_equal(got.rate, 44100);
        cue_list_free(l);
        cue_list_free(back);
}

/* An aligned entry keeps the word times (and cue_list_dup copies them);
 * an estimate stores none. */
static void test_word_times(void **state) {
        struct cue_list *l = make_cues("One two.", "Three."), *back = make_cues("One two.", "Three."), *dup;
        struct audio_scan scan = {44100, 441000, 22050, 400000}, got = {};
        char cdir[300];

        (void)state;
        snprintf(cdir, sizeof cdir, "%s/cache-words", dir);
        l->cues[0].words = calloc(2, sizeof *l->cues[0].words);
        l->cues[0].words[0] = (struct cue_word){strdup("One"), 100, 400};
        l->cues[0].words[1] = (struct cue_word){strdup("two"), 450, 900};
        l->cues[0].n_words = 2;
        assert_int_equal(cue_list_dup(l, &dup), 0);
        assert_int_equal(dup->cues[0].n_words, 2);
        assert_string_equal(dup->cues[0].words[1].text, "two");
        assert_ptr_not_equal(dup->cues[0].words, l->cues[0].words);
        assert_int_equal(cache_store(cdir, "w1", dup, &scan, TIMING_ALIGNED), 0);
        cue_list_free(dup);
        assert_int_equal(cache_load(cdir, "w1", back, &got), TIMING_ALIGNED);
        assert_int_equal(back->cues[0].n_words, 2);
        assert_string_equal(back->cues[0].words[0].text, "One");
        assert_int_equal(back->cues[0].words[1].start_ms, 450);
        assert_int_equal(back->cues[0].words[1].end_ms, 900);
        assert_int_equal(back->cues[1].n_words, 0);

        assert_int_equal(cache_store(cdir, "w2", l, &scan, TIMING_ESTIMATE), 0);
        assert_int_equal(cache_load(cdir, "w2", back, &got), TIMING_ESTIMATE);
        assert_int_equal(back->cues[0].n_words, 0);
        assert_null(back->cues[0].words);
        cue_list_free(l);
        cue_list_free(back);
}

static void test_bad_entries_are_ignored(void **state) {
        struct cue_list *l = make_cues("One.", "Two.");
        struct cue_list *three = make_cues("One.", "Two.");
        struct audio_scan scan = {44100, 441000, 0, 1}, got = {};
        char cdir[300], path[400];

        snprintf(cdir, sizeof cdir, "%s/cache2", dir);
        assert_int_equal(cache_store(cdir, "k", l, &scan, TIMING_ESTIMATE), 0);
        three->n_cues = 1; /* a different segmentation: must not fit */
        three->cues[0].start_ms = -1;
        assert_int_equal(cache_load(cdir, "k", three, &got), -EBADMSG);
        assert_int_equal(three->cues[0].start_ms, -1);
        three->n_cues = 2;
        snprintf(path, sizeof path, "%s/k.json", cdir);
        write_file(path, "{\"version\": 1, \"cues\": [[1, 2], [3");
        assert_int_equal(cache_load(cdir, "k", l, &got), -EBADMSG);
        cue_list_free(l);
        cue_list_free(three);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_depends_on_content),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_word_times),
                cmocka_unit_test(test_bad_entries_are_ignored),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
