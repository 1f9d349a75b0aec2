/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-schedule.c: clock events on air. The config's schedule section
 * (recurring) and `at` requests (one-off, saved with the state) go into
 * one schedule (schedule.h), driven by a CLOCK_REALTIME cancel-on-set
 * timer.
 *
 * SCHEDULE_LEAD_S before its time an event's story is built ("prepared":
 * transcript parsed, audio scan and alignment started on the worker) and
 * held here, outside the queue, so it cannot start early. Then by mode:
 *  - hard: handed to the playout thread as a hard start, with the time
 *    converted to CLOCK_MONOTONIC as late as we can (and again when the
 *    clock is set); the playout thread opens the file at once and cuts
 *    whatever plays on the exact frame. It holds one pending hard start,
 *    so hard events go to it one at a time: the next when the previous
 *    one has STARTED. Which one it holds is the cue's (manager-cue.c):
 *    this file says which it should hold (manager_schedule_hard) and asks
 *    the loop to sync it (manager_update_hard) when that may change.
 *  - soft: at its time it goes to the front of the queue (Next Up).
 *  - wait N: decided when prepared, from what is on air and queued: if
 *    the item playing at T would end more than N s after T, hard, else
 *    soft; and a soft one still not on air N s after T is started hard
 *    then (the prediction was wrong: a pause, an unknown length).
 * Same second: the first in schedule order (config order, then one-off
 * events as added) plays; the others follow it as Next Up, in that order.
 * A prepared story is handed over when the manager handles its STARTED
 * (or its ENDED with an error): manager_cue_take takes it from here as it
 * takes a queued one from the queue, and from there on it is like any. */
#include "manager-schedule.h"
#include "manager-events.h"
#include "manager-ingest.h"
#include "manager-internal.h"
#include "manager-persist.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aclock.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "json-util.h"
#include "log.h"
#include "playout.h"
#include "queue.h"
#include "schedule.h"
#include "segment.h"
#include "story.h"
#include "timeutil.h"

#define NS INT64_C(1000000000)
/* A pending hard start is not replaced this close to its time: the
 * playout thread may be handing its first frame already. */
#define HARD_REPLACE_MARGIN_NS (INT64_C(300) * 1000000)
/* A late hard start (wait mode's fallback, an event fired late) is set
 * this far ahead, time for the playout thread to open the file. */
#define HARD_LATE_NS (INT64_C(300) * 1000000)

struct prepared {
        struct story *story; /* owned until it goes into the queue */
        uint64_t event_id;
        int64_t at_ns; /* CLOCK_REALTIME */
        unsigned order;
        bool hard;       /* the mode decided when prepared */
        bool fired;      /* its time came; a hard one waits for STARTED */
        bool leaving;    /* its event's unschedule is being saved: no hard start meanwhile */
        unsigned timing; /* counts changes of at_ns once handed (a clock set) */
};

struct watch { /* wait mode, soft branch */
        uint64_t story_id;
        int64_t deadline_ns; /* hard start if not on air by then */
        char *name;
};

struct manager_schedule {
        struct schedule *list;
        struct schedule_timer *timer;
        struct prepared *prep;
        size_t n_prep;
        struct watch *watches;
        size_t n_watches;
        time_t fire_second; /* soft events of one second queue in order */
        size_t fire_pos;
        bool restored;
};

static int rearm(struct manager *m);

/* ---- prepared stories ------------------------------------------------ */

static struct prepared *prep_by_story(struct manager_schedule *s, uint64_t story_id) {
        for (size_t i = 0; i < s->n_prep; i++)
                if (s->prep[i].story->id == story_id)
                        return &s->prep[i];
        return NULL;
}

static struct prepared *prep_by_event(struct manager_schedule *s, uint64_t event_id) {
        for (size_t i = 0; i < s->n_prep; i++)
                if (s->prep[i].event_id == event_id)
                        return &s->prep[i];
        return NULL;
}

/* Removes P from the list and returns its story (caller owns). */
static struct story *prep_take(struct manager_schedule *s, struct prepared *p) {
        struct story *story = p->story;
        size_t i = (size_t)(p - s->prep);

        memmove(s->prep + i, s->prep + i + 1, (s->n_prep - i - 1) * sizeof *s->prep);
        s->n_prep--;
        return story;
}

struct story *manager_schedule_find(struct manager *m, uint64_t story_id) {
        struct prepared *p = m->sched ? prep_by_story(m->sched, story_id) : NULL;

