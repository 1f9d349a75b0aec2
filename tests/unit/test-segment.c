/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-segment: sentence splitting (the rules of the story fixtures'
 * README: 38 sentences on the seed page), cue limits under several option
 * sets, speaker marks, UTF-8 widths, overlong words, no text ever lost, and
 * timed turns sharing their span. With the shared fixtures (fixture.h) present, also compares
 * every sentence with the fixture's truth.json. */
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
#include "transcript.h"

static struct transcript *load(const char *file) {
        const char *dir = getenv("NEXTUP_SOURCE_DIR");
        char *path, *error = NULL;
        struct transcript *t = NULL;

        assert_true(asprintf(&path, "%s/tests/unit/data/%s", dir ? dir : ".", file) > 0);
        if (transcript_load(path, &t, &error) < 0)
                fail_msg("%s: %s", path, error ? error : "?");
        free(path);
        return t;
}

static struct transcript *parse(const char *text) {
        struct transcript *t = NULL;
        char *error = NULL;

        if (transcript_parse(text, strlen(text), "inline", &t, &error) < 0)
                fail_msg("parse: %s", error ? error : "?");
        return t;
}

static struct cue_list *segment(const struct transcript *t, int max_chars, int max_lines, const char *mark) {
        struct segment_opts o = {max_chars, max_lines, mark};
        struct cue_list *l = NULL;

        assert_int_equal(segment_transcript(t, &o, &l), 0);
        assert_non_null(l);
        return l;
}

static int utf8_len(const char *s, size_t n) {
        int c = 0;

        for (size_t i = 0; i < n; i++)
                c += ((unsigned char)s[i] & 0xc0) != 0x80;
        return c;
}

