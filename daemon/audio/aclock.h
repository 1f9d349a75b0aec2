/* SPDX-License-Identifier: GPL-3.0-or-later */
/* aclock.h: the audio clock. The playout thread publishes, after each
 * ao_play, which item is on air and how many of its frames the device has
 * been handed at which CLOCK_MONOTONIC time; any thread reads a consistent
 * copy. The maths below is pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct aclock_sample {
        uint64_t item_id;   /* 0 = nothing on air */
        int64_t frames;     /* frames of item_id handed to the device */
        uint64_t mono_ns;   /* CLOCK_MONOTONIC when they had been handed */
        int rate;           /* frames per second */
        bool playing;       /* false while paused or idle */
        uint64_t underruns; /* since start: buffers handed after the audio before them had run out */
        uint64_t seq;       /* increments with every publish */
};

struct aclock;

int aclock_new(struct aclock **ret);
struct aclock *aclock_free(struct aclock *c);

/* Playout thread. Sets s->seq. */
void aclock_publish(struct aclock *c, struct aclock_sample *s);
/* Any thread. */
void aclock_read(struct aclock *c, struct aclock_sample *ret);

uint64_t aclock_now_ns(void); /* CLOCK_MONOTONIC in ns */

/* Monotonic ns at which media time MEDIA_MS of the sample's item is heard,
 * given the output latency. Can be in the past. */
uint64_t aclock_media_to_mono(const struct aclock_sample *s, int64_t media_ms, int64_t latency_ms);

/* Media time (ms) of the sample's item handed to the device at MONO_NS,
 * extrapolated when playing, else the sample's own position. */
int64_t aclock_position_ms(const struct aclock_sample *s, uint64_t mono_ns);
