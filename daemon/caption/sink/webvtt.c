/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink-webvtt.c: the archive of what aired. One WebVTT file per story in
 * the sink's folder, named after the local time the story went on air,
 * holding the cues that were actually emitted, in story time, written as
 * they go out (so a crash leaves a usable file up to that point). */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "capfmt.h"
#include "cleanup.h"
#include "config.h"
#include "fileio.h"
#include "queue.h"

struct webvtt {
        char *dir;
        FILE *f; /* the file of the story on air, or NULL */
};

/* A NOTE block ends at a blank line and may not hold "-->": keep the title
 * on one line and break any arrow. */
static void write_note(FILE *f, const char *title) {
        fputs("NOTE ", f);
        for (const char *p = title; *p; p++) {
                if (*p == '\n' || *p == '\r')
                        fputc(' ', f);
                else if (p[0] == '-' && p[1] == '-' && p[2] == '>') {
                        fputs("- ->", f);
                        p += 2;
                } else
                        fputc(*p, f);
        }
        fputs("\n\n", f);
}

static int webvtt_story_start(struct sink *s, const struct story *st) {
        struct webvtt *w = s->data;
        _cleanup_free_ char *path = NULL;
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;

        if (w->f) { /* story_end missed: close the previous file */
                fclose(w->f);
                w->f = NULL;
        }
        if (!localtime_r(&now, &tm) || strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm) == 0)
                return -EINVAL;
        if (asprintf(&path, "%s/%s-%" PRIu64 ".vtt", w->dir, stamp, st->id) < 0) {
                path = NULL; /* undefined after a failure */
                return -ENOMEM;
        }
        {
                /* 0640, like the jsonl feed: not for every local user. */
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0640);

                if (fd < 0)
                        return -errno;
                w->f = fdopen(fd, "w");
                if (!w->f) {
                        int r = -errno;

                        close(fd);
                        return r;
                }
        }
        fputs("WEBVTT\n\n", w->f);
        write_note(w->f, st->title ? st->title : "(untitled)");
        return fflush(w->f) == EOF ? -errno : 0;
}

static int webvtt_cue(struct sink *s, const struct story *st, const struct cue *c,
                      const struct cue_emit *e) {
        struct webvtt *w = s->data;
        int r;

        if (!w->f) /* the file could not be created; said so at start */
                return 0;
        r = capfmt_vtt_cue(w->f, c);
        if (r < 0)
                return r;
        return fflush(w->f) == EOF ? -errno : 0;
}

static int webvtt_story_end(struct sink *s, const struct story *st) {
        struct webvtt *w = s->data;
        int r;

        if (!w->f)
                return 0;
        r = fclose(w->f) == EOF ? -errno : 0;
        w->f = NULL;
        return r;
}

static void webvtt_free(struct sink *s) {
        struct webvtt *w = s->data;

        if (!w)
                return;
        if (w->f)
                fclose(w->f);
        free(w->dir);
        free(w);
}

static const struct sink_ops webvtt_ops = {
        .type = "webvtt",
        .story_start = webvtt_story_start,
        .cue = webvtt_cue,
        .story_end = webvtt_story_end,
        .free = webvtt_free,
};

int sink_webvtt_new(const struct sink_config *sc, struct sink **ret) {
        _cleanup_free_ char *name = NULL, *dir = NULL;
        struct webvtt *w;
        int r;

        if (!sc->path)
                return -EINVAL;
        r = fileio_mkdir_p(sc->path, 0755);
        if (r < 0)
                return r;
        dir = strdup(sc->path);
        if (!dir)
                return -ENOMEM;
        if (asprintf(&name, "webvtt:'%s'", sc->path) < 0) {
                name = NULL; /* undefined after a failure */
                return -ENOMEM;
        }
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->dir = TAKE_PTR(dir);
        r = sink_alloc(&webvtt_ops, name, sc, w, ret);
        if (r < 0)
                webvtt_free(&(struct sink){.data = w});
        return r;
}
