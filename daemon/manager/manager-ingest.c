/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-ingest.c: stories from their files into the queue, and the
 * ingest jobs (timing cache, scan, estimate, alignment) on the worker. */
#include "manager-ingest.h"
#include "manager-events.h"
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
#include "child.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "decoder.h"
#include "fileio.h"
#include "log.h"
#include "mediaroot.h"
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
        INGEST_CHECK,
        INGEST_SCAN,
        INGEST_ALIGN,
};

struct ingest_job {
        enum ingest_step step;
        uint64_t story_id;
        char *audio_path;
        char *transcript_path;
        char *cache_dir;
        char *speaker_mark;
        int max_chars, max_lines; /* the segmentation the cues were made with */
        int cancel_fd;            /* the align worker's: readable at shutdown */
        struct cue_list *cues;    /* private copy, timed by the job */
        struct audio_scan scan;
        char key[CACHE_KEY_LEN + 1];
        int r; /* timing source (>= 0) or -errno */
        bool cached;
        bool scanned;      /* scan came with the job (the dropbox's check decoded it) */
        bool align_failed; /* INGEST_ALIGN: the estimate stays, j->why says why */
        char *why;
        /* INGEST_CHECK: a control command's story, built and scanned before
         * the command replies (see manager_check_story) */
        char **roots; /* a copy of media_roots: a reload may free the config */
        size_t n_roots;
        struct story *story;       /* built on the worker, j->why when not */
        struct control_conn *conn; /* referenced */
        struct json_object *req;   /* referenced */
        manager_checked_fn checked;
};

static struct ingest_job *ingest_job_free(struct ingest_job *j) {
        if (j) {
                free(j->audio_path);
                free(j->transcript_path);
                free(j->cache_dir);
                free(j->speaker_mark);
                free(j->why);
                cue_list_free(j->cues);
                for (size_t i = 0; i < j->n_roots; i++)
                        free(j->roots[i]);
                free(j->roots);
                story_free(j->story);
                control_conn_unref(j->conn);
                json_object_put(j->req);
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
        j->r = j->scanned ? 0 : decoder_scan(j->audio_path, j->scan.rate, &j->scan);
        if (j->r >= 0)
                j->r = timing_assign(j->cues, &j->scan);
}

/* The alignment helper's limits. Alignment runs at well over 100x real
 * time; the wall clock gets a minute plus half the audio's length (ASan
 * builds are ~10x slower), the CPU limit the same in seconds, and memory
 * 1 GiB (a 60-minute story needs about 128 MB). */
#define ALIGN_TIMEOUT_BASE_MS 60000
#define ALIGN_AS_BYTES (1ULL << 30)
#define ALIGN_MAX_OUTPUT (64U << 20)
#define HELPER_EXIT_NOT_ALIGNED 3
#define HELPER_EXIT_CUES_MISMATCH 4

/* The helper beside our own binary, or $NEXTUP_CAPTION_HELPER (tests, and
 * installs that keep it elsewhere). */
static int helper_path(char *buf, size_t n) {
        const char *env = getenv("NEXTUP_CAPTION_HELPER");
        char exe[PATH_MAX];
        ssize_t k;

        if (env && env[0] == '/')
                return snprintf(buf, n, "%s", env) < (int)n ? 0 : -ENAMETOOLONG;
        k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (k < 0)
                return -errno;
        exe[k] = 0;
        return snprintf(buf, n, "%.*s/nextup-caption", (int)(strrchr(exe, '/') - exe), exe) < (int)n
                       ? 0
                       : -ENAMETOOLONG;
}

/* The "words" of one cue of the helper's JSON (text, start_ms, end_ms
 * each) into *RET (n in *RET_N): 0, -EBADMSG when malformed, -ENOMEM. A
 * cue without words gets none. */
static int parse_helper_words(struct json_object *c, struct cue_word **ret, size_t *ret_n) {
        struct json_object *arr;
        struct cue word_owner = {};
        size_t n;

        if (!json_object_object_get_ex(c, "words", &arr) || !arr) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!json_object_is_type(arr, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(arr);
        word_owner.words = n ? calloc(n, sizeof *word_owner.words) : NULL;
        if (n && !word_owner.words)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *w = json_object_array_get_idx(arr, i), *t, *a, *b;

                if (!json_object_object_get_ex(w, "text", &t) || !json_object_is_type(t, json_type_string) ||
                    !json_object_object_get_ex(w, "start_ms", &a) ||
                    !json_object_is_type(a, json_type_int) || !json_object_object_get_ex(w, "end_ms", &b) ||
                    !json_object_is_type(b, json_type_int)) {
                        cue_words_clear(&word_owner);
                        return -EBADMSG;
                }
                word_owner.words[i].text = strdup(json_object_get_string(t));
                word_owner.words[i].start_ms = json_object_get_int64(a);
                word_owner.words[i].end_ms = json_object_get_int64(b);
                word_owner.n_words = i + 1;
                if (!word_owner.words[i].text) {
                        cue_words_clear(&word_owner);
                        return -ENOMEM;
                }
        }
        *ret = word_owner.words;
        *ret_n = word_owner.n_words;
        return 0;
}

/* Copies the times (and word times) of the helper's JSON onto the job's
 * cues, all or none. */
static int take_helper_times(struct ingest_job *j, const char *out) {
        struct json_object *root = json_tokener_parse(out), *arr;
        size_t n = j->cues->n_cues;
        _cleanup_free_ int64_t *t = calloc(2 * (n ? n : 1), sizeof *t);
        _cleanup_free_ struct cue *words = calloc(n ? n : 1, sizeof *words); /* words, n_words only */
        int r = 0;

        if (!t || !words)
                r = -ENOMEM;
        else if (!root || !json_object_object_get_ex(root, "cues", &arr) ||
                 !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) != n)
                r = -EBADMSG;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct json_object *c = json_object_array_get_idx(arr, i), *a, *b;

