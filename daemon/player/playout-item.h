/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-item.h: one item of the playout thread (internal to
 * daemon/player): its decoder, opened, scanned and positioned *before* it
 * reaches the playout thread (playout.c's opener thread calls
 * item_open), so the SCHED_FIFO thread never opens or scans a file. An
 * item belongs to one thread at a time, handed over through the command
 * queue. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "playout-event.h"

struct decoder;

struct item {
        uint64_t id;
        char *path;
        struct decoder *dec; /* NULL when opening failed */
        int error;           /* -errno of the failed open */
        int64_t length;      /* frames, -1 unknown */
        int64_t start_frame; /* where it started (playout_cue_from) */
        int64_t frames;      /* position: start_frame + frames handed */
        bool started;        /* STARTED posted */
        bool silence_posted; /* PLAYOUT_SILENCE posted */
        int64_t down_frames; /* handed while the output was down: nobody heard them */
        int16_t *pre;        /* decoded ahead (hard starts) */
        size_t pre_frames, pre_pos;
};

/* Opens PATH (taken) at RATE/CHANNELS and seeks to START_FRAME; slow (a
 * scan of every frame header). A file that cannot be opened still gives
 * an item, one that ends with an error (dec NULL, error set). PREDECODE:
 * that many frames are decoded ahead (hard starts), 0 none. NULL only
 * without memory. Any thread but the playout thread. */
struct item *item_open(uint64_t id, char *path, int64_t start_frame, long rate, int channels,
                       size_t predecode);
struct item *item_free(struct item *it);

/* Up to MAX_FRAMES frames into PCM: the pre-decoded ones first. */
ssize_t item_read(struct item *it, int channels, int16_t *pcm, size_t max_frames);

/* The ENDED event of IT with REASON (ERROR: ERROR says why). */
struct playout_event item_ended_event(const struct item *it, enum playout_end_reason reason, int error);
