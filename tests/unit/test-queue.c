/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-queue.c: the Next Up queue: ids, positions, ERANGE, take, move
 * (clamped), pop order, clear, find, and that stories with cues are
 * freed whole (the ASan build reports any leak). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"
#include "story.h"
#include "segment.h"
#include "transcript.h"

static struct story *story_make(const char *title) {
        struct story *s = calloc(1, sizeof *s);

        assert_non_null(s);
        s->title = strdup(title);
        assert_true(asprintf(&s->audio_path, "/stories/%s.mp3", title) > 0);
        assert_true(asprintf(&s->transcript_path, "/stories/%s.txt", title) > 0);
        s->duration_ms = -1;
        return s;
}

/* The titles in queue order, joined by spaces. */
static void assert_order(const struct queue *q, const char *expect) {
        char buf[256] = "";

        for (size_t i = 0; i < queue_size(q); i++) {
                size_t n = strlen(buf);
                snprintf(buf + n, sizeof buf - n, "%s%s", i > 0 ? " " : "", queue_get(q, i)->title);
        }
        assert_string_equal(buf, expect);
}

/* A queue holding a, b, c (ids 1, 2, 3). */
static struct queue *queue_abc(void) {
        struct queue *q;

        assert_int_equal(queue_new(&q), 0);
        assert_int_equal(queue_insert(q, 0, story_make("a")), 0);
        assert_int_equal(queue_insert(q, 1, story_make("b")), 0);
        assert_int_equal(queue_insert(q, 2, story_make("c")), 0);
        return q;
}

static void test_empty(void **state) {
        struct queue *q;

        assert_int_equal(queue_new(&q), 0);
        assert_int_equal(queue_size(q), 0);
        assert_null(queue_get(q, 0));
        assert_null(queue_pop(q));
        assert_null(queue_take(q, 1));
        assert_null(queue_find(q, 1, NULL));
        assert_int_equal(queue_move(q, 1, 0), -ENOENT);
        queue_clear(q);
        assert_null(queue_free(q));
        assert_null(queue_free(NULL));
        assert_null(story_free(NULL));
}

static void test_insert_positions(void **state) {
        struct queue *q = queue_abc();
        struct story *s;

        assert_order(q, "a b c");
        assert_int_equal(queue_get(q, 0)->id, 1);
        assert_int_equal(queue_get(q, 2)->id, 3);

        assert_int_equal(queue_insert(q, 0, story_make("next")), 0); /* next up */
        assert_int_equal(queue_insert(q, 2, story_make("mid")), 0);
        assert_int_equal(queue_insert(q, queue_size(q), story_make("end")), 0);
        assert_order(q, "next a mid b c end");
        assert_int_equal(queue_get(q, 0)->id, 4);
        assert_int_equal(queue_get(q, 2)->id, 5);
        assert_int_equal(queue_get(q, 5)->id, 6);
        assert_null(queue_get(q, 6));

        /* past the end: refused, the story stays the caller's, no id used */
        s = story_make("far");
        assert_int_equal(queue_insert(q, 7, s), -ERANGE);
        assert_int_equal(s->id, 0);
        assert_int_equal(queue_size(q), 6);
        assert_int_equal(queue_insert(q, 6, s), 0);
        assert_int_equal(s->id, 7);
        queue_free(q);
}

/* Many inserts force the array to grow; order and ids must survive. */
static void test_grow(void **state) {
        struct queue *q;
        char name[16];

        assert_int_equal(queue_new(&q), 0);
        for (int i = 0; i < 100; i++) {
                snprintf(name, sizeof name, "s%d", i);
                assert_int_equal(queue_insert(q, 0, story_make(name)), 0);
        }
        assert_int_equal(queue_size(q), 100);
        for (size_t i = 0; i < 100; i++) {
                snprintf(name, sizeof name, "s%zu", 99 - i);
                assert_string_equal(queue_get(q, i)->title, name);
                assert_int_equal(queue_get(q, i)->id, 100 - i);
        }
        queue_free(q);
}

static void test_ids_per_queue_never_reused(void **state) {
        struct queue *q = queue_abc(), *other;
        struct story *s;

        s = queue_take(q, 3);
        story_free(s);
        assert_int_equal(queue_insert(q, 2, story_make("d")), 0);
        assert_int_equal(queue_get(q, 2)->id, 4);
        queue_clear(q);
        assert_int_equal(queue_insert(q, 0, story_make("e")), 0);
        assert_int_equal(queue_get(q, 0)->id, 5);

        assert_int_equal(queue_new(&other), 0);
        assert_int_equal(queue_insert(other, 0, story_make("x")), 0);
        assert_int_equal(queue_get(other, 0)->id, 1);
        queue_free(other);
        queue_free(q);
}

static void test_find(void **state) {
        struct queue *q = queue_abc();
        size_t index = 99;

        assert_string_equal(queue_find(q, 2, &index)->title, "b");
        assert_int_equal(index, 1);
        assert_string_equal(queue_find(q, 3, NULL)->title, "c");
        index = 99;
        assert_null(queue_find(q, 4, &index));
        assert_int_equal(index, 99); /* untouched when not found */
        assert_null(queue_find(q, 0, &index));
        queue_free(q);
}