                if (!json_object_object_get_ex(c, "start_ms", &a) ||
                    !json_object_object_get_ex(c, "end_ms", &b))
                        r = -EBADMSG;
                else {
                        t[2 * i] = json_object_get_int64(a);
                        t[2 * i + 1] = json_object_get_int64(b);
                        r = parse_helper_words(c, &words[i].words, &words[i].n_words);
                }
        }
        json_object_put(root);
        for (size_t i = 0; i < n; i++) {
                struct cue *c = &j->cues->cues[i];

                if (r < 0) {
                        if (words)
                                cue_words_clear(&words[i]);
                        continue;
                }
                c->start_ms = t[2 * i];
                c->end_ms = t[2 * i + 1];
                cue_words_clear(c);
                c->words = words[i].words;
                c->n_words = words[i].n_words;
        }
        return r;
}

/* Runs the aligner in a child process: `nextup-caption --require-aligned
 * -f json` with the daemon's segmentation options and the digest of its
 * cue list, contained by child_run (own process group, empty signal mask,
 * memory, CPU and wall-clock limits, killed with the daemon or at
 * shutdown). The daemon never aligns in its own address space: libespeak-ng
 * keeps global state and has crashed on input, and a crash here must cost
 * one story's alignment, never the air. Returns TIMING_ALIGNED, or a
 * negative errno with j->why saying what happened. */
