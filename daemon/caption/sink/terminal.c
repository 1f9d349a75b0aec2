/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink-terminal.c: captions on stdout for someone watching the daemon,
 * one line per cue, "[mm:ss.mmm] text" in story time, and "--- Next up:
 * TITLE" (or "nothing") when the story next up changes. stdout is written
 * without ever blocking (nbout.h): a terminal stopped with ^S or a pipe
 * nobody reads must not stall the loop. Up to TERMINAL_BUFFER bytes wait
 * for it (retried every RETRY_USEC); past that lines are dropped, logged
 * at most once a minute with the count. */
#include "sink.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aclock.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "nbout.h"
#include "ratelimit.h"
#include "queue.h"
#include "segment.h"

#define TERMINAL_BUFFER (16U << 10)
#define RETRY_USEC 100000

struct terminal {
        bool show_speaker;
        struct nbout out;
        sd_event *event;        /* NULL: no retry timer (what waits goes with the next line) */
        sd_event_source *retry; /* armed while something waits */
        struct ratelimit drop_rl;
};

static int on_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        struct terminal *t = userdata;

        /* A oneshot: off now; on again while something waits. */
        if (nbout_flush(&t->out) > 0) {
                sd_event_source_set_time(src, usec + RETRY_USEC);
                sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        }
        return 0;
}

static void arm_retry(struct terminal *t) {
        uint64_t now;

        if (!t->event || t->out.len == 0 || sd_event_now(t->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        if (!t->retry) {
                if (sd_event_add_time(t->event, &t->retry, CLOCK_MONOTONIC, now + RETRY_USEC, 10000,
                                      on_retry, t) < 0)
                        return;
        } else {
                int on = SD_EVENT_OFF;

                if (sd_event_source_get_enabled(t->retry, &on) >= 0 && on != SD_EVENT_OFF)
                        return;
                sd_event_source_set_time(t->retry, now + RETRY_USEC);
        }
        sd_event_source_set_enabled(t->retry, SD_EVENT_ONESHOT);
}

/* One formatted line to stdout, never blocking. A dropped line is not an
 * error of the sink (the others go on): logged, rate-limited. */
__attribute__((format(printf, 2, 3))) static int out_printf(struct terminal *t, const char *fmt, ...) {
        _cleanup_free_ char *line = NULL;
        unsigned suppressed;
        va_list ap;
        int n, r;

        va_start(ap, fmt);
        n = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        r = nbout_write(&t->out, line, (size_t)n);
        if (r == -ENOMEM)
                return r;
        arm_retry(t);
        /* The count covers the lines dropped while the log was held back. */
        if (r == -ENOBUFS && ratelimit_ok(&t->drop_rl, aclock_now_ns(), &suppressed))
                log_warning("Terminal sink: stdout is not being read, %" PRIu64
                            " caption line(s) dropped, ignoring",
                            nbout_take_dropped(&t->out));
        return 0;
}

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
        return out_printf(s->data, "=== On air: %s ===\n", st->title ? st->title : "(untitled)");
}

static int terminal_cue(struct sink *s, const struct story *st, const struct cue *c,
                        const struct cue_emit *e) {
        struct terminal *t = s->data;
        _cleanup_free_ char *joined = join_lines(c->text);
        int64_t ms = MAX(c->start_ms, 0);
        const char *text;

        if (!joined)
                return -ENOMEM;
        text = joined;
        if (t->show_speaker && c->speaker_change && c->speaker) {
                text += mark_length(joined, c->spoken);
                return out_printf(t, "[%02" PRId64 ":%02" PRId64 ".%03" PRId64 "] %s: %s\n", ms / 60000,
                                  ms / 1000 % 60, ms % 1000, c->speaker, text);
        }
        return out_printf(t, "[%02" PRId64 ":%02" PRId64 ".%03" PRId64 "] %s\n", ms / 60000, ms / 1000 % 60,
                          ms % 1000, text);
}

static int terminal_story_end(struct sink *s, const struct story *st) {
        return 0;
}

static int terminal_next_up(struct sink *s, const struct story *next, uint64_t mono_ns) {
        return out_printf(s->data, "--- Next up: %s\n",
                          !next         ? "nothing"
                          : next->title ? next->title
                                        : "(untitled)");
}

static void terminal_free(struct sink *s) {
        struct terminal *t = s->data;

        (void)nbout_flush(&t->out);
        nbout_done(&t->out);
        sd_event_source_disable_unref(t->retry);
        sd_event_unref(t->event);
        free(t);
}

static const struct sink_ops terminal_ops = {
        .type = "terminal",
        .story_start = terminal_story_start,
        .cue = terminal_cue,
        .story_end = terminal_story_end,
        .free = terminal_free,
        .next_up = terminal_next_up,
};

int sink_terminal_new(sd_event *event, const struct sink_config *sc, struct sink **ret) {
        struct terminal *t;
        int r;

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->show_speaker = sc->show_speaker;
        t->out = NBOUT_INIT(STDOUT_FILENO, TERMINAL_BUFFER);
        t->drop_rl = RATELIMIT_INIT(60000, 1);
        r = sink_alloc(&terminal_ops, "terminal", sc, t, ret);
        if (r < 0)
                free(t);
        else
                t->event = event ? sd_event_ref(event) : NULL;
        return r;
}