        return p ? p->story : NULL;
}

/* Realtime -> monotonic, read back to back so the offset is as fresh as
 * it can be (the two clocks differ by steps, not by rate). */
static uint64_t realtime_to_mono(int64_t at_ns) {
        int64_t real = wall_now_ns();
        uint64_t mono = aclock_now_ns();

        return at_ns > real ? mono + (uint64_t)(at_ns - real) : mono;
}

static bool has_hard(const struct manager_schedule *s) {
        for (size_t i = 0; i < s->n_prep; i++)
                if (s->prep[i].hard && !s->prep[i].leaving)
                        return true;
        return false;
}

/* The playout thread holds one hard start: the earliest one, unless the
 * one it holds is due (it must not be replaced any more). One whose time
 * came while another was held starts as soon as possible: HARD_LATE_NS
 * from when it is handed, time to open its file. */
bool manager_schedule_hard(struct manager *m, uint64_t held_id, struct manager_hard *ret) {
        struct manager_schedule *s = m->sched;
        struct prepared *best = NULL, *held = s && held_id ? prep_by_story(s, held_id) : NULL;
        int64_t now = wall_now_ns();

        for (size_t i = 0; s && i < s->n_prep; i++) {
                struct prepared *p = &s->prep[i];

                if (p->hard && !p->leaving &&
                    (!best || p->at_ns < best->at_ns || (p->at_ns == best->at_ns && p->order < best->order)))
                        best = p;
        }
        if (held && held != best && (held->fired || held->at_ns - now < HARD_REPLACE_MARGIN_NS))
                best = held; /* it starts now; the next one follows its STARTED */
        if (!best)
                return false;
        if (best != held && best->fired && best->at_ns <= now) {
                struct schedule_event *ev = schedule_find(s->list, best->event_id);

                log_warning("Schedule '%s': starting late", ev ? ev->name : best->story->title);
                best->at_ns = now + HARD_LATE_NS;
        }
        *ret = (struct manager_hard){
                .story = best->story, .at_ns = realtime_to_mono(best->at_ns), .timing = best->timing};
        return true;
}

/* Cancels and frees what an event prepared. */
static void prep_drop(struct manager *m, struct prepared *p) {
        story_free(prep_take(m->sched, p));
        manager_update_hard(m); /* cancelled, or the next one */
}

/* ---- deciding the mode ----------------------------------------------- */

/* Wait mode: does the item playing at AT_NS end more than WAIT_S after it?
 * Walks from the story on air through the queue; an unknown length
 * counts as late. */
static bool ends_late(struct manager *m, int64_t at_ns, int wait_s) {
        int64_t end = wall_now_ns(), gap = (int64_t)m->config->gap_ms * 1000000;

        if (m->on_air) {
                if (m->on_air->duration_ms < 0)
                        return true;
                end += (m->on_air->duration_ms - manager_position_ms(m)) * 1000000;
        }
        for (size_t i = 0; end <= at_ns; i++) {
                struct story *q = queue_get(m->queue, i);

                if (!q)
                        return false; /* nothing plays at T: soft starts it then */
                if (q->duration_ms < 0)
                        return true;
                end += gap + q->duration_ms * 1000000;
        }
        return end > at_ns + (int64_t)wait_s * NS;
}

static bool decide_hard(struct manager *m, const struct schedule_event *ev, int64_t at_ns) {
        bool hard =
                ev->mode == SCHEDULE_HARD || (ev->mode == SCHEDULE_WAIT && ends_late(m, at_ns, ev->wait_s));

        if (!hard)
                return false;
        for (size_t i = 0; i < m->sched->n_prep; i++)
                if (m->sched->prep[i].hard && m->sched->prep[i].at_ns == at_ns) {
                        log_notice("Schedule '%s': same second as another hard event, follows it as next up",
                                   ev->name);
                        return false;
                }
        return true;
}

/* ---- the schedule's callbacks ---------------------------------------- */

