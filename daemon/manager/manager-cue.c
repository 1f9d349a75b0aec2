/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-cue.c: what is cued next in the playout thread, and where the
 * story the playout thread names comes from. Three owners hold stories
 * that may play: the queue (its front is Next Up), the schedule (a clock
 * event's prepared story, handed over by hard start or as Next Up) and
 * the filler (its next item when the queue is empty). The cued item is
 * the queue's front, else filler; a hard start goes to the playout thread
 * from the schedule directly. When the playout thread reports an item
 * STARTED (or failed before its first frame), manager_cue_take takes the
 * story from whichever owner holds it: no story passes through the queue
 * only to be taken out again. The loop announces what is decided
 * (next_up) between manager_cue_next and manager_cue_set. Loop thread
 * only. */
#include "manager-cue.h"
#include "manager-filler.h"
#include "manager-internal.h"
#include "manager-schedule.h"

#include "log.h"
#include "playout.h"
#include "queue.h"

struct story *manager_cue_next(struct manager *m) {
        return manager_filler_cue(m, queue_get(m->queue, 0));
}

void manager_cue_set(struct manager *m, struct story *next) {
        uint64_t id = next ? next->id : 0;

        if (id == m->cued_id)
                return;
        if (playout_cue_from(m->playout, id, next ? next->audio_path : NULL, next ? next->start_frame : 0) <
            0) {
                log_error("Cannot cue the next story (out of memory)");
                return;
        }
        m->cued_id = id;
}

struct story *manager_cue_take(struct manager *m, const struct playout_event *ev) {
        struct story *s = queue_take(m->queue, ev->item_id);

        if (!s)
                s = manager_schedule_take(m, ev->item_id);
        if (!s)
                s = manager_filler_take(m, ev);
        return s;
}

struct story *manager_cue_find(struct manager *m, uint64_t id) {
        struct story *s;

        if (m->on_air && m->on_air->id == id)
                return m->on_air;
        s = queue_find(m->queue, id, NULL);
        return s ? s : manager_schedule_find(m, id); /* a clock event's, prepared */
}