/* Splits into sentences and checks them against expected (NULL-terminated). */
static void expect_sentences(const char *text, const char *const *expected) {
        char **v = NULL;
        int n = segment_sentences(text, &v), i;

        for (i = 0; expected[i]; i++) {
                if (i >= n)
                        fail_msg("missing sentence %d '%s' in '%s'", i, expected[i], text);
                assert_string_equal(v[i], expected[i]);
        }
        assert_int_equal(n, i);
        assert_null(v[n]);
        for (i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static void test_sentence_rules(void **state) {
        expect_sentences("The U.S. and the U.N. met. Then Dr. Smith and Mr. Jones left.",
                         (const char *const[]){"The U.S. and the U.N. met.",
                                               "Then Dr. Smith and Mr. Jones left.", NULL});
        expect_sentences("Mrs. Lee, Ms. Ray and St. Paul's Sam Jr. spoke. Texas vs. Ohio ended.",
                         (const char *const[]){"Mrs. Lee, Ms. Ray and St. Paul's Sam Jr. spoke.",
                                               "Texas vs. Ohio ended.", NULL});
        expect_sentences("J. Edgar Hoover grew 3.5 percent. Why? Because! 2017 was odd.",
                         (const char *const[]){"J. Edgar Hoover grew 3.5 percent.", "Why?", "Because!",
                                               "2017 was odd.", NULL});
        expect_sentences("He said, \"Stop. Now.\" Then he left. \"Why?\" she asked. 'Fine.' Done.",
                         (const char *const[]){"He said, \"Stop. Now.\"", "Then he left.",
                                               "\"Why?\" she asked.", "'Fine.'", "Done.", NULL});
        expect_sentences(
                "She said \xe2\x80\x9cGo. Now.\xe2\x80\x9d He went\xe2\x80\xa6 later. No split here.x",
                (const char *const[]){"She said \xe2\x80\x9cGo. Now.\xe2\x80\x9d",
                                      "He went\xe2\x80\xa6 later.", "No split here.x", NULL});
        /* An unclosed quote does not swallow the rest of the paragraph. */
        expect_sentences("He began: \"We will go. We will stay.",
                         (const char *const[]){"He began: \"We will go.", "We will stay.", NULL});
        expect_sentences("no capital. after this", (const char *const[]){"no capital. after this", NULL});
        expect_sentences("  ", (const char *const[]){NULL});
}

static const char *const seed_sentences[] = {
        [0] = "Let's take a close look now at relations between the U.S. and Russia, beginning with a "
              "two-hour meeting at the Kremlin.",
        [1] = "Russian President Vladimir Putin sat down with U.S. Secretary of State Rex Tillerson.",
        [3] = "The current state of U.S.-Russia relations is at a low point.",
        [9] = "Hi, Michele.",
        [14] = "The problem is that when it comes to something like Syria, the two sides are where they've "
               "been throughout - for this whole conflict.",
        [23] = "But, you know, just today, shortly after the two men spoke about this, Russia vetoed a U.N. "
               "Security Council resolution that called on Syria to hand over flight logs and other "
               "evidence to international inspectors.",
        [28] = "Well, I'd say the U.N. Special Envoy Staffan de Mistura, who was in Washington yesterday "
               "and up at the U.N. Security Council today, certainly hopes so.",
        [37] = "Thank you, Ari.",
};

/* The words of sentence s, joined from its cues' spoken text. */
static char *sentence_text(const struct cue_list *l, size_t s) {
        char *acc = strdup("");

        for (size_t i = 0; i < l->n_cues; i++) {
                char *n;

                if (l->cues[i].sentence != s)
                        continue;
                assert_true(asprintf(&n, "%s%s%s", acc, *acc ? " " : "", l->cues[i].spoken) > 0);
                free(acc);
                acc = n;
        }
        return acc;
}

static void test_seed_sentences(void **state) {
        struct transcript *t = load("tillerson-putin.txt");
        struct cue_list *l = segment(t, 37, 2, ">>");
        size_t total = 0;

        for (size_t i = 0; i < t->n_turns; i++) {
                char **v;
                int n = segment_sentences(t->turns[i].text, &v);

                assert_true(n > 0);
                total += (size_t)n;
                for (int k = 0; k < n; k++)
                        free(v[k]);
                free(v);
        }
        assert_int_equal(total, 38);
        assert_int_equal(l->n_sentences, 38);
        for (size_t s = 0; s < ELEMENTSOF(seed_sentences); s++) {
                char *text;

                if (!seed_sentences[s])
                        continue;
                text = sentence_text(l, s);
                assert_string_equal(text, seed_sentences[s]);
                free(text);
        }
        cue_list_free(l);
        transcript_free(t);
}

/* Optional: every sentence equals truth.json's, when the fixtures exist. */
static void test_truth_sentences(void **state) {
        _cleanup_free_ char *path = fixture_shared("stories/tillerson-putin/truth.json");
        struct json_object *root, *sentences;
        struct transcript *t;
        struct cue_list *l;

        if (!path)
                skip();
        root = json_object_from_file(path);
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "sentences", &sentences));
        t = load("tillerson-putin.txt");
        l = segment(t, 37, 2, ">>");
        assert_int_equal(json_object_array_length(sentences), l->n_sentences);
        for (size_t s = 0; s < l->n_sentences; s++) {
                struct json_object *o = json_object_array_get_idx(sentences, s), *text, *speaker;
                char *mine = sentence_text(l, s);

                assert_true(json_object_object_get_ex(o, "text", &text));
                assert_string_equal(mine, json_object_get_string(text));
                assert_true(json_object_object_get_ex(o, "speaker", &speaker));
                for (size_t i = 0; i < l->n_cues; i++)
                        if (l->cues[i].sentence == s) {
                                if (json_object_is_type(speaker, json_type_null))
                                        assert_null(l->cues[i].speaker);
                                else
                                        assert_string_equal(l->cues[i].speaker,
                                                            json_object_get_string(speaker));
                        }
                free(mine);
        }
        cue_list_free(l);
        transcript_free(t);
        json_object_put(root);
}