static void on_prepare(struct schedule_event *ev, void *userdata) {
        struct manager *m = userdata;
        _cleanup_free_ char *error = NULL;
        struct prepared *a, p = {.event_id = ev->id, .at_ns = (int64_t)ev->at * NS, .order = ev->order};
        int r;

        r = manager_story_new(m, ev->audio, ev->transcript, &p.story, &error);
        if (r < 0) {
                log_error("Schedule '%s': %s; it will not play", ev->name, error ? error : strerror(-r));
                manager_alert(m, "schedule", "'%s': %s", ev->name, error ? error : strerror(-r));
                return;
        }
        a = reallocarray(m->sched->prep, m->sched->n_prep + 1, sizeof *a);
        if (!a) {
                story_free(p.story);
                log_error("Schedule '%s': out of memory; it will not play", ev->name);
                return;
        }
        m->sched->prep = a;
        p.story->scheduled_ms = p.at_ns / 1000000;
        p.hard = decide_hard(m, ev, p.at_ns);
        m->sched->prep[m->sched->n_prep++] = p;
        log_info("Schedule '%s': prepared #%llu '%s' (%s%s)", ev->name, (unsigned long long)p.story->id,
                 p.story->title, schedule_mode_to_string(ev->mode),
                 ev->mode == SCHEDULE_WAIT ? (p.hard ? ": hard" : ": soft") : "");
        manager_update_hard(m);
}

static int add_watch(struct manager_schedule *s, uint64_t story_id, int64_t deadline_ns, const char *name) {
        struct watch *a = reallocarray(s->watches, s->n_watches + 1, sizeof *a);

        if (!a)
                return -ENOMEM;
        s->watches = a;
        a[s->n_watches] =
                (struct watch){.story_id = story_id, .deadline_ns = deadline_ns, .name = strdup(name)};
        s->n_watches++;
        return 0;
}

/* Soft: to the front of the queue, after those of the same second. */
static void fire_soft(struct manager *m, const struct schedule_event *ev, struct prepared *p) {
        struct manager_schedule *s = m->sched;
        struct story *story;
        size_t pos = 0;

        if (s->fire_second == ev->at)
                pos = s->fire_pos;
        s->fire_second = ev->at;
        s->fire_pos = pos + 1;
        story = prep_take(s, p);
        pos = MIN(pos, queue_size(m->queue));
        if (queue_insert_with_id(m->queue, pos, story) < 0) {
                log_error("Schedule '%s': cannot queue #%llu", ev->name, (unsigned long long)story->id);
                story_free(story);
                return;
        }
        log_info("Schedule '%s': #%llu '%s' is next up at position %zu", ev->name,
                 (unsigned long long)story->id, story->title, pos);
        if (ev->mode == SCHEDULE_WAIT &&
            add_watch(s, story->id, (int64_t)(ev->at + ev->wait_s) * NS, ev->name) < 0)
                log_warning("Schedule '%s': out of memory, it waits for the current item however long",
                            ev->name);
        manager_update_cue(m);
        manager_update_status(m);
        manager_persist_changed(m);
}

static void on_fire(struct schedule_event *ev, void *userdata) {
        struct manager *m = userdata;
        struct prepared *p = prep_by_event(m->sched, ev->id);

        if (!p) {
                log_warning("Schedule '%s': its time came, but its story could not be prepared", ev->name);
                return;
        }
        if (!p->hard) {
                fire_soft(m, ev, p);
                return;
        }
        p->fired = true;
        manager_update_hard(m); /* held back behind another: as soon as possible */
        log_info("Schedule '%s': hard start of #%llu", ev->name, (unsigned long long)p->story->id);
}

static void on_missed(struct schedule_event *ev, void *userdata) {
        struct manager *m = userdata;
        struct prepared *p = prep_by_event(m->sched, ev->id);

        log_warning(
                "Schedule '%s': missed its time (%lld s ago: the clock was set forward, or nextupd was not "
                "running), %s",
                ev->name, (long long)(time(NULL) - ev->at),
                ev->recurring ? "waiting for the next occurrence" : "dropping it");
        manager_alert(m, "schedule_missed", "'%s' missed its time", ev->name);
        if (p)
                prep_drop(m, p);
        if (!ev->recurring)
                manager_persist_changed(m);
}

static const struct schedule_ops schedule_ops = {
        .prepare = on_prepare,
        .fire = on_fire,
        .missed = on_missed,
};

/* ---- timer ----------------------------------------------------------- */

