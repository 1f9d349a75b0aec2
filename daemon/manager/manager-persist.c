/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-persist.c: the Manager's state on disk (persist.h), so that the
 * queue, the schedule's one-off events and the story on air survive
 * kill -9. A change a client waits on is saved before it is
 * acknowledged: one small fsync'd file, about 0.4 ms here, but 300 ms and
 * more on a busy disk; so every such change (add, insert, remove, move,
 * clear, skip, at, unschedule: manager_persist_save_then and
 * manager_persist_leave_then) is written on a saver thread and answered
 * when it is done. Other changes (a story started or ended, a restore)
 * are saved on persist's writer thread, and the position of the story on
 * air is checkpointed every second from the audio clock as a small record
 * written in place without fsync, also on the writer thread: a slow disk
 * (a 300 ms fsync was seen) never holds the loop and its caption timers.
 * The one save the loop makes itself is the last, at shutdown.
 *
 * When the state cannot be written (a full or failing disk), changes
 * someone asked for are refused (the caller undoes them and says why), the
 * audio goes on, the failure is logged once, and the checkpoint timer
 * retries every second, so the state catches up when space returns.
 *
 * At start the saved state replaces the config's startup items; the story
 * that was on air goes back to the front of the queue by the resume
 * policy (playout.resume): at its position, from the top, or not at all. */
#include "manager-persist.h"
#include "manager-internal.h"

#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aclock.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "persist.h"
#include "queue.h"
#include "timeutil.h"
#include "worker.h"

#define CHECKPOINT_USEC 1000000
#define SLOW_WRITE_US 100000

struct manager_persist {
        struct persist *file;
        sd_event_source *checkpoint_source;
        bool failing;        /* the last save failed: logged once per episode */
        uint64_t leaving_id; /* on air but skipped/removed: not resumed after a crash */
        uint64_t started_id; /* the story whose air start time is below */
        int64_t started_wall_ms;
        manager_persist_restore_fn restore; /* queues a restored story (ingest) */
        /* The schedule's one-off events: GET returns a new JSON value to
         * save (called at every save); RESTORED is what the last run saved. */
        manager_persist_schedule_fn schedule_get;
        void *schedule_userdata;
        struct json_object *schedule_restored;
        struct worker *saver; /* writes for manager_persist_save_then; NULL until the first */
};

/* A save a client waits on, written on the saver thread. */
struct save_job {
        struct persist *file;
        struct persist_write *w;
        int r; /* -ECANCELED until written */
        uint64_t write_us;
        uint64_t leaving_id; /* manager_persist_leave_then: the story saved as gone, else 0 */
        uint64_t leaving_was;
        manager_saved_fn saved;
        void *userdata;
};

static struct persist_story story_ref(const struct story *s) {
        return (struct persist_story){
                .id = s->id,
                .audio = s->audio_path, /* borrowed: see state_release */
                .transcript = s->transcript_path,
                .start_frame = s->start_frame,
        };
}

/* The story on air, with its position from the audio clock. */
static void on_air_ref(struct manager *m, struct persist_on_air *ret) {
        const struct story *s = m->on_air;
        struct aclock_sample c;

        aclock_read(m->clock, &c);
        if (m->persist->started_id != s->id) {
                m->persist->started_id = s->id;
                m->persist->started_wall_ms = wall_now_ms();
        }
        *ret = (struct persist_on_air){
                .story = story_ref(s),
                /* Until its first clock sample it is at its start frame. */
                .frames = c.item_id == s->id ? c.frames : s->start_frame,
                .duration_ms = s->duration_ms,
                .started_wall_ms = m->persist->started_wall_ms,
                .checkpoint_wall_ms = wall_now_ms(),
        };
}

