/* SPDX-License-Identifier: GPL-3.0-or-later */
/* output.h: the libao device. Opened and used on the playout thread
 * only (or opened before it starts and handed over); ao_initialize() must
 * have run (main). Drivers that do not block in real time (null, file
 * drivers such as wav/raw/au) are paced against CLOCK_MONOTONIC. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct output_option {
        char *key;
        char *value;
};

struct output_spec {
        const char *driver; /* "default", "pulse", "alsa", "null", "wav", ... */
        const char *file;   /* file drivers only */
        const struct output_option *options;
        size_t n_options;
        int rate;
        int channels;
        bool fallback_null; /* a live device that cannot be opened: a paced null output instead */
};

struct output;

/* Routes libasound's own messages (which it prints to stderr) to our log
 * at debug level. Call in main before ao_initialize(). */
void output_log_alsa(void);

/* 1 when libao knows driver NAME ("default" always), 0 when it does not,
 * -EAGAIN before ao_initialize() (nothing can be said yet). */
int output_driver_known(const char *name);

/* -ENODEV unknown driver or no device, -EIO open failure (logged with the
 * reason libao gave). Falls back to a paced null output only when
 * spec->fallback_null says so. */
int output_open(const struct output_spec *spec, struct output **ret);

/* After output_play failed: closes the device and opens it again as it
 * was opened. 0 when it is back, -EIO while it is not (the reason at
 * debug level: the caller says once that the output is down). */
int output_reopen(struct output *o);

/* Hands FRAMES frames to the device; blocks (real device) or sleeps to
 * the pace of real time (paced drivers). -EIO when the device fails. */
int output_play(struct output *o, const int16_t *pcm, size_t frames);

/* Call after a pause: a paced output restarts its pace from now. */
void output_reset_pace(struct output *o);

/* Paced outputs: the CLOCK_MONOTONIC time at which the next frame handed
 * counts as handed, on the pace's own timeline (frame k since the pace
 * started at t0 is at t0 + k/rate). False for live devices, and before the
 * pace has started (then the next frame goes out now). */
bool output_next_frame_ns(const struct output *o, uint64_t *ret_ns);
bool output_is_paced(const struct output *o);
const char *output_driver_name(const struct output *o);

struct output *output_free(struct output *o);
