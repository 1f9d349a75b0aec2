/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink-terminal.c: captions on stdout for someone watching the daemon,
 * one line per cue, "[mm:ss.mmm] text" in story time, and "--- Next up:
 * TITLE" (or "nothing") when the story next up changes. stdout is buffered
 * and flushed per line; if it is a pipe nobody reads, that is the
 * operator's choice of sink. */
#include "sink.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "queue.h"
#include "segment.h"

struct terminal {
        bool show_speaker;
};

/* The cue's lines joined by single spaces (malloc'd). */
static char *join_lines(const char *text) {
        char *s = strdup(text), *p;

        if (!s)
                return NULL;
        for (p = s; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        return s;
}

/* Length of the speaker mark leading the joined text, including the
 * space after it, or 0. The sink is not told the configured mark, but the
 * cue's spoken text is the display text without it, so whatever precedes
 * the spoken words is the mark; failing that, a first word without any
 * letter or digit (">>", "--") is taken for one. */
static size_t mark_length(const char *joined, const char *spoken) {
        size_t lj = strlen(joined), ls = spoken ? strlen(spoken) : 0;
        size_t n;

        if (ls > 0 && lj > ls && strcmp(joined + lj - ls, spoken) == 0)
                return lj - ls;
        n = strcspn(joined, " ");
        for (size_t i = 0; i < n; i++)
                if (isalnum((unsigned char)joined[i]))
                        return 0;
        return joined[n] == ' ' ? n + 1 : n;
}

static int terminal_story_start(struct sink *s, const struct story *st) {
        if (printf("=== On air: %s ===\n", st->title ? st->title : "(untitled)") < 0)
                return -EIO;
        return fflush(stdout) == EOF ? -errno : 0;
}

static int terminal_cue(struct sink *s, const struct story *st, const struct cue *c,
                        const struct cue_emit *e) {
        struct terminal *t = s->data;
        _cleanup_free_ char *joined = join_lines(c->text);
        int64_t ms = MAX(c->start_ms, 0);
        const char *text;
        int r;

        if (!joined)
                return -ENOMEM;
        text = joined;
        if (t->show_speaker && c->speaker_change && c->speaker) {
                text += mark_length(joined, c->spoken);
                r = printf("[%02" PRId64 ":%02" PRId64 ".%03" PRId64 "] %s: %s\n", ms / 60000,
                           ms / 1000 % 60, ms % 1000, c->speaker, text);
        } else
                r = printf("[%02" PRId64 ":%02" PRId64 ".%03" PRId64 "] %s\n", ms / 60000, ms / 1000 % 60,
                           ms % 1000, text);
        if (r < 0)
                return -EIO;
        return fflush(stdout) == EOF ? -errno : 0;
}

static int terminal_story_end(struct sink *s, const struct story *st) {
        return 0;
}

static int terminal_next_up(struct sink *s, const struct story *next, uint64_t mono_ns) {
        if (printf("--- Next up: %s\n", !next ? "nothing" : next->title ? next->title : "(untitled)") < 0)
                return -EIO;
        return fflush(stdout) == EOF ? -errno : 0;
}

static void terminal_free(struct sink *s) {
        free(s->data);
}

static const struct sink_ops terminal_ops = {
        .type = "terminal",
        .story_start = terminal_story_start,
        .cue = terminal_cue,
        .story_end = terminal_story_end,
        .free = terminal_free,
        .next_up = terminal_next_up,
};

int sink_terminal_new(const struct sink_config *sc, struct sink **ret) {
        struct terminal *t;
        int r;

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->show_speaker = sc->show_speaker;
        r = sink_alloc(&terminal_ops, "terminal", sc, t, ret);
        if (r < 0)
                free(t);
        return r;
}