static int align_in_child(struct ingest_job *j) {
        char helper[PATH_MAX], chars[16], lines[16], digest[CACHE_KEY_LEN + 1];
        _cleanup_free_ char *out = NULL;
        uint64_t audio_ms = j->scan.rate > 0 ? (uint64_t)j->scan.frames * 1000 / (uint64_t)j->scan.rate : 0;
        struct child_limits lim = {
                .timeout_ms = ALIGN_TIMEOUT_BASE_MS + audio_ms / 2,
                .as_bytes = ALIGN_AS_BYTES,
                .max_output = ALIGN_MAX_OUTPUT,
        };
        int status, r;

        lim.cpu_s = lim.timeout_ms / 1000;
        r = helper_path(helper, sizeof helper);
        if (r >= 0)
                r = cache_cues_digest(j->cues, digest);
        if (r < 0)
                return r;
        snprintf(chars, sizeof chars, "%d", j->max_chars);
        snprintf(lines, sizeof lines, "%d", j->max_lines);
        {
                char *argv[] = {helper,
                                "--require-aligned",
                                "-f",
                                "json",
                                "--max-chars",
                                chars,
                                "--max-lines",
                                lines,
                                "--speaker-mark",
                                j->speaker_mark,
                                "--cues-digest",
                                digest,
                                "--",
                                j->audio_path,
                                j->transcript_path,
                                NULL};
                r = child_run(argv, &lim, j->cancel_fd, &status, &out, NULL);
        }
        if (r == -ETIMEDOUT)
                j->why = strdup("the aligner ran out of time");
        else if (r == -EFBIG)
                j->why = strdup("the aligner wrote too much");
        if (r < 0)
                return r;
        if (WIFSIGNALED(status)) {
                if (asprintf(&j->why, "the aligner was killed by %s", strsignal(WTERMSIG(status))) < 0)
                        j->why = NULL;
                return -ECHILD;
        }
        switch (WEXITSTATUS(status)) {
        case 0:
                break;
        case HELPER_EXIT_NOT_ALIGNED:
                j->why = strdup("the aligner found no match for the whole story");
                return -ENOMSG;
        case HELPER_EXIT_CUES_MISMATCH:
                j->why = strdup("the transcript no longer gives the queued cues");
                return -EXDEV;
        case 127:
                j->why = strdup("the aligner could not be started");
                return -ENOENT;
        default:
                if (asprintf(&j->why, "the aligner failed with status %d", WEXITSTATUS(status)) < 0)
                        j->why = NULL;
                return -EIO;
        }
        r = take_helper_times(j, out);
        if (r < 0)
                j->why = strdup("the aligner's output did not fit the cues");
        return r < 0 ? r : TIMING_ALIGNED;
}

/* Failures that will happen again for the same content: remembered in the
 * timing cache as "estimate", so a restart does not run the aligner on it
 * again (a new aligner version has another key and tries afresh). */
static bool align_failure_is_lasting(int r) {
        return r == -ECHILD || r == -ETIMEDOUT || r == -ENOMSG || r == -EFBIG || r == -EBADMSG;
}

static void ingest_align(struct ingest_job *j) {
        enum timing_source stored;
        int r;

        /* On failure the job's cues keep the scan step's estimate. */
        r = align_in_child(j);
        if (r == -ECANCELED) {
                j->r = -ECANCELED; /* shutting down */
                return;
        }
        j->r = r >= 0 ? r : TIMING_ESTIMATE;
        j->align_failed = r < 0;
        if (r < 0 && !j->why && asprintf(&j->why, "the aligner could not run: %s", strerror(-r)) < 0)
                j->why = NULL;
        if (!j->key[0] || (r < 0 && !align_failure_is_lasting(r)))
                return;
        stored = r >= 0 ? (enum timing_source)r : TIMING_ESTIMATE;
        r = cache_store(j->cache_dir, j->key, j->cues, &j->scan, stored);
        if (r < 0)
                log_warning_errno(r, "Cannot write the timing cache in '%s': %m, ignoring", j->cache_dir);
}

static void ingest_check(struct ingest_job *j);

static void ingest_work(void *p) {
        struct ingest_job *j = p;

        if (j->step == INGEST_CHECK)
                ingest_check(j);
        else if (j->step == INGEST_SCAN)
                ingest_scan(j);
        else
                ingest_align(j);
}

