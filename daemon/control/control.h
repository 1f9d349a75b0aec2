/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control.h: the control socket transport. A Unix stream socket; a
 * request is one JSON object per line ({"cmd": "add", ...}); a reply is one
 * JSON object per line ({"ok": true, ...} or {"ok": false, "error": "..."}).
 * Lines over 64 KiB, binary or invalid JSON get an error reply, and the
 * connection is closed after a line too long. Only peers on the allow-list
 * (SO_PEERCRED) are served; idle clients are closed after a timeout, and a
 * full house closes its oldest idle client to let a new one in. Loop
 * thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "control-proto.h"

#define CONTROL_LINE_MAX 65536u         /* bytes of one request, without '\n' */
#define CONTROL_OUT_MAX (1024u * 1024u) /* unsent replies before a client is dropped */

struct control_options {
        const char *path; /* socket file, unless systemd passes one */
        mode_t mode;
        uint64_t idle_timeout_usec; /* a client silent this long is closed; 0: never (subscribers never) */
        unsigned max_connections;   /* >= 1 */
        /* Besides root and the daemon's own user, peers with one of these
         * uids, or one of these gids as primary or supplementary group. */
        const uid_t *allow_uids;
        size_t n_allow_uids;
        const gid_t *allow_gids;
        size_t n_allow_gids;
};

/* Who is on the other end of a connection (SO_PEERCRED at accept). */
struct control_peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        char user[64]; /* user name, or the uid in decimal when it has none */
};

struct json_object;
struct control;
struct control_conn;

/* Handles one request that came on CONN; returns a new reply object (the
 * control module sends and frees it). Never NULL. */
typedef struct json_object *(*control_handler_t)(struct control_conn *conn, struct json_object *request,
                                                 void *userdata);

/* Listens on O->path (mode O->mode, parent directory created), or adopts
 * a socket passed by systemd (sd_listen_fds) when there is one. O is
 * copied. */
int control_new(sd_event *e, const struct control_options *o, control_handler_t handler, void *userdata,
                struct control **ret);
struct control *control_free(struct control *c);
/* Reload: takes the limits and allow-lists of O (path and mode stay);
 * they apply to connections accepted from now on. -ENOMEM. */
int control_set_options(struct control *c, const struct control_options *o);

/* The peer of CONN, valid while CONN is (inside the handler). */
const struct control_peer *control_conn_peer(const struct control_conn *conn);
/* Connections open now, for tests and status. */
unsigned control_connections(const struct control *c);

/* Gives the socket control_new() made to group GID (control.group), so
 * that the group's members may connect (also on reload): 1; a no-op (0)
 * for a socket systemd passed (its SocketGroup= applies) or GID
 * (gid_t)-1; -errno (logged). */
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

/* Event stream: from a handler, marks CONN subscribed; it then gets every
 * control_broadcast() after the reply (and may still send requests: their
 * replies have "ok", events have "event"). */
void control_conn_subscribe(struct control_conn *conn);
/* Queues EV (not consumed) as one line to every subscribed connection,
 * without blocking: a subscriber with more than 1 MiB unread is dropped. */
void control_broadcast(struct control *c, struct json_object *ev);
/* Subscribed connections, for tests and status. */
unsigned control_subscribers(const struct control *c);
