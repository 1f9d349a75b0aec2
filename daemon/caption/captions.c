/* SPDX-License-Identifier: GPL-3.0-or-later */
/* captions.c: the cue timer. One clock rules all text: a cue at media
 * time t of story S is due when the frames of S handed to the device reach
 * t, plus the sink's latency. Each sink has a track: the index of its next
 * cue and one sd-event CLOCK_MONOTONIC timer (1 ms accuracy; 0 would mean
 * sd-event's 250 ms default) armed at that cue's due time, computed from
 * the latest audio clock sample of S. When the timer fires the clock is
 * read again, so a stalled or paused device moves the deadline instead of
 * letting text run ahead of the audio. Nothing here sleeps or guesses from
 * the wall clock.
 *
 * Staleness: a cue found more than CAPTIONS_STALE_NS past its due time
 * (the story started mid-way, its timing arrived late, the loop stalled)
 * is dropped, not emitted: a reader should never get a burst of text that
 * was said seconds ago. Cues less late than that are emitted at once and
 * report their lateness. Every sink runs its own track and counts its own
 * cues; the story's counts are those of the sink that fared worst, so that
 * after story end emitted + dropped is the story's number of cues.
 *
 * Monotone cues: a story can go on air with estimated times and switch to
 * aligned ones mid-story (captions_replan). The aligned start of the next
 * cue may then fall before the end of the cue already shown with its
 * estimate; sinks (the WebVTT archive above all) must never get a cue that
 * starts before the previous one ended. So each track shows a cue from
 * max(its start, the end of the last cue it emitted), computes its due
 * time from that, and hands the sinks a copy with those times (end never
 * before start). Loop thread only. */
#include "captions.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "aclock.h"
#include "cleanup.h"
#include "log.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"

#define NSEC_PER_MSEC UINT64_C(1000000)
#define CAPTIONS_ACCURACY_USEC UINT64_C(1000) /* timer accuracy: 1 ms */
#define CAPTIONS_RETRY_NS (5 * NSEC_PER_MSEC) /* clock not yet for our story */
#define CAPTIONS_EARLY_NS (NSEC_PER_MSEC / 2) /* emit if due within 0.5 ms */
#define CAPTIONS_STALE_NS ((int64_t)(2000 * NSEC_PER_MSEC))

struct track {
        struct captions *owner;
        struct sink *sink;
        sd_event_source *timer;
        size_t next;             /* next cue of the story on air */
        size_t emitted, dropped; /* for this story */
        int64_t last_end_ms;     /* story-time end of the last cue emitted, -1: none */
        bool failed;             /* a sink error was logged for this story */
};

struct captions {
        sd_event *event;
        struct aclock *clock;
        struct sink **sinks;
        size_t n_sinks;
        struct track *tracks;
        struct story *story;       /* on air, not owned */
        struct aclock_sample last; /* latest sample read for story */
        bool have_last;
        struct captions_lateness *lateness; /* not owned, NULL: not recorded */
};

const int64_t captions_lateness_bounds_us[CAPTIONS_LATENESS_BUCKETS] = {
        100, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 500000, 2000000,
};

static void lateness_add(struct captions_lateness *h, int64_t us) {
        if (!h)
                return;
        for (size_t i = 0; i < CAPTIONS_LATENESS_BUCKETS; i++)
                if (us <= captions_lateness_bounds_us[i])
                        h->le[i]++;
        h->count++;
        h->sum_us += us;
}

static size_t story_n_cues(const struct story *st) {
        return st && st->cues ? st->cues->n_cues : 0;
}

static void track_disarm(struct track *t) {
        (void)sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
}

/* Never early: sd-event fires at or after the µs given, within accuracy. */
static void track_arm(struct track *t, uint64_t due_ns) {
        int r;

        r = sd_event_source_set_time(t->timer, (due_ns + 999) / 1000);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "%s: cannot arm the caption timer: %m, captions stall", t->sink->name);
}

/* Logs a sink failure once per story, so a full disk is one line. */
static void track_sink_failed(struct track *t, int r, const char *what) {
        if (t->failed)
                return;
        t->failed = true;
        log_warning_errno(r, "%s: %s failed: %m, ignoring", t->sink->name, what);
}

