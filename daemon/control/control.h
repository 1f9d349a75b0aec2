/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control.h: the control socket transport. A Unix stream socket; a
 * request is one JSON object per line ({"cmd": "add", ...}); a reply is one
 * JSON object per line ({"ok": true, ...} or {"ok": false, "error": "..."}).
 * Lines over 64 KiB, binary or invalid JSON get an error reply, and the
 * connection is closed after a line too long. Loop thread only. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

struct json_object;
struct control;
struct control_conn;

/* Handles one request that came on CONN; returns a new reply object (the
 * control module sends and frees it). Never NULL. */
typedef struct json_object *(*control_handler_t)(struct control_conn *conn, struct json_object *request,
                                                 void *userdata);

/* Listens on PATH (mode MODE, parent directory created), or adopts a
 * socket passed by systemd (sd_listen_fds) when there is one. */
int control_new(sd_event *e, const char *path, mode_t mode, control_handler_t handler, void *userdata,
                struct control **ret);
struct control *control_free(struct control *c);
/* Gives the socket control_new() made to group GID (control.group), so
 * that the group's members may connect; a no-op for a socket systemd
 * passed (its SocketGroup= applies) or GID (gid_t)-1. */
int control_set_group(struct control *c, gid_t gid);

/* A handler's answer meaning "later": the request is answered by
 * control_conn_reply() once what it asked for has happened; the connection
 * reads no further request until then. Take a reference to CONN first. */
extern struct json_object *const CONTROL_REPLY_LATER;
struct control_conn *control_conn_ref(struct control_conn *conn);
void control_conn_unref(struct control_conn *conn);
/* Answers the request held by CONTROL_REPLY_LATER (takes REPLY; a no-op
 * when the client has gone or the control socket was freed). */
void control_conn_reply(struct control_conn *conn, struct json_object *reply);

/* Helper for handlers: {"ok": false, "error": MESSAGE}. */
struct json_object *control_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* {"ok": true} */
struct json_object *control_ok(void);

/* Event stream: from a handler, marks CONN subscribed; it then gets every
 * control_broadcast() after the reply (and may still send requests: their
 * replies have "ok", events have "event"). */
void control_conn_subscribe(struct control_conn *conn);
/* Queues EV (not consumed) as one line to every subscribed connection,
 * without blocking: a subscriber with more than 1 MiB unread is dropped. */
void control_broadcast(struct control *c, struct json_object *ev);
/* Subscribed connections, for tests and status. */
unsigned control_subscribers(const struct control *c);
