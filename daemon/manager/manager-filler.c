/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-filler.c: no dead air. With the queue empty, a filler item (an
 * MP3 of the filler folder, shuffled or in name order, or the one filler
 * file) is what manager_update_cue cues, so the playout thread joins it
 * to the story before it gaplessly and goes on from one filler item to
 * the next. A filler item is a story with filler = true, no transcript
 * and no cues; it never enters the Next Up queue (lists and next_up
 * events do not show it) but is held here until its STARTED, when
 * manager_cue_take takes it (as a clock event's story), so from there on
 * it is on air like any story:
 * status, STATUS= ("Filler: ..."), the as-run log (kind filler).
 *
 * When a story is queued while filler plays, the filler gives way at a
 * clean point: a fade-out of fade_ms, at once. The fade is always clean
 * and costs no delay; a smarter point would wait (at most ~2 s) for a
 * quiet moment in the filler's own audio.
 *
 * Not with --exit-idle: filler would keep the daemon from ever idling. */
#include "manager-filler.h"
#include "manager-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "playout.h"
#include "queue.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

struct manager_filler {
        char **files; /* absolute paths, in name order */
        size_t n_files;
        size_t *order;      /* play order (a permutation when shuffled) */
        size_t pos;         /* next in order */
        size_t last;        /* index of the file played last, for reshuffles */
        struct story *cued; /* cued in the playout thread, not on air yet */
        unsigned failures;  /* filler items failing in a row */
        bool giving_way;    /* the filler on air is fading out for a story */
        unsigned seed;
};

static void files_free(struct manager_filler *f) {
        for (size_t i = 0; i < f->n_files; i++)
                free(f->files[i]);
        free(f->files);
        free(f->order);
        f->files = NULL;
        f->order = NULL;
        f->n_files = f->pos = 0;
}

/* The audio files the decoder reads, by name: MP3, WAV, FLAC. */
static bool is_audio(const char *name) {
        static const char *const exts[] = {".mp3", ".wav", ".flac"};
        size_t n = strlen(name);

        if (name[0] == '.')
                return false;
        for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                size_t e = strlen(exts[i]);

                if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
                        return true;
        }
        return false;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The audio files of folder PATH, or PATH itself when it is a file. */
static int files_scan(struct manager_filler *f, const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode)) {
                f->files = calloc(1, sizeof *f->files);
                if (!f->files || !(f->files[0] = strdup(path)))
                        return -ENOMEM;
                f->n_files = 1;
                return 0;
        }
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char **n;

                if (!is_audio(de->d_name))
                        continue;
                n = reallocarray(f->files, f->n_files + 1, sizeof *f->files);
                if (!n)
                        return -ENOMEM;
                f->files = n;
                if (asprintf(&f->files[f->n_files], "%s/%s", path, de->d_name) < 0)
                        return -ENOMEM;
                f->n_files++;
        }
        qsort(f->files, f->n_files, sizeof *f->files, cmp_str);
        return 0;
}

/* A new play order: name order, or a shuffle (Fisher-Yates) that does not
 * start with the file played last. */
static void order_make(struct manager_filler *f, enum filler_mode mode) {
        for (size_t i = 0; i < f->n_files; i++)
                f->order[i] = i;
        if (mode == FILLER_SHUFFLE)
                for (size_t i = f->n_files; i > 1; i--) {
                        size_t j = (size_t)rand_r(&f->seed) % i, t = f->order[i - 1];

                        f->order[i - 1] = f->order[j];
                        f->order[j] = t;
                }
        if (mode == FILLER_SHUFFLE && f->n_files > 1 && f->order[0] == f->last) {
                f->order[0] = f->order[f->n_files - 1];
                f->order[f->n_files - 1] = f->last;
        }
        f->pos = 0;
}

