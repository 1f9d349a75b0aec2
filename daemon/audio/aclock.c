/* SPDX-License-Identifier: GPL-3.0-or-later */
/* aclock.c: the audio clock, see aclock.h.
 *
 * DESIGN: one writer (the playout thread, after every output_play) and any
 * number of readers (loop thread, caption timers). A sample is a handful
 * of words, so a mutex held for a struct copy is cheaper to reason about
 * than a seqlock and never blocks anyone for long. The maths converts
 * frames to nanoseconds in 128-bit integers from the sample's own origin,
 * so positions never accumulate rounding drift however long an item is. */
#include "aclock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "timeutil.h"

struct aclock {
        pthread_mutex_t lock;
        struct aclock_sample sample;
};

int aclock_new(struct aclock **ret) {
        struct aclock *c;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

struct aclock *aclock_free(struct aclock *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

void aclock_publish(struct aclock *c, struct aclock_sample *s) {
        pthread_mutex_lock(&c->lock);
        s->seq = c->sample.seq + 1;
        c->sample = *s;
        pthread_mutex_unlock(&c->lock);
}

void aclock_read(struct aclock *c, struct aclock_sample *ret) {
        pthread_mutex_lock(&c->lock);
        *ret = c->sample;
        pthread_mutex_unlock(&c->lock);
}

uint64_t aclock_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* floor(a / b) for b > 0, also for negative a. */
static __int128 div_floor(__int128 a, __int128 b) {
        __int128 q = a / b;

        if (a % b != 0 && a < 0)
                q--;
        return q;
}

/* Nanoseconds of FRAMES at RATE, exact to the nanosecond (floor). */
static __int128 frames_to_ns(int64_t frames, int rate) {
        if (rate <= 0)
                return 0;
        return div_floor((__int128)frames * NSEC_PER_SEC, rate);
}

uint64_t aclock_media_to_mono(const struct aclock_sample *s, int64_t media_ms, int64_t latency_ms) {
        /* Frame F of the item was handed at mono_ns; media time t is handed
         * t - F/rate later (or earlier), and heard latency later still. */
        __int128 t = (__int128)s->mono_ns + (__int128)media_ms * NSEC_PER_MSEC -
                     frames_to_ns(s->frames, s->rate) + (__int128)latency_ms * NSEC_PER_MSEC;

        if (t < 0)
                return 0;
        if (t > (__int128)UINT64_MAX)
                return UINT64_MAX;
        return (uint64_t)t;
}

int64_t aclock_position_ms(const struct aclock_sample *s, uint64_t mono_ns) {
        __int128 ns = frames_to_ns(s->frames, s->rate);

        if (s->playing)
                ns += (__int128)mono_ns - (__int128)s->mono_ns;
        return (int64_t)div_floor(ns, NSEC_PER_MSEC);
}
