/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-persist.h: the interface of manager-persist.c (struct
 * manager_persist stays inside it). A bottom part: what it needs of the
 * layers above (the schedule's events to save, queueing a restored story)
 * comes through the callbacks given to start.
 * Loop thread only. */
#pragma once

#include <stdint.h>

#include "playout.h"

struct json_object;
struct manager;
struct story;

/* manager-persist.c. Every change a client asks for (control commands,
 * also the schedule's `at` and `unschedule`) is made in memory, then
 * saved with manager_persist_save_then (or _leave_then) and answered
 * from its SAVED callback; when the save fails the callback undoes the
 * change and refuses with the ERROR given: nothing acknowledged is lost,
 * and the loop never waits on the disk. Changes no client waits for (a
 * story starts, ends, fails; the dropbox; startup items) call
 * manager_persist_changed, which saves on a writer thread now or, when
 * the disk refuses, every second until it works. */
/* SCHEDULE_GET(USERDATA) returns, at every save, a new JSON value of the
 * schedule's one-off events to save with the queue. */
typedef struct json_object *(*manager_persist_schedule_fn)(void *userdata);
/* RESTORE_FN queues a story the last run saved at the end of the queue,
 * keeping its id and start frame; -errno with *ret_error (the story is
 * dropped, logged). */
typedef int (*manager_persist_restore_fn)(struct manager *m, const char *audio, const char *transcript,
                                          uint64_t id, int64_t start_frame, char **ret_error);
/* 1 restored, 0 no saved state; -ENOMEM */
int manager_persist_start(struct manager *m, manager_persist_restore_fn restore_fn,
                          manager_persist_schedule_fn schedule_get, void *userdata);
void manager_persist_changed(struct manager *m);
/* The save of a change a client waits on: the state as it is now is
 * written on the saver thread, then SAVED(M, R, ERROR, USERDATA) runs on
 * the loop (R 0 saved, or -errno with ERROR, the reply's words: the
 * caller undoes its change and refuses). -ECANCELED at shutdown for a
 * save that never ran (manager_persist_stop). Saves are written and
 * answered in the order asked; anything may happen on the loop in
 * between (other commands, a story ending), so SAVED undoes only what is
 * still its own to undo. Returns 0 (SAVED will be called, always later,
 * from the loop), or -errno with *RET_ERROR (SAVED will not be called):
 * -ENOMEM, -ESHUTDOWN once stopped. */
typedef void (*manager_saved_fn)(struct manager *m, int r, const char *error, void *userdata);
int manager_persist_save_then(struct manager *m, manager_saved_fn saved, void *userdata, char **ret_error);
/* manager_persist_save_then with the story on air ID saved as gone from
 * now on (skipped, removed: not resumed after a crash); when the save
 * fails it is saved as on air again before SAVED runs. */
int manager_persist_leave_then(struct manager *m, uint64_t id, manager_saved_fn saved, void *userdata,
                               char **ret_error);
/* Answers the saves still pending (written, or -ECANCELED), then makes
 * the last save itself (the loop's only fsync) and frees. */
void manager_persist_stop(struct manager *m);
/* What the last run saved of the schedule (borrowed), NULL when nothing. */
struct json_object *manager_persist_schedule_restored(struct manager *m);