/* Wait mode's fallback: a soft story still queued at T + N starts hard. */
static int64_t check_watches(struct manager *m, int64_t now) {
        struct manager_schedule *s = m->sched;
        int64_t next = INT64_MAX;

        for (size_t i = 0; i < s->n_watches;) {
                struct watch *w = &s->watches[i];
                struct story *story;

                if (w->deadline_ns > now) {
                        next = MIN(next, w->deadline_ns);
                        i++;
                        continue;
                }
                story = has_hard(s) ? NULL : queue_take(m->queue, w->story_id);
                if (story) {
                        struct prepared *a = reallocarray(s->prep, s->n_prep + 1, sizeof *a);

                        if (a) {
                                log_notice("Schedule '%s': #%llu still not on air, starting it hard",
                                           w->name, (unsigned long long)story->id);
                                s->prep = a;
                                a[s->n_prep] = (struct prepared){.story = story,
                                                                 .at_ns = now + HARD_LATE_NS,
                                                                 .hard = true,
                                                                 .fired = true};
                                s->n_prep++;
                                manager_update_hard(m);
                        } else
                                (void)queue_insert_with_id(m->queue, 0, story);
                }
                free(w->name);
                memmove(w, w + 1, (s->n_watches - i - 1) * sizeof *w);
                s->n_watches--;
        }
        return next;
}

static int rearm(struct manager *m) {
        int64_t now = wall_now_ns();
        int64_t next = MIN(schedule_run(m->sched->list, now), check_watches(m, now));
        int r = schedule_timer_arm(m->sched->timer, next);

        if (r < 0)
                return log_error_errno(r, "Cannot arm the schedule timer: %m");
        return 0;
}

static void on_timer(bool clock_changed, void *userdata) {
        struct manager *m = userdata;
        struct manager_schedule *s = m->sched;

        if (clock_changed) {
                log_notice("The system clock was set: re-timing the schedule");
                schedule_clock_changed(s->list, wall_now_ns());
                for (size_t i = 0; i < s->n_prep; i++) {
                        struct schedule_event *ev = schedule_find(s->list, s->prep[i].event_id);

                        if (ev && !s->prep[i].fired) {
                                s->prep[i].at_ns = (int64_t)ev->at * NS;
                                s->prep[i].timing++;
                        }
                }
                manager_update_hard(m); /* the same instant is now another monotonic time */
        }
        rearm(m);
}

/* ---- playout events -------------------------------------------------- */

void manager_schedule_playout_event(struct manager *m, const struct playout_event *ev) {
        struct manager_schedule *s = m->sched;

        if (!s ||
            (ev->type != PLAYOUT_STARTED && !(ev->type == PLAYOUT_ENDED && ev->reason == PLAYOUT_END_ERROR)))
                return;
        for (size_t i = 0; ev->type == PLAYOUT_STARTED && i < s->n_watches; i++)
                if (s->watches[i].story_id == ev->item_id)
                        s->watches[i].deadline_ns = 0; /* on air in time: dropped at the next check */
}

struct story *manager_schedule_take(struct manager *m, uint64_t story_id) {
        struct manager_schedule *s = m->sched;
        struct prepared *p = s ? prep_by_story(s, story_id) : NULL;
        struct story *story;

        if (!p)
                return NULL;
        story = prep_take(s, p);
        rearm(m);
        return story;
}

/* ---- persistence: the one-off events --------------------------------- */

static struct json_object *event_to_json(const struct schedule_event *ev, bool full) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, full ? "event" : "id", json_object_new_int64((int64_t)ev->id));
        json_object_object_add(o, "name", json_object_new_string(ev->name));
        json_object_object_add(o, "at_ms", json_object_new_int64((int64_t)ev->at * 1000));
        json_object_object_add(o, "mode", json_object_new_string(schedule_mode_to_string(ev->mode)));
        json_object_object_add(o, "wait_s", json_object_new_int(ev->wait_s));
        json_object_object_add(o, "audio", json_object_new_string(ev->audio));
        json_object_object_add(o, "transcript", json_object_new_string(ev->transcript));
        return o;
}

struct json_object *manager_schedule_state(void *userdata) {
        struct manager *m = userdata;
        struct json_object *o, *arr;

        /* Before the restore, what the last run saved stays saved. */
        if (!m->sched || !m->sched->restored)
                return json_object_get(manager_persist_schedule_restored(m));
        o = json_object_new_object();
        arr = json_object_new_array();
        json_object_object_add(o, "next_event",
                               json_object_new_int64((int64_t)schedule_next_id(m->sched->list)));
        for (size_t i = 0; i < schedule_size(m->sched->list); i++) {
                const struct schedule_event *ev = schedule_get(m->sched->list, i);

                if (!ev->recurring)
                        json_object_array_add(arr, event_to_json(ev, false));
        }
        json_object_object_add(o, "events", arr);
        return o;
}

