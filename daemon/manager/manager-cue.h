/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-cue.h: what is cued in the playout thread, and where a story
 * the playout thread names comes from (manager-cue.c; struct manager_cue
 * stays inside it). The one owner of what the playout thread holds next:
 * the cued item (the queue's front, else filler) and the pending hard
 * start (the schedule's earliest hard event). Above the schedule and the
 * filler, whose stories it hands out; below the loop, which announces the
 * decision (manager-events.c) between deciding and cueing.
 * Loop thread only. */
#pragma once

#include <stdint.h>

struct manager;
struct playout_event;
struct story;

/* start: first in manager_new (-ENOMEM); stop: last in manager_free. */
int manager_cue_start(struct manager *m);
void manager_cue_stop(struct manager *m);
/* What should be cued now: the queue's front, else a filler story held
 * by the filler, NULL for nothing (borrowed). Makes filler on air give way
 * (a fade) when the queue has a story. */
struct story *manager_cue_next(struct manager *m);
/* Cues NEXT (from manager_cue_next) in the playout thread unless it is
 * cued already; a resumed story starts at its start frame. */
void manager_cue_set(struct manager *m, struct story *next);
/* Keeps the playout thread's pending hard start the one the schedule
 * wants (manager_schedule_hard): hands it, re-times it after a clock
 * change, or cancels it. The loop's update_hard hook. */
void manager_cue_sync_hard(struct manager *m);
/* The story EV (STARTED, or ENDED with an error) names, taken from its
 * owner (the queue, a clock event's prepared story, the filler's next
 * item): the caller owns it. NULL when none holds it (removed meanwhile).
 * The playout thread holds it no more: neither cued nor a hard start. */
struct story *manager_cue_take(struct manager *m, const struct playout_event *ev);
/* The story ID on air, queued or prepared by a clock event (borrowed),
 * NULL when none: the loop's find_story hook. */
struct story *manager_cue_find(struct manager *m, uint64_t id);
