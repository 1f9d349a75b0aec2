/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-schedule.h: clock events, the config's schedule section and
 * `at` (manager-schedule.c; struct manager_schedule stays inside it).
 * Above ingest (it builds its stories there), the state file and the
 * event stream; below the cue (which takes its stories) and the commands.
 * Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct control_conn;
struct json_object;
struct manager;
struct playout_event;
struct story;

/* start: before manager_persist_start (manager_schedule_state is its
 * getter); restore: after it (the saved one-off events); stop: after
 * manager_persist_stop. playout_event: called for every playout event
 * before the manager handles it (wait mode's watches). find: a prepared
 * story (borrowed). */
int manager_schedule_start(struct manager *m);
void manager_schedule_restore(struct manager *m);
void manager_schedule_reload(struct manager *m);
void manager_schedule_stop(struct manager *m);
void manager_schedule_playout_event(struct manager *m, const struct playout_event *ev);
struct story *manager_schedule_find(struct manager *m, uint64_t story_id);
/* The hard start the playout thread should hold (borrowed STORY, AT_NS on
 * CLOCK_MONOTONIC; TIMING changes when the same story's time must be
 * handed again), the one it holds now being HELD_ID (0 none): false for
 * none. For the cue, which hands it (manager_cue_sync_hard). */
struct manager_hard {
        struct story *story;
        uint64_t at_ns;
        unsigned timing;
};
bool manager_schedule_hard(struct manager *m, uint64_t held_id, struct manager_hard *ret);
/* The prepared story STORY_ID (it started, or failed), the caller's now;
 * the next hard event goes to the playout thread. NULL when not ours. */
struct story *manager_schedule_take(struct manager *m, uint64_t story_id);
struct json_object *manager_schedule_state(void *userdata); /* a manager_persist_schedule_fn */
/* The control commands at, schedule and unschedule: the reply, or
 * CONTROL_REPLY_LATER (at and unschedule are answered on CONN once saved). */
struct json_object *manager_cmd_at(struct manager *m, struct control_conn *conn, struct json_object *req);
struct json_object *manager_cmd_schedule(struct manager *m, struct json_object *req);
struct json_object *manager_cmd_unschedule(struct manager *m, struct control_conn *conn,
                                           struct json_object *req);
