/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-commands.h: the control protocol (manager-commands.c). The top
 * part below the loop: it calls the schedule, ingest, the state file, the
 * event stream and the acks (manager-acks.h), and the loop's hooks.
 * Loop thread only. */
#pragma once

struct control_conn;
struct json_object;
struct manager;

/* The control socket's request handler (control_new): the reply. */
struct json_object *manager_handle_request(struct control_conn *conn, struct json_object *req,
                                           void *userdata);
/* The reply of the status command (a new reference; NULL on ENOMEM); a
 * manager_http_status_fn. */
struct json_object *manager_status_json(struct manager *m);
