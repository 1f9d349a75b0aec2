/* SPDX-License-Identifier: GPL-3.0-or-later */
/* asrun.h: the as-run log, proof of what aired. One JSON object per aired
 * (or failed) item, appended to a file as one line. A write error (a full
 * disk) never stops anything: records wait in a bounded memory backlog and
 * are retried on the next append and by a timer until the file takes them.
 * Loop thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "playout.h"
#include "timing.h"

struct json_object;

#define ASRUN_BACKLOG_MAX 10000u

/* A control client that made a change (SO_PEERCRED). */
struct asrun_peer {
        unsigned uid;
        int pid;
        const char *user;
};

struct asrun_record {
        uint64_t id;
        const char *title, *audio, *transcript; /* NULL written as null */
        const char *kind;                       /* "story", "filler" or "scheduled" */
        int64_t scheduled_ms;                   /* wall clock ms it was scheduled for; <= 0: none (null) */
        int64_t start_ms, end_ms;               /* wall clock ms (since the epoch) it started and ended */
        int64_t planned_ms;                     /* its length; < 0 unknown (null) */
        int64_t played_ms;
        int64_t output_down_ms; /* of played_ms, how much went to an output that was down */
        enum playout_end_reason reason;
        size_t cues_emitted, cues_dropped;
        enum timing_source timing;
        /* Who queued it (add, insert) and who ended it (skip, remove on
         * air); NULL written as null: the config, the dropbox, the schedule,
         * a restored queue, or it ended by itself. */
        const struct asrun_peer *queued_by, *ended_by;
};

struct asrun;

/* Appends to PATH (created on first write, directory must exist); NULL
 * path: the log is off and appends are dropped silently. RETRY_USEC: how
 * often a backlog is retried (0: every 5 s). */
int asrun_new(sd_event *e, const char *path, uint64_t retry_usec, struct asrun **ret);
/* Tries a last flush; records still in the backlog are logged as lost. */
struct asrun *asrun_free(struct asrun *a);
/* Switches the file (reload); the backlog goes to the new one. -ENOMEM. */
int asrun_set_path(struct asrun *a, const char *path);

/* Writes REC (after any backlog). 0 written, 1 kept in the backlog (the
 * error is logged once per failure episode), -ENOMEM. */
int asrun_append(struct asrun *a, const struct asrun_record *rec);
/* Writes the backlog: 0 all written (or nothing to do), -errno. */
int asrun_flush(struct asrun *a);
size_t asrun_backlog(const struct asrun *a);
/* Records dropped because the backlog was full. */
uint64_t asrun_lost(const struct asrun *a);

/* Records starting in [SINCE_MS, UNTIL_MS) (INT64_MIN/INT64_MAX: open),
 * scanned from byte OFFSET of the file, then the backlog. Stops after about
 * MAX_BYTES of records: *ret_next_offset is then where to go on, else -1.
 * Lines that do not parse are skipped. *ret is a new JSON array. */
int asrun_query(struct asrun *a, int64_t since_ms, int64_t until_ms, int64_t offset, size_t max_bytes,
                struct json_object **ret, int64_t *ret_next_offset);
