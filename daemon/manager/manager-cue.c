/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-cue.c: what the playout thread holds next, and where the story
 * it names comes from. Three owners hold stories that may play: the queue
 * (its front is Next Up), the schedule (a clock event's prepared story,
 * handed over by hard start or as Next Up) and the filler (its next item
 * when the queue is empty). This file alone tells the playout thread what
 * comes next, and alone remembers what it told it:
 *  - the cued item (playout_cue_from): the queue's front, else filler;
 *  - the pending hard start (playout_hard_start): the one the schedule
 *    wants (manager_schedule_hard), handed again when the clock is set.
 * When the playout thread reports an item STARTED (or failed before its
 * first frame), manager_cue_take takes the story from whichever owner
 * holds it: no story passes through the queue only to be taken out again.
 * The loop announces what is decided (next_up) between manager_cue_next
 * and manager_cue_set. Loop thread only. */
#include "manager-cue.h"
#include "manager-filler.h"
#include "manager-internal.h"
#include "manager-schedule.h"

#include <errno.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "playout.h"
#include "queue.h"
#include "story.h"

struct manager_cue {
        uint64_t cued_id;     /* the item cued in the playout thread, 0 none */
        uint64_t hard_id;     /* the hard start it holds, 0 none */
        unsigned hard_timing; /* the schedule's timing of it, to see a re-timing */
};

int manager_cue_start(struct manager *m) {
        m->cue = calloc(1, sizeof *m->cue);
        return m->cue ? 0 : -ENOMEM;
}

void manager_cue_stop(struct manager *m) {
        free(m->cue);
        m->cue = NULL;
}

struct story *manager_cue_next(struct manager *m) {
        return manager_filler_cue(m, queue_get(m->queue, 0));
}

void manager_cue_set(struct manager *m, struct story *next) {
        uint64_t id = next ? next->id : 0;

        if (id == m->cue->cued_id)
                return;
        if (playout_cue_from(m->playout, id, next ? next->audio_path : NULL, next ? next->start_frame : 0) <
            0) {
                log_error("Cannot cue the next story (out of memory)");
                return;
        }
        m->cue->cued_id = id;
}

void manager_cue_sync_hard(struct manager *m) {
        struct manager_cue *c = m->cue;
        struct manager_hard want;
        int r;

        if (!c)
                return;
        if (!manager_schedule_hard(m, c->hard_id, &want)) {
                if (c->hard_id)
                        (void)playout_hard_start(m->playout, 0, NULL, 0, 0);
                c->hard_id = 0;
                return;
        }
        if (want.story->id == c->hard_id && want.timing == c->hard_timing)
                return;
        r = playout_hard_start(m->playout, want.story->id, want.story->audio_path, want.at_ns,
                               m->config->fade_ms);
        if (r < 0) {
                log_error_errno(r, "Cannot hand the hard start of #%llu to the playout thread: %m",
                                (unsigned long long)want.story->id);
                return;
        }
        c->hard_id = want.story->id;
        c->hard_timing = want.timing;
        log_debug("Hard start of #%llu handed to the playout thread", (unsigned long long)c->hard_id);
}

struct story *manager_cue_take(struct manager *m, const struct playout_event *ev) {
        struct story *s;

        if (m->cue->cued_id == ev->item_id)
                m->cue->cued_id = 0;
        if (m->cue->hard_id == ev->item_id)
                m->cue->hard_id = 0;
        s = queue_take(m->queue, ev->item_id);
        if (!s)
                s = manager_schedule_take(m, ev->item_id);
        if (!s)
                s = manager_filler_take(m, ev);
        manager_cue_sync_hard(m); /* the next hard event, if any */
        return s;
}

struct story *manager_cue_find(struct manager *m, uint64_t id) {
        struct story *s;

        if (m->on_air && m->on_air->id == id)
                return m->on_air;
        s = queue_find(m->queue, id, NULL);
        return s ? s : manager_schedule_find(m, id); /* a clock event's, prepared */
}
