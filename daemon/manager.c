/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager.c: the Manager owns the sd-event loop and wires the modules.
 *
 * DESIGN: three threads. This one (the loop) owns the configuration, the
 * Next Up queue, the story on air, the caption timers, the control socket
 * and sd_notify. The playout thread owns the decoders and the device; we
 * talk to it with playout_cue/skip/pause/resume and read its events from
 * an eventfd. The ingest worker scans audio (and later aligns) off the
 * loop; its results come back as done() callbacks on this thread. The only
 * state shared between threads is the audio clock (aclock) and the
 * heartbeat counter.
 *
 * The front of the queue is always "cued" in the playout thread, so when
 * the story on air ends the next one starts in the same buffer (gapless).
 * A story leaves the queue when the playout thread reports it STARTED. */
#include "manager.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "aclock.h"
#include "align.h"
#include "cache.h"
#include "captions.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "decoder.h"
#include "log.h"
#include "output.h"
#include "playout.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"
#include "timing.h"
#include "transcript.h"
#include "worker.h"

enum air_state {
        AIR_IDLE,
        AIR_PLAYING,
        AIR_PAUSED,
};

struct manager {
        sd_event *event;
        struct nextup_config *config;
        bool exit_idle;

        struct aclock *clock;
        struct playout *playout;
        struct captions *captions;       /* serves the story on air */
        struct captions *captions_next;  /* after a reload: takes over at the next story */
        struct control *control;
        struct worker *worker;
        struct queue *queue;

        struct story *on_air;            /* owned; left the queue on STARTED */
        uint64_t cued_id;                /* what the playout thread has cued */
        enum air_state state;
        const char *output_driver;

        sd_event_source *playout_source;
        sd_event_source *watchdog_source;
        sd_event_source *status_source;
        uint64_t watchdog_usec;
        uint64_t last_heartbeat;
        char *last_status;
};

static void update_status(struct manager *m);
static void update_cue(struct manager *m);

static int64_t story_position_ms(struct manager *m) {
        struct aclock_sample s;

        if (!m->on_air)
                return 0;
        aclock_read(m->clock, &s);
        if (s.item_id != m->on_air->id)
                return 0;
        return MAX(aclock_position_ms(&s, aclock_now_ns()), 0);
}

static void format_mmss(int64_t ms, char *buf, size_t n) {
        int64_t s = ms < 0 ? 0 : ms / 1000;

        snprintf(buf, n, "%02lld:%02lld", (long long) (s / 60), (long long) (s % 60));
}

static struct json_object *story_to_json(const struct story *s) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "id", json_object_new_int64((int64_t) s->id));
        json_object_object_add(o, "title", json_object_new_string(s->title));
        json_object_object_add(o, "audio", json_object_new_string(s->audio_path));
        json_object_object_add(o, "transcript", json_object_new_string(s->transcript_path));
        json_object_object_add(o, "duration_ms", json_object_new_int64(s->duration_ms));
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(s->timing)));
        json_object_object_add(o, "cues", json_object_new_int64(s->cues ? (int64_t) s->cues->n_cues : 0));
        return o;
}

/* ---- ingest ---------------------------------------------------------- */

/* Ingest on the worker thread, in two steps so a story is playable with
 * estimated timing quickly and aligned soon after:
 *   INGEST_SCAN:  timing cache lookup; on a miss, decode scan + estimate;
 *   INGEST_ALIGN: forced alignment (about 1 s per 3 min), then cached.
 * A job owns copies of everything it reads, so the loop may free the story
 * meanwhile; its times are copied into the story's cues on the loop. */
enum ingest_step {
        INGEST_SCAN,
        INGEST_ALIGN,
};

struct ingest_job {
        enum ingest_step step;
        uint64_t story_id;
        char *audio_path;
        char *cache_dir;
        struct cue_list *cues;   /* private copy, timed by the job */
        struct audio_scan scan;
        char key[CACHE_KEY_LEN + 1];
        int r;                   /* timing source (>= 0) or -errno */
        bool cached;
};

static struct ingest_job *ingest_job_free(struct ingest_job *j) {
        if (j) {
                free(j->audio_path);
                free(j->cache_dir);
                cue_list_free(j->cues);
                free(j);
        }
        return NULL;
}

