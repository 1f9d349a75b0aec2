/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-event.h: what the playout thread reports (part of playout.h's
 * interface, apart so that playout-item.h can use it without including
 * playout.h). */
#pragma once

#include <stdint.h>

enum playout_event_type {
        PLAYOUT_STARTED, /* item_id began: its frame 0 was handed at (mono_ns) */
        PLAYOUT_ENDED,   /* item_id ended: reason, frames played */
        PLAYOUT_PAUSED,
        PLAYOUT_RESUMED,
        PLAYOUT_IDLE,        /* nothing to play */
        PLAYOUT_SILENCE,     /* item_id: the output stayed below the silence level for the set time */
        PLAYOUT_OUTPUT_DOWN, /* the output failed (message: why); items go on in real time, unheard,
                                and the device is reopened every OUTPUT_RETRY_MS */
        PLAYOUT_OUTPUT_UP,   /* the output was reopened after PLAYOUT_OUTPUT_DOWN */
};

enum playout_end_reason {
        PLAYOUT_END_COMPLETE,
        PLAYOUT_END_SKIPPED,
        PLAYOUT_END_ERROR, /* could not open or decode: error holds why */
        PLAYOUT_END_SHUTDOWN,
        PLAYOUT_END_CUT,     /* cut by a hard start (playout_hard_start) */
        PLAYOUT_END_SILENCE, /* ended by the loop after PLAYOUT_SILENCE (playout_end) */
        PLAYOUT_END_FADED,   /* faded out by the loop (playout_end), e.g. filler giving way */
};
/* "complete", "skipped", "decode_error", "shutdown", "cut", "silence",
 * "faded" (as-run log, events, /metrics, log); "unknown" for no reason. */
const char *playout_end_reason_to_string(enum playout_end_reason r);

struct playout_event {
        enum playout_event_type type;
        uint64_t item_id;
        enum playout_end_reason reason;
        int64_t frames;      /* STARTED: total length if known else -1; ENDED: frames played
                                (handed to the device, counted from start_frame) */
        int64_t start_frame; /* STARTED: the frame it started from (playout_cue_from), else 0 */
        int64_t down_frames; /* ENDED: of FRAMES, those dropped while the output was down */
        uint64_t mono_ns;
        int error;         /* ENDED with ERROR: -errno */
        char message[256]; /* ENDED with ERROR: human readable reason */
};
