/* SPDX-License-Identifier: GPL-3.0-or-later */
/* calibrate.h: the pure maths of output latency calibration (`nextupctl
 * calibrate`): a recording of the air output, timed by when its bytes
 * arrived, is searched for the marker's bursts, whose play times are known
 * on the daemon's audio clock. No I/O; any thread. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The marker (data/marker.mp3, made by data/make-marker: keep in step):
 * COUNT bursts of 1 kHz at -6 dBFS, BURST_MS long, the first at media
 * time FIRST_MS and then every STEP_MS. */
#define CALIBRATE_FIRST_MS 300
#define CALIBRATE_STEP_MS 300
#define CALIBRATE_COUNT 5
#define CALIBRATE_BURST_MS 20

/* Maps a recording's frame index to CLOCK_MONOTONIC. Every read of the
 * recorder's output that ends at frame F at time T proves frame F was
 * captured no later than T, so the origin (time of frame 0) is at most
 * T - F/rate; the least such bound over all reads is the estimate. It is
 * late by the smallest delivery delay seen (at most one recorder fragment)
 * and assumes the recorder's clock runs at the nominal rate. */
struct calibrate_clock {
        int rate;
        int64_t origin_ns; /* INT64_MAX until the first read */
        int64_t frames;    /* frames read so far */
        size_t n_reads;
};

void calibrate_clock_init(struct calibrate_clock *c, int rate);
/* After a read of FRAMES more frames that returned at MONO_NS. */
void calibrate_clock_add(struct calibrate_clock *c, int64_t frames, uint64_t mono_ns);
/* -ENODATA before the first read. */
int calibrate_clock_frame_to_mono(const struct calibrate_clock *c, int64_t frame, int64_t *ret_ns);

/* Frame indexes where |pcm| first reaches THRESHOLD after at least
 * QUIET_FRAMES below it (the start counts as quiet). Stores at most MAX;
 * returns how many were found in all. */
size_t calibrate_find_onsets(const int16_t *pcm, size_t n, int threshold, size_t quiet_frames, int64_t *ret,
                             size_t max);

/* The first run of CALIBRATE_COUNT onsets at or after FROM_FRAME spaced by
 * CALIBRATE_STEP_MS (within 3 ms): returns its index in ONSETS, or
 * -ENOENT. */
int calibrate_find_marker(const int64_t *onsets, size_t n, int rate, int64_t from_frame);

struct calibrate_result {
        double latency_ms; /* median over the bursts */
        double spread_ms;  /* max - min over the bursts */
        double burst_ms[CALIBRATE_COUNT];
        int peak; /* level of the marker in the recording */
};

/* PCM: the mono recording; CLOCK: its timing; ON_AIR_NS: when frame 0 of
 * the marker was handed to the device. -ENODATA no timing, -ENOENT marker
 * not found (too quiet, or not the marker's pattern). */
int calibrate_measure(const int16_t *pcm, size_t n, const struct calibrate_clock *clock, int64_t on_air_ns,
                      struct calibrate_result *ret);