/* A snapshot borrowing the stories' strings; free with state_release. */
static int state_build(struct manager *m, struct persist_state *st) {
        size_t n = queue_size(m->queue);

        *st = (struct persist_state){
                .next_id = queue_next_id(m->queue),
                .rate = m->config->rate,
                .queue = calloc(n ? n : 1, sizeof *st->queue),
                .n_queue = n,
        };
        if (!st->queue)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                st->queue[i] = story_ref(queue_get(m->queue, i));
        if (m->on_air && m->on_air->id != m->persist->leaving_id &&
            !m->on_air->filler) { /* filler is not resumed */
                st->has_on_air = true;
                on_air_ref(m, &st->on_air);
        }
        if (m->persist->schedule_get)
                st->schedule = m->persist->schedule_get(m->persist->schedule_userdata);
        return 0;
}

static void state_release(struct persist_state *st) {
        free(st->queue);
        json_object_put(st->schedule);
}

/* A save failed: logged once per episode; changes are refused until one works. */
static void note_failed(struct manager *m, int r) {
        if (!m->persist->failing)
                log_error_errno(r,
                                "Cannot save the state in '%s': %m; changes are refused until it can be "
                                "saved, the audio goes on, retrying every second",
                                persist_path(m->persist->file));
        m->persist->failing = true;
}

static void note_saved(struct manager *m) {
        if (m->persist->failing)
                log_notice("State saved in '%s' again", persist_path(m->persist->file));
        m->persist->failing = false;
}

/* The last save, at shutdown, on the loop: nothing else runs any more. */
static void save_last(struct manager *m) {
        struct persist_state st;
        int r;

        if (!m->persist->file)
                return;
        r = state_build(m, &st);
        if (r >= 0)
                r = persist_save(m->persist->file, &st);
        state_release(&st);
        if (r < 0)
                note_failed(m, r);
        else if (r > 0)
                log_debug("State saved in %llu us",
                          (unsigned long long)persist_last_write_us(m->persist->file));
}

void manager_persist_changed(struct manager *m) {
        struct persist_state st;
        int r;

        if (!m->persist || !m->persist->file)
                return;
        r = state_build(m, &st);
        if (r >= 0)
                r = persist_save_async(m->persist->file, &st);
        state_release(&st);
        if (r < 0)
                log_warning_errno(r, "Cannot queue a save of the state: %m, retrying in a second");
        /* on failure the checkpoint timer retries */
}

static void save_work(void *p) {
        struct save_job *j = p;
        uint64_t t0 = aclock_now_ns();

        j->r = persist_write(j->file, j->w);
        j->write_us = (aclock_now_ns() - t0) / 1000;
}

static void save_done(void *p, void *userdata) {
        _cleanup_free_ char *error = NULL;
        struct save_job *j = p;
        struct manager *m = userdata;
        bool undone = j->r < 0 && j->r != -ECANCELED;

        if (j->r == -ECANCELED)
                error = strdup("the daemon is shutting down; nothing was changed");
        else if (j->r < 0) {
                persist_invalidate(j->file); /* the next save writes everything again */
                note_failed(m, j->r);
                if (asprintf(&error, "cannot save the state in '%s': %s; nothing was changed",
                             persist_path(j->file), strerror(-j->r)) < 0)
                        error = NULL;
        } else {
                note_saved(m);
                if (j->write_us > SLOW_WRITE_US)
                        log_warning("Saving the state took %llu ms (on the saver thread)",
                                    (unsigned long long)j->write_us / 1000);
        }
        /* Not saved: the story on air is as before. Saved: it is gone,
         * also when an earlier skip of it failed meanwhile and put it
         * back (while it is on air: else another may be leaving now). */
        if (j->r < 0 && j->leaving_id && m->persist->leaving_id == j->leaving_id)
                m->persist->leaving_id = j->leaving_was;
        else if (j->r >= 0 && j->leaving_id && m->on_air && m->on_air->id == j->leaving_id)
                m->persist->leaving_id = j->leaving_id;
        j->saved(m, j->r, error ? error : "cannot save the state; nothing was changed", j->userdata);
        persist_write_free(j->w);
        free(j);
        /* A later save that worked may hold the change just undone: the
         * disk follows the memory again (the checkpoint timer retries). */
        if (undone)
                manager_persist_changed(m);
}

/* Saves the state as it is now on the saver thread, with LEAVING_ID (0
 * none) the story on air that is saved as gone. */
