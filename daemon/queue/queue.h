/* SPDX-License-Identifier: GPL-3.0-or-later */
/* queue.h: the Next Up queue of stories (story.h). Loop thread only. Pure
 * data structure: stories come built and checked by story_build. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "story.h"

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