static int restore_one(struct manager *m, struct json_object *o) {
        int64_t id, at_ms, wait_s = 30;
        int mode = schedule_mode_from_string(json_get_str(o, "mode"));
        struct schedule_event t = {
                .name = (char *)json_get_str(o, "name"),
                .audio = (char *)json_get_str(o, "audio"),
                .transcript = (char *)json_get_str(o, "transcript"),
        };

        if (json_get_int(o, "id", &id) <= 0 || id <= 0 || json_get_int(o, "at_ms", &at_ms) <= 0 ||
            mode < 0 || !t.name || !t.audio || !t.transcript ||
            (json_get_int(o, "wait_s", &wait_s) > 0 && (wait_s < 0 || wait_s > 3600)))
                return -EBADMSG;
        t.id = (uint64_t)id;
        t.at = (time_t)(at_ms / 1000);
        t.mode = (enum schedule_mode)mode;
        t.wait_s = (int)wait_s;
        return schedule_add(m->sched->list, &t, time(NULL), NULL);
}

void manager_schedule_restore(struct manager *m) {
        struct json_object *saved = manager_persist_schedule_restored(m), *arr;
        int64_t next = 0;
        size_t n = 0;

        if (!m->sched)
                return;
        if (saved && json_get_int(saved, "next_event", &next) > 0 && next > 0)
                schedule_set_next_id(m->sched->list, (uint64_t)next);
        if (saved && json_object_object_get_ex(saved, "events", &arr) &&
            json_object_is_type(arr, json_type_array))
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        int r = restore_one(m, json_object_array_get_idx(arr, i));

                        if (r < 0)
                                log_error_errno(r, "Cannot restore schedule event %zu: %m, dropping it", i);
                        else
                                n++;
                }
        m->sched->restored = true;
        if (n > 0)
                log_info("Restored %zu one-off clock event%s", n, n == 1 ? "" : "s");
        rearm(m); /* events missed while down are reported here */
        manager_persist_changed(m);
}

/* ---- start, reload, stop --------------------------------------------- */

static bool same_entry(const struct schedule_event *ev, const struct schedule_config *c) {
        return ev->recurring && strcmp(ev->name, c->name) == 0 && ev->hour == c->hour &&
               ev->minute == c->minute && ev->second == c->second && ev->days == c->days &&
               ev->mode == c->mode && ev->wait_s == c->wait_s && strcmp(ev->audio, c->audio) == 0 &&
               strcmp(ev->transcript, c->transcript) == 0;
}

static void add_config_entry(struct manager *m, const struct schedule_config *c, unsigned order) {
        struct schedule_event t = {
                .name = c->name,
                .recurring = true,
                .hour = c->hour,
                .minute = c->minute,
                .second = c->second,
                .days = c->days,
                .mode = c->mode,
                .wait_s = c->wait_s,
                .audio = c->audio,
                .transcript = c->transcript,
                .order = order,
        };
        struct schedule_event *ev;
        int r = schedule_add(m->sched->list, &t, time(NULL), &ev);

        if (r < 0)
                log_error_errno(r, "Cannot schedule '%s': %m", c->name);
}

/* Entries that did not change keep their state (a prepared story, the
 * occurrence fired last); the others go, and new ones come. */
static void load_config(struct manager *m) {
        struct schedule *list = m->sched->list;
        bool *kept = calloc(m->config->n_schedule + 1, sizeof *kept);

        for (size_t i = 0; i < schedule_size(list);) {
                struct schedule_event *ev = schedule_get(list, i);
                struct prepared *p;
                size_t k;

                for (k = 0; ev->recurring && k < m->config->n_schedule; k++)
                        if (kept && !kept[k] && same_entry(ev, &m->config->schedule[k]))
                                break;
                if (!ev->recurring || k < m->config->n_schedule) {
                        if (ev->recurring) {
                                kept[k] = true;
                                ev->order = (unsigned)k;
                        }
                        i++;
                        continue;
                }
                if ((p = prep_by_event(m->sched, ev->id)))
                        prep_drop(m, p);
                schedule_event_free(schedule_take(list, ev->id));
        }
        for (size_t k = 0; k < m->config->n_schedule; k++)
                if (!kept || !kept[k])
                        add_config_entry(m, &m->config->schedule[k], (unsigned)k);
        free(kept);
}

