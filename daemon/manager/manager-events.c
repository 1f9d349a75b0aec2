/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-events.c: what the Manager tells the world about the air. The
 * as-run log gets one record per item that left the air (or failed before
 * it); control clients that subscribed get events (on_air, off_air,
 * next_up, queue_changed, alert), and the caption sinks learn the story
 * next up. Queue changes are found by comparing a hash of the queue's ids
 * with the last one announced, at every manager_update_cue(): every code
 * path that edits the queue already ends there, so none of them can forget
 * an event. Wall-clock times of the air are derived from the playout
 * thread's CLOCK_MONOTONIC stamps (the moment frames were handed to the
 * device), not from when the loop got round to reading them. Loop thread
 * only. */
#include "manager-events.h"
#include "manager-http.h"
#include "manager-internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aclock.h"
#include "asrun.h"
#include "captions.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "json-util.h"
#include "log.h"
#include "queue.h"
#include "timeutil.h"

#define ASRUN_REPLY_MAX_BYTES (512u * 1024u) /* a page of records; the reply limit is 1 MiB */

/* The wall-clock time (ms) of a CLOCK_MONOTONIC moment in the recent past. */
/* What the event stream remembers between calls. */
struct manager_events {
        struct asrun *asrun;
        uint64_t next_up_id;      /* the story last announced as next up, 0 nothing */
        uint64_t queue_signature; /* hash of the queue's ids when last announced */
        char *last_alert;         /* shown in STATUS= for ALERT_STATUS_NS */
        uint64_t last_alert_ns;   /* CLOCK_MONOTONIC */
};

#define ALERT_STATUS_NS (300ULL * 1000000000ULL)

static int64_t mono_to_wall_ms(uint64_t mono_ns) {
        int64_t ago_ns = (int64_t)(aclock_now_ns() - mono_ns);

        return wall_now_ms() - ago_ns / 1000000;
}

static char *asrun_path(const struct nextup_config *c) {
        char *p = NULL;

        if (c->asrun_path)
                return strdup(c->asrun_path);
        if (c->state_dir && asprintf(&p, "%s/asrun.jsonl", c->state_dir) < 0)
                return NULL;
        return p;
}

static uint64_t queue_hash(const struct queue *q) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

        for (size_t i = 0; i < queue_size(q); i++) {
                uint64_t id = queue_get(q, i)->id;

                for (int b = 0; b < 8; b++) {
                        h ^= (id >> (8 * b)) & 0xff;
                        h *= UINT64_C(1099511628211);
                }
        }
        return h ^ queue_size(q);
}

int manager_events_start(struct manager *m) {
        _cleanup_free_ char *path = asrun_path(m->config);
        int r;

        if (!path && (m->config->asrun_path || m->config->state_dir))
                return -ENOMEM;
        m->events = calloc(1, sizeof *m->events);
        if (!m->events)
                return -ENOMEM;
        r = asrun_new(m->event, path, 0, &m->events->asrun);
        if (r < 0)
                return r;
        m->events->queue_signature = queue_hash(m->queue);
        log_info("As-run log: '%s'", path ? path : "(off)");
        return 0;
}

void manager_events_reload(struct manager *m) {
        _cleanup_free_ char *path = asrun_path(m->config);

        if (!m->events || !m->events->asrun || (!path && (m->config->asrun_path || m->config->state_dir)))
                return;
        if (asrun_set_path(m->events->asrun, path) < 0)
                log_warning("Cannot switch the as-run log to '%s' (out of memory), keeping the old one",
                            path);
}

void manager_event(struct manager *m, struct json_object *ev) {
        if (!ev)
                return;
        json_object_object_add(ev, "time_ms", json_object_new_int64(wall_now_ms()));
        if (m->control)
                control_broadcast(m->control, ev);
        json_object_put(ev);
}

static struct json_object *event_new(const char *name) {
        struct json_object *ev = json_object_new_object();

        if (ev)
                json_object_object_add(ev, "event", json_object_new_string(name));
        return ev;
}

void manager_alert(struct manager *m, const char *what, const char *fmt, ...) {
        struct json_object *ev = event_new("alert");
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (!ev)
                return;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        json_object_object_add(ev, "what", json_object_new_string(what));
        json_object_object_add(ev, "message", r >= 0 ? json_object_new_string(msg) : NULL);
        if (r < 0)
                msg = NULL;
        if (m->captions)
                captions_alert(m->captions, what, msg ? msg : what);
        manager_http_count(m, "alert");
        free(m->last_alert);
        if (asprintf(&m->last_alert, "%s: %s", what, msg ? msg : what) < 0)
                m->last_alert = NULL;
        m->last_alert_ms = wall_now_ms();
        manager_event(m, ev);
        if (m->events) {
                free(m->events->last_alert);
                m->events->last_alert = strdup(msg ? msg : what);
                m->events->last_alert_ns = aclock_now_ns();
                manager_update_status(m);
        }
}

const char *manager_events_recent_alert(struct manager *m) {
        if (!m->events || !m->events->last_alert ||
            aclock_now_ns() - m->events->last_alert_ns > ALERT_STATUS_NS)
                return NULL;
        return m->events->last_alert;
}

void manager_events_on_air(struct manager *m, struct story *story, const struct playout_event *ev) {
        struct json_object *e = event_new("on_air");

        story->aired_ms = mono_to_wall_ms(ev->mono_ns);
        story->aired_from_ms = ev->start_frame > 0 ? ev->start_frame * 1000 / m->config->rate : 0;
        if (!e)
                return;
        json_object_object_add(e, "story", story_to_json(story));
        json_object_object_add(e, "start_ms", json_object_new_int64(story->aired_ms));
        manager_event(m, e);
}

