/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-transcript: the story page parser on the repo's copy of the seed
 * page, on tricky pages (labels, notes, trailers, CRLF), plain text, and on
 * WebVTT/SRT input including the error messages for bad timestamps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "transcript.h"

static char *data_path(const char *file) {
        const char *dir = getenv("NEXTUP_SOURCE_DIR");
        char *p;

        assert_true(asprintf(&p, "%s/tests/unit/data/%s", dir ? dir : ".", file) > 0);
        return p;
}

static struct transcript *load(const char *file) {
        char *path = data_path(file), *error = NULL;
        struct transcript *t = NULL;
        int r = transcript_load(path, &t, &error);

        if (r < 0)
                fail_msg("%s: %s", path, error ? error : "?");
        assert_null(error);
        free(path);
        return t;
}

static struct transcript *parse_ok(const char *text) {
        struct transcript *t = NULL;
        char *error = NULL;
        int r = transcript_parse(text, strlen(text), "inline", &t, &error);

        if (r < 0)
                fail_msg("parse failed: %d %s", r, error ? error : "?");
        return t;
}

static void parse_fails(const char *text, const char *name, const char *expected_error) {
        struct transcript *t = NULL;
        char *error = NULL;

        assert_int_equal(transcript_parse(text, strlen(text), name, &t, &error), -EINVAL);
        assert_null(t);
        assert_non_null(error);
        assert_string_equal(error, expected_error);
        free(error);
}