static void story_take_times(struct manager *m, struct story *s, struct ingest_job *j) {
        for (size_t i = 0; i < s->cues->n_cues && i < j->cues->n_cues; i++) {
                s->cues->cues[i].start_ms = j->cues->cues[i].start_ms;
                s->cues->cues[i].end_ms = j->cues->cues[i].end_ms;
                /* Word times only come with alignment; an estimate drops them. */
                cue_words_clear(&s->cues->cues[i]);
                if (j->r == TIMING_ALIGNED) {
                        s->cues->cues[i].words = j->cues->cues[i].words;
                        s->cues->cues[i].n_words = j->cues->cues[i].n_words;
                        j->cues->cues[i].words = NULL;
                        j->cues->cues[i].n_words = 0;
                }
        }
        s->timing = j->r;
        s->duration_ms = j->scan.frames * 1000 / j->scan.rate;
        if (s == m->on_air)
                captions_replan(m->captions);
        manager_update_status(m);
}

static bool check_done(struct manager *m, struct ingest_job *j);

void manager_ingest_done(void *p, void *userdata) {
        struct ingest_job *j = p;
        struct manager *m = userdata;
        struct story *s;

        if (j->step == INGEST_CHECK && !check_done(m, j)) {
                ingest_job_free(j);
                return;
        }
        s = manager_find_story(m, j->story_id);

        if (!s || j->r == -ECANCELED)
                goto finish; /* removed meanwhile, or shutting down */
        if (j->r < 0) {
                if (j->step == INGEST_SCAN) {
                        s->failed = true;
                        log_warning_errno(j->r,
                                          "Story #%llu: cannot use '%s': %m; it will be skipped on air",
                                          (unsigned long long)s->id, s->audio_path);
                }
                goto finish;
        }
        if (j->align_failed) {
                log_warning("Story #%llu '%s': %s; its captions keep the estimate",
                            (unsigned long long)s->id, s->title, j->why ? j->why : "alignment failed");
                manager_alert(m, "alignment", "story #%llu: %s; captions use the estimate",
                              (unsigned long long)s->id, j->why ? j->why : "alignment failed");
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
                j->cancel_fd = worker_cancel_fd(m->align_worker);
                if (worker_submit(m->align_worker, ingest_work, j) >= 0)
                        return;
                log_warning("Cannot schedule the alignment of story #%llu, keeping the estimate",
                            (unsigned long long)s->id);
        }
finish:
        ingest_job_free(j);
}

static int ingest_submit(struct manager *m, struct story *s, const struct audio_scan *scan) {
        struct ingest_job *j = calloc(1, sizeof *j);

        if (!j)
                return -ENOMEM;
        j->step = INGEST_SCAN;
        j->story_id = s->id;
        j->scan.rate = m->config->rate;
        if (scan && scan->rate == j->scan.rate) {
                j->scan = *scan;
                j->scanned = true;
        }
        j->r = -ECANCELED;
        j->audio_path = strdup(s->audio_path);
        j->transcript_path = strdup(s->transcript_path);
        j->max_chars = m->config->max_chars;
        j->max_lines = m->config->max_lines;
        j->speaker_mark = strdup(m->config->speaker_mark ? m->config->speaker_mark : "");
        j->cancel_fd = -1;
        if (m->config->state_dir && asprintf(&j->cache_dir, "%s/timing-cache", m->config->state_dir) < 0)
                j->cache_dir = NULL;
        if (!j->audio_path || !j->transcript_path || !j->speaker_mark ||
            cue_list_dup(s->cues, &j->cues) < 0 || worker_submit(m->worker, ingest_work, j) < 0) {
                ingest_job_free(j);
                return -ENOMEM;
        }
        return 0;
}

/* What a client is told when a file cannot be used: missing, unreadable
 * and outside media_roots read the same, so a client learns nothing about
 * files it may not read. */
static const char *file_error(int r) {
        switch (r) {
        case -EISDIR:
        case -EINVAL:
                return "not a regular file";
        case -EFBIG:
                return "too large";
        default:
                return "not found or not readable";
        }
}

/* Resolves the story's files under media_roots (realpath, so symlinks
 * pointing out are refused) and opens the audio once, non-blocking (a
 * FIFO must not stall the loop thread in open()). */