/* Checks the limits and that no word is lost, dropped or reordered. */
static void check_limits(const struct transcript *t, const struct cue_list *l, int max_chars, int max_lines,
                         const char *mark) {
        char *all_turns = strdup(""), *all_cues = strdup("");

        for (size_t i = 0; i < t->n_turns; i++) {
                char *n;

                assert_true(asprintf(&n, "%s%s%s", all_turns, i ? " " : "", t->turns[i].text) > 0);
                free(all_turns);
                all_turns = n;
        }
        for (size_t i = 0; i < l->n_cues; i++) {
                const struct cue *c = &l->cues[i];
                const char *line = c->text, *display = c->text;
                int lines = 0;
                char *n, *flat;

                assert_true(i == 0 || c->sentence >= l->cues[i - 1].sentence);
                assert_true(c->sentence < l->n_sentences);
                for (; line; lines++) {
                        const char *nl = strchr(line, '\n');
                        size_t len = nl ? (size_t)(nl - line) : strlen(line);

                        if (utf8_len(line, len) > max_chars && memchr(line, ' ', len)) {
                                /* Allowed only as mark + one overlong word. */
                                assert_true(line == c->text && c->speaker_change && *mark);
                                assert_null(memchr(line + strlen(mark) + 1, ' ', len - strlen(mark) - 1));
                        }
                        assert_true(len > 0);
                        line = nl ? nl + 1 : NULL;
                }
                assert_true(lines <= max_lines);
                /* text = [mark + ' '] + spoken with some spaces made newlines */
                if (c->speaker_change && *mark) {
                        assert_memory_equal(display, mark, strlen(mark));
                        display += strlen(mark);
                        assert_true(*display == ' ' || *display == '\n');
                        display++;
                }
                flat = strdup(display);
                for (char *p = flat; *p; p++)
                        if (*p == '\n')
                                *p = ' ';
                assert_string_equal(flat, c->spoken);
                free(flat);
                assert_true(asprintf(&n, "%s%s%s", all_cues, i ? " " : "", c->spoken) > 0);
                free(all_cues);
                all_cues = n;
        }
        assert_string_equal(all_cues, all_turns);
        free(all_turns);
        free(all_cues);
}

static void test_limits(void **state) {
        static const struct {
                int chars, lines;
                const char *mark;
        } opts[] = {
                {37, 2, ">>"}, {20, 1, "-"}, {32, 3, ">>"}, {10, 2, ">>"}, {200, 5, ""}, {42, 1, "SPEAKER:"},
        };
        const char *files[] = {"tillerson-putin.txt", "short-news.txt", "tricky-page.txt"};

        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                struct transcript *t = load(files[f]);

                for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
                        struct cue_list *l = segment(t, opts[i].chars, opts[i].lines, opts[i].mark);

                        check_limits(t, l, opts[i].chars, opts[i].lines, opts[i].mark);
                        cue_list_free(l);
                }
                transcript_free(t);
        }
}

static void test_speaker_marks(void **state) {
        struct transcript *t = load("tillerson-putin.txt");
        struct cue_list *l = segment(t, 37, 2, ">>");
        size_t changes = 0;

        assert_false(l->cues[0].speaker_change);
        assert_null(l->cues[0].speaker);
        for (size_t i = 0; i < l->n_cues; i++) {
                const struct cue *c = &l->cues[i];
                bool differs = i > 0 && !(c->speaker == l->cues[i - 1].speaker ||
                                          (c->speaker && l->cues[i - 1].speaker &&
                                           strcmp(c->speaker, l->cues[i - 1].speaker) == 0));

                assert_int_equal(c->speaker_change, differs);
                assert_int_equal(strncmp(c->text, ">> ", 3) == 0, differs);
                assert_null(strstr(c->spoken, ">>"));
                changes += c->speaker_change;
        }
        /* NULL>REX>SHAPIRO(2)>KELEMEN(2)>SHAPIRO>KELEMEN>SHAPIRO>KELEMEN>SHAPIRO>KELEMEN */
        assert_int_equal(changes, 9);
        cue_list_free(l);

        /* Custom: one line of 20 characters, mark "-": the mark counts. */
        l = segment(t, 20, 1, "-");
        for (size_t i = 0; i < l->n_cues; i++) {
                assert_null(strchr(l->cues[i].text, '\n'));
                if (l->cues[i].speaker_change)
                        assert_memory_equal(l->cues[i].text, "- ", 2);
        }
        cue_list_free(l);

        /* No mark: the change is still flagged, the text is bare. */
        l = segment(t, 37, 2, "");
        for (size_t i = 0, n = 0; i < l->n_cues; i++) {
                n += l->cues[i].speaker_change;
                assert_false(l->cues[i].text[0] == '>');
                if (i + 1 == l->n_cues)
                        assert_int_equal(n, 9);
        }
        cue_list_free(l);
        transcript_free(t);
}