/* Story-time start at which CUE is shown on track T (see "Monotone cues"). */
static int64_t track_start_ms(const struct track *t, const struct cue *cue) {
        return MAX(cue->start_ms, t->last_end_ms);
}

static void track_emit(struct track *t, uint64_t due_ns) {
        struct captions *c = t->owner;
        struct cue cue = c->story->cues->cues[t->next];
        struct cue_emit e = {
                .index = t->next,
                .due_ns = due_ns,
                .emitted_ns = aclock_now_ns(),
        };
        int r;

        /* From the µs values, so that lateness = emitted - due holds exactly
         * for sinks that print microseconds. */
        e.lateness_us = (int64_t)(e.emitted_ns / 1000) - (int64_t)(due_ns / 1000);
        cue.start_ms = track_start_ms(t, &cue);
        cue.end_ms = MAX(cue.end_ms, cue.start_ms);
        t->last_end_ms = cue.end_ms;
        lateness_add(c->lateness, e.lateness_us);
        r = t->sink->ops->cue(t->sink, c->story, &cue, &e);
        if (r < 0)
                track_sink_failed(t, r, "writing a cue");
        log_debug("%s: story %" PRIu64 " cue %zu emitted, %" PRId64 " us late", t->sink->name, c->story->id,
                  t->next, e.lateness_us);
        t->emitted++;
        t->next++;
}

/* Emits or drops every cue of the track already due by sample S; returns
 * the due time of the next timed cue, or 0 when there is none (all done,
 * or the next cue is untimed and held until captions_replan). */
static uint64_t track_catch_up(struct track *t, const struct aclock_sample *s) {
        struct captions *c = t->owner;

        while (t->next < story_n_cues(c->story)) {
                const struct cue *cue = &c->story->cues->cues[t->next];
                uint64_t due, now;

                if (cue->start_ms < 0)
                        return 0;
                due = aclock_media_to_mono(s, track_start_ms(t, cue), t->sink->latency_ms);
                now = aclock_now_ns();
                if (due > now + CAPTIONS_EARLY_NS)
                        return due;
                if ((int64_t)(now - due) > CAPTIONS_STALE_NS) {
                        log_debug("%s: story %" PRIu64 " cue %zu is stale, dropped", t->sink->name,
                                  c->story->id, t->next);
                        t->dropped++;
                        t->next++;
                } else
                        track_emit(t, due);
        }
        return 0;
}

/* Reads the audio clock and emits what is due, then arms the timer for
 * the next cue. While the clock still shows another item (the playout
 * thread has not published the story yet) it polls briefly; while paused
 * it waits for captions_replan. */
static void track_plan(struct track *t) {
        struct captions *c = t->owner;
        struct aclock_sample s;
        uint64_t due;

        track_disarm(t);
        if (t->next >= story_n_cues(c->story))
                return;
        aclock_read(c->clock, &s);
        if (s.item_id != c->story->id) {
                track_arm(t, aclock_now_ns() + CAPTIONS_RETRY_NS);
                return;
        }
        c->last = s;
        c->have_last = true;
        if (!s.playing)
                return;
        due = track_catch_up(t, &s);
        if (due > 0)
                track_arm(t, due);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        track_plan(userdata);
        return 0;
}

int captions_new(sd_event *e, struct aclock *clock, struct sink **sinks, size_t n_sinks,
                 struct captions **ret) {
        _cleanup_free_ struct track *tracks = NULL;
        struct captions *c;
        int r;

        c = calloc(1, sizeof *c);
        tracks = calloc(MAX(n_sinks, 1u), sizeof *tracks);
        if (!c || !tracks) {
                free(c);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_sinks; i++) {
                tracks[i] = (struct track){.owner = c, .sink = sinks[i]};
                r = sd_event_add_time(e, &tracks[i].timer, CLOCK_MONOTONIC, 0, CAPTIONS_ACCURACY_USEC,
                                      on_timer, &tracks[i]);
                if (r >= 0)
                        r = sd_event_source_set_enabled(tracks[i].timer, SD_EVENT_OFF);
                if (r < 0) {
                        for (size_t j = 0; j <= i; j++)
                                sd_event_source_disable_unref(tracks[j].timer);
                        free(c);
                        return r;
                }
        }
        c->event = sd_event_ref(e);
        c->clock = clock;
        c->sinks = sinks;
        c->n_sinks = n_sinks;
        c->tracks = TAKE_PTR(tracks);
        *ret = c;
        return 0;
}