static void test_take(void **state) {
        struct queue *q = queue_abc();
        struct story *s;

        s = queue_take(q, 2);
        assert_non_null(s);
        assert_string_equal(s->title, "b");
        assert_int_equal(s->id, 2);
        assert_order(q, "a c");
        assert_null(queue_take(q, 2));
        assert_null(queue_find(q, 2, NULL));
        story_free(s);

        story_free(queue_take(q, 3));
        story_free(queue_take(q, 1));
        assert_int_equal(queue_size(q), 0);
        queue_free(q);
}

static void test_move(void **state) {
        struct queue *q = queue_abc();

        assert_int_equal(queue_move(q, 3, 0), 0);
        assert_order(q, "c a b");
        assert_int_equal(queue_move(q, 3, 2), 0);
        assert_order(q, "a b c");
        assert_int_equal(queue_move(q, 1, 1), 0);
        assert_order(q, "b a c");
        assert_int_equal(queue_move(q, 2, 1), 0); /* b to 1 */
        assert_order(q, "a b c");
        assert_int_equal(queue_move(q, 2, 2), 0); /* to the end */
        assert_order(q, "a c b");
        assert_int_equal(queue_move(q, 1, 1), 0); /* a from 0 to 1 */
        assert_order(q, "c a b");
        assert_int_equal(queue_move(q, 3, 3), 0); /* one past the end: clamped */
        assert_order(q, "a b c");
        assert_int_equal(queue_move(q, 1, 1000), 0); /* far past: clamped */
        assert_order(q, "b c a");
        assert_int_equal(queue_move(q, 1, 0), 0);
        assert_order(q, "a b c");
        assert_int_equal(queue_move(q, 9, 0), -ENOENT);
        assert_order(q, "a b c");
        /* ids stay with their stories */
        assert_int_equal(queue_get(q, 0)->id, 1);
        assert_int_equal(queue_get(q, 2)->id, 3);
        queue_free(q);
}

static void test_pop_order(void **state) {
        struct queue *q = queue_abc();
        struct story *s;

        assert_int_equal(queue_insert(q, 0, story_make("first")), 0);
        s = queue_pop(q);
        assert_string_equal(s->title, "first");
        story_free(s);
        s = queue_pop(q);
        assert_string_equal(s->title, "a");
        story_free(s);
        assert_order(q, "b c");
        s = queue_pop(q);
        assert_string_equal(s->title, "b");
        story_free(s);
        s = queue_pop(q);
        assert_string_equal(s->title, "c");
        story_free(s);
        assert_null(queue_pop(q));
        assert_int_equal(queue_size(q), 0);
        queue_free(q);
}

static void test_clear(void **state) {
        struct queue *q = queue_abc();

        queue_clear(q);
        assert_int_equal(queue_size(q), 0);
        assert_null(queue_get(q, 0));
        assert_null(queue_find(q, 1, NULL));
        assert_int_equal(queue_insert(q, 0, story_make("after")), 0);
        assert_order(q, "after");
        queue_free(q);
}

/* A story owns its cue list: freeing the story, the cleared queue or the
 * queue itself must release it (checked by LeakSanitizer). */
static void test_story_with_cues(void **state) {
        static const char text[] = "Queue test\n\n"
                                   "HOST: The first sentence of a story that is long enough for two cues. "
                                   "And a second sentence to follow it.\n";
        struct transcript *t = NULL;
        struct queue *q;
        struct story *s;
        char *err = NULL;

        assert_int_equal(queue_new(&q), 0);
        for (int i = 0; i < 3; i++) {
                s = story_make("cued");
                assert_int_equal(transcript_parse(text, strlen(text), "test", &t, &err), 0);
                assert_int_equal(segment_transcript(t, &SEGMENT_OPTS_DEFAULT, &s->cues), 0);
                assert_true(s->cues->n_cues > 0);
                transcript_free(t);
                if (i == 0)
                        story_free(s);
                else
                        assert_int_equal(queue_insert(q, 0, s), 0);
        }
        story_free(queue_pop(q));
        assert_int_equal(queue_size(q), 1);
        queue_free(q);
}

/* The length check: at the limit passes, one character over is refused,
 * and a transcript shorter than its audio is always fine. */
static void test_story_length(void **state) {
        char text[2100];
        struct cue cue = {.spoken = text};
        struct cue_list l = {.cues = &cue, .n_cues = 1};
        const char *why = NULL;

        (void)state;
        /* 10 s of audio: 10 * STORY_CHARS_PER_S + STORY_CHARS_SLACK characters */
        memset(text, 'a', 900);
        text[900] = 0;
        assert_int_equal(story_check_length(&l, 10000, &why), 0);
        text[900] = 'a';
        text[901] = 0;
        assert_int_equal(story_check_length(&l, 10000, &why), -EMSGSIZE);
        assert_non_null(strstr(why, "too long for its audio"));
        /* no audio length: the slack alone */
        text[STORY_CHARS_SLACK] = 0;
        assert_int_equal(story_check_length(&l, 0, &why), 0);
        assert_int_equal(story_check_length(&l, 3600000, &why), 0);
        l.n_cues = 0;
        assert_int_equal(story_check_length(&l, 0, &why), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),        cmocka_unit_test(test_insert_positions),
                cmocka_unit_test(test_grow),         cmocka_unit_test(test_ids_per_queue_never_reused),
                cmocka_unit_test(test_find),         cmocka_unit_test(test_take),
                cmocka_unit_test(test_move),         cmocka_unit_test(test_pop_order),
                cmocka_unit_test(test_clear),        cmocka_unit_test(test_story_with_cues),
                cmocka_unit_test(test_story_length),
        };

        return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
