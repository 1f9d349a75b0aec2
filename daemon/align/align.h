/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align.h: forced alignment of caption cues to story audio. espeak-ng
 * speaks the cues' words (tts.h), MFCCs of both waves (mfcc.h) are warped
 * onto each other (dtw.h), and each cue starts at its first word's time,
 * snapped to the nearest speech onset. Slow (about a second per 3 minutes
 * of audio): call it on a worker thread. Any thread; calls are serialised
 * only around the synthesis. */
#pragma once

#include <stddef.h>

struct cue_list;

/* Bump when a change moves cue times: it keys the timing cache (cache.h). */
#define ALIGN_VERSION "5"

struct align_opts {
        const char *voice;  /* espeak-ng voice, default "en-us" */
        int wpm;            /* synthesis rate, default 170 */
        int snap_ms;        /* how far a start may move to a speech onset, default 120 */
        double min_trusted; /* share of confident cues below which the alignment fails, default 0.3 */
};
#define ALIGN_OPTS_DEFAULT ((struct align_opts){"en-us", 170, 120, 0.3})

struct align_report {
        size_t n_cues;
        size_t n_interpolated; /* low-confidence cues placed between trusted neighbours */
        size_t n_snapped;      /* starts moved to a speech onset */
        double *confidence;    /* n_cues values in 0..1, malloc'd: free() it */
        double audio_s;        /* audio length */
};

/* Gives every cue of CUES start_ms/end_ms (story time, monotonic) from the
 * audio at AUDIO_PATH. On failure the cues are untouched. Returns 0;
 * -ENOENT (no espeak-ng engine or voice, or no audio file), -EINVAL (audio
 * not decodable, or no words), -EBADMSG (too few cues matched confidently,
 * or far too little audio for the text:
 * the text and the audio disagree), -ENOMEM, other -errno from reading.
 * ret may be NULL. */
int align_cues(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
               struct align_report *ret);