struct captions *captions_free(struct captions *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_sinks; i++) {
                sd_event_source_disable_unref(c->tracks[i].timer);
                sink_free(c->sinks[i]);
        }
        free(c->tracks);
        free(c->sinks);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

void captions_story_started(struct captions *c, struct story *story) {
        int r;

        if (c->story)
                captions_story_ended(c, c->story);
        c->story = story;
        c->have_last = false;
        for (size_t i = 0; i < c->n_sinks; i++) {
                struct track *t = &c->tracks[i];

                t->next = t->emitted = t->dropped = 0;
                t->last_end_ms = -1;
                t->failed = false;
                r = t->sink->ops->story_start(t->sink, story);
                if (r < 0)
                        track_sink_failed(t, r, "starting a story");
        }
        captions_replan(c);
}

/* Cues already due by the story's last clock sample still go out (their
 * timer may simply not have been dispatched yet); the rest are dropped. */
void captions_story_ended(struct captions *c, struct story *story) {
        int r;

        if (!c->story || c->story != story)
                return;
        for (size_t i = 0; i < c->n_sinks; i++) {
                struct track *t = &c->tracks[i];
                size_t n = story_n_cues(story);

                track_disarm(t);
                if (c->have_last && c->last.playing)
                        (void)track_catch_up(t, &c->last);
                t->dropped += n - MIN(t->next, n);
                t->next = n;
                log_debug("%s: story %" PRIu64 ": %zu cues emitted, %zu dropped", t->sink->name, story->id,
                          t->emitted, t->dropped);
                r = t->sink->ops->story_end(t->sink, story);
                if (r < 0)
                        track_sink_failed(t, r, "ending a story");
        }
        c->story = NULL;
        c->have_last = false;
}

void captions_replan(struct captions *c) {
        if (!c->story)
                return;
        for (size_t i = 0; i < c->n_sinks; i++)
                track_plan(&c->tracks[i]);
}

void captions_next_up(struct captions *c, const struct story *next) {
        uint64_t now = aclock_now_ns();

        for (size_t i = 0; i < c->n_sinks; i++) {
                struct sink *s = c->sinks[i];
                int r;

                if (!s->ops->next_up)
                        continue;
                r = s->ops->next_up(s, next, now);
                if (r < 0)
                        log_warning_errno(r, "%s: writing the next-up event failed: %m, ignoring", s->name);
        }
}

void captions_alert(struct captions *c, const char *what, const char *message) {
        uint64_t now = aclock_now_ns();

        for (size_t i = 0; i < c->n_sinks; i++) {
                struct sink *s = c->sinks[i];
                int r;

                if (!s->ops->alert)
                        continue;
                r = s->ops->alert(s, what, message, now);
                if (r < 0)
                        log_warning_errno(r, "%s: writing the alert failed: %m, ignoring", s->name);
        }
}

size_t captions_reopen(struct captions *c) {
        size_t failed = 0;

        for (size_t i = 0; c && i < c->n_sinks; i++) {
                struct sink *s = c->sinks[i];
                int r;

                if (!s->ops->reopen)
                        continue;
                r = s->ops->reopen(s);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot reopen: %m, writing on to the old file", s->name);
                        failed++;
                }
        }
        return failed;
}

size_t captions_emitted(const struct captions *c) {
        size_t n = SIZE_MAX;

        for (size_t i = 0; i < c->n_sinks; i++)
                n = MIN(n, c->tracks[i].emitted);
        return c->n_sinks > 0 ? n : 0;
}

size_t captions_dropped(const struct captions *c) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_sinks; i++)
                n = MAX(n, c->tracks[i].dropped);
        return n;
}

size_t captions_n_sinks(const struct captions *c) {
        return c->n_sinks;
}

const struct sink *captions_sink(const struct captions *c, size_t i) {
        return i < c->n_sinks ? c->sinks[i] : NULL;
}

void captions_set_lateness(struct captions *c, struct captions_lateness *h) {
        c->lateness = h;
}
