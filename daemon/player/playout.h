/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout.h: the playout thread. It owns the decoders and the output
 * device: take commands -> decode ~20 ms -> output_play -> publish the
 * audio clock. The loop thread talks to it only through the functions
 * below (a command queue) and hears back through events read from
 * playout_event_fd() (an eventfd; readable when events are pending).
 *
 * Gapless: the loop keeps the item after the current one "cued"; when the
 * current item ends, the cued one starts in the same buffer. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct aclock;
struct output;

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

struct playout;

/* Takes ownership of OUT on success (on failure it stays the caller's). Starts the thread. */
int playout_start(struct output *out, struct aclock *clock, int rate, int channels, struct playout **ret);

/* Loop thread. All return 0 or -ENOMEM. */
/* Make ID (AUDIO_PATH) the item after the current one, starting at
 * START_FRAME (0, or where to resume after a restart; the clock then counts
 * its frames from START_FRAME); replaces any cued item. If nothing is
 * playing it starts at once. id 0 = uncue. */
int playout_cue_from(struct playout *p, uint64_t id, const char *audio_path, int64_t start_frame);
int playout_skip(struct playout *p); /* end the current item now (SKIPPED) */
/* Hard start: ID's frame 0 is handed to the device exactly at AT_MONO_NS
 * (CLOCK_MONOTONIC); the item playing then is cut at that frame (ENDED,
 * CUT) after a fade-out of FADE_MS ending there. The file is opened now,
 * so its first frame is ready in time. If nothing plays at that moment ID
 * simply starts then. The cued item stays cued (it follows ID). Replaces a
 * pending hard start; id 0 cancels it. */
int playout_hard_start(struct playout *p, uint64_t id, const char *audio_path, uint64_t at_mono_ns,
                       int fade_ms);
/* Ends the current item after a FADE_MS fade-out, with REASON (SKIPPED,
 * SILENCE, FADED); then as at any end, the cued item follows. */
int playout_end(struct playout *p, enum playout_end_reason reason, int fade_ms);
/* GAP_MS of silence between consecutive items (0: gapless): zero frames
 * that belong to neither item, only when a cued item follows. The silence
 * detector posts PLAYOUT_SILENCE once per item when the RMS of the output
 * buffers (~20 ms each) stays below SILENCE_DBFS for SILENCE_MS from the
 * item's start or its last louder buffer (0: off). */
int playout_set_options(struct playout *p, int gap_ms, int silence_dbfs, int silence_ms);
int playout_pause(struct playout *p);
int playout_resume(struct playout *p);

/* Loop thread: readable when events are pending. */
int playout_event_fd(struct playout *p);
/* Pops one event: 1 got one, 0 none pending. */
int playout_next_event(struct playout *p, struct playout_event *ret);

/* Heartbeat that increments every time the thread's loop turns (also
 * while idle or paused, at least every 100 ms). Any thread. */
uint64_t playout_heartbeat(struct playout *p);

/* Stops the thread (current item ends with SHUTDOWN), closes the device. */
struct playout *playout_stop(struct playout *p);
