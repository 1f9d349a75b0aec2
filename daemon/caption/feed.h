/* SPDX-License-Identifier: GPL-3.0-or-later */
/* feed.h: the events of the network caption feeds (SSE and TCP), as one
 * line of JSON each: {"event": "cue"|"on_air"|"off_air"|"next"|"alert",
 * "time_ms": wall clock ms, ...}. Pure but for the clocks; loop thread.
 * Each returns a malloc'd string (caller frees) or NULL on ENOMEM. */
#pragma once

#include <stdint.h>

struct cue;
struct json_object;
struct cue_emit;
struct story;

/* "time_ms" is the wall-clock moment the cue was due (heard), derived
 * from E->due_ns; also story_id, title, cue_index, start_ms, end_ms,
 * speaker, speaker_change, text, lateness_us, and "words" (text, start_ms,
 * end_ms in story time) when the story is aligned. */
char *feed_cue(const struct story *st, const struct cue *c, const struct cue_emit *e);
/* C's word times as a JSON array of {"text", "start_ms", "end_ms"} (story
 * time), only when ST is aligned and C has them; else NULL (or ENOMEM).
 * The caller owns it (json_object_put). */
struct json_object *feed_words(const struct story *st, const struct cue *c);

/* story_id, title, duration_ms, n_cues */
char *feed_on_air(const struct story *st);
char *feed_off_air(const struct story *st);
/* NEXT NULL: nothing queued (story_id and title null). */
char *feed_next(const struct story *next);
char *feed_alert(const char *what, const char *message);

/* CLOCK_MONOTONIC ns -> wall clock ms. */
int64_t feed_mono_to_wall_ms(uint64_t mono_ns);
