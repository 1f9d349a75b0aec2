/* SPDX-License-Identifier: GPL-3.0-or-later */
/* asrun.c: the as-run log (see asrun.h). Each record is one JSON line
 * written with a single append; a write that fails half-way is cut back
 * with ftruncate so the file only ever holds whole lines, and a line left
 * unterminated by a crash is closed before the next record. The file is
 * opened per write (a handful per story), which also follows logrotate.
 *
 * A failed write (ENOSPC, EIO, a read-only file system) must never stop
 * the air: the record goes to a ring of at most ASRUN_BACKLOG_MAX lines in
 * memory (the oldest is dropped and counted when it is full), the error is
 * logged once, and the backlog is retried before every later record and by
 * a timer, until it is written; that is logged once too. No fsync: the
 * loop thread must not wait on the disk, and a record in the page cache
 * survives a crash of the daemon. The records start with "start_ms" so a
 * query can skip lines out of its range without parsing them. Loop thread
 * only. */
#include "asrun.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-util.h"
#include "log.h"

#define ASRUN_RETRY_USEC_DEFAULT 5000000u
#define ASRUN_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct asrun {
        sd_event *event;
        char *path;
        sd_event_source *timer;
        uint64_t retry_usec;
        char **ring; /* ASRUN_BACKLOG_MAX slots, allocated on the first failure */
        size_t head, n;
        uint64_t lost;
        bool failing; /* in a failure episode (logged once) */
};

static struct json_object *json_str(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *peer_json(const struct asrun_peer *p) {
        struct json_object *o;

        if (!p || !(o = json_object_new_object()))
                return NULL;
        json_object_object_add(o, "uid", json_object_new_int64(p->uid));
        json_object_object_add(o, "pid", json_object_new_int64(p->pid));
        json_object_object_add(o, "user", json_str(p->user));
        return o;
}

/* The record as one line (malloc'd, no newline). */
static char *record_to_line(const struct asrun_record *r) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        const char *s;

        if (!o)
                return NULL;
        json_object_object_add(o, "start_ms", json_object_new_int64(r->start_ms));
        json_object_object_add(o, "end_ms", json_object_new_int64(r->end_ms));
        json_object_object_add(o, "id", json_object_new_int64((int64_t)r->id));
        json_object_object_add(o, "title", json_str(r->title));
        json_object_object_add(o, "kind", json_str(r->kind ? r->kind : "story"));
        json_object_object_add(o, "audio", json_str(r->audio));
        json_object_object_add(o, "transcript", json_str(r->transcript));
        json_object_object_add(o, "scheduled_ms",
                               r->scheduled_ms > 0 ? json_object_new_int64(r->scheduled_ms) : NULL);
        json_object_object_add(o, "planned_ms",
                               r->planned_ms >= 0 ? json_object_new_int64(r->planned_ms) : NULL);
        json_object_object_add(o, "played_ms", json_object_new_int64(MAX(r->played_ms, 0)));
        json_object_object_add(o, "output_down_ms", json_object_new_int64(MAX(r->output_down_ms, 0)));
        json_object_object_add(o, "reason", json_object_new_string(playout_end_reason_to_string(r->reason)));
        json_object_object_add(o, "cues_emitted", json_object_new_int64((int64_t)r->cues_emitted));
        json_object_object_add(o, "cues_dropped", json_object_new_int64((int64_t)r->cues_dropped));
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(r->timing)));
        json_object_object_add(o, "queued_by", peer_json(r->queued_by));
        json_object_object_add(o, "ended_by", peer_json(r->ended_by));
        s = json_object_to_json_string_ext(o, ASRUN_JSON_FLAGS);
        return s ? strdup(s) : NULL;
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Opens the log for appending; a last line left unterminated (a crash
 * mid-write) is closed first so the next record stays parseable. */
