/* SPDX-License-Identifier: GPL-3.0-or-later */
/* transcript.h: story page text -> title and spoken turns.
 * Pure: no I/O except transcript_load(). Any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps, so that parsing and segmenting stay fast and bounded whatever the
 * input (issue 8): a story transcript is some 5-50 KB of paragraphs of
 * ordinary words. Input past them is refused with "NAME[:LINE]: ...". */
#define TRANSCRIPT_MAX_BYTES (2u * 1024u * 1024u) /* the whole file */
#define TRANSCRIPT_LINE_MAX 65536u                /* bytes of one line (a paragraph) */
#define TRANSCRIPT_WORD_MAX 256u                  /* bytes of one word (no blank in it) */

struct transcript_turn {
        char *speaker;    /* "SHAPIRO", "REX TILLERSON"; NULL = host/intro/none */
        char *text;       /* spoken text only: no label, no (SOUNDBITE...) notes */
        int64_t start_ms; /* timed input (WebVTT/SRT) only, else -1 */
        int64_t end_ms;   /* timed input only, else -1 */
};

struct transcript {
        char *title; /* may be NULL when the input has none */
        struct transcript_turn *turns;
        size_t n_turns;
        bool timed; /* every turn carries start_ms/end_ms (one turn per timed cue) */
};

/* Parses an NPR-style story page copy, plain text (a paragraph per line),
 * WebVTT or SRT (detected from content). name is used in error messages.
 * Returns 0, -EINVAL with *ret_error = "NAME:LINE: message" (caller frees)
 * for unparsable timed input, text that is not UTF-8, input past the caps
 * above, or when nothing speakable remains ("NAME: no spoken text"),
 * -ENOMEM. Linear time in LEN. */
int transcript_parse(const char *text, size_t len, const char *name, struct transcript **ret,
                     char **ret_error);

/* Reads and parses PATH. I/O errors: -errno with *ret_error naming the file. */
int transcript_load(const char *path, struct transcript **ret, char **ret_error);

struct transcript *transcript_free(struct transcript *t);
