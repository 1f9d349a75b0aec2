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
 * only to be taken out again. Loop thread only. */
#include "manager-internal.h"
#include "manager-events.h"

#include "log.h"
#include "playout.h"
#include "queue.h"

/* Keeps the front of the queue (or with an empty queue, filler) cued in
 * the playout thread; a resumed story starts at its start frame. */
void manager_update_cue(struct manager *m) {
        struct story *front = manager_filler_cue(m, queue_get(m->queue, 0));
        uint64_t id = front ? front->id : 0;

        manager_events_queue(m); /* next_up, queue_changed */
        if (id == m->cued_id)
                return;
        if (playout_cue_from(m->playout, id, front ? front->audio_path : NULL,
                             front ? front->start_frame : 0) < 0) {
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