static void test_layout(void **state) {
        struct transcript *t =
                parse("Yesterday, the White House accused Russia of covering up the attack.\n");
        struct cue_list *l = segment(t, 37, 2, ">>");

        /* Fits one cue; breaks at the comma, not inside "White House". */
        assert_int_equal(l->n_cues, 1);
        assert_string_equal(l->cues[0].text,
                            "Yesterday, the White House accused\nRussia of covering up the attack.");
        cue_list_free(l);
        transcript_free(t);

        /* One line when it fits; a short sentence is one cue. */
        t = parse("Hi, Michele.\n");
        l = segment(t, 37, 2, ">>");
        assert_int_equal(l->n_cues, 1);
        assert_string_equal(l->cues[0].text, "Hi, Michele.");
        assert_int_equal(l->cues[0].start_ms, -1);
        cue_list_free(l);
        transcript_free(t);

        /* A word longer than a line stands alone, whole. */
        t = parse("A Supercalifragilisticexpialidocious day.\n");
        l = segment(t, 10, 2, ">>");
        check_limits(t, l, 10, 2, ">>");
        for (size_t i = 0; i < l->n_cues; i++)
                if (strstr(l->cues[i].text, "Supercali"))
                        assert_non_null(strstr(l->cues[i].text, "Supercalifragilisticexpialidocious"));
        cue_list_free(l);
        transcript_free(t);

        /* Widths count characters: 26 characters (32 bytes) fit in 26. */
        t = parse("\xe2\x80\x9cTwo\xe2\x80\x94three\xe2\x80\x9d four five six.\n");
        l = segment(t, 26, 1, "");
        assert_int_equal(l->n_cues, 1);
        cue_list_free(l);
        transcript_free(t);
}

static void expect_cues(const char *text, int max_chars, int max_lines, const char *const *expected) {
        struct transcript *t = parse(text);
        struct cue_list *l = segment(t, max_chars, max_lines, ">>");
        size_t i;

        for (i = 0; expected[i]; i++) {
                if (i >= l->n_cues)
                        fail_msg("missing cue '%s'", expected[i]);
                assert_string_equal(l->cues[i].text, expected[i]);
        }
        assert_int_equal(l->n_cues, i);
        cue_list_free(l);
        transcript_free(t);
}

/* Readability choices: names stay whole, no line ends on "the", a lone
 * sentence-final word beats a stranded article, a one-word lead line
 * beats splitting "New York". */
static void test_readable_breaks(void **state) {
        expect_cues("He met with Vladimir Putin and Sergey Lavrov in Moscow on Wednesday.", 37, 2,
                    (const char *const[]){
                            "He met with Vladimir Putin and\nSergey Lavrov in Moscow on Wednesday.", NULL});
        expect_cues("The senator said she would vote against the bill tomorrow.", 20, 2,
                    (const char *const[]){"The senator said\nshe would vote", "against the bill\ntomorrow.",
                                          NULL});
        expect_cues(
                "Residents of New York City were told to stay indoors.", 25, 2,
                (const char *const[]){"Residents\nof New York City", "were told\nto stay indoors.", NULL});
        expect_cues(
                "It was, by all accounts, a remarkably productive meeting.", 37, 2,
                (const char *const[]){"It was, by all accounts,\na remarkably productive meeting.", NULL});
        expect_cues(
                "The problem is where they've been throughout - for this whole conflict.", 37, 2,
                (const char *const[]){
                        "The problem is where they've been\nthroughout - for this whole conflict.", NULL});
}

/* No line of the seed page is a lone word unless it ends a clause or
 * the sentence has one word: orphans are avoided where possible. */
static void test_no_orphans(void **state) {
        struct transcript *t = load("tillerson-putin.txt");
        struct cue_list *l = segment(t, 37, 2, ">>");

        for (size_t i = 0; i < l->n_cues; i++) {
                const char *line = l->cues[i].text;

                if (strncmp(line, ">> ", 3) == 0)
                        line += 3;
                for (; line;) {
                        const char *nl = strchr(line, '\n');
                        size_t len = nl ? (size_t)(nl - line) : strlen(line);

                        if (!memchr(line, ' ', len) && strchr(l->cues[i].spoken, ' '))
                                assert_true(len > 0 && strchr(",;:.?!", line[len - 1]) != NULL);
                        line = nl ? nl + 1 : NULL;
                }
        }
        cue_list_free(l);
        transcript_free(t);
}

