/* SPDX-License-Identifier: GPL-3.0-or-later */
/* timing.c: gives untimed cues a first estimate of when they are heard, by
 * laying their spoken weight out linearly between the first and the last
 * voiced frame of the audio. The weight is syllable-ish, in "letter" units:
 * each letter counts 1, a digit 3 (numbers are read as long words), each
 * gap between words 2 (word boundaries take time of their own), a clause
 * mark (, ; : dash) 2, and before a cue the pause a speaker leaves: 6 at a
 * new sentence, 14 at a change of speaker (at ~17 units a second, ~350 and
 * ~800 ms, as people and the story fixtures pause; on the seed story the
 * sentence starts land ~0.6 s from the truth on average). The pause is
 * put before the cue it precedes, so a cue appears when its words start
 * and the previous cue stays up through the silence. The forced aligner
 * replaces this. */
#include "timing.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "segment.h"

#define W_LETTER 1
#define W_DIGIT 3
#define W_GAP 2
#define W_CLAUSE 2
#define W_SENTENCE_PAUSE 6
#define W_SPEAKER_PAUSE 14

const char *timing_source_to_string(enum timing_source s) {
        switch (s) {
        case TIMING_NONE:
                return "none";
        case TIMING_GIVEN:
                return "given";
        case TIMING_ESTIMATE:
                return "estimate";
        case TIMING_ALIGNED:
                return "aligned";
        }
        return NULL;
}

static int64_t spoken_weight(const char *s) {
        int64_t w = 0;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (isdigit(*p))
                        w += W_DIGIT;
                else if (isalpha(*p) || (*p >= 0xc0)) /* a UTF-8 letter counts once */
                        w += W_LETTER;
                else if (*p == ' ')
                        w += W_GAP;
                else if (strchr(",;:", *p) || (*p == '-' && (p[1] == ' ' || p[1] == '\0')))
                        w += W_CLAUSE;
                else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0x94 || p[2] == 0x93))
                        w += W_CLAUSE; /* em or en dash */
        }
        return w;
}

static int64_t pause_before(const struct cue_list *l, size_t i) {
        if (i == 0)
                return 0;
        if (l->cues[i].speaker_change)
                return W_SPEAKER_PAUSE;
        if (l->cues[i].sentence != l->cues[i - 1].sentence)
                return W_SENTENCE_PAUSE;
        return 0;
}

static bool all_given(const struct cue_list *l) {
        for (size_t i = 0; i < l->n_cues; i++)
                if (l->cues[i].start_ms < 0 || l->cues[i].end_ms < 0)
                        return false;
        return true;
}

int timing_assign(struct cue_list *l, const struct audio_scan *scan) {
        _cleanup_free_ int64_t *at = NULL;
        int64_t first_ms, last_ms, total = 0;

        /* Times come all from the transcript or none: a partly timed list
         * is not something the pipeline makes, so it is estimated whole. */
        if (l->n_cues > 0 && all_given(l))
                return TIMING_GIVEN;
        if (scan->rate <= 0 || scan->first_voiced < 0 || scan->last_voiced < scan->first_voiced)
                return -EINVAL;
        if (l->n_cues == 0)
                return TIMING_NONE;

        /* at[i]: weight before cue i's words start; at[n]: the whole. */
        at = calloc(l->n_cues + 1, sizeof(int64_t));
        if (!at)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_cues; i++) {
                total += pause_before(l, i);
                at[i] = total;
                total += spoken_weight(l->cues[i].spoken);
        }
        at[l->n_cues] = total;

        first_ms = scan->first_voiced * 1000 / scan->rate;
        last_ms = scan->last_voiced * 1000 / scan->rate;
        for (size_t i = 0; i < l->n_cues; i++)
                l->cues[i].start_ms = total > 0 ? first_ms + (last_ms - first_ms) * at[i] / total : first_ms;
        for (size_t i = 0; i < l->n_cues; i++)
                l->cues[i].end_ms = i + 1 < l->n_cues ? l->cues[i + 1].start_ms : last_ms;
        return TIMING_ESTIMATE;
}