static int save_then(struct manager *m, uint64_t leaving_id, manager_saved_fn saved, void *userdata,
                     char **ret_error) {
        struct persist_state st;
        struct save_job *j;
        uint64_t was;
        int r;

        if (!m->persist || !m->persist->file) { /* stopped: nothing is saved any more */
                *ret_error = strdup("the daemon is shutting down; nothing was changed");
                return -ESHUTDOWN;
        }
        if (!m->persist->saver && (r = worker_new(m->event, save_done, m, &m->persist->saver)) < 0)
                goto fail;
        j = calloc(1, sizeof *j);
        if (!j) {
                r = -ENOMEM;
                goto fail;
        }
        was = m->persist->leaving_id;
        *j = (struct save_job){.file = m->persist->file,
                               .r = -ECANCELED,
                               .leaving_id = leaving_id,
                               .leaving_was = was,
                               .saved = saved,
                               .userdata = userdata};
        if (leaving_id)
                m->persist->leaving_id = leaving_id;
        r = state_build(m, &st);
        if (r >= 0)
                r = persist_prepare(m->persist->file, &st, &j->w);
        state_release(&st);
        if (r >= 0)
                r = worker_submit(m->persist->saver, save_work, j);
        if (r >= 0)
                return 0;
        m->persist->leaving_id = was;
        persist_write_free(j->w);
        free(j);
fail:
        if (r == -ESHUTDOWN) /* worker_submit while the saver stops */
                *ret_error = strdup("the daemon is shutting down; nothing was changed");
        else if (asprintf(ret_error, "cannot save the state: %s; nothing was changed", strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

int manager_persist_save_then(struct manager *m, manager_saved_fn saved, void *userdata, char **ret_error) {
        return save_then(m, 0, saved, userdata, ret_error);
}

int manager_persist_leave_then(struct manager *m, uint64_t id, manager_saved_fn saved, void *userdata,
                               char **ret_error) {
        assert(id > 0);
        return save_then(m, id, saved, userdata, ret_error);
}

/* The outcome of the writes that finished since the last look. */
static void check_writes(struct manager *m) {
        int r = persist_async_error(m->persist->file);

        if (r < 0)
                note_failed(m, r);
        else
                note_saved(m);
}

static int on_checkpoint(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        struct persist_state st;

        /* Also while idle: a failed save is retried until the state catches up. */
        check_writes(m);
        if (m->persist->failing)
                manager_persist_changed(m);
        else if (state_build(m, &st) >= 0) {
                if (st.has_on_air && persist_checkpoint(m->persist->file, &st.on_air) < 0)
                        log_warning("Cannot queue the position checkpoint, retrying in a second");
                state_release(&st);
        }
        sd_event_source_set_time(s, usec + CHECKPOINT_USEC);
        return 0;
}

/* ---- restore --------------------------------------------------------- */

/* Where the interrupted story starts again, or -1 to drop it. */
static int64_t resume_frame(struct manager *m, const struct persist_state *st) {
        const struct persist_on_air *a = &st->on_air;
        const struct nextup_config *c = m->config;
        int64_t age_ms = wall_now_ms() - a->checkpoint_wall_ms;
        int64_t frames = a->frames * c->rate / st->rate; /* the output rate may have changed */
        int64_t pos_ms = a->frames * 1000 / st->rate;
        int64_t length_ms = a->duration_ms >= 0 ? a->duration_ms : pos_ms;
        const char *title = a->story.audio;

        if (age_ms > (int64_t)c->stale_s * 1000) {
                log_notice("Not resuming #%llu '%s': interrupted %lld s ago, more than stale_s = %d",
                           (unsigned long long)a->story.id, title, (long long)(age_ms / 1000), c->stale_s);
                return -1;
        }
        if (a->duration_ms >= 0 && pos_ms >= a->duration_ms) {
                log_info("Not resuming #%llu '%s': it had played to the end",
                         (unsigned long long)a->story.id, title);
                return -1;
        }
        switch (c->resume) {
        case RESUME_DROP:
                log_notice("Not resuming #%llu '%s' (resume = drop)", (unsigned long long)a->story.id,
                           title);
                return -1;
        case RESUME_RESTART:
                frames = 0;
                break;
        case RESUME_AUTO:
                if (length_ms <= (int64_t)c->resume_min_s * 1000)
                        frames = 0;
                break;
        case RESUME_POSITION:
                break;
        }
        log_info("Resuming #%llu '%s' %s %lld ms (interrupted %lld ms ago)", (unsigned long long)a->story.id,
                 title, frames > 0 ? "at" : "from the top, it was at", (long long)pos_ms, (long long)age_ms);
        return frames;
}

static void restore_story(struct manager *m, const struct persist_story *ps, int64_t start_frame) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = m->persist->restore(m, ps->audio, ps->transcript, ps->id, start_frame, &error);
        if (r < 0)
                log_error("Cannot restore story #%llu: %s, dropping it", (unsigned long long)ps->id,
                          error ? error : strerror(-r));
}

static void restore(struct manager *m, struct persist_state *st) {
        queue_set_next_id(m->queue, st->next_id);
        if (st->has_on_air) {
                int64_t frame = resume_frame(m, st);

                if (frame >= 0) {
                        restore_story(m, &st->on_air.story, frame);
                        m->persist->started_id = st->on_air.story.id;
                        m->persist->started_wall_ms = st->on_air.started_wall_ms;
                }
        }
        for (size_t i = 0; i < st->n_queue; i++) {
                int64_t f = st->queue[i].start_frame * m->config->rate / st->rate;

                restore_story(m, &st->queue[i], f);
        }
        m->persist->schedule_restored = TAKE_PTR(st->schedule);
        log_info("Restored the state from '%s': %zu stor%s queued, next id %llu",
                 persist_path(m->persist->file), queue_size(m->queue),
                 queue_size(m->queue) == 1 ? "y" : "ies", (unsigned long long)queue_next_id(m->queue));
        manager_update_cue(m);
        manager_update_status(m);
}

/* 1: a state was there (restored, or corrupt and moved aside: the queue
 * starts empty); 0: a first start, the config's startup items apply. */
int manager_persist_start(struct manager *m, manager_persist_restore_fn restore_fn,
                          manager_persist_schedule_fn schedule_get, void *userdata) {
        _cleanup_free_ char *error = NULL;
        struct persist_state st;
        uint64_t now;
        int r, loaded;

        m->persist = calloc(1, sizeof *m->persist);
        if (!m->persist)
                return -ENOMEM;
        m->persist->restore = restore_fn;
        m->persist->schedule_get = schedule_get;
        m->persist->schedule_userdata = userdata;
        r = persist_new(m->config->state_dir, &m->persist->file);
        if (r < 0)
                return r;
        loaded = persist_load(m->persist->file, &st, &error);
        if (loaded < 0)
                log_error("Cannot restore the state: %s; starting with an empty queue",
                          error ? error : strerror(-loaded));
        if (loaded > 0) {
                restore(m, &st);
                persist_state_done(&st);
        }
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(m->event, &m->persist->checkpoint_source, CLOCK_MONOTONIC,
                              now + CHECKPOINT_USEC, 50000, on_checkpoint, m);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(m->persist->checkpoint_source, SD_EVENT_ON);
        /* Save what was restored (or the empty state) at once: stories
         * that could not be restored are gone, the id counter is on disk. */
        manager_persist_changed(m);
        return loaded != 0; /* a corrupt state also means "not a first start" */
}

void manager_persist_stop(struct manager *m) {
        if (!m->persist)
                return;
        /* The saves clients wait on: written (or, not begun, refused) and
         * answered first; the control socket is still open. */
        m->persist->saver = worker_free(m->persist->saver);
        /* The last position, so that the story on air resumes after a
         * planned restart just as after a crash; written before we exit. */
        save_last(m);
        sd_event_source_unref(m->persist->checkpoint_source);
        persist_free(m->persist->file);
        json_object_put(m->persist->schedule_restored);
        free(m->persist);
        m->persist = NULL;
}

struct json_object *manager_persist_schedule_restored(struct manager *m) {
        return m->persist ? m->persist->schedule_restored : NULL;
}