static void ingest_scan(struct ingest_job *j) {
        char salt[64];
        int r;

        /* The output rate is in the key: scan frames are counted at it. */
        snprintf(salt, sizeof salt, "align-%s-rate-%d", ALIGN_VERSION, j->scan.rate);
        if (j->cache_dir && cache_key(j->audio_path, j->cues, salt, j->key) >= 0) {
                r = cache_load(j->cache_dir, j->key, j->cues, &j->scan);
                if (r > 0) {
                        j->cached = true;
                        j->r = r;
                        return;
                }
        } else
                j->key[0] = 0;
        j->r = decoder_scan(j->audio_path, j->scan.rate, &j->scan);
        if (j->r >= 0)
                j->r = timing_assign(j->cues, &j->scan);
}

static void ingest_align(struct ingest_job *j) {
        int r;

        /* The scan step left the estimate in the copy; the aligner times
         * only untimed cues (timed ones count as given). */
        for (size_t i = 0; i < j->cues->n_cues; i++)
                j->cues->cues[i].start_ms = j->cues->cues[i].end_ms = -1;
        j->r = timing_align(j->cues, j->audio_path, &j->scan);
        if (j->r >= 0 && j->key[0]) {
                r = cache_store(j->cache_dir, j->key, j->cues, &j->scan, j->r);
                if (r < 0)
                        log_warning_errno(r, "Cannot write the timing cache in '%s': %m, ignoring", j->cache_dir);
        }
}

static void ingest_work(void *p) {
        struct ingest_job *j = p;

        if (j->step == INGEST_SCAN)
                ingest_scan(j);
        else
                ingest_align(j);
}

static struct story *find_story(struct manager *m, uint64_t id) {
        if (m->on_air && m->on_air->id == id)
                return m->on_air;
        return queue_find(m->queue, id, NULL);
}

static void story_take_times(struct manager *m, struct story *s, struct ingest_job *j) {
        for (size_t i = 0; i < s->cues->n_cues && i < j->cues->n_cues; i++) {
                s->cues->cues[i].start_ms = j->cues->cues[i].start_ms;
                s->cues->cues[i].end_ms = j->cues->cues[i].end_ms;
        }
        s->timing = j->r;
        s->duration_ms = j->scan.frames * 1000 / j->scan.rate;
        if (s == m->on_air)
                captions_replan(m->captions);
        update_status(m);
}

static void ingest_done(void *p, void *userdata) {
        struct ingest_job *j = p;
        struct manager *m = userdata;
        struct story *s = find_story(m, j->story_id);

        if (!s || j->r == -ECANCELED)
                goto finish;    /* removed meanwhile, or shutting down */
        if (j->r < 0) {
                if (j->step == INGEST_SCAN) {
                        s->failed = true;
                        log_warning_errno(j->r, "Story #%llu: cannot use '%s': %m; it will be skipped on air",
                                          (unsigned long long) s->id, s->audio_path);
                } else
                        log_warning_errno(j->r, "Story #%llu: alignment failed: %m, keeping the estimate",
                                          (unsigned long long) s->id);
                goto finish;
        }
        story_take_times(m, s, j);
        log_info("Story #%llu '%s': %zu cues, timing %s%s", (unsigned long long) s->id, s->title,
                 s->cues->n_cues, timing_source_to_string(s->timing), j->cached ? " (from cache)" : "");
        if (j->step == INGEST_SCAN && !j->cached && j->r == TIMING_ESTIMATE) {
                if (s == m->on_air)
                        log_notice("Story #%llu is on air before its alignment is ready: captions use the "
                                   "estimate for now", (unsigned long long) s->id);
                j->step = INGEST_ALIGN;
                if (worker_submit(m->worker, ingest_work, j) >= 0)
                        return;
                log_warning("Cannot schedule the alignment of story #%llu, keeping the estimate",
                            (unsigned long long) s->id);
        }
finish:
        ingest_job_free(j);
}

static int ingest_submit(struct manager *m, struct story *s) {
        struct ingest_job *j = calloc(1, sizeof *j);

        if (!j)
                return -ENOMEM;
        j->step = INGEST_SCAN;
        j->story_id = s->id;
        j->scan.rate = m->config->rate;
        j->r = -ECANCELED;
        j->audio_path = strdup(s->audio_path);
        if (m->config->state_dir && asprintf(&j->cache_dir, "%s/timing-cache", m->config->state_dir) < 0)
                j->cache_dir = NULL;
        if (!j->audio_path || cue_list_dup(s->cues, &j->cues) < 0 || worker_submit(m->worker, ingest_work, j) < 0) {
                ingest_job_free(j);
                return -ENOMEM;
        }
        return 0;
}

