/* SPDX-License-Identifier: GPL-3.0-or-later */
/* segment.h: turns -> sentences -> caption cues. Pure; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct transcript;

struct segment_opts {
        int max_chars; /* per line, default 37 */
        int max_lines; /* per cue, default 2 */
        const char
                *speaker_mark; /* prefix of the first cue after a speaker change, default ">>"; "" = none */
};
#define SEGMENT_OPTS_DEFAULT ((struct segment_opts){37, 2, ">>"})

/* One word of a cue's spoken text and when it is heard (story time), as
 * the forced aligner placed it. */
struct cue_word {
        char *text;
        int64_t start_ms;
        int64_t end_ms;
};

struct cue {
        char *text;    /* display text, lines joined by '\n', with the speaker mark when speaker_change */
        char *spoken;  /* the same words without mark or line breaks (for timing/alignment) */
        char *speaker; /* turn speaker or NULL */
        bool speaker_change; /* first cue of a turn whose speaker differs from the previous turn's */
        size_t sentence;     /* index of the sentence this cue belongs to (0..) */
        int64_t start_ms;    /* story time; -1 until timed */
        int64_t end_ms;
        struct cue_word *words; /* n_words, owned; only when aligned (NULL otherwise) */
        size_t n_words;
};

struct cue_list {
        struct cue *cues;
        size_t n_cues;
        size_t n_sentences;
};

/* Splits text into sentences (no split after U.S., Dr., Mr., initials,
 * decimals, inside quotes). Returns count >= 0 and a NULL-terminated
 * malloc'd array of malloc'd strings, or -ENOMEM. */
int segment_sentences(const char *text, char ***ret);

/* Cues one story may have: some ten hours of speech, so that a hostile
 * transcript cannot make work or memory without bound (issue 8). */
#define SEGMENT_CUES_MAX 10000u /* segment_strerror() says the number too */

/* Builds cues from all turns. For a timed transcript each turn becomes
 * cues that keep its times (split cues share the turn's span
 * proportionally). Linear time in the text's size. Returns 0, -EINVAL (no
 * cues), -E2BIG (more than SEGMENT_CUES_MAX), -ENOMEM. */
int segment_transcript(const struct transcript *t, const struct segment_opts *o, struct cue_list **ret);

/* What a segment_transcript() error means, for "transcript 'F': %s". */
const char *segment_strerror(int r);

struct cue_list *cue_list_free(struct cue_list *l);

/* Frees C's words (C->words NULL, n_words 0 after). */
void cue_words_clear(struct cue *c);

/* Deep copy (for work on another thread), words included: 0 or -ENOMEM. */
int cue_list_dup(const struct cue_list *l, struct cue_list **ret);