int manager_schedule_start(struct manager *m) {
        struct manager_schedule *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        m->sched = s;
        r = schedule_new(&schedule_ops, m, &s->list);
        if (r < 0)
                return r;
        r = schedule_timer_new(m->event, on_timer, m, &s->timer);
        if (r < 0)
                return log_error_errno(r, "Cannot create the schedule timer: %m");
        load_config(m);
        if (m->config->n_schedule > 0)
                log_info("Schedule: %zu recurring event%s", m->config->n_schedule,
                         m->config->n_schedule == 1 ? "" : "s");
        return 0;
}

void manager_schedule_reload(struct manager *m) {
        if (!m->sched)
                return;
        load_config(m);
        rearm(m);
}

void manager_schedule_stop(struct manager *m) {
        struct manager_schedule *s = m->sched;

        if (!s)
                return;
        for (size_t i = 0; i < s->n_prep; i++)
                story_free(s->prep[i].story);
        free(s->prep);
        for (size_t i = 0; i < s->n_watches; i++)
                free(s->watches[i].name);
        free(s->watches);
        schedule_timer_free(s->timer);
        schedule_free(s->list);
        free(s);
        m->sched = NULL;
}

/* ---- control commands ------------------------------------------------ */

/* The request's mode and wait_s into T; an error reply or NULL. */
static struct json_object *parse_mode(struct json_object *req, struct schedule_event *t) {
        const char *mode = json_get_str(req, "mode"), *why;
        uint64_t wait_s = 30;
        bool has_wait = json_object_object_get_ex(req, "wait_s", NULL);
        int r = mode ? schedule_mode_from_string(mode) : SCHEDULE_SOFT;

        if (r < 0)
                return control_error("'at': \"mode\" must be \"hard\", \"soft\" or \"wait\"");
        if (has_wait && r != SCHEDULE_WAIT)
                return control_error("'at': \"wait_s\" is only for mode \"wait\"");
        if (has_wait && control_get_uint(req, "wait_s", 3600, &wait_s, &why) < 0)
                return control_error("'at': \"wait_s\" %s (0..3600)", why);
        t->mode = (enum schedule_mode)r;
        t->wait_s = (int)wait_s;
        return NULL;
}

static struct json_object *at_reply(const struct schedule_event *ev) {
        struct json_object *reply = control_ok();

        json_object_object_add(reply, "event", json_object_new_int64((int64_t)ev->id));
        json_object_object_add(reply, "at_ms", json_object_new_int64((int64_t)ev->at * 1000));
        json_object_object_add(reply, "name", json_object_new_string(ev->name));
        json_object_object_add(reply, "mode", json_object_new_string(schedule_mode_to_string(ev->mode)));
        return reply;
}

/* The request's time and mode into T (T->audio and T->transcript
 * borrowed from REQ): NULL, or an error reply. */
static struct json_object *parse_at(struct json_object *req, struct schedule_event *t) {
        _cleanup_free_ char *error = NULL;
        struct json_object *bad;
        int r;

        r = schedule_parse_at(json_get_str(req, "time"), time(NULL), &t->at, &error);
        if (r < 0)
                return control_error(
                        "%s", error ? error : "'at' needs \"time\": HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS]");
        bad = parse_mode(req, t);
        if (bad)
                return bad;
        t->audio = (char *)json_get_str(req, "audio");
        t->transcript = (char *)json_get_str(req, "transcript");
        if (!t->audio || t->audio[0] != '/' || !t->transcript || t->transcript[0] != '/')
                return control_error("'at' needs \"audio\" and \"transcript\": absolute paths");
        return NULL;
}

/* An `at` waiting for its save: answered with REPLY once it is on disk. */
struct at_pending {
        struct control_conn *conn; /* referenced */
        struct json_object *reply;
        uint64_t id;
};

/* The save of a new event is done: armed and "ok", or taken back out and
 * refused. (A one-off event due meanwhile may have fired already.) */
