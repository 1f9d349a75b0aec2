/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-acks.c: the control replies that wait for the playout thread.
 * pause, resume and skip are handed to the playout thread and answered
 * once its event (PAUSED, RESUMED, the story's ENDED) says it acted, so
 * that a client that reads "ok" finds it done (a status right after
 * pause says paused); after 2 s without it, with an error. A bottom part:
 * the commands add to the list, the loop feeds it events and the status
 * timer expires it. Loop thread only. */
#include "manager-acks.h"
#include "manager-internal.h"

#include <stdbool.h>
#include <stdlib.h>

#include "aclock.h"
#include "cleanup.h"
#include "control.h"
#include "playout.h"

#define ACK_TIMEOUT_NS (2000 * 1000000ULL)

struct manager_ack {
        struct manager_ack *next;
        struct control_conn *conn; /* referenced */
        enum manager_ack_kind kind;
        uint64_t item_id; /* MANAGER_ACK_SKIP: the story that must leave the air */
        uint64_t since_ns;
};

static const char *const ack_names[] = {"pause", "resume", "skip"};

struct json_object *manager_ack_later(struct manager *m, struct control_conn *conn,
                                      enum manager_ack_kind kind, uint64_t item_id) {
        struct manager_ack *a = calloc(1, sizeof *a);

        if (!a)
                return control_ok();
        *a = (struct manager_ack){.next = m->acks,
                                  .conn = control_conn_ref(conn),
                                  .kind = kind,
                                  .item_id = item_id,
                                  .since_ns = aclock_now_ns()};
        m->acks = a;
        return CONTROL_REPLY_LATER;
}

static bool ack_done_by(const struct manager_ack *a, const struct playout_event *ev) {
        switch (a->kind) {
        case MANAGER_ACK_PAUSE:
                return ev->type == PLAYOUT_PAUSED;
        case MANAGER_ACK_RESUME:
                return ev->type == PLAYOUT_RESUMED;
        case MANAGER_ACK_SKIP:
                return ev->type == PLAYOUT_ENDED && ev->item_id == a->item_id;
        }
        return false;
}

/* Answers the acks EV completes (EV NULL: those past ACK_TIMEOUT_NS, with
 * an error). The list is taken first: a reply lets the connection's next
 * request through, which may add an ack. */
static void acks_answer(struct manager *m, const struct playout_event *ev) {
        struct manager_ack *list = TAKE_PTR(m->acks), *keep = NULL, **tail = &keep;
        uint64_t now = aclock_now_ns();

        while (list) {
                struct manager_ack *a = list;

                list = a->next;
                if (ev ? !ack_done_by(a, ev) : now - a->since_ns < ACK_TIMEOUT_NS) {
                        a->next = NULL;
                        *tail = a;
                        tail = &a->next;
                        continue;
                }
                control_conn_reply(
                        a->conn,
                        ev ? control_ok()
                           : control_error("'%s' was handed to the player, which did not act within 2 s",
                                           ack_names[a->kind]));
                control_conn_unref(a->conn);
                free(a);
        }
        *tail = m->acks;
        m->acks = keep;
}

void manager_acks_playout_event(struct manager *m, const struct playout_event *ev) {
        if (m->acks)
                acks_answer(m, ev);
}

void manager_acks_expire(struct manager *m) {
        if (m->acks)
                acks_answer(m, NULL);
}

void manager_acks_free(struct manager *m) {
        while (m->acks) {
                struct manager_ack *a = m->acks;

                m->acks = a->next;
                control_conn_unref(a->conn);
                free(a);
        }
}
