/* SPDX-License-Identifier: GPL-3.0-or-later */
/* persist.h: the daemon's state on disk, so that the queue, the one-off
 * schedule and the story on air survive kill -9. One JSON file,
 * STATE_DIR/state.json, replaced whole by an fsync'd atomic write (temp
 * file, fsync, rename, fsync of the directory) at every change.
 * The state <-> JSON conversion is pure; persist_load/persist_save do the
 * I/O. Loop thread only (the module has a writer thread of its own for
 * persist_save_async and persist_checkpoint, so a slow disk never holds
 * the loop for changes nobody waits on).
 *
 * The position of the story on air is kept apart, in STATE_DIR/position:
 * a fixed-size record rewritten in place (one pwrite, no fsync) every
 * second; persist_load takes it over the state file's when it is for the
 * same story and newer. A torn record fails its checksum and is ignored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define PERSIST_FILE "state.json"

/* A story waiting in the queue. */
struct persist_story {
        uint64_t id;
        char *audio; /* absolute paths */
        char *transcript;
        int64_t start_frame; /* > 0: a resumed story starts there (frames at the state's rate) */
};

/* The story on air at the last checkpoint. */
struct persist_on_air {
        struct persist_story story; /* story.start_frame: where it had started from */
        int64_t frames;             /* position: frames of it handed to the device */
        int64_t duration_ms;        /* -1 when not known */
        int64_t started_wall_ms;    /* CLOCK_REALTIME ms when it went on air */
        int64_t checkpoint_wall_ms; /* CLOCK_REALTIME ms of the checkpoint */
};

struct persist_state {
        uint64_t next_id;            /* the queue's id counter */
        int rate;                    /* output rate that frame counts refer to */
        struct persist_story *queue; /* in air order */
        size_t n_queue;
        bool has_on_air;
        struct persist_on_air on_air;
        struct json_object *schedule; /* owned, opaque (the schedule's one-off events); NULL: none */
};

/* Frees what ST holds and zeroes it; ST itself is the caller's. */
void persist_state_done(struct persist_state *st);

/* Pure. The JSON text of ST (caller frees); -ENOMEM. */
int persist_state_to_json(const struct persist_state *st, char **ret);
/* Pure. Parses TEXT into *RET (zeroed first). -EBADMSG when it is not a
 * valid state: *RET_ERROR (caller frees) says where, as "LINE:COLUMN
 * (offset N): message" for syntax errors and "FIELD: message" for a bad
 * field, e.g. "queue[2].audio: not a string". */
int persist_state_from_json(const char *text, size_t len, struct persist_state *ret, char **ret_error);

struct persist;

/* DIR is created when missing (failures show at the first load or save). */
int persist_new(const char *dir, struct persist **ret);
struct persist *persist_free(struct persist *p);
const char *persist_path(const struct persist *p); /* DIR/state.json */

/* Reads the state. 1 loaded, 0 there is none (first start); a leftover
 * temp file from a torn write is removed, never read. -EBADMSG: the file
 * is corrupt; it has been renamed to state.json.corrupt-<wall ms> and
 * *RET_ERROR says what was wrong and where it went. Other -errno: the
 * file could not be read (*RET_ERROR says so, the file stays). */
int persist_load(struct persist *p, struct persist_state *ret, char **ret_error);

/* Makes ST durable before returning: 1 written, 0 the same text as the
 * last one written (nothing to do). -errno (ENOSPC, EDQUOT, EIO...) when
 * it could not be written: the previous state file stays intact and the
 * temp file is removed, so a retry needs no space beyond the new file. */
int persist_save(struct persist *p, const struct persist_state *st);
/* Like persist_save, but on the writer thread: returns at once (0, or
 * -ENOMEM). Saves queued faster than the disk takes them are merged (the
 * newest wins); a later persist_save supersedes a pending one. */
int persist_save_async(struct persist *p, const struct persist_state *st);
/* A state text numbered on the loop thread and written on another one,
 * for a change a client waits on: the loop never waits on the disk, and
 * the client is answered once persist_write has returned. */
struct persist_write;
/* Loop thread: the text of ST, numbered after every text before it (a
 * pending persist_save_async of an older one is dropped: this one holds
 * its changes). 0 or -ENOMEM. */
int persist_prepare(struct persist *p, const struct persist_state *st, struct persist_write **ret);
/* Any thread, blocks: makes W durable, as persist_save. A newer text
 * written meanwhile holds W's changes: then the result of that write.
 * 0 durable; -errno it could not be written (the loop then calls
 * persist_invalidate). */
int persist_write(struct persist *p, const struct persist_write *w);
struct persist_write *persist_write_free(struct persist_write *w);
/* Writes A's story id and position to the position file on the writer
 * thread, without fsync. 0 or -ENOMEM. */
int persist_checkpoint(struct persist *p, const struct persist_on_air *a);
/* The outcome of the last write of the state file that finished, by
 * either thread: 0 fine (or none yet), -errno it failed (the next save
 * then writes everything again). */
int persist_async_error(struct persist *p);

/* The same text must be written again at the next save (after a failure
 * elsewhere made the disk copy doubtful). */
void persist_invalidate(struct persist *p);
/* Duration of the last real write in microseconds (for logging). */
uint64_t persist_last_write_us(const struct persist *p);
