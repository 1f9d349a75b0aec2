/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-events.h: the interface of manager-events.c (struct
 * manager_events stays inside it).
 * Loop thread only. */
#pragma once

#include <stdint.h>

#include "playout.h"

struct json_object;
struct manager;
struct story;

/* manager-events.c: the as-run log and the control socket's event stream.
 * manager_event takes EV ({"event": NAME, ...}), adds "time_ms" (wall
 * clock) and sends it to every subscriber. manager_alert sends
 * {"event":"alert","what":WHAT,"message":...} (the caller logs). */
int manager_events_start(struct manager *m);   /* opens the as-run log; -ENOMEM */
void manager_events_stop(struct manager *m);   /* the story on air ends with "shutdown" */
void manager_events_free(struct manager *m);   /* after playout_stop: closes the as-run log */
void manager_events_reload(struct manager *m); /* the as-run path may have changed */
void manager_event(struct manager *m, struct json_object *ev);
void manager_alert(struct manager *m, const char *what, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* STORY went on air (its frame 0 handed at EV->mono_ns). */
void manager_events_on_air(struct manager *m, struct story *story, const struct playout_event *ev);
/* STORY left the air (or failed before it): the as-run record and the
 * off_air event; PLAYED_MS of it played, ended at END_MONO_NS (0: now). */
void manager_events_off_air(struct manager *m, const struct story *story, enum playout_end_reason reason,
                            int64_t played_ms, uint64_t end_mono_ns);
/* After any change of the queue: next_up and queue_changed events, sinks
 * told of the new next up. Cheap when nothing changed. */
void manager_events_queue(struct manager *m);
struct json_object *manager_cmd_asrun(struct manager *m, struct json_object *req);