static void assert_speaker(const struct transcript_turn *turn, const char *speaker) {
        if (!speaker)
                assert_null(turn->speaker);
        else {
                assert_non_null(turn->speaker);
                assert_string_equal(turn->speaker, speaker);
        }
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_seed_page(void **state) {
        static const char *const speakers[] = {
                NULL,      "REX TILLERSON", "SHAPIRO", "SHAPIRO", "KELEMEN", "KELEMEN",
                "SHAPIRO", "KELEMEN",       "SHAPIRO", "KELEMEN", "SHAPIRO", "KELEMEN",
        };
        static const char *const not_spoken[] = {
                "Play Live Radio",
                "Next Up",
                "Available On Air",
                "Transcript provided",
                "Michele Kelemen has been",
                "Copyright",
                "REX TILLERSON:",
                "SHAPIRO:",
                "KELEMEN:",
                "Secretary of State Rex Tillerson Meets",
        };
        struct transcript *t = load("tillerson-putin.txt");

        assert_string_equal(t->title,
                            "Secretary of State Rex Tillerson Meets Russia's Putin At The Kremlin");
        assert_false(t->timed);
        assert_int_equal(t->n_turns, ELEMENTSOF(speakers));
        for (size_t i = 0; i < t->n_turns; i++) {
                assert_speaker(&t->turns[i], speakers[i]);
                assert_int_equal(t->turns[i].start_ms, -1);
                assert_int_equal(t->turns[i].end_ms, -1);
                for (size_t k = 0; k < ELEMENTSOF(not_spoken); k++)
                        assert_null(strstr(t->turns[i].text, not_spoken[k]));
                assert_false(starts_with(t->turns[i].text, " "));
                assert_false(ends_with(t->turns[i].text, " "));
        }
        assert_true(starts_with(t->turns[0].text, "Let's take a close look now at relations"));
        assert_true(starts_with(t->turns[1].text, "The current state of U.S.-Russia"));
        assert_true(starts_with(t->turns[5].text, "The problem is that"));
        assert_string_equal(t->turns[t->n_turns - 1].text, "Thank you, Ari.");
        transcript_free(t);
}

static void test_tricky_page(void **state) {
        struct transcript *t = load("tricky-page.txt");

        assert_string_equal(t->title, "Campaign Trail: Voters Weigh In");
        assert_int_equal(t->n_turns, 7);
        /* A label alone on its line names the speaker of what follows. */
        assert_speaker(&t->turns[0], "A MART\xc3\x8dNEZ");
        assert_string_equal(t->turns[0].text, "Good morning. We begin with the campaign trail today.");
        assert_speaker(&t->turns[1], "ASMA KHALID");
        assert_string_equal(t->turns[1].text, "I'm in Des Moines, where voters lined up early.");
        /* The soundbite note yields nothing; curly quotes and dashes survive. */
        assert_speaker(&t->turns[2], "UNIDENTIFIED PERSON #1");
        assert_string_equal(t->turns[2].text, "We've waited \xe2\x80\x9c"
                                              "a long time\xe2\x80\x9d \xe2\x80\x94 too long.");
        assert_speaker(&t->turns[3], "UNIDENTIFIED PERSON #1");
        assert_string_equal(t->turns[3].text, "It's about the economy, honestly.");
        assert_speaker(&t->turns[4], "O'BRIEN");
        assert_string_equal(t->turns[4].text, "The U.S. economy grew 3.5 percent last quarter.");
        assert_speaker(&t->turns[5], "JEAN-PAUL");
        assert_string_equal(t->turns[5].text, "Dr. Smith agrees.");
        assert_speaker(&t->turns[6], "KHALID");
        assert_string_equal(t->turns[6].text, "That's the view from here.");
        transcript_free(t);
}

static void test_crlf_no_trailer(void **state) {
        struct transcript *t = load("crlf-no-trailer.txt");

        assert_string_equal(t->title, "A Headline Without Trailer");
        assert_int_equal(t->n_turns, 2);
        assert_speaker(&t->turns[0], NULL);
        assert_string_equal(t->turns[0].text, "The intro is read by the host.");
        assert_speaker(&t->turns[1], "MARTIN");
        /* No '\r' left, and the bottom chrome is not spoken. */
        assert_string_equal(t->turns[1].text, "It ends here, without a trailer.");
        transcript_free(t);
}

static void test_trailer_same_line_and_bio(void **state) {
        struct transcript *t = parse_ok("Play Live Radio\n\nTitle\n\nHello there.\n\n"
                                        "ROSA DIAZ: Bye now. Transcript provided by NPR, Copyright NPR.\n"
                                        "Rosa Diaz reports for NPR.\n");

        assert_string_equal(t->title, "Title");
        assert_int_equal(t->n_turns, 2);
        assert_speaker(&t->turns[1], "ROSA DIAZ");
        assert_string_equal(t->turns[1].text, "Bye now.");
        transcript_free(t);
}

static void test_short_news(void **state) {
        struct transcript *t = load("short-news.txt");

        assert_string_equal(t->title, "Fairview Opens A Solar-Powered Bus Depot");
        assert_int_equal(t->n_turns, 3);
        assert_speaker(&t->turns[0], NULL);
        assert_true(ends_with(t->turns[0].text, "about $400,000 a year."));
        assert_speaker(&t->turns[1], "ROSA DIAZ");
        assert_speaker(&t->turns[2], "MARTIN");
        assert_true(ends_with(t->turns[2].text, "start on June 1."));
        transcript_free(t);
}

static void test_plain_text(void **state) {
        struct transcript *t = parse_ok("First line is spoken.\nSecond line too.\n\nThird.\n");

        assert_null(t->title);
        assert_int_equal(t->n_turns, 3);
        assert_string_equal(t->turns[0].text, "First line is spoken.");
        assert_string_equal(t->turns[2].text, "Third.");
        for (size_t i = 0; i < t->n_turns; i++)
                assert_null(t->turns[i].speaker);
        transcript_free(t);

        /* A headline (no terminal punctuation, blank line after) is a title. */
        t = parse_ok("Storm Hits The Coast\n\nThe storm hit the coast.\n");
        assert_string_equal(t->title, "Storm Hits The Coast");
        assert_int_equal(t->n_turns, 1);
        transcript_free(t);

        /* Hard-wrapped lines join into one paragraph. */
        t = parse_ok("This sentence was wrapped\nby an editor. And goes on.\n");
        assert_null(t->title);
        assert_int_equal(t->n_turns, 1);
        assert_string_equal(t->turns[0].text, "This sentence was wrapped by an editor. And goes on.");
        transcript_free(t);

        /* Parentheses that are spoken stay. */
        t = parse_ok("The agency (EPA) said so (and meant it).\n");
        assert_string_equal(t->turns[0].text, "The agency (EPA) said so (and meant it).");
        transcript_free(t);
}

static void test_vtt(void **state) {
        struct transcript *t = parse_ok("\xef\xbb\xbfWEBVTT - a test\nKind: captions\n\n"
                                        "NOTE this is not spoken\nnor this\n\n"
                                        "intro\n00:00.500 --> 00:02.000 align:start\n<v Ari Shapiro>Hello "
                                        "<b>there</b> &amp; welcome.</v>\n\n"
                                        "00:00:02.000 --> 00:00:04.250\nstill Ari\non two lines\n\n"
                                        "00:00:04.250 --> 00:00:06.000\n&gt;&gt; KELEMEN: Thanks, Ari.\n\n"
                                        "00:00:06.000 --> 00:00:07.000\n[MUSIC]\n\n"
                                        "01:00:07.000 --> 01:00:08.000\n>> Someone new.\n");

        assert_true(t->timed);
        assert_null(t->title);
        assert_int_equal(t->n_turns, 4);
        assert_speaker(&t->turns[0], "Ari Shapiro");
        assert_string_equal(t->turns[0].text, "Hello there & welcome.");
        assert_int_equal(t->turns[0].start_ms, 500);
        assert_int_equal(t->turns[0].end_ms, 2000);
        assert_speaker(&t->turns[1], "Ari Shapiro");
        assert_string_equal(t->turns[1].text, "still Ari on two lines");
        assert_int_equal(t->turns[1].end_ms, 4250);
        assert_speaker(&t->turns[2], "KELEMEN");
        assert_string_equal(t->turns[2].text, "Thanks, Ari.");
        assert_speaker(&t->turns[3], NULL);
        assert_string_equal(t->turns[3].text, "Someone new.");
        assert_int_equal(t->turns[3].start_ms, 3607000);
        assert_int_equal(t->turns[3].end_ms, 3608000);
        transcript_free(t);
}

static void test_srt(void **state) {
        struct transcript *t =
                parse_ok("1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> world.\r\n\r\n"
                         "2\r\n00:00:02,500 --> 00:00:04,000\r\nSHAPIRO: {\\an8}Second cue\r\nhere.\r\n");

        assert_true(t->timed);
        assert_int_equal(t->n_turns, 2);
        assert_speaker(&t->turns[0], NULL);
        assert_string_equal(t->turns[0].text, "Hello world.");
        assert_int_equal(t->turns[0].start_ms, 1000);
        assert_int_equal(t->turns[0].end_ms, 2500);
        assert_speaker(&t->turns[1], "SHAPIRO");
        assert_string_equal(t->turns[1].text, "Second cue here.");
        assert_int_equal(t->turns[1].end_ms, 4000);
        transcript_free(t);
}

static void test_timed_errors(void **state) {
        parse_fails("WEBVTT\n\n00:00.000 --> 00:01.000\nok\n\n00:01.000 --> 00:0x.000\nbad\n", "bad.vtt",
                    "bad.vtt:6: malformed cue end time in '00:01.000 --> 00:0x.000'");
        parse_fails("WEBVTT\n\n00:61.000 --> 00:62.000\nbad\n", "s.vtt",
                    "s.vtt:3: malformed cue start time in '00:61.000 --> 00:62.000'");
        parse_fails("WEBVTT\n\n00:05.000 --> 00:01.000\nbackwards\n", "b.vtt",
                    "b.vtt:3: cue ends before it starts");
        parse_fails("WEBVTT\n\nan id\nno timings here\n", "n.vtt",
                    "n.vtt:4: expected cue timings after 'an id'");
        parse_fails("1\n00:00:01,000 --> 00:00:02\nx\n", "a.srt",
                    "a.srt:2: malformed cue end time in '00:00:01,000 --> 00:00:02'");
        parse_fails("WEBVTTX\n\n", "h.vtt", "h.vtt:1: malformed WEBVTT header");
}

static void test_nothing_speakable(void **state) {
        parse_fails("", "empty.txt", "empty.txt: no spoken text");
        parse_fails("Play Live Radio\nNext Up:\n\nJust A Title\n\n", "t.txt", "t.txt: no spoken text");
        parse_fails("Play Live Radio\n\nTitle\n\n(SOUNDBITE OF MUSIC)\n\n[inaudible]\n", "n.txt",
                    "n.txt: no spoken text");
        parse_fails("WEBVTT\n\n00:00.000 --> 00:01.000\n(LAUGHTER)\n", "v.vtt", "v.vtt: no spoken text");
}

static void test_load_missing(void **state) {
        struct transcript *t = NULL;
        char *error = NULL;

        assert_int_equal(transcript_load("/nonexistent/story.txt", &t, &error), -ENOENT);
        assert_null(t);
        assert_non_null(error);
        assert_string_equal(error, "/nonexistent/story.txt: No such file or directory");
        free(error);
        assert_int_equal(transcript_load("/", &t, &error), -EISDIR);
        assert_string_equal(error, "/: Is a directory");
        free(error);
        assert_null(transcript_free(NULL));
}

/* Issue 8: a Latin-1 transcript put raw 0xE9 bytes into replies and
 * events; it is refused, naming the file, line and column. */
static void test_not_utf8(void **state) {
        parse_fails("Caf\xc3\xa9 Title\n\nThe caf\xe9 opened on Saturday.\n", "latin1.txt",
                    "latin1.txt:3: not UTF-8 text (byte 0xE9 at column 8); save the transcript as UTF-8");
        parse_fails("T\n\nAn overlong \xc0\xaf slash.\n", "o.txt",
                    "o.txt:3: not UTF-8 text (byte 0xC0 at column 13); save the transcript as UTF-8");
        parse_fails("T\r\n\r\nA surrogate \xed\xa0\x80 here.\r\n", "s.txt",
                    "s.txt:3: not UTF-8 text (byte 0xED at column 13); save the transcript as UTF-8");
        parse_fails("T\n\nCut short \xe2\x80", "c.txt",
                    "c.txt:3: not UTF-8 text (byte 0xE2 at column 11); save the transcript as UTF-8");
        transcript_free(parse_ok("Title\n\nThe caf\xc3\xa9 opened, \xe1\x86\x99 too.\n"));
}

/* The caps that keep parsing bounded, each naming file and line. */
static void test_caps(void **state) {
        size_t big = TRANSCRIPT_MAX_BYTES + 1;
        char *text = malloc(big + 1);
        char *error = NULL;
        struct transcript *t = NULL;

        /* a 150 KB line without punctuation took 9.2 s on the loop thread */
        memset(text, 0, big + 1);
        strcpy(text, "Title\n\n");
        for (size_t n = strlen(text); n < 150 * 1024; n += 5)
                memcpy(text + n, "word ", 5);
        parse_fails(text, "long-line.txt", "long-line.txt:3: line longer than 65536 bytes");
        memset(text, 'a', 300);
        text[300] = '\0';
        parse_fails(text, "word.txt", "word.txt:1: a word longer than 256 bytes at column 257");
        memset(text, '\n', big);
        text[big] = '\0';
        assert_int_equal(transcript_parse(text, big, "big.txt", &t, &error), -EINVAL);
        assert_string_equal(error, "big.txt: 2097153 bytes, more than a transcript may have (2097152)");
        free(error);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seed_page),
                cmocka_unit_test(test_not_utf8),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_tricky_page),
                cmocka_unit_test(test_crlf_no_trailer),
                cmocka_unit_test(test_trailer_same_line_and_bio),
                cmocka_unit_test(test_short_news),
                cmocka_unit_test(test_plain_text),
                cmocka_unit_test(test_vtt),
                cmocka_unit_test(test_srt),
                cmocka_unit_test(test_timed_errors),
                cmocka_unit_test(test_nothing_speakable),
                cmocka_unit_test(test_load_missing),
        };

        return cmocka_run_group_tests_name("transcript", tests, NULL, NULL);
}