/* Builds a story from its files; on failure *ret_error says why, naming
 * the file. */
static int story_build(struct manager *m, const char *audio, const char *transcript,
                       struct story **ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        struct transcript *t = NULL;
        struct story *s;
        struct stat st;
        int fd, r;

        if (!audio || audio[0] != '/' || !transcript || transcript[0] != '/')
                return *ret_error = strdup("audio and transcript must be absolute paths"), -EINVAL;

        fd = open(audio, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = fd < 0 ? -errno : -EINVAL;
                if (fd >= 0)
                        close(fd);
                if (asprintf(ret_error, "audio '%s': %s", audio,
                             r == -EINVAL ? "not a regular file" : strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        close(fd);

        r = transcript_load(transcript, &t, &error);
        if (r < 0) {
                if (asprintf(ret_error, "transcript '%s': %s", transcript,
                             error ? error : strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }

        s = calloc(1, sizeof *s);
        if (!s) {
                transcript_free(t);
                return -ENOMEM;
        }
        s->duration_ms = -1;
        s->timing = TIMING_NONE;
        s->audio_path = strdup(audio);
        s->transcript_path = strdup(transcript);
        if (t->title)
                s->title = strdup(t->title);
        else {
                const char *b = strrchr(audio, '/');
                s->title = strdup(b ? b + 1 : audio);
        }
        {
                struct segment_opts o = {
                        .max_chars = m->config->max_chars,
                        .max_lines = m->config->max_lines,
                        .speaker_mark = m->config->speaker_mark,
                };
                r = segment_transcript(t, &o, &s->cues);
        }
        transcript_free(t);
        if (r < 0 || !s->audio_path || !s->transcript_path || !s->title) {
                story_free(s);
                if (asprintf(ret_error, "transcript '%s': %s", transcript,
                             r == -EINVAL ? "no spoken text" : strerror(r < 0 ? -r : ENOMEM)) < 0)
                        *ret_error = NULL;
                return r < 0 ? r : -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* Queues a story at INDEX and starts its audio scan. */
static int enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                   struct story **ret, char **ret_error) {
        struct story *s = NULL;
        int r;

        r = story_build(m, audio, transcript, &s, ret_error);
        if (r < 0)
                return r;
        if (index > queue_size(m->queue))
                index = queue_size(m->queue);
        r = queue_insert(m->queue, index, s);
        if (r < 0) {
                story_free(s);
                return r;
        }

        if (ingest_submit(m, s) < 0)
                /* The story still plays; its captions wait for no timing. */
                log_warning("Cannot schedule the ingest of '%s', its captions stay untimed", s->audio_path);
        log_info("Queued #%llu '%s' at position %zu", (unsigned long long) s->id, s->title, index);
        update_cue(m);
        update_status(m);
        *ret = s;
        return (int) index;
}

/* ---- playout --------------------------------------------------------- */

/* Keeps the front of the queue cued in the playout thread. */
static void update_cue(struct manager *m) {
        struct story *front = queue_get(m->queue, 0);
        uint64_t id = front ? front->id : 0;

        if (id == m->cued_id)
                return;
        if (playout_cue(m->playout, id, front ? front->audio_path : NULL) < 0) {
                log_error("Cannot cue the next story (out of memory)");
                return;
        }
        m->cued_id = id;
}

static void maybe_exit_idle(struct manager *m) {
        if (m->exit_idle && !m->on_air && queue_size(m->queue) == 0) {
                log_info("Nothing on air or queued, exiting");
                sd_event_exit(m->event, 0);
        }
}

static void on_started(struct manager *m, const struct playout_event *ev) {
        struct story *s = queue_take(m->queue, ev->item_id);

        if (m->cued_id == ev->item_id)
                m->cued_id = 0;
        if (!s) {
                /* Removed from the queue just as it went on air. */
                log_notice("Story #%llu was removed as it started, skipping", (unsigned long long) ev->item_id);
                playout_skip(m->playout);
                update_cue(m);
                return;
        }
        if (m->captions_next) {
                captions_free(m->captions);
                m->captions = TAKE_PTR(m->captions_next);
        }
        story_free(m->on_air);
        m->on_air = s;
        m->state = AIR_PLAYING;
        log_info("On air: #%llu '%s'%s", (unsigned long long) s->id, s->title,
                 s->timing == TIMING_NONE ? " (captions wait for the audio scan)" : "");
        captions_story_started(m->captions, s);
        update_cue(m);
        update_status(m);
}

static void on_ended(struct manager *m, const struct playout_event *ev) {
        struct story *s;

        if (m->on_air && m->on_air->id == ev->item_id) {
                captions_story_ended(m->captions, m->on_air);
                log_info("Off air: #%llu '%s' (%s, %lld ms played, %zu cues emitted, %zu dropped)",
                         (unsigned long long) ev->item_id, m->on_air->title,
                         playout_end_reason_to_string(ev->reason),
                         (long long) (ev->frames * 1000 / m->config->rate),
                         captions_emitted(m->captions), captions_dropped(m->captions));
                m->on_air = story_free(m->on_air);
        } else if (ev->reason == PLAYOUT_END_ERROR && (s = queue_take(m->queue, ev->item_id))) {
                /* Failed before its first frame: it leaves the queue. */
                if (m->cued_id == ev->item_id)
                        m->cued_id = 0;
                story_free(s);
        }
        if (ev->reason == PLAYOUT_END_ERROR)
                log_warning("Skipping story #%llu: %s", (unsigned long long) ev->item_id, ev->message);
        update_cue(m);
        update_status(m);
}

static int on_playout_event(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        struct playout_event ev;

        while (playout_next_event(m->playout, &ev) > 0) {
                switch (ev.type) {
                case PLAYOUT_STARTED:
                        on_started(m, &ev);
                        break;
                case PLAYOUT_ENDED:
                        on_ended(m, &ev);
                        break;
                case PLAYOUT_PAUSED:
                        m->state = AIR_PAUSED;
                        captions_replan(m->captions);
                        update_status(m);
                        break;
                case PLAYOUT_RESUMED:
                        m->state = m->on_air ? AIR_PLAYING : AIR_IDLE;
                        captions_replan(m->captions);
                        update_status(m);
                        break;
                case PLAYOUT_IDLE:
                        if (m->state != AIR_PAUSED)
                                m->state = AIR_IDLE;
                        update_status(m);
                        maybe_exit_idle(m);
                        break;
                }
        }
        return 0;
}

/* ---- control commands ------------------------------------------------ */

static int json_get_index(struct json_object *req, const char *key, int64_t *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_int))
                return -EINVAL;
        if (json_object_get_int64(v) < 0)
                return -ERANGE;
        *ret = json_object_get_int64(v);
        return 0;
}

static const char *json_get_string(struct json_object *req, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static struct json_object *cmd_add(struct manager *m, struct json_object *req, bool insert) {
        _cleanup_free_ char *error = NULL;
        const char *audio = json_get_string(req, "audio"), *transcript = json_get_string(req, "transcript");
        struct json_object *reply;
        struct story *s;
        int64_t pos = (int64_t) queue_size(m->queue);
        int r;

        if (!audio || !transcript)
                return control_error("'%s' needs string fields \"audio\" and \"transcript\"",
                                     insert ? "insert" : "add");
        if (insert && json_get_index(req, "position", &pos) < 0)
                return control_error("'insert' needs \"position\": a non-negative integer (0 = next up)");
        r = enqueue(m, audio, transcript, (size_t) pos, &s, &error);
        if (r < 0)
                return control_error("%s", error ? error : strerror(-r));
        reply = control_ok();
        json_object_object_add(reply, "id", json_object_new_int64((int64_t) s->id));
        json_object_object_add(reply, "title", json_object_new_string(s->title));
        json_object_object_add(reply, "position", json_object_new_int64(r));
        return reply;
}

static struct json_object *cmd_remove(struct manager *m, struct json_object *req) {
        int64_t id;
        struct story *s;

        if (json_get_index(req, "id", &id) < 0)
                return control_error("'remove' needs \"id\": a story id");
        if (m->on_air && m->on_air->id == (uint64_t) id) {
                playout_skip(m->playout);
                return control_ok();
        }
        s = queue_take(m->queue, (uint64_t) id);
        if (!s)
                return control_error("no story #%lld in the queue", (long long) id);
        log_info("Removed #%lld '%s' from the queue", (long long) id, s->title);
        story_free(s);
        update_cue(m);
        update_status(m);
        return control_ok();
}

static struct json_object *cmd_move(struct manager *m, struct json_object *req) {
        int64_t id, pos;
        int r;

        if (json_get_index(req, "id", &id) < 0 || json_get_index(req, "position", &pos) < 0)
                return control_error("'move' needs \"id\" and \"position\": non-negative integers");
        r = queue_move(m->queue, (uint64_t) id, (size_t) pos);
        if (r == -ENOENT)
                return control_error("no story #%lld in the queue", (long long) id);
        if (r < 0)
                return control_error("cannot move #%lld: %s", (long long) id, strerror(-r));
        update_cue(m);
        update_status(m);
        return control_ok();
}

static struct json_object *cmd_list(struct manager *m) {
        struct json_object *reply = control_ok(), *arr = json_object_new_array();

        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        for (size_t i = 0; i < queue_size(m->queue); i++)
                json_object_array_add(arr, story_to_json(queue_get(m->queue, i)));
        json_object_object_add(reply, "queue", arr);
        return reply;
}

static const char *state_name(enum air_state s) {
        return s == AIR_PLAYING ? "playing" : s == AIR_PAUSED ? "paused" : "idle";
}

static struct json_object *cmd_status(struct manager *m) {
        struct json_object *reply = control_ok();
        struct story *next = queue_get(m->queue, 0);

        json_object_object_add(reply, "state", json_object_new_string(state_name(m->state)));
        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        json_object_object_add(reply, "position_ms", json_object_new_int64(story_position_ms(m)));
        json_object_object_add(reply, "next", next ? story_to_json(next) : NULL);
        json_object_object_add(reply, "queue_length", json_object_new_int64((int64_t) queue_size(m->queue)));
        json_object_object_add(reply, "output", json_object_new_string(m->output_driver));
        return reply;
}

static struct json_object *simple_cmd(struct manager *m, const char *cmd) {
        int r = 0;

        if (strcmp(cmd, "skip") == 0) {
                if (!m->on_air)
                        return control_error("nothing on air to skip");
                r = playout_skip(m->playout);
        } else if (strcmp(cmd, "pause") == 0)
                r = playout_pause(m->playout);
        else if (strcmp(cmd, "resume") == 0)
                r = playout_resume(m->playout);
        else if (strcmp(cmd, "clear") == 0) {
                queue_clear(m->queue);
                update_cue(m);
                update_status(m);
                log_info("Queue cleared");
        } else
                return NULL;
        if (r < 0)
                return control_error("'%s' failed: %s", cmd, strerror(-r));
        return control_ok();
}

static struct json_object *handle_request(struct json_object *req, void *userdata) {
        struct manager *m = userdata;
        const char *cmd = json_get_string(req, "cmd");
        struct json_object *reply;

        if (!cmd)
                return control_error("request needs a string \"cmd\"");
        if (strcmp(cmd, "add") == 0)
                return cmd_add(m, req, false);
        if (strcmp(cmd, "insert") == 0)
                return cmd_add(m, req, true);
        if (strcmp(cmd, "remove") == 0)
                return cmd_remove(m, req);
        if (strcmp(cmd, "move") == 0)
                return cmd_move(m, req);
        if (strcmp(cmd, "list") == 0)
                return cmd_list(m);
        if (strcmp(cmd, "status") == 0)
                return cmd_status(m);
        reply = simple_cmd(m, cmd);
        if (reply)
                return reply;
        return control_error("unknown command '%.64s' (add, insert, remove, move, list, status, skip, "
                             "pause, resume, clear)", cmd);
}

/* ---- sd_notify: status, watchdog ------------------------------------- */

static void update_status(struct manager *m) {
        struct story *next = queue_get(m->queue, 0);
        _cleanup_free_ char *status = NULL;
        char pos[32], dur[32];
        int n;

        if (m->on_air) {
                format_mmss(story_position_ms(m), pos, sizeof pos);
                format_mmss(m->on_air->duration_ms, dur, sizeof dur);
                n = asprintf(&status, "%s: %s %s/%s%s", m->state == AIR_PAUSED ? "Paused" : "On air",
                             m->on_air->title, pos, m->on_air->duration_ms >= 0 ? dur : "--:--",
                             m->on_air->timing == TIMING_NONE       ? " (captions not timed yet)"
                             : m->on_air->timing == TIMING_ESTIMATE ? " (captions: estimated timing)"
                                                                    : "");
        } else
                n = asprintf(&status, "Idle");
        if (n < 0)
                return;
        if (next) {
                char *s;
                if (asprintf(&s, "%s · Next up: %s", status, next->title) < 0)
                        return;
                free(status);
                status = s;
        }
        if (m->last_status && strcmp(m->last_status, status) == 0)
                return;
        sd_notifyf(false, "STATUS=%s", status);
        free(m->last_status);
        m->last_status = TAKE_PTR(status);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        update_status(m);
        sd_event_source_set_time(s, usec + 1000000);
        return 0;
}

/* WATCHDOG=1 only while the playout thread's loop turns: a hung device or
 * decoder lets systemd restart us. */
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        uint64_t hb = playout_heartbeat(m->playout);

        if (hb != m->last_heartbeat)
                sd_notify(false, "WATCHDOG=1");
        else
                log_warning("Playout thread made no progress for %llu ms",
                            (unsigned long long) (m->watchdog_usec / 2000));
        m->last_heartbeat = hb;
        sd_event_source_set_time(s, usec + m->watchdog_usec / 2);
        return 0;
}

/* ---- signals and reload ---------------------------------------------- */

static int make_sinks(const struct nextup_config *c, struct sink ***ret, size_t *ret_n) {
        struct sink **sinks = calloc(c->n_sinks ? c->n_sinks : 1, sizeof *sinks);
        int r;

        if (!sinks)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_sinks; i++) {
                r = sink_new(&c->sinks[i], &sinks[i]);
                if (r < 0) {
                        log_error_errno(r, "Cannot open caption sink %zu ('%s'): %m", i,
                                        c->sinks[i].path ? c->sinks[i].path : "terminal");
                        for (size_t k = 0; k < i; k++)
                                sink_free(sinks[k]);
                        free(sinks);
                        return r;
                }
        }
        *ret = sinks;
        *ret_n = c->n_sinks;
        return 0;
}

static int make_captions(struct manager *m, const struct nextup_config *c, struct captions **ret) {
        struct sink **sinks;
        size_t n;
        int r;

        r = make_sinks(c, &sinks, &n);
        if (r < 0)
                return r;
        r = captions_new(m->event, m->clock, sinks, n, ret);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        sink_free(sinks[i]);
                free(sinks);
        }
        return r;
}

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void reload(struct manager *m) {
        _cleanup_free_ char *errors = NULL;
        struct nextup_config *c = NULL;
        struct captions *caps = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long) (aclock_now_ns() / 1000));
        log_info("Reloading '%s'", m->config->path);
        f = open_memstream(&errors, &size);
        r = f ? config_load(m->config->path, f, &c) : -ENOMEM;
        if (f)
                fclose(f);
        if (r >= 0)
                r = make_captions(m, c, &caps);
        if (r < 0) {
                for (char *l = errors, *e; l && *l; l = e + 1) {
                        e = strchrnul(l, '\n');
                        log_error("%.*s", (int) (e - l), l);
                        if (!*e)
                                break;
                }
                log_error("Reload failed, keeping the old configuration");
                config_free(c);
                goto done;
        }
        if (!str_eq(c->output_driver, m->config->output_driver) || !str_eq(c->output_file, m->config->output_file) ||
            c->rate != m->config->rate || c->channels != m->config->channels ||
            !str_eq(c->control_socket, m->config->control_socket))
                log_notice("Output and control socket changes take effect at the next restart");
        log_set_max_level(c->log_level);
        /* The story on air keeps its sinks; the new ones take over at the next story. */
        captions_free(m->captions_next);
        m->captions_next = caps;
        if (!m->on_air) {
                captions_free(m->captions);
                m->captions = TAKE_PTR(m->captions_next);
        }
        config_free(m->config);
        m->config = c;
        log_info("Configuration reloaded");
done:
        sd_notify(false, "READY=1");
        free(m->last_status);
        m->last_status = NULL;
        update_status(m);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        if (si->ssi_signo == SIGHUP) {
                reload(m);
                return 0;
        }
        log_info("Received %s, stopping", strsignal((int) si->ssi_signo));
        sd_notify(false, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

/* ---- set-up ---------------------------------------------------------- */

static int mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return errno = ENOMEM, -1;
        for (char *c = p + 1; *c; c++)
                if (*c == '/') {
                        *c = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -1;
                        *c = '/';
                }
        return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int open_output(struct manager *m, struct output **ret) {
        struct output_spec spec = {
                .driver = m->config->output_driver,
                .file = m->config->output_file,
                .options = m->config->output_options,
                .n_options = m->config->n_output_options,
                .rate = m->config->rate,
                .channels = m->config->channels,
        };
        int r = output_open(&spec, ret);

        if (r < 0)
                return log_error_errno(r, "Cannot open the audio output '%s': %m", spec.driver);
        m->output_driver = output_driver_name(*ret);
        log_info("Output: %s%s, %d Hz, %d channel%s", m->output_driver,
                 output_is_paced(*ret) ? " (paced)" : "", spec.rate, spec.channels,
                 spec.channels > 1 ? "s" : "");
        return 0;
}

static void queue_startup(struct manager *m) {
        for (size_t i = 0; i < m->config->n_startup; i++) {
                _cleanup_free_ char *error = NULL;
                struct story *s;

                if (enqueue(m, m->config->startup[i].audio, m->config->startup[i].transcript,
                            queue_size(m->queue), &s, &error) < 0)
                        log_error("%s:startup[%zu]: %s, skipping", m->config->path, i,
                                  error ? error : "out of memory");
        }
}

static int add_sources(struct manager *m) {
        uint64_t now;
        int r;

        r = sd_event_add_io(m->event, &m->playout_source, playout_event_fd(m->playout), EPOLLIN,
                            on_playout_event, m);
        if (r < 0)
                return r;
        for (int sig = SIGHUP; sig <= SIGTERM; sig++)
                if (sig == SIGHUP || sig == SIGINT || sig == SIGTERM) {
                        r = sd_event_add_signal(m->event, NULL, sig, on_signal, m);
                        if (r < 0)
                                return r;
                }
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(m->event, &m->status_source, CLOCK_MONOTONIC, now + 1000000, 10000,
                              on_status_timer, m);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(m->status_source, SD_EVENT_ON);
        if (sd_watchdog_enabled(false, &m->watchdog_usec) > 0) {
                r = sd_event_add_time(m->event, &m->watchdog_source, CLOCK_MONOTONIC,
                                      now + m->watchdog_usec / 2, m->watchdog_usec / 20, on_watchdog_timer, m);
                if (r < 0)
                        return r;
                sd_event_source_set_enabled(m->watchdog_source, SD_EVENT_ON);
        }
        return 0;
}

int manager_new(struct nextup_config *config, bool exit_idle, struct manager **ret) {
        struct manager *m = calloc(1, sizeof *m);
        struct output *out = NULL;
        int r;

        if (!m) {
                config_free(config);
                return -ENOMEM;
        }
        m->config = config;
        m->exit_idle = exit_idle;
        if (config->state_dir && mkdir_p(config->state_dir) < 0)
                log_warning_errno(-errno, "Cannot create the state directory '%s': %m, the timing cache is off",
                                  config->state_dir);

        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;
        r = queue_new(&m->queue);
        if (r < 0)
                goto fail;
        r = aclock_new(&m->clock);
        if (r < 0)
                goto fail;
        r = make_captions(m, config, &m->captions);
        if (r < 0)
                goto fail;
        r = open_output(m, &out);
        if (r < 0)
                goto fail;
        r = playout_start(out, m->clock, config->rate, config->channels, &m->playout);
        if (r < 0) {
                output_free(out);
                goto fail;
        }
        r = worker_new(m->event, ingest_done, m, &m->worker);
        if (r < 0)
                goto fail;
        r = control_new(m->event, config->control_socket, config->control_mode, handle_request, m, &m->control);
        if (r < 0)
                goto fail;      /* control_new said why */
        r = add_sources(m);
        if (r < 0)
                goto fail;
        queue_startup(m);
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

int manager_run(struct manager *m) {
        update_status(m);
        /* Honest READY=1: the device is open and the playout thread runs. */
        sd_notify(false, "READY=1");
        log_info("nextupd ready, control socket '%s'", m->config->control_socket);
        maybe_exit_idle(m);
        return sd_event_loop(m->event);
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        m->playout_source = sd_event_source_unref(m->playout_source);
        m->watchdog_source = sd_event_source_unref(m->watchdog_source);
        m->status_source = sd_event_source_unref(m->status_source);
        control_free(m->control);
        worker_free(m->worker);
        m->playout = playout_stop(m->playout);
        if (m->on_air && m->captions)
                captions_story_ended(m->captions, m->on_air);
        story_free(m->on_air);
        captions_free(m->captions);
        captions_free(m->captions_next);
        queue_free(m->queue);
        aclock_free(m->clock);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->last_status);
        free(m);
        return NULL;
}
