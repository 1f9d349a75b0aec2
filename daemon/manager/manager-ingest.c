/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-ingest.c: stories from their files into the queue, and the
 * ingest jobs (timing cache, scan, estimate, alignment) on the worker. */
#include "manager-internal.h"
#include "manager-persist.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "story.h"
#include "timing.h"
#include "transcript.h"
#include "worker.h"

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
        char *transcript_path;
        char *cache_dir;
        int max_chars, max_lines; /* the segmentation the cues were made with */
        struct cue_list *cues;    /* private copy, timed by the job */
        struct audio_scan scan;
        char key[CACHE_KEY_LEN + 1];
        int r; /* timing source (>= 0) or -errno */
        bool cached;
};

static struct ingest_job *ingest_job_free(struct ingest_job *j) {
        if (j) {
                free(j->audio_path);
                free(j->transcript_path);
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

/* Runs the aligner in a child process: `nextup-caption --require-aligned
 * -f json` beside our own binary. The aligner holds tens of MB while it
 * works and libespeak-ng keeps global state; in a child its memory goes
 * back to the system when it exits and a crash in it costs one story's
 * alignment, never the air. Returns TIMING_ALIGNED, -ENOMSG when it fell
 * back to the estimate, -ENOENT without the helper, other -errno. */
static int align_in_child(struct ingest_job *j) {
        char exe[PATH_MAX], helper[PATH_MAX + 32], chars[16], lines[16];
        struct json_object *root = NULL, *arr;
        int fds[2], status, r;
        ssize_t n;
        pid_t pid;

        n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0)
                return -errno;
        exe[n] = 0;
        snprintf(helper, sizeof helper, "%.*s/nextup-caption", (int)(strrchr(exe, '/') - exe), exe);
        if (access(helper, X_OK) < 0)
                return -ENOENT;
        snprintf(chars, sizeof chars, "%d", j->max_chars);
        snprintf(lines, sizeof lines, "%d", j->max_lines);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                execl(helper, helper, "--require-aligned", "-f", "json", "--max-chars", chars, "--max-lines",
                      lines, j->audio_path, j->transcript_path, (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        root = json_object_from_fd(fds[0]);
        close(fds[0]);
        r = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = WIFEXITED(status) && WEXITSTATUS(status) == 3 ? -ENOMSG : -EIO;
        if (r == 0 && (!root || !json_object_object_get_ex(root, "cues", &arr) ||
                       json_object_array_length(arr) != j->cues->n_cues))
                r = -EBADMSG; /* the transcript changed since it was queued */
        for (size_t i = 0; r == 0 && i < j->cues->n_cues; i++) {
                struct json_object *c = json_object_array_get_idx(arr, i), *v;
                if (json_object_object_get_ex(c, "start_ms", &v))
                        j->cues->cues[i].start_ms = json_object_get_int64(v);
                if (json_object_object_get_ex(c, "end_ms", &v))
                        j->cues->cues[i].end_ms = json_object_get_int64(v);
        }
        json_object_put(root);
        return r < 0 ? r : TIMING_ALIGNED;
}

static void ingest_align(struct ingest_job *j) {
        int r;

        r = align_in_child(j);
        if (r == -ENOMSG) {
                /* nextup-caption said why on stderr (the journal). */
                j->r = TIMING_ESTIMATE;
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot align '%s' in a helper process (%m), aligning in the daemon",
                                  j->audio_path);
                /* The scan step left the estimate in the copy; the aligner
                 * times only untimed cues (timed ones count as given). */
                for (size_t i = 0; i < j->cues->n_cues; i++)
                        j->cues->cues[i].start_ms = j->cues->cues[i].end_ms = -1;
                r = timing_align(j->cues, j->audio_path, &j->scan);
        }
        j->r = r;
        if (j->r >= 0 && j->key[0]) {
                r = cache_store(j->cache_dir, j->key, j->cues, &j->scan, j->r);
                if (r < 0)
                        log_warning_errno(r, "Cannot write the timing cache in '%s': %m, ignoring",
                                          j->cache_dir);
        }
}

static void ingest_work(void *p) {
        struct ingest_job *j = p;

        if (j->step == INGEST_SCAN)
                ingest_scan(j);
        else
                ingest_align(j);
}

struct story *manager_find_story(struct manager *m, uint64_t id) {
        struct story *s;

        if (m->on_air && m->on_air->id == id)
                return m->on_air;
        s = queue_find(m->queue, id, NULL);
        return s ? s : manager_schedule_find(m, id); /* a clock event's, prepared */
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
        manager_update_status(m);
}

void manager_ingest_done(void *p, void *userdata) {
        struct ingest_job *j = p;
        struct manager *m = userdata;
        struct story *s = manager_find_story(m, j->story_id);

        if (!s || j->r == -ECANCELED)
                goto finish; /* removed meanwhile, or shutting down */
        if (j->r < 0) {
                if (j->step == INGEST_SCAN) {
                        s->failed = true;
                        log_warning_errno(j->r,
                                          "Story #%llu: cannot use '%s': %m; it will be skipped on air",
                                          (unsigned long long)s->id, s->audio_path);
                } else
                        log_warning_errno(j->r, "Story #%llu: alignment failed: %m, keeping the estimate",
                                          (unsigned long long)s->id);
                goto finish;
        }
        story_take_times(m, s, j);
        log_info("Story #%llu '%s': %zu cues, timing %s%s", (unsigned long long)s->id, s->title,
                 s->cues->n_cues, timing_source_to_string(s->timing), j->cached ? " (from cache)" : "");
        if (j->step == INGEST_SCAN && !j->cached && j->r == TIMING_ESTIMATE) {
                if (s == m->on_air)
                        log_notice("Story #%llu is on air before its alignment is ready: captions use the "
                                   "estimate for now",
                                   (unsigned long long)s->id);
                j->step = INGEST_ALIGN;
                if (worker_submit(m->worker, ingest_work, j) >= 0)
                        return;
                log_warning("Cannot schedule the alignment of story #%llu, keeping the estimate",
                            (unsigned long long)s->id);
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
        j->transcript_path = strdup(s->transcript_path);
        j->max_chars = m->config->max_chars;
        j->max_lines = m->config->max_lines;
        if (m->config->state_dir && asprintf(&j->cache_dir, "%s/timing-cache", m->config->state_dir) < 0)
                j->cache_dir = NULL;
        if (!j->audio_path || !j->transcript_path || cue_list_dup(s->cues, &j->cues) < 0 ||
            worker_submit(m->worker, ingest_work, j) < 0) {
                ingest_job_free(j);
                return -ENOMEM;
        }
        return 0;
}

/* story_build with the configured segmentation. */
static int build(struct manager *m, const char *audio, const char *transcript, struct story **ret,
                 char **ret_error) {
        struct segment_opts o = {
                .max_chars = m->config->max_chars,
                .max_lines = m->config->max_lines,
                .speaker_mark = m->config->speaker_mark,
        };

        return story_build(audio, transcript, &o, ret, ret_error);
}

/* Queues a story at INDEX and starts its audio scan. DURABLE: refused
 * when the state cannot be saved (a client waits for the answer); else it
 * is queued anyway and saved as soon as the disk allows. */
static int enqueue(struct manager *m, const char *audio, const char *transcript, size_t index, bool durable,
                   struct story **ret, char **ret_error) {
        struct story *s = NULL;
        int r;

        r = build(m, audio, transcript, &s, ret_error);
        if (r < 0)
                return r;
        if (index > queue_size(m->queue))
                index = queue_size(m->queue);
        r = queue_insert(m->queue, index, s);
        if (r < 0) {
                story_free(s);
                return r;
        }
        if (!durable)
                manager_persist_changed(m);
        else if ((r = manager_persist_save(m, ret_error)) < 0) {
                /* Not durable: refused, so nothing acknowledged is lost. */
                story_free(queue_take(m->queue, s->id));
                return r;
        }

        if (ingest_submit(m, s) < 0)
                /* The story still plays; its captions wait for no timing. */
                log_warning("Cannot schedule the ingest of '%s', its captions stay untimed", s->audio_path);
        log_info("Queued #%llu '%s' at position %zu", (unsigned long long)s->id, s->title, index);
        manager_update_cue(m);
        manager_update_status(m);
        *ret = s;
        return (int)index;
}

int manager_enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                    struct story **ret, char **ret_error) {
        return enqueue(m, audio, transcript, index, false, ret, ret_error);
}

int manager_enqueue_durable(struct manager *m, const char *audio, const char *transcript, size_t index,
                            struct story **ret, char **ret_error) {
        return enqueue(m, audio, transcript, index, true, ret, ret_error);
}

int manager_enqueue_restored(struct manager *m, const char *audio, const char *transcript, uint64_t id,
                             int64_t start_frame, char **ret_error) {
        struct story *s = NULL;
        int r;

        r = build(m, audio, transcript, &s, ret_error);
        if (r < 0)
                return r;
        s->id = id;
        s->start_frame = start_frame;
        r = queue_insert_with_id(m->queue, queue_size(m->queue), s);
        if (r < 0) {
                story_free(s);
                return r;
        }
        if (ingest_submit(m, s) < 0)
                log_warning("Cannot schedule the ingest of '%s', its captions stay untimed", s->audio_path);
        return 0;
}

int manager_story_new(struct manager *m, const char *audio, const char *transcript, struct story **ret,
                      char **ret_error) {
        struct story *s = NULL;
        int r;

        r = build(m, audio, transcript, &s, ret_error);
        if (r < 0)
                return r;
        s->id = queue_next_id(m->queue);
        queue_set_next_id(m->queue, s->id + 1);
        if (ingest_submit(m, s) < 0)
                log_warning("Cannot schedule the ingest of '%s', its captions stay untimed", s->audio_path);
        *ret = s;
        return 0;
}