static void at_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct at_pending *a = userdata;
        struct json_object *reply = TAKE_PTR(a->reply);
        const struct control_peer *peer = control_conn_peer(a->conn);

        if (r >= 0 && (r = rearm(m)) < 0) { /* never "ok" for an event that cannot fire */
                schedule_event_free(schedule_take(m->sched->list, a->id));
                manager_persist_changed(m); /* no client waits on taking it back out */
                json_object_put(reply);
                reply = control_error("'at' failed: cannot arm the schedule timer: %s", strerror(-r));
        } else if (r < 0) {
                schedule_event_free(schedule_take(m->sched->list, a->id));
                json_object_put(reply);
                reply = control_error("%s", error);
        } else
                log_info("Control: 'at' #%llu by user %s (uid %u, pid %d)", (unsigned long long)a->id,
                         peer->user, (unsigned)peer->uid, (int)peer->pid);
        control_conn_reply(a->conn, reply);
        control_conn_unref(a->conn);
        free(a);
}

/* The event of REQ, its story checked: added, then saved on the saver
 * thread (the loop never waits on the disk) and answered by at_saved;
 * NULL then, or an error reply now. */
static struct json_object *at_add(struct manager *m, struct control_conn *conn, struct json_object *req) {
        _cleanup_free_ char *error = NULL, *name = NULL;
        struct schedule_event t = {0}, *ev;
        struct json_object *bad;
        struct at_pending *a;
        uint64_t id;
        int r;

        bad = parse_at(req, &t); /* again: a time of day is for the next such time from now */
        if (bad)
                return bad;
        id = schedule_next_id(m->sched->list);
        if (json_get_str(req, "name"))
                name = strdup(json_get_str(req, "name"));
        else if (asprintf(&name, "at#%llu", (unsigned long long)id) < 0)
                name = NULL;
        a = calloc(1, sizeof *a);
        if (!name || !a) {
                free(a);
                return control_error("'at' failed: %s", strerror(ENOMEM));
        }
        t.name = name;
        r = schedule_add(m->sched->list, &t, time(NULL), &ev);
        if (r < 0) {
                free(a);
                return control_error("'at' failed: %s", strerror(-r));
        }
        log_info("Scheduled '%s' (event #%llu, %s) at %lld", ev->name, (unsigned long long)ev->id,
                 schedule_mode_to_string(ev->mode), (long long)ev->at);
        *a = (struct at_pending){.conn = control_conn_ref(conn), .reply = at_reply(ev), .id = ev->id};
        if (manager_persist_save_then(m, at_saved, a, &error) < 0) {
                schedule_event_free(schedule_take(m->sched->list, a->id));
                json_object_put(a->reply);
                control_conn_unref(a->conn);
                free(a);
                return control_error("%s", error ? error : "cannot save the state; nothing was changed");
        }
        return NULL;
}

/* `at`, once the worker has checked the story (the checks every story
 * passes, so that a bad `at` is refused rather than failing at its time;
 * the story itself is built again at its time). */
static struct story *at_checked(struct manager *m, struct control_conn *conn, struct json_object *req,
                                struct story *s, const char *why) {
        struct json_object *reply;

        if (!s) {
                control_conn_reply(conn, control_error("%s", why));
                return NULL;
        }
        story_free(s);
        m->peer = control_conn_peer(conn);
        reply = at_add(m, conn, req);
        m->peer = NULL;
        if (reply) /* refused now; else at_saved answers */
                control_conn_reply(conn, reply);
        return NULL;
}

struct json_object *manager_cmd_at(struct manager *m, struct control_conn *conn, struct json_object *req) {
        struct schedule_event t = {0};
        struct json_object *bad;
        int r;

        bad = parse_at(req, &t);
        if (bad)
                return bad;
        r = manager_check_story(m, conn, req, t.audio, t.transcript, at_checked);
        if (r < 0)
                return control_error("'at' failed: %s", strerror(-r));
        return CONTROL_REPLY_LATER;
}

struct json_object *manager_cmd_schedule(struct manager *m, struct json_object *req) {
        struct json_object *reply = control_ok(), *arr = json_object_new_array();

        for (size_t i = 0; i < schedule_size(m->sched->list); i++) {
                const struct schedule_event *ev = schedule_get(m->sched->list, i);
                struct json_object *o = event_to_json(ev, true);
                struct prepared *p = prep_by_event(m->sched, ev->id);
                char buf[32];

                json_object_object_add(o, "recurring", json_object_new_boolean(ev->recurring));
                if (ev->recurring)
                        json_object_object_add(
                                o, "days", json_object_new_string(schedule_days_to_string(ev->days, buf)));
                json_object_object_add(o, "state", json_object_new_string(p ? "prepared" : "waiting"));
                json_object_object_add(o, "story", p ? json_object_new_int64((int64_t)p->story->id) : NULL);
                if (p && ev->mode == SCHEDULE_WAIT)
                        json_object_object_add(o, "decided",
                                               json_object_new_string(p->hard ? "hard" : "soft"));
                json_object_array_add(arr, o);
        }
        json_object_object_add(reply, "events", arr);
        return reply;
}

