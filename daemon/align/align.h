/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align.h: forced alignment of caption cues to story audio. Two engines:
 * - acoustic (English): pocketsphinx's model of recorded speech decodes
 *   the story constrained to the cues' words in order (asr.h);
 * - espeak (any espeak-ng voice, and English when the model is missing):
 *   espeak-ng speaks the cues' words (tts.h), MFCCs of both waves (mfcc.h)
 *   are warped onto each other (dtw.h).
 * Each cue starts at its first word's time, snapped to the nearest speech
 * onset. Confidence is per cue: cues that do not match are placed between
 * trusted neighbours; only when the story as a whole does not match does
 * the alignment fail. Slow (acoustic: about 1 s per 80 s of audio): call
 * it on a worker thread. Any thread; calls are serialised only around the
 * synthesis. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cue_list;

/* Bump when a change moves cue times: it keys the timing cache (cache.h). */
#define ALIGN_VERSION "8"

enum align_engine {
        ALIGN_ENGINE_AUTO,     /* acoustic for English voices when the model is there, else espeak */
        ALIGN_ENGINE_ACOUSTIC, /* pocketsphinx only (-ENOENT without its model) */
        ALIGN_ENGINE_ESPEAK,   /* espeak-ng + DTW only */
};

/* Progress: seconds of story audio decoded so far. */
typedef void (*align_progress_fn)(void *userdata, double done_s);

struct align_opts {
        const char *voice;  /* espeak-ng voice, default "en-us" (its language picks the engine) */
        int wpm;            /* synthesis rate, default 170 */
        int snap_ms;        /* how far a start may move to a speech onset, default 120 */
        double min_trusted; /* share of confident cues below which the alignment fails, default 0.3 */
        enum align_engine engine;
        align_progress_fn progress; /* NULL: none */
        void *progress_userdata;
};
#define ALIGN_OPTS_DEFAULT ((struct align_opts){"en-us", 170, 120, 0.3, ALIGN_ENGINE_AUTO, NULL, NULL})

/* One token of a cue's spoken text (tts_tokenize) and when it is heard. */
struct align_word {
        size_t cue;                  /* its cue */
        size_t byte_start, byte_end; /* in the cue's spoken text */
        int64_t start_ms, end_ms;    /* story time, monotonic */
        bool aligned;                /* from the audio (false: spread over its cue by length) */
};

struct align_report {
        size_t n_cues;
        size_t n_interpolated;    /* low-confidence cues placed between trusted neighbours */
        size_t n_snapped;         /* starts moved to a speech onset */
        double *confidence;       /* n_cues values in 0..1, malloc'd: free() it */
        double mean_confidence;   /* over the cues with words */
        double audio_s;           /* audio length */
        const char *engine;       /* "acoustic" or "espeak" (static) */
        struct align_word *words; /* n_words, malloc'd: free() it */
        size_t n_words;
};

/* Frees what a report holds. */
void align_report_done(struct align_report *r);

/* Gives every cue of CUES start_ms/end_ms (story time, monotonic) from the
 * audio at AUDIO_PATH. On failure the cues are untouched. Returns 0;
 * -ENOENT (no espeak-ng engine or voice, or no audio file), -EINVAL (audio
 * not decodable, or no words), -EBADMSG (too few cues matched confidently,
 * or far too little audio for the text:
 * the text and the audio disagree), -ENOMEM, other -errno from reading.
 * ret may be NULL. */
int align_cues(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
               struct align_report *ret);
