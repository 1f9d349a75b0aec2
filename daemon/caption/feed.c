/* SPDX-License-Identifier: GPL-3.0-or-later */
/* feed.c: one JSON shape for every network consumer, so that a page, an
 * automation script reading the TCP feed and a test see the same fields.
 * The wall-clock time of a cue is computed from its monotonic due time,
 * not read at emission, so a late timer does not shift what a consumer
 * shows as "heard at". */
#include "feed.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"

static uint64_t now_ns(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

int64_t feed_mono_to_wall_ms(uint64_t mono_ns) {
        int64_t wall = (int64_t)(now_ns(CLOCK_REALTIME) / 1000000);
        int64_t ago_ms = ((int64_t)now_ns(CLOCK_MONOTONIC) - (int64_t)mono_ns) / 1000000;

        return wall - ago_ms;
}

static json_object *event_new(const char *name, int64_t time_ms) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "event", json_object_new_string(name));
        json_object_object_add(o, "time_ms", json_object_new_int64(time_ms));
        return o;
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* Consumes O. */
static char *finish(json_object *o) {
        const char *s;
        char *copy;

        if (!o)
                return NULL;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        copy = s ? strdup(s) : NULL;
        json_object_put(o);
        return copy;
}

static void add_story(json_object *o, const struct story *st) {
        json_object_object_add(o, "story_id", st ? json_object_new_int64((int64_t)st->id) : NULL);
        json_object_object_add(o, "title", st ? str_or_null(st->title) : NULL);
}

struct json_object *feed_words(const struct story *st, const struct cue *c) {
        json_object *arr;

        if (!st || st->timing != TIMING_ALIGNED || c->n_words == 0)
                return NULL;
        arr = json_object_new_array_ext((int)c->n_words);
        for (size_t i = 0; arr && i < c->n_words; i++) {
                json_object *w = json_object_new_object();

                if (!w || json_object_array_add(arr, w) < 0) {
                        json_object_put(w);
                        json_object_put(arr);
                        return NULL;
                }
                json_object_object_add(w, "text", json_object_new_string(c->words[i].text));
                json_object_object_add(w, "start_ms", json_object_new_int64(c->words[i].start_ms));
                json_object_object_add(w, "end_ms", json_object_new_int64(c->words[i].end_ms));
        }
        return arr;
}

static void add_words(json_object *o, const struct story *st, const struct cue *c) {
        json_object *w = feed_words(st, c);

        if (w)
                json_object_object_add(o, "words", w);
}

char *feed_cue(const struct story *st, const struct cue *c, const struct cue_emit *e) {
        json_object *o = event_new("cue", feed_mono_to_wall_ms(e->due_ns));

        if (!o)
                return NULL;
        add_story(o, st);
        json_object_object_add(o, "cue_index", json_object_new_int64((int64_t)e->index));
        json_object_object_add(o, "start_ms", json_object_new_int64(c->start_ms));
        json_object_object_add(o, "end_ms", json_object_new_int64(c->end_ms));
        json_object_object_add(o, "speaker", str_or_null(c->speaker));
        json_object_object_add(o, "speaker_change", json_object_new_boolean(c->speaker_change));
        json_object_object_add(o, "text", json_object_new_string(c->text));
        add_words(o, st, c);
        json_object_object_add(o, "emitted_mono_us", json_object_new_int64((int64_t)(e->emitted_ns / 1000)));
        json_object_object_add(o, "lateness_us", json_object_new_int64(e->lateness_us));
        return finish(o);
}

char *feed_on_air(const struct story *st) {
        json_object *o = event_new("on_air", feed_mono_to_wall_ms(now_ns(CLOCK_MONOTONIC)));

        if (!o)
                return NULL;
        add_story(o, st);
        json_object_object_add(o, "duration_ms", json_object_new_int64(st->duration_ms));
        json_object_object_add(o, "n_cues", json_object_new_int64(st->cues ? (int64_t)st->cues->n_cues : 0));
        return finish(o);
}

char *feed_off_air(const struct story *st) {
        json_object *o = event_new("off_air", feed_mono_to_wall_ms(now_ns(CLOCK_MONOTONIC)));

        if (!o)
                return NULL;
        add_story(o, st);
        return finish(o);
}

char *feed_next(const struct story *next) {
        json_object *o = event_new("next", feed_mono_to_wall_ms(now_ns(CLOCK_MONOTONIC)));

        if (!o)
                return NULL;
        add_story(o, next);
        return finish(o);
}

char *feed_alert(const char *what, const char *message) {
        json_object *o = event_new("alert", feed_mono_to_wall_ms(now_ns(CLOCK_MONOTONIC)));

        if (!o)
                return NULL;
        json_object_object_add(o, "what", json_object_new_string(what));
        json_object_object_add(o, "message", str_or_null(message));
        return finish(o);
}
