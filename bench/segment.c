/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-segment: time of transcript parsing and cue cutting on hostile
 * input (issue 8: one 150 KB line without punctuation blocked the loop for
 * 9.2 s, 400 KB took 130 s). Prints one line per input: its size, the
 * parse and segment times in ms, and the result. The segmenter is also run
 * on its own without the parser's caps, so the 1 MB figure measures the
 * algorithm rather than the refusal. Usage: bench-segment [KB...] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "segment.h"
#include "transcript.h"

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* SIZE bytes of KIND: "words" (no punctuation, one line), "wrapped" (the
 * same, hard-wrapped every 40 bytes), "dots", "quotes" (unclosed “),
 * "brackets" (unclosed '['), "oneword". */
static char *make(const char *kind, size_t size) {
        static const char *const words[] = {"the",   "town", "opened",   "a",   "park",   "near",
                                            "river", "on",   "Saturday", "and", "people", "came"};
        char *s = malloc(size + 64);
        size_t n = 0;

        if (!s)
                exit(1);
        n += (size_t)sprintf(s, "Title\n\n");
        while (n < size) {
                if (strcmp(kind, "dots") == 0)
                        s[n++] = '.';
                else if (strcmp(kind, "quotes") == 0)
                        n += (size_t)sprintf(s + n, "\xe2\x80\x9cx ");
                else if (strcmp(kind, "brackets") == 0)
                        n += (size_t)sprintf(s + n, "[x ");
                else if (strcmp(kind, "oneword") == 0)
                        s[n++] = 'a';
                else {
                        n += (size_t)sprintf(s + n, "%s ", words[(n * 7) % 12]);
                        if (strcmp(kind, "wrapped") == 0 && n % 40 < 9)
                                s[n - 1] = '\n';
                }
        }
        s[n] = '\0';
        return s;
}

static void run(const char *kind, size_t size) {
        {
                char *text = make(kind, size), *error = NULL;
                struct transcript *t = NULL, direct = {0};
                struct transcript_turn turn = {.text = text + 7, .start_ms = -1, .end_ms = -1};
                struct cue_list *cues = NULL;
                double t0 = now_ms(), t1, t2, t3;
                int r, r2;

                r = transcript_parse(text, strlen(text), kind, &t, &error);
                t1 = now_ms();
                if (r >= 0)
                        r = segment_transcript(t, NULL, &cues);
                t2 = now_ms();
                cue_list_free(cues);
                cues = NULL;
                direct.turns = &turn;
                direct.n_turns = 1;
                r2 = segment_transcript(&direct, NULL, &cues);
                t3 = now_ms();
                printf("%-8s %5zu KB: parse %8.1f ms, segment %8.1f ms (%s); segmenter alone %8.1f ms, "
                       "%zu cues (%s)\n",
                       kind, size / 1024, t1 - t0, t2 - t1, r < 0 ? (error ? error : strerror(-r)) : "ok",
                       t3 - t2, r2 >= 0 ? cues->n_cues : 0, r2 < 0 ? strerror(-r2) : "ok");
                cue_list_free(cues);
                transcript_free(t);
                free(error);
                free(text);
        }
}

int main(int argc, char **argv) {
        static const char *const kinds[] = {"words", "wrapped", "dots", "quotes", "brackets", "oneword"};
        size_t sizes[8] = {150 * 1024, 1024 * 1024};
        int n_sizes = 2;

        if (argc > 1) {
                n_sizes = 0;
                for (int i = 1; i < argc && n_sizes < 8; i++)
                        sizes[n_sizes++] = (size_t)strtoul(argv[i], NULL, 10) * 1024;
        }
        for (int s = 0; s < n_sizes; s++)
                for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
                        run(kinds[k], sizes[s]);
        return 0;
}
