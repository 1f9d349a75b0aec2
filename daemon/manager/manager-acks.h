/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-acks.h: the replies owed for pause, resume and skip until the
 * playout thread acts (manager-acks.c; the list is struct manager's acks).
 * Loop thread only. */
#pragma once

#include <stdint.h>

struct control_conn;
struct json_object;
struct manager;
struct playout_event;

enum manager_ack_kind { MANAGER_ACK_PAUSE, MANAGER_ACK_RESUME, MANAGER_ACK_SKIP };

/* The command was handed to the playout thread: its reply on CONN
 * (referenced meanwhile) waits for the event that completes KIND
 * (MANAGER_ACK_SKIP: ITEM_ID's ENDED). Returns CONTROL_REPLY_LATER, or
 * on ENOMEM an ok reply to send at once. */
struct json_object *manager_ack_later(struct manager *m, struct control_conn *conn,
                                      enum manager_ack_kind kind, uint64_t item_id);
/* EV answers the replies it completes; expire answers those older than
 * 2 s with an error (the playout thread did not act); free drops them
 * unanswered (the clients see the socket close). */
void manager_acks_playout_event(struct manager *m, const struct playout_event *ev);
void manager_acks_expire(struct manager *m);
void manager_acks_free(struct manager *m);
