/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink-jsonl.c: one JSON object per emitted cue, and one per event (the
 * story next up changed, a story went on or off air, an alert, with
 * "event": "next_up" / "on_air" / "off_air" / "alert"), appended to a
 * file, for web pages that tail it and for tests that check cue timing
 * against the audio clock. The fields are those of docs/interfaces.md;
 * on_air_mono_us is derived from the due time so that due = on_air +
 * start + latency holds exactly in microseconds. Every record also says
 * when it happened on the wall clock ("wall_us" and "time", UTC), so that
 * the file reads against the station log. The file is reopened on request
 * (SIGHUP, `nextupctl reopen`) for logrotate. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "aclock.h"
#include "config.h"
#include "feed.h"
#include "json-util.h"
#include "queue.h"
#include "segment.h"

struct jsonl {
        char *path;
        FILE *f;
};

/* "wall_us" and "time" of CLOCK_MONOTONIC MONO_NS. */
static void add_wall(json_object *o, const char *key_us, const char *key_time, uint64_t mono_ns) {
        int64_t wall = sink_mono_to_wall_us(mono_ns);
        char buf[40];

        json_object_object_add(o, key_us, json_object_new_int64(wall));
        json_object_object_add(o, key_time, json_object_new_string(sink_format_wall(wall, buf, sizeof buf)));
}

static json_object *cue_to_json(const struct story *st, const struct cue *c, const struct cue_emit *e,
                                int64_t latency_ms) {
        int64_t due_us = (int64_t)(e->due_ns / 1000);
        json_object *o = json_object_new_object(), *words;

        if (!o)
                return NULL;
        json_object_object_add(o, "story_id", json_object_new_int64((int64_t)st->id));
        json_object_object_add(o, "title", st->title ? json_object_new_string(st->title) : NULL);
        json_object_object_add(o, "cue_index", json_object_new_int64((int64_t)e->index));
        json_object_object_add(o, "start_ms", json_object_new_int64(c->start_ms));
        json_object_object_add(o, "end_ms", json_object_new_int64(c->end_ms));
        json_object_object_add(o, "speaker", c->speaker ? json_object_new_string(c->speaker) : NULL);
        json_object_object_add(o, "text", json_object_new_string(c->text));
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(st->timing)));
        words = feed_words(st, c);
        if (words)
                json_object_object_add(o, "words", words);
        json_object_object_add(o, "on_air_mono_us",
                               json_object_new_int64(due_us - (c->start_ms + latency_ms) * 1000));
        json_object_object_add(o, "due_mono_us", json_object_new_int64(due_us));
        json_object_object_add(o, "emitted_mono_us", json_object_new_int64((int64_t)(e->emitted_ns / 1000)));
        json_object_object_add(o, "lateness_us", json_object_new_int64(e->lateness_us));
        add_wall(o, "due_wall_us", "heard_at", e->due_ns);
        return o;
}

static int jsonl_write(struct jsonl *j, json_object *o) {
        const char *line;

        if (!o)
                return -ENOMEM;
        line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!line)
                return -ENOMEM;
        if (fprintf(j->f, "%s\n", line) < 0 || fflush(j->f) == EOF) {
                clearerr(j->f);
                return errno > 0 ? -errno : -EIO;
        }
        return 0;
}

static int jsonl_cue(struct sink *s, const struct story *st, const struct cue *c, const struct cue_emit *e) {
        _cleanup_json_ json_object *o = cue_to_json(st, c, e, s->latency_ms);

        return jsonl_write(s->data, o);
}

/* Not a cue: readers tell the two apart by "event" (cues have "cue_index"). */
static int jsonl_next_up(struct sink *s, const struct story *next, uint64_t mono_ns) {
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "event", json_object_new_string("next_up"));
        json_object_object_add(o, "story_id", next ? json_object_new_int64((int64_t)next->id) : NULL);
        json_object_object_add(o, "title", next && next->title ? json_object_new_string(next->title) : NULL);
        json_object_object_add(o, "mono_us", json_object_new_int64((int64_t)(mono_ns / 1000)));
        add_wall(o, "wall_us", "time", mono_ns);
        return jsonl_write(s->data, o);
}

static int jsonl_air_event(struct sink *s, const struct story *st, const char *event) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        uint64_t now = aclock_now_ns();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "event", json_object_new_string(event));
        json_object_object_add(o, "story_id", json_object_new_int64((int64_t)st->id));
        json_object_object_add(o, "title", st->title ? json_object_new_string(st->title) : NULL);
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(st->timing)));
        json_object_object_add(o, "mono_us", json_object_new_int64((int64_t)(now / 1000)));
        add_wall(o, "wall_us", "time", now);
        return jsonl_write(s->data, o);
}

static int jsonl_story_start(struct sink *s, const struct story *st) {
        return jsonl_air_event(s, st, "on_air");
}

static int jsonl_story_end(struct sink *s, const struct story *st) {
        return jsonl_air_event(s, st, "off_air");
}

static int jsonl_alert(struct sink *s, const char *what, const char *message, uint64_t mono_ns) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "event", json_object_new_string("alert"));
        json_object_object_add(o, "what", json_object_new_string(what));
        json_object_object_add(o, "message", json_object_new_string(message));
        json_object_object_add(o, "mono_us", json_object_new_int64((int64_t)(mono_ns / 1000)));
        add_wall(o, "wall_us", "time", mono_ns);
        return jsonl_write(s->data, o);
}

static int open_append(const char *path, FILE **ret) {
        _cleanup_close_ int fd = -1;
        FILE *f;

        /* O_NONBLOCK: nothing for a file; a FIFO without a reader fails to
         * open and one whose reader stalls fails the write, instead of
         * stopping the loop */
        /* 0640: captions may hold what a story's transcript should not
         * show the world before air. */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "a");
        if (!f)
                return -errno;
        TAKE_FD(fd);
        *ret = f;
        return 0;
}

/* The new file first: if it cannot be opened the old one goes on. */
static int jsonl_reopen(struct sink *s) {
        struct jsonl *j = s->data;
        FILE *f;
        int r;

        r = open_append(j->path, &f);
        if (r < 0)
                return r;
        fclose(j->f);
        j->f = f;
        return 0;
}

static void jsonl_free(struct sink *s) {
        struct jsonl *j = s->data;

        if (!j)
                return;
        if (j->f)
                fclose(j->f);
        free(j->path);
        free(j);
}

static const struct sink_ops jsonl_ops = {
        .type = "jsonl",
        .story_start = jsonl_story_start,
        .cue = jsonl_cue,
        .story_end = jsonl_story_end,
        .free = jsonl_free,
        .next_up = jsonl_next_up,
        .alert = jsonl_alert,
        .reopen = jsonl_reopen,
};

/* The directory must exist: a missing one is a config mistake to report,
 * not something to paper over by creating it. */
int sink_jsonl_new(const struct sink_config *sc, struct sink **ret) {
        _cleanup_free_ char *name = NULL, *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        struct jsonl *j;
        int r;

        if (!sc->path)
                return -EINVAL;
        r = open_append(sc->path, &f);
        if (r < 0)
                return r;
        path = strdup(sc->path);
        if (!path)
                return -ENOMEM;
        if (asprintf(&name, "jsonl:'%s'", sc->path) < 0) {
                name = NULL; /* undefined after a failure */
                return -ENOMEM;
        }
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->f = f;
        j->path = path;
        r = sink_alloc(&jsonl_ops, name, sc, j, ret);
        if (r < 0) {
                free(j);
                return r;
        }
        TAKE_PTR(f);
        TAKE_PTR(path);
        return 0;
}