static int log_open(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        char last;
        int r;

        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode) && st.st_size > 0) {
                _cleanup_close_ int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

                if (rfd >= 0 && pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
                        r = write_all(fd, "\n", 1);
                        if (r < 0)
                                return r;
                }
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Appends LINE and a newline as one write; on failure cuts the file back
 * to where it was, so no half record stays behind. */
static int log_write(int fd, const char *line) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        bool regular;
        int r;

        if (asprintf(&buf, "%s\n", line) < 0)
                return -ENOMEM;
        regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        r = write_all(fd, buf, strlen(buf));
        if (r < 0 && regular)
                (void)ftruncate(fd, st.st_size);
        return r;
}

static void ring_drop_oldest(struct asrun *a) {
        free(a->ring[a->head]);
        a->ring[a->head] = NULL;
        a->head = (a->head + 1) % ASRUN_BACKLOG_MAX;
        a->n--;
}

/* Takes ownership of LINE (also on -ENOMEM, when it is freed). */
static int ring_push(struct asrun *a, char *line) {
        if (!a->ring) {
                a->ring = calloc(ASRUN_BACKLOG_MAX, sizeof *a->ring);
                if (!a->ring) {
                        free(line);
                        return -ENOMEM;
                }
        }
        if (a->n == ASRUN_BACKLOG_MAX) {
                ring_drop_oldest(a);
                a->lost++;
        }
        a->ring[(a->head + a->n) % ASRUN_BACKLOG_MAX] = line;
        a->n++;
        return 0;
}

static void timer_arm(struct asrun *a, bool on) {
        uint64_t now;

        if (!a->timer)
                return;
        if (on && sd_event_now(a->event, CLOCK_MONOTONIC, &now) >= 0 &&
            sd_event_source_set_time(a->timer, now + a->retry_usec) >= 0)
                (void)sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
        else
                (void)sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
}

/* The state after a flush attempt: one log line when an episode starts,
 * one when it ends. */
static void note_result(struct asrun *a, int r, size_t written) {
        if (r < 0) {
                if (!a->failing)
                        log_error_errno(r,
                                        "Cannot write the as-run log '%s': %m; keeping records in memory "
                                        "(up to %u) and retrying",
                                        a->path, ASRUN_BACKLOG_MAX);
                a->failing = true;
                timer_arm(a, true);
                return;
        }
        if (a->failing) {
                if (a->lost > 0)
                        log_warning(
                                "As-run log '%s' caught up (%zu records written), %llu records were lost "
                                "while it could not be written",
                                a->path, written, (unsigned long long)a->lost);
                else
                        log_info("As-run log '%s' caught up (%zu records written)", a->path, written);
        }
        a->failing = false;
        a->lost = 0;
        timer_arm(a, false);
}

int asrun_flush(struct asrun *a) {
        _cleanup_close_ int fd = -1;
        size_t written = 0;
        int r = 0;

        if (a->n == 0 || !a->path)
                return 0;
        r = log_open(a->path, &fd);
        while (r >= 0 && a->n > 0) {
                r = log_write(fd, a->ring[a->head]);
                if (r >= 0) {
                        ring_drop_oldest(a);
                        written++;
                }
        }
        note_result(a, r, written);
        return r < 0 ? r : 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        (void)asrun_flush(userdata);
        return 0;
}

int asrun_append(struct asrun *a, const struct asrun_record *rec) {
        char *line;
        int r;

        if (!a->path)
                return 0;
        line = record_to_line(rec);
        if (!line)
                return -ENOMEM;
        r = ring_push(a, line);
        if (r < 0)
                return r;
        r = asrun_flush(a);
        return r < 0 ? 1 : 0;
}

int asrun_new(sd_event *e, const char *path, uint64_t retry_usec, struct asrun **ret) {
        struct asrun *a = calloc(1, sizeof *a);
        int r;

        if (!a)
                return -ENOMEM;
        a->retry_usec = retry_usec ? retry_usec : ASRUN_RETRY_USEC_DEFAULT;
        if (path && !(a->path = strdup(path))) {
                free(a);
                return -ENOMEM;
        }
        if (e) {
                a->event = sd_event_ref(e);
                r = sd_event_add_time(e, &a->timer, CLOCK_MONOTONIC, 0, a->retry_usec / 10, on_retry, a);
                if (r >= 0)
                        r = sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
                if (r < 0) {
                        asrun_free(a);
                        return r;
                }
        }
        *ret = a;
        return 0;
}

