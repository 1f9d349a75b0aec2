/* SPDX-License-Identifier: GPL-3.0-or-later */
/* captions.h: the cue timer and fan-out to sinks. For the story on air
 * each sink has its own sd-event CLOCK_MONOTONIC timer (1 ms accuracy)
 * armed at aclock_media_to_mono(cue start, sink latency); when it fires the
 * clock is read again and the timer re-armed if the deadline moved, so
 * captions follow the audio clock, never sleeps. Loop thread only. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

struct aclock;
struct sink;
struct story;

struct captions;

/* Takes ownership of the sinks array and the sinks on success (on
 * failure the caller keeps them). */
int captions_new(sd_event *e, struct aclock *clock, struct sink **sinks, size_t n_sinks,
                 struct captions **ret);
struct captions *captions_free(struct captions *c);

/* STORY went on air (its frame 0 handed to the device). The story must
 * stay alive until captions_story_ended(). Cues not yet timed are held
 * until captions_replan() after timing arrives. */
void captions_story_started(struct captions *c, struct story *story);
/* The story left the air: sinks get story_end, pending cues are dropped
 * (counted). */
void captions_story_ended(struct captions *c, struct story *story);
/* Re-reads the audio clock and re-arms every timer: after pause, resume,
 * or when the story's cue times changed. */
void captions_replan(struct captions *c);

/* The story next up changed to NEXT (NULL: nothing queued): every sink
 * with a next_up op is told at once. */
void captions_next_up(struct captions *c, const struct story *next);

/* Cues emitted / dropped for the story currently or last on air, as the
 * sink that fared worst saw them (each sink runs its own timer); after
 * story end they add up to the story's cues. Cues more than 2 s past due
 * when reached (mid-way start, late timing) are dropped, not emitted. */
/* An alert was raised: every sink with an alert op is told at once. */
void captions_alert(struct captions *c, const char *what, const char *message);

/* Every sink with a reopen op reopens its files (logrotate). Failures are
 * logged per sink (the old file goes on); returns how many failed. */
size_t captions_reopen(struct captions *c);

size_t captions_emitted(const struct captions *c);
/* The sinks, for their own counters (metrics): I < captions_n_sinks. */
size_t captions_n_sinks(const struct captions *c);
const struct sink *captions_sink(const struct captions *c, size_t i);

/* Emission lateness of every cue of every sink, for /metrics: cumulative
 * counts per upper bound (µs), as Prometheus histograms want them. */
#define CAPTIONS_LATENESS_BUCKETS 12
extern const int64_t captions_lateness_bounds_us[CAPTIONS_LATENESS_BUCKETS];
struct captions_lateness {
        uint64_t le[CAPTIONS_LATENESS_BUCKETS]; /* emissions with lateness <= bound */
        uint64_t count;
        int64_t sum_us;
};
/* Every emission from now on is added to H (owned by the caller, which
 * keeps it alive while C lives; NULL stops). */
void captions_set_lateness(struct captions *c, struct captions_lateness *h);
size_t captions_dropped(const struct captions *c);