static int story_files(char *const *roots, size_t n_roots, const char *audio, const char *transcript,
                       char **ret_audio, char **ret_transcript, char **ret_error) {
        _cleanup_free_ char *ra = NULL, *rt = NULL;
        int fd, r;

        if (!audio || audio[0] != '/' || !transcript || transcript[0] != '/')
                return *ret_error = strdup("audio and transcript must be absolute paths"), -EINVAL;
        r = mediaroot_resolve(roots, n_roots, audio, &ra);
        if (r >= 0)
                r = fileio_open_regular(ra, 0, &fd, NULL);
        if (r < 0) {
                if (asprintf(ret_error, "audio '%s': %s", audio, file_error(r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        close(fd);
        r = mediaroot_resolve(roots, n_roots, transcript, &rt);
        if (r < 0) {
                if (asprintf(ret_error, "transcript '%s': %s", transcript, file_error(r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        *ret_audio = TAKE_PTR(ra);
        *ret_transcript = TAKE_PTR(rt);
        return 0;
}

/* story_build with the configured segmentation, on the files' resolved
 * paths under media_roots. */
static int build(struct manager *m, const char *audio_arg, const char *transcript_arg, struct story **ret,
                 char **ret_error) {
        _cleanup_free_ char *audio = NULL, *transcript = NULL;
        struct segment_opts o = {
                .max_chars = m->config->max_chars,
                .max_lines = m->config->max_lines,
                .speaker_mark = m->config->speaker_mark,
        };
        int r;

        r = story_files(m->config->media_roots, m->config->n_media_roots, audio_arg, transcript_arg, &audio,
                        &transcript, ret_error);
        if (r < 0)
                return r;
        return story_build(audio, transcript, &o, ret, ret_error);
}

/* Queues a story at INDEX and starts its audio scan; saved as soon as
 * the disk allows (no client waits for it: the dropbox). */
int manager_enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                    const struct audio_scan *scan, struct story **ret, char **ret_error) {
        struct story *s = NULL;
        int r;

        r = build(m, audio, transcript, &s, ret_error);
        if (r < 0)
                return r;
        r = manager_enqueue_checked(m, s, index);
        if (r < 0)
                return r;
        index = (size_t)r;
        manager_persist_changed(m);
        if (ingest_submit(m, s, scan) < 0)
                /* The story still plays; its captions wait for no timing. */
                log_warning("Cannot schedule the ingest of '%s', its captions stay untimed", s->audio_path);
        log_info("Queued #%llu '%s' at position %zu", (unsigned long long)s->id, s->title, index);
        manager_update_cue(m);
        manager_update_status(m);
        *ret = s;
        return (int)index;
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
        if (ingest_submit(m, s, NULL) < 0)
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
        if (ingest_submit(m, s, NULL) < 0)
                log_warning("Cannot schedule the ingest of '%s', its captions stay untimed", s->audio_path);
        *ret = s;
        return 0;
}

/* ---- checks before a control command replies ------------------------- */

/* Worker: what story_build checks (media_roots, a regular file opened
 * O_NONBLOCK, the transcript's text and caps), then what only a decode
 * shows (decodable, not silent throughout, its length) and whether the
 * transcript is plausible for that length. The scan's timing is kept:
 * the story is playable with its estimate as soon as it is queued. */
static void ingest_check(struct ingest_job *j) {
        _cleanup_free_ char *audio = NULL, *transcript = NULL;
        struct segment_opts o = {
                .max_chars = j->max_chars,
                .max_lines = j->max_lines,
                .speaker_mark = j->speaker_mark,
        };
        const char *why, *what = "audio";
        int r;

        r = story_files(j->roots, j->n_roots, j->audio_path, j->transcript_path, &audio, &transcript,
                        &j->why);
        if (r >= 0)
                r = story_build(audio, transcript, &o, &j->story, &j->why);
        if (r >= 0)
                r = cue_list_dup(j->story->cues, &j->cues);
        if (r < 0) {
                j->r = r;
                j->story = story_free(j->story);
                return;
        }
        free(j->audio_path);
        free(j->transcript_path);
        j->audio_path = TAKE_PTR(audio); /* the resolved files, as the story's */
        j->transcript_path = TAKE_PTR(transcript);
        ingest_scan(j);
        if (j->r < 0 && j->scan.frames > 0)
                return; /* decoded, but silent throughout: the silence detector's business on air */
        if (j->r >= 0) {
                r = story_check_length(j->cues, j->scan.frames * 1000 / j->scan.rate, &why);
                if (r >= 0)
                        return;
                j->r = r;
                what = "transcript";
        } else
                why = j->r == -EINVAL ? "not decodable (empty, damaged or not audio)"
                      : j->r == -EIO  ? "not decodable (decoder error)"
                                      : strerror(-j->r);
        if (asprintf(&j->why, "%s '%s': %s", what, what[0] == 'a' ? j->audio_path : j->transcript_path,
                     why) < 0)
                j->why = NULL;
        j->story = story_free(j->story); /* refused */
}

int manager_check_story(struct manager *m, struct control_conn *conn, struct json_object *req,
                        const char *audio, const char *transcript, manager_checked_fn checked) {
        const struct nextup_config *c = m->config;
        struct ingest_job *j = calloc(1, sizeof *j);
        int r = -ENOMEM;

        if (!j)
                return -ENOMEM;
        j->step = INGEST_CHECK;
        j->scan.rate = c->rate;
        j->r = -ECANCELED;
        j->max_chars = c->max_chars;
        j->max_lines = c->max_lines;
        j->cancel_fd = -1;
        j->checked = checked;
        j->audio_path = strdup(audio);
        j->transcript_path = strdup(transcript);
        j->speaker_mark = strdup(c->speaker_mark ? c->speaker_mark : "");
        j->roots = calloc(c->n_media_roots ? c->n_media_roots : 1, sizeof *j->roots);
        if (c->state_dir && asprintf(&j->cache_dir, "%s/timing-cache", c->state_dir) < 0)
                j->cache_dir = NULL;
        if (!j->audio_path || !j->transcript_path || !j->speaker_mark || !j->roots)
                goto fail;
        for (; j->n_roots < c->n_media_roots; j->n_roots++)
                if (!(j->roots[j->n_roots] = strdup(c->media_roots[j->n_roots])))
                        goto fail;
        r = worker_submit(m->worker, ingest_work, j);
        if (r < 0)
                goto fail;
        /* Only now: a job that failed to go is freed without touching them. */
        j->conn = control_conn_ref(conn);
        j->req = json_object_get(req);
        return 0;
fail:
        ingest_job_free(j);
        return r;
}

/* Loop: hands the checked story (or why not) to the command; a story the
 * command kept goes on as a scanned one (its times, then alignment). */
static bool check_done(struct manager *m, struct ingest_job *j) {
        struct story *kept = NULL;

        if (j->r == -ECANCELED && !j->story) /* shutting down before it ran */
                control_conn_reply(j->conn, control_error("the daemon is shutting down"));
        else if (!m->control) /* shutting down: nobody to answer */
                ;
        else if (!j->story)
                (void)j->checked(m, j->conn, j->req, NULL, j->why ? j->why : strerror(-j->r));
        else
                kept = j->checked(m, j->conn, j->req, TAKE_PTR(j->story), NULL);
        control_conn_unref(TAKE_PTR(j->conn));
        json_object_put(TAKE_PTR(j->req));
        if (!kept)
                return false;
        j->step = INGEST_SCAN;
        j->story_id = kept->id;
        return true;
}

int manager_enqueue_checked(struct manager *m, struct story *s, size_t index) {
        int r;

        if (index > queue_size(m->queue))
                index = queue_size(m->queue);
        r = queue_insert(m->queue, index, s);
        if (r < 0) {
                story_free(s);
                return r;
        }
        return (int)index;
}