static const char *story_kind(const struct story *s) {
        return s->filler ? "filler" : s->scheduled_ms > 0 ? "scheduled" : "story";
}

static const struct asrun_peer *peer_of(const struct story_peer *p, struct asrun_peer *buf) {
        if (!p->known)
                return NULL;
        *buf = (struct asrun_peer){.uid = p->uid, .pid = p->pid, .user = p->user};
        return buf;
}

void manager_events_off_air(struct manager *m, const struct story *story, enum playout_end_reason reason,
                            int64_t played_ms, uint64_t end_mono_ns) {
        int64_t end = end_mono_ns ? mono_to_wall_ms(end_mono_ns) : wall_now_ms();
        bool aired = story->aired_ms > 0;
        struct asrun_peer queued_by, ended_by;
        struct asrun_record rec = {
                .id = story->id,
                .title = story->title,
                .audio = story->audio_path,
                .transcript = story->transcript_path,
                .kind = story_kind(story),
                .scheduled_ms = story->scheduled_ms,
                .start_ms = aired ? story->aired_ms : end,
                .end_ms = end,
                .played_ms = played_ms,
                .output_down_ms = m->ended_down_ms,
                .reason = reason,
                .planned_ms =
                        story->duration_ms >= 0 ? MAX(story->duration_ms - story->aired_from_ms, 0) : -1,
                .cues_emitted = aired ? captions_emitted(m->captions) : 0,
                .cues_dropped = aired ? captions_dropped(m->captions) : 0,
                .timing = story->timing,
                .queued_by = peer_of(&story->queued_by, &queued_by),
                .ended_by = peer_of(&story->ended_by, &ended_by),
        };
        struct json_object *e;

        manager_http_off_air(m, story, reason, played_ms);
        m->ended_down_ms = 0;
        if (m->events && m->events->asrun && asrun_append(m->events->asrun, &rec) == -ENOMEM)
                log_error("As-run record of #%llu lost (out of memory)", (unsigned long long)story->id);
        e = event_new("off_air");
        if (!e)
                return;
        json_object_object_add(e, "story", story_to_json(story));
        json_object_object_add(e, "reason", json_object_new_string(playout_end_reason_to_string(reason)));
        json_object_object_add(e, "played_ms", json_object_new_int64(played_ms));
        manager_event(m, e);
}

void manager_events_stop(struct manager *m) {
        int64_t played;

        if (!m->on_air || !m->events || !m->events->asrun)
                return;
        played = MAX(manager_position_ms(m) - m->on_air->aired_from_ms, 0);
        if (m->captions)
                captions_story_ended(m->captions, m->on_air);
        manager_events_off_air(m, m->on_air, PLAYOUT_END_SHUTDOWN, played, 0);
}

void manager_events_queue(struct manager *m) {
        struct story *front = queue_get(m->queue, 0);
        uint64_t id = front ? front->id : 0, sig = queue_hash(m->queue);
        struct json_object *e;

        if (!m->events)
                return;
        if (sig != m->events->queue_signature) {
                m->events->queue_signature = sig;
                if ((e = event_new("queue_changed"))) {
                        json_object_object_add(e, "queue_length",
                                               json_object_new_int64((int64_t)queue_size(m->queue)));
                        if (m->peer) {
                                struct json_object *by = json_object_new_object();

                                json_object_object_add(by, "uid", json_object_new_int64(m->peer->uid));
                                json_object_object_add(by, "user", json_object_new_string(m->peer->user));
                                json_object_object_add(e, "by", by);
                        }
                        manager_event(m, e);
                }
        }
        if (id == m->events->next_up_id)
                return;
        m->events->next_up_id = id;
        log_debug("Next up: %s", front ? front->title : "nothing");
        if (m->captions)
                captions_next_up(m->captions, front);
        if ((e = event_new("next_up"))) {
                json_object_object_add(e, "story", front ? story_to_json(front) : NULL);
                manager_event(m, e);
        }
}

/* ---- {"cmd":"asrun","since":MS,"until":MS,"offset":BYTES} ----------- */

struct json_object *manager_cmd_asrun(struct manager *m, struct json_object *req) {
        int64_t since = INT64_MIN, until = INT64_MAX, offset = 0, next;
        struct json_object *records, *reply;
        int r;

        if (json_get_int(req, "since", &since) < 0 || json_get_int(req, "until", &until) < 0 ||
            json_get_int(req, "offset", &offset) < 0 || offset < 0)
                return control_error(
                        "'asrun' takes optional integers \"since\" and \"until\" (wall clock ms) "
                        "and \"offset\" (>= 0)");
        r = asrun_query(m->events->asrun, since, until, offset, ASRUN_REPLY_MAX_BYTES, &records, &next);
        if (r < 0)
                return control_error("cannot read the as-run log: %s", strerror(-r));
        reply = control_ok();
        json_object_object_add(reply, "records", records);
        if (next >= 0)
                json_object_object_add(reply, "next_offset", json_object_new_int64(next));
        return reply;
}

void manager_events_free(struct manager *m) {
        if (!m->events)
                return;
        asrun_free(m->events->asrun);
        free(m->events->last_alert);
        free(m->events);
        m->events = NULL;
}
