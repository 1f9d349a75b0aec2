/* SPDX-License-Identifier: GPL-3.0-or-later */
/* calibrate.c: finds the calibration marker in a recording of the air
 * output and turns it into an output latency: for each burst, the time it
 * was heard (its onset frame on the recording's clock) minus the time it
 * was handed to the device (the marker's on-air time plus the burst's
 * media time). The median of the bursts is the answer; their spread tells
 * how far to trust it. */
#include "calibrate.h"

#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"

#define STEP_TOLERANCE_MS 3
#define QUIET_MS 50
#define MIN_PEAK 300 /* about -40 dBFS: below it the marker was not heard */

void calibrate_clock_init(struct calibrate_clock *c, int rate) {
        *c = (struct calibrate_clock){.rate = rate, .origin_ns = INT64_MAX};
}

void calibrate_clock_add(struct calibrate_clock *c, int64_t frames, uint64_t mono_ns) {
        int64_t origin;

        c->frames += frames;
        c->n_reads++;
        origin = (int64_t)mono_ns - c->frames * 1000000000LL / c->rate;
        if (origin < c->origin_ns)
                c->origin_ns = origin;
}

int calibrate_clock_frame_to_mono(const struct calibrate_clock *c, int64_t frame, int64_t *ret_ns) {
        if (c->n_reads == 0)
                return -ENODATA;
        *ret_ns = c->origin_ns + frame * 1000000000LL / c->rate;
        return 0;
}

size_t calibrate_find_onsets(const int16_t *pcm, size_t n, int threshold, size_t quiet_frames, int64_t *ret,
                             size_t max) {
        size_t quiet = quiet_frames, found = 0;

        for (size_t i = 0; i < n; i++) {
                if (abs(pcm[i]) < threshold) {
                        quiet++;
                        continue;
                }
                if (quiet >= quiet_frames) {
                        if (found < max)
                                ret[found] = (int64_t)i;
                        found++;
                }
                quiet = 0;
        }
        return found;
}

int calibrate_find_marker(const int64_t *onsets, size_t n, int rate, int64_t from_frame) {
        int64_t step = (int64_t)CALIBRATE_STEP_MS * rate / 1000,
                tol = (int64_t)STEP_TOLERANCE_MS * rate / 1000;

        for (size_t i = 0; i + CALIBRATE_COUNT <= n; i++) {
                size_t k;

                if (onsets[i] < from_frame)
                        continue;
                for (k = 1; k < CALIBRATE_COUNT; k++)
                        if (llabs(onsets[i + k] - onsets[i + k - 1] - step) > tol)
                                break;
                if (k == CALIBRATE_COUNT)
                        return (int)i;
        }
        return -ENOENT;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static int peak_after(const int16_t *pcm, size_t n, size_t from) {
        int peak = 0;

        for (size_t i = from; i < n; i++)
                peak = MAX(peak, abs(pcm[i]));
        return peak;
}

int calibrate_measure(const int16_t *pcm, size_t n, const struct calibrate_clock *clock, int64_t on_air_ns,
                      struct calibrate_result *ret) {
        struct calibrate_result res = {0};
        int64_t onsets[256], origin, from = 0, t;
        double sorted[CALIBRATE_COUNT];
        size_t n_onsets;
        int i;

        if (calibrate_clock_frame_to_mono(clock, 0, &origin) < 0)
                return -ENODATA;
        /* Nothing of the marker can be heard before it went on air. */
        if (on_air_ns > origin)
                from = (on_air_ns - origin) * clock->rate / 1000000000LL;
        if ((size_t)from >= n)
                return -ENOENT;
        /* Half the marker's peak: the burst's first quarter period reaches
         * it (within 0.1 ms), MP3 pre-echo and speech before it rarely do. */
        res.peak = peak_after(pcm, n, (size_t)from);
        if (res.peak < MIN_PEAK)
                return -ENOENT;
        n_onsets = calibrate_find_onsets(pcm, n, res.peak / 2, (size_t)QUIET_MS * clock->rate / 1000, onsets,
                                         ELEMENTSOF(onsets));
        i = calibrate_find_marker(onsets, MIN(n_onsets, ELEMENTSOF(onsets)), clock->rate, from);
        if (i < 0)
                return i;
        for (int k = 0; k < CALIBRATE_COUNT; k++) {
                calibrate_clock_frame_to_mono(clock, onsets[i + k], &t);
                res.burst_ms[k] =
                        (double)(t - on_air_ns) / 1e6 - (CALIBRATE_FIRST_MS + k * CALIBRATE_STEP_MS);
                sorted[k] = res.burst_ms[k];
        }
        qsort(sorted, CALIBRATE_COUNT, sizeof sorted[0], cmp_double);
        res.latency_ms = sorted[CALIBRATE_COUNT / 2];
        res.spread_ms = sorted[CALIBRATE_COUNT - 1] - sorted[0];
        *ret = res;
        return 0;
}
