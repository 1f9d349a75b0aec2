/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-http.h: the HTTP server (config http { }) and its metrics
 * (manager-http.c; struct manager_http stays inside it). A bottom part:
 * the event stream counts into it; what it serves of the layers above
 * (the status reply) comes through the callback given to start.
 * Loop thread only. */
#pragma once

#include <stdint.h>

#include "playout.h"

struct captions;
struct json_object;
struct manager;
struct sink;
struct story;

/* STATUS(M): the control socket's status reply, a new reference (NULL on
 * ENOMEM), served as /status. */
typedef struct json_object *(*manager_http_status_fn)(struct manager *m);

/* start: before the captions (their sinks feed it); it always allocates
 * the counters (-ENOMEM), a server that cannot listen is logged and left
 * out. stop: after the captions are freed. sink: the SSE sink to add to
 * a new captions (*ret NULL when no server). watch: C records its cue
 * lateness into the metrics. off_air/count: counters. */
int manager_http_start(struct manager *m, manager_http_status_fn status);
void manager_http_stop(struct manager *m);
int manager_http_sink(struct manager *m, int latency_ms, struct sink **ret);
void manager_http_watch(struct manager *m, struct captions *c);
void manager_http_off_air(struct manager *m, const struct story *s, enum playout_end_reason reason,
                          int64_t played_ms);
void manager_http_count(struct manager *m, const char *what); /* "silence", "dead_air", "alert" */