static void test_timed_turns(void **state) {
        struct transcript *t =
                parse("WEBVTT\n\n00:01.000 --> 00:11.000\n"
                      "<v Ann>This cue is long enough that it has to become several caption cues. "
                      "It also has a second sentence in it.\n\n"
                      "00:11.000 --> 00:12.000\nShort.\n");
        struct cue_list *l = segment(t, 20, 1, ">>");

        assert_true(l->n_cues > 4);
        assert_int_equal(l->cues[0].start_ms, 1000);
        assert_int_equal(l->n_sentences, 3);
        for (size_t i = 0; i + 1 < l->n_cues; i++) {
                assert_true(l->cues[i].start_ms < l->cues[i].end_ms);
                assert_int_equal(l->cues[i].end_ms, l->cues[i + 1].start_ms);
        }
        assert_int_equal(l->cues[l->n_cues - 2].end_ms, 11000);
        assert_int_equal(l->cues[l->n_cues - 1].start_ms, 11000);
        assert_int_equal(l->cues[l->n_cues - 1].end_ms, 12000);
        /* A cue without voice tag, label or >> is the same speaker going on. */
        assert_false(l->cues[l->n_cues - 1].speaker_change);
        assert_string_equal(l->cues[l->n_cues - 1].speaker, "Ann");
        cue_list_free(l);
        transcript_free(t);
}

static void test_bad_options(void **state) {
        struct transcript *t = parse("Hello.\n");
        struct segment_opts o = {0, 2, ">>"};
        struct cue_list *l = NULL;

        assert_int_equal(segment_transcript(t, &o, &l), -EINVAL);
        assert_null(l);
        assert_int_equal(segment_transcript(t, NULL, &l), 0); /* NULL = defaults */
        assert_string_equal(l->cues[0].text, "Hello.");
        cue_list_free(l);
        assert_null(cue_list_free(NULL));
        transcript_free(t);
}

/* Issue 8: cue cutting was quadratic in the sentence (a 150 KB line took
 * 9.2 s). The same input now cuts into full cues, each within the limits;
 * runs of stops and unclosed quotes, also once quadratic, still give one
 * sentence; and past SEGMENT_CUES_MAX cues a story is refused. (Times are
 * printed by bench/segment-abuse, not asserted here.) */
static void test_hostile_sentences(void **state) {
        size_t size = 150 * 1024, n = 0;
        char *text = malloc(size + 16);
        struct transcript_turn turn = {.text = text, .start_ms = -1, .end_ms = -1};
        struct transcript t = {.turns = &turn, .n_turns = 1};
        struct cue_list *cues = NULL;
        char **sentences = NULL;

        while (n < size)
                n += (size_t)sprintf(text + n, "word ");
        assert_int_equal(segment_transcript(&t, NULL, &cues), 0);
        assert_true(cues->n_cues > 2000);
        for (size_t i = 0; i < cues->n_cues; i++)
                assert_true(strlen(cues->cues[i].text) <= 2 * 37 + 1);
        cue_list_free(cues);

        memset(text, '.', size);
        text[size] = '\0';
        assert_int_equal(segment_sentences(text, &sentences), 1);
        free(sentences[0]);
        free(sentences);
        for (n = 0; n < size; n += 7)
                memcpy(text + n,
                       "\xe2\x80\x9c"
                       "Go. ",
                       7);
        text[n] = '\0';
        assert_true(segment_sentences(text, &sentences) > 1000);
        for (size_t i = 0; sentences[i]; i++)
                free(sentences[i]);
        free(sentences);

        text = realloc(text, 1024 * 1024 + 16);
        turn.text = text;
        for (n = 0; n < 1024 * 1024; n += 5)
                memcpy(text + n, "word ", 5);
        text[n] = '\0';
        assert_int_equal(segment_transcript(&t, NULL, &cues), -E2BIG);
        assert_non_null(strstr(segment_strerror(-E2BIG), "10000"));
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sentence_rules),    cmocka_unit_test(test_seed_sentences),
                cmocka_unit_test(test_truth_sentences),   cmocka_unit_test(test_limits),
                cmocka_unit_test(test_speaker_marks),     cmocka_unit_test(test_layout),
                cmocka_unit_test(test_readable_breaks),   cmocka_unit_test(test_no_orphans),
                cmocka_unit_test(test_timed_turns),       cmocka_unit_test(test_bad_options),
                cmocka_unit_test(test_hostile_sentences),
        };

        return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
