/* SPDX-License-Identifier: GPL-3.0-or-later */
/* queue.h: the Next Up queue and its stories. Loop thread only. Pure
 * data structure: the caller validates files and attaches cues. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timing.h"

struct cue_list;

struct story {
        uint64_t id; /* unique for the daemon's life, from 1 */
        char *title;
        char *audio_path;          /* absolute */
        char *transcript_path;     /* absolute */
        struct cue_list *cues;     /* owned */
        enum timing_source timing; /* TIMING_NONE until the ingest worker is done */
        int64_t duration_ms;       /* -1 until scanned */
        bool failed;               /* ingest found the audio unusable */
        int64_t start_frame;       /* > 0: starts there, not at the top (resumed after a restart) */
        /* As-run (manager-events.c) */
        int64_t aired_ms;      /* wall clock ms its first frame was handed to the device; 0 before */
        int64_t aired_from_ms; /* media position it went on air from (0, or where it resumed) */
        int64_t scheduled_ms;  /* wall clock ms a clock event set it for; 0: not scheduled */
        bool filler;           /* played from the filler folder */
};

struct story *story_free(struct story *s);

struct queue;

int queue_new(struct queue **ret);
struct queue *queue_free(struct queue *q); /* frees the stories it holds */

size_t queue_size(const struct queue *q);
struct story *queue_get(const struct queue *q, size_t index); /* NULL if out of range */
struct story *queue_find(const struct queue *q, uint64_t id, size_t *ret_index);

/* Takes ownership of S and assigns s->id. index == queue_size() appends;
 * > size: -ERANGE. On failure (-ERANGE, -ENOMEM) S stays the caller's. */
int queue_insert(struct queue *q, size_t index, struct story *s);
/* Like queue_insert, but S keeps its id (restoring the queue after a
 * restart); the counter moves past it. -EINVAL for id 0, -EEXIST when the
 * id is queued already. */
int queue_insert_with_id(struct queue *q, size_t index, struct story *s);
/* The id the next queue_insert assigns. */
uint64_t queue_next_id(const struct queue *q);
/* Moves the counter to ID when that is higher (ids are never reused). */
void queue_set_next_id(struct queue *q, uint64_t id);
/* Removes and returns (caller owns) the story with ID, or NULL. */
struct story *queue_take(struct queue *q, uint64_t id);
/* Moves ID to INDEX (clamped to the end): 0, -ENOENT, -ERANGE. */
int queue_move(struct queue *q, uint64_t id, size_t index);
/* Removes and returns the first story, or NULL when empty. */
struct story *queue_pop(struct queue *q);
void queue_clear(struct queue *q);