static void filler_load(struct manager *m) {
        struct manager_filler *f = m->filler;
        const char *path = m->config->filler_path;
        int r;

        files_free(f);
        f->failures = 0;
        if (!path)
                return;
        r = files_scan(f, path);
        if (r >= 0 && f->n_files > 0 && !(f->order = calloc(f->n_files, sizeof *f->order)))
                r = -ENOMEM;
        if (r < 0 || f->n_files == 0) {
                if (r < 0)
                        log_error_errno(r, "Cannot read the filler '%s': %m, no filler", path);
                else
                        log_error("No audio files (.mp3, .wav, .flac) in the filler folder '%s', no filler",
                                  path);
                files_free(f);
                return;
        }
        f->last = SIZE_MAX;
        order_make(f, m->config->filler_mode);
        log_info("Filler: %zu file%s from '%s' (%s)", f->n_files, f->n_files == 1 ? "" : "s", path,
                 m->config->filler_mode == FILLER_SHUFFLE ? "shuffled" : "loop");
}

/* A story for the next filler file, with an id of its own. */
static struct story *filler_story_new(struct manager *m) {
        struct manager_filler *f = m->filler;
        struct story *s;
        const char *file;

        if (f->pos >= f->n_files)
                order_make(f, m->config->filler_mode);
        f->last = f->order[f->pos++];
        file = f->files[f->last];
        if (story_new_filler(file, &s) < 0)
                return NULL;
        s->id = queue_next_id(m->queue);
        queue_set_next_id(m->queue, s->id + 1);
        return s;
}

struct story *manager_filler_cue(struct manager *m, struct story *front) {
        struct manager_filler *f = m->filler;

        if (!f || m->exit_idle)
                return front;
        if (front) {
                if (m->on_air && m->on_air->filler && !f->giving_way) {
                        log_info("Story #%llu queued: filler '%s' gives way (%d ms fade)",
                                 (unsigned long long)front->id, m->on_air->title, m->config->fade_ms);
                        if (playout_end(m->playout, PLAYOUT_END_FADED, m->config->fade_ms) >= 0)
                                f->giving_way = true;
                }
                return front;
        }
        /* Every file failed in a row: stop rather than spin through them. */
        if (f->n_files == 0 || f->failures >= f->n_files)
                return NULL;
        if (!f->cued)
                f->cued = filler_story_new(m);
        return f->cued;
}

struct story *manager_filler_take(struct manager *m, const struct playout_event *ev) {
        struct manager_filler *f = m->filler;
        struct story *s;

        if (!f || !f->cued || f->cued->id != ev->item_id)
                return NULL;
        s = TAKE_PTR(f->cued);
        if (ev->type == PLAYOUT_STARTED && ev->frames >= 0)
                s->duration_ms = (ev->frames * 1000) / m->config->rate;
        return s;
}

void manager_filler_playout_event(struct manager *m, const struct playout_event *ev) {
        struct manager_filler *f = m->filler;
        bool ours = f && f->cued && f->cued->id == ev->item_id;

        if (!f)
                return;
        if (ours && ev->type == PLAYOUT_STARTED)
                f->failures = 0;
        else if (ours && ev->type == PLAYOUT_ENDED && ev->reason == PLAYOUT_END_ERROR) {
                if (++f->failures >= f->n_files)
                        log_error("Every filler file failed, no filler until the next reload");
        } else if (ev->type == PLAYOUT_ENDED && m->on_air && m->on_air->id == ev->item_id &&
                   m->on_air->filler)
                f->giving_way = false;
}

int manager_filler_start(struct manager *m) {
        m->filler = calloc(1, sizeof *m->filler);
        if (!m->filler)
                return -ENOMEM;
        m->filler->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
        filler_load(m);
        manager_update_cue(m); /* an empty queue plays filler from now */
        return 0;
}

void manager_filler_reload(struct manager *m) {
        if (!m->filler)
                return;
        filler_load(m);
        manager_update_cue(m);
}

void manager_filler_stop(struct manager *m) {
        if (!m->filler)
                return;
        files_free(m->filler);
        story_free(m->filler->cued);
        free(m->filler);
        m->filler = NULL;
}
