/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-filler.h: filler when the queue is empty (manager-filler.c;
 * struct manager_filler stays inside it). Below the cue, which asks it
 * what to cue and takes its items.
 * Loop thread only. */
#pragma once

struct manager;
struct playout_event;
struct story;

/* start (after the queue is restored) and reload read the filler folder
 * and cue filler if the queue is empty; cue: called by manager_cue_next
 * with the queue's front: returns what to cue (FRONT, or with no FRONT a
 * filler story held by the filler, NULL for nothing) and makes filler on
 * air give way (a fade) when FRONT is a story; playout_event: called for
 * every playout event before the manager handles it (failures in a row,
 * giving way). */
int manager_filler_start(struct manager *m);
void manager_filler_reload(struct manager *m);
void manager_filler_stop(struct manager *m);
struct story *manager_filler_cue(struct manager *m, struct story *front);
void manager_filler_playout_event(struct manager *m, const struct playout_event *ev);
/* The cued filler item EV names (it started, or failed), the caller's
 * now, its length taken from a STARTED; NULL when not ours. */
struct story *manager_filler_take(struct manager *m, const struct playout_event *ev);