/* An unschedule waiting for its save: the event is out of the schedule
 * (it cannot fire) and held here; what it prepared stays until saved,
 * but is not handed to the playout thread as a hard start meanwhile
 * (unless it is due already: then it is too late to take back). */
struct unschedule_pending {
        struct control_conn *conn; /* referenced; NULL: refused at once */
        struct schedule_event *ev;
};

/* Saved: what the event prepared goes, and the client hears "ok". Not
 * saved: the event goes back with its id and phase, unless its story
 * went on air meanwhile (a hard start handed to the playout thread
 * before); if its time passed meanwhile, it fires now, late. */
static void unschedule_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct unschedule_pending *u = userdata;
        struct schedule_event *ev = u->ev, *back;
        struct prepared *p = prep_by_event(m->sched, ev->id);
        struct json_object *reply;

        if (p)
                p->leaving = false;
        if (r < 0) {
                if (ev->phase == SCHEDULE_WAITING || p) {
                        if (schedule_add(m->sched->list, ev, 0, &back) >= 0)
                                back->phase = ev->phase;
                        else
                                log_error("Cannot put event #%llu '%s' back in the schedule (out of "
                                          "memory), dropping it",
                                          (unsigned long long)ev->id, ev->name);
                }
                reply = control_error("%s", error);
        } else {
                log_info("Unscheduled '%s' (event #%llu)", ev->name, (unsigned long long)ev->id);
                if (u->conn) {
                        const struct control_peer *peer = control_conn_peer(u->conn);

                        log_info("Control: 'unschedule' #%llu by user %s (uid %u, pid %d)",
                                 (unsigned long long)ev->id, peer->user, (unsigned)peer->uid,
                                 (int)peer->pid);
                }
                if (p)
                        prep_drop(m, p);
                reply = control_ok();
        }
        schedule_event_free(ev);
        manager_update_hard(m); /* its hard start again, if the unschedule was refused */
        (void)rearm(m);         /* logged */
        if (u->conn) {
                control_conn_reply(u->conn, reply);
                control_conn_unref(u->conn);
        } else
                json_object_put(reply); /* refused at once */
        free(u);
}

struct json_object *manager_cmd_unschedule(struct manager *m, struct control_conn *conn,
                                           struct json_object *req) {
        _cleanup_free_ char *error = NULL;
        struct unschedule_pending *u;
        struct schedule_event *ev;
        struct prepared *p;
        const char *why;
        uint64_t id;
        int r;

        if (control_get_uint(req, "event", CONTROL_UINT_MAX, &id, &why) < 0)
                return control_error("'unschedule': \"event\" %s (1..%" PRIu64 ")", why, CONTROL_UINT_MAX);
        ev = schedule_find(m->sched->list, (uint64_t)id);
        if (!ev)
                return control_error("no event #%lld in the schedule", (long long)id);
        if (ev->recurring)
                return control_error(
                        "event #%lld ('%s') is from the config's schedule section: change it there "
                        "and reload",
                        (long long)id, ev->name);
        u = calloc(1, sizeof *u);
        if (!u)
                return control_error("'unschedule' failed: %s", strerror(ENOMEM));
        *u = (struct unschedule_pending){.conn = control_conn_ref(conn),
                                         .ev = schedule_take(m->sched->list, (uint64_t)id)};
        if ((p = prep_by_event(m->sched, (uint64_t)id))) {
                p->leaving = true;
                manager_update_hard(m);
        }
        r = manager_persist_save_then(m, unschedule_saved, u, &error);
        if (r >= 0)
                return CONTROL_REPLY_LATER;
        /* Refused at once: the connection is not held yet, so the reply is ours. */
        control_conn_unref(TAKE_PTR(u->conn));
        unschedule_saved(m, r, error ? error : "cannot save the state; nothing was changed", u);
        return control_error("%s", error ? error : "cannot save the state; nothing was changed");
}
