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
 * also the schedule's `at`) calls manager_persist_save after changing the
 * state in memory and before answering; when that fails it undoes the
 * change and answers with *ret_error (caller frees): nothing acknowledged
 * is lost. Changes no client waits for (a story starts, ends, fails; the
 * dropbox; startup items) call manager_persist_changed, which saves now
 * or, when the disk refuses, every second until it works. */
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
int manager_persist_save(struct manager *m, char **ret_error);
/* manager_persist_save with the story on air (ID) saved as gone (skipped,
 * removed: not resumed after a crash); on failure it stays as it was. */
int manager_persist_save_leaving(struct manager *m, uint64_t id, char **ret_error);
void manager_persist_changed(struct manager *m);
/* manager_persist_save for a change a client waits on, without the loop
 * waiting on the disk: the state as it is now is written on the saver
 * thread, then SAVED(M, R, ERROR, USERDATA) runs on the loop (R 0 saved,
 * or -errno with ERROR, the reply's words: the caller undoes its change
 * and refuses). -ECANCELED at shutdown for a save that never ran. Returns
 * 0 (SAVED will be called, also with no state dir), or -ENOMEM with
 * *RET_ERROR (SAVED will not be called). */
typedef void (*manager_saved_fn)(struct manager *m, int r, const char *error, void *userdata);
int manager_persist_save_then(struct manager *m, manager_saved_fn saved, void *userdata, char **ret_error);
void manager_persist_stop(struct manager *m); /* final checkpoint, frees */
/* What the last run saved of the schedule (borrowed), NULL when nothing. */
struct json_object *manager_persist_schedule_restored(struct manager *m);
