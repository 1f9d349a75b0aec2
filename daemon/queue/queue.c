/* SPDX-License-Identifier: GPL-3.0-or-later */
/* queue.c: the Next Up queue, an array of owned story pointers in air
 * order. An array rather than a list because the queue is short (tens of
 * stories), is listed whole on every "list" request, and is indexed by
 * position far more often than it is edited. Ids come from a counter per
 * queue and are never reused, so a stale id from automation can never hit
 * a different story. Pure data structure: loop thread only, no I/O. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "segment.h"

struct queue {
        struct story **items;
        size_t n, allocated;
        uint64_t next_id;
};

int queue_new(struct queue **ret) {
        struct queue *q = calloc(1, sizeof *q);

        if (!q)
                return -ENOMEM;
        q->next_id = 1;
        *ret = q;
        return 0;
}

struct queue *queue_free(struct queue *q) {
        if (!q)
                return NULL;
        queue_clear(q);
        free(q->items);
        free(q);
        return NULL;
}

size_t queue_size(const struct queue *q) {
        return q->n;
}

struct story *queue_get(const struct queue *q, size_t index) {
        return index < q->n ? q->items[index] : NULL;
}

struct story *queue_find(const struct queue *q, uint64_t id, size_t *ret_index) {
        for (size_t i = 0; i < q->n; i++)
                if (q->items[i]->id == id) {
                        if (ret_index)
                                *ret_index = i;
                        return q->items[i];
                }
        return NULL;
}

static int queue_put(struct queue *q, size_t index, struct story *s) {
        if (index > q->n)
                return -ERANGE;
        if (q->n == q->allocated) {
                size_t a = q->allocated ? q->allocated * 2 : 16;
                struct story **items = reallocarray(q->items, a, sizeof *items);

                if (!items)
                        return -ENOMEM;
                q->items = items;
                q->allocated = a;
        }
        memmove(q->items + index + 1, q->items + index, (q->n - index) * sizeof *q->items);
        q->items[index] = s;
        q->n++;
        return 0;
}

/* On failure S stays the caller's and keeps its id unset. */
int queue_insert(struct queue *q, size_t index, struct story *s) {
        int r = queue_put(q, index, s);

        if (r < 0)
                return r;
        s->id = q->next_id++;
        return 0;
}

int queue_insert_with_id(struct queue *q, size_t index, struct story *s) {
        int r;

        if (s->id == 0)
                return -EINVAL;
        if (queue_find(q, s->id, NULL))
                return -EEXIST;
        r = queue_put(q, index, s);
        if (r < 0)
                return r;
        queue_set_next_id(q, s->id + 1);
        return 0;
}

uint64_t queue_next_id(const struct queue *q) {
        return q->next_id;
}

void queue_set_next_id(struct queue *q, uint64_t id) {
        q->next_id = MAX(q->next_id, id);
}

/* Removes the story at INDEX (< n) and returns it. */
static struct story *queue_remove_at(struct queue *q, size_t index) {
        struct story *s = q->items[index];

        memmove(q->items + index, q->items + index + 1, (q->n - index - 1) * sizeof *q->items);
        q->n--;
        return s;
}

struct story *queue_take(struct queue *q, uint64_t id) {
        size_t i;

        if (!queue_find(q, id, &i))
                return NULL;
        return queue_remove_at(q, i);
}

/* An index past the end means "last", so automation can say "move to the
 * end" without knowing the length; hence -ERANGE is never returned. */
int queue_move(struct queue *q, uint64_t id, size_t index) {
        struct story *s;
        size_t from;

        if (!queue_find(q, id, &from))
                return -ENOENT;
        s = queue_remove_at(q, from);
        index = MIN(index, q->n);
        memmove(q->items + index + 1, q->items + index, (q->n - index) * sizeof *q->items);
        q->items[index] = s;
        q->n++;
        return 0;
}

struct story *queue_pop(struct queue *q) {
        return q->n > 0 ? queue_remove_at(q, 0) : NULL;
}

void queue_clear(struct queue *q) {
        for (size_t i = 0; i < q->n; i++)
                story_free(q->items[i]);
        q->n = 0;
}