struct asrun *asrun_free(struct asrun *a) {
        if (!a)
                return NULL;
        (void)asrun_flush(a);
        if (a->n + a->lost > 0)
                log_error("As-run log '%s': %llu records could not be written and are lost",
                          a->path ? a->path : "(off)", (unsigned long long)(a->n + a->lost));
        while (a->n > 0)
                ring_drop_oldest(a);
        free(a->ring);
        sd_event_source_disable_unref(a->timer);
        sd_event_unref(a->event);
        free(a->path);
        free(a);
        return NULL;
}

int asrun_set_path(struct asrun *a, const char *path) {
        char *p = NULL;

        if (path && !(p = strdup(path)))
                return -ENOMEM;
        free(a->path);
        a->path = p;
        if (a->n > 0)
                (void)asrun_flush(a);
        return 0;
}

size_t asrun_backlog(const struct asrun *a) {
        return a->n;
}

uint64_t asrun_lost(const struct asrun *a) {
        return a->lost;
}

/* ---- queries ------------------------------------------------------- */

/* The record's start: from the leading "start_ms" without a parse when the
 * line has the form we write, else from the parsed object. */
static bool line_quick_start(const char *line, int64_t *ret) {
        static const char prefix[] = "{\"start_ms\":";
        char *end;

        if (strncmp(line, prefix, sizeof prefix - 1) != 0)
                return false;
        errno = 0;
        *ret = strtoll(line + sizeof prefix - 1, &end, 10);
        return errno == 0 && *end == ',';
}

/* Adds LINE to ARR when it is a record starting in [since, until);
 * returns the bytes added (0 when skipped). */
static size_t query_line(const char *line, int64_t since, int64_t until, struct json_object *arr) {
        struct json_object *o, *v;
        int64_t start;

        if (line_quick_start(line, &start) && (start < since || start >= until))
                return 0;
        o = json_tokener_parse(line);
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "start_ms", &v) ||
            !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < since ||
            json_object_get_int64(v) >= until || json_object_array_add(arr, o) < 0) {
                json_object_put(o);
                return 0;
        }
        return strlen(line);
}

/* Scans the file from OFFSET; *ret_next is where a truncated scan stops. */
static int query_file(const char *path, int64_t since, int64_t until, int64_t offset, size_t max_bytes,
                      struct json_object *arr, int64_t *ret_next) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0, bytes = 0;
        ssize_t n;
        int64_t pos = offset;
        struct stat st;

        *ret_next = -1;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fileno(f), &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0; /* a device (/dev/null, /dev/full) holds no records */
        if (offset > 0 && fseeko(f, (off_t)offset, SEEK_SET) < 0)
                return -errno;
        while ((n = getline(&line, &size, f)) > 0) {
                pos += n;
                if (line[n - 1] != '\n')
                        break; /* being written: not a record yet */
                line[n - 1] = '\0';
                bytes += query_line(line, since, until, arr);
                if (bytes >= max_bytes) {
                        *ret_next = pos;
                        break;
                }
        }
        return ferror(f) ? -EIO : 0;
}

int asrun_query(struct asrun *a, int64_t since_ms, int64_t until_ms, int64_t offset, size_t max_bytes,
                struct json_object **ret, int64_t *ret_next_offset) {
        _cleanup_json_ struct json_object *arr = json_object_new_array();
        int64_t next = -1;
        int r;

        if (!arr)
                return -ENOMEM;
        if (a->path) {
                r = query_file(a->path, since_ms, until_ms, MAX(offset, 0), max_bytes, arr, &next);
                if (r < 0)
                        return r;
        }
        /* Not yet on disk, still aired: the backlog ends the last page. */
        for (size_t i = 0; next < 0 && i < a->n; i++)
                (void)query_line(a->ring[(a->head + i) % ASRUN_BACKLOG_MAX], since_ms, until_ms, arr);
        *ret = TAKE_PTR(arr);
        *ret_next_offset = next;
        return 0;
}
