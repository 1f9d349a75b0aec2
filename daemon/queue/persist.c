/* SPDX-License-Identifier: GPL-3.0-or-later */
/* persist.c: see persist.h. Why a snapshot file and not a journal: the
 * state is small (tens of stories, a few KiB), so writing it whole costs
 * one fsync either way (about 0.4 ms on ext4 here), and a snapshot needs
 * no compaction, no replay and no rule for a torn last record: rename(2)
 * is atomic, so a reader sees the old file or the new one, never a mix.
 * The temp file is fsync'd before the rename and the directory after it,
 * so once persist_save returns 0 the new state survives a crash or power
 * cut. A full disk fails the write of the temp file, which is then
 * removed: the old state stays whole.
 *
 * The file: {"version":1,"next_id":N,"rate":R,"queue":[STORY...],
 * "on_air":ON_AIR|null,"schedule":ANY}, STORY = {"id","audio","transcript",
 * "start_frame"}, ON_AIR = STORY + {"frames","duration_ms",
 * "started_wall_ms","checkpoint_wall_ms"}. */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "json-util.h"
#include "timeutil.h"

#define PERSIST_VERSION 1
#define PERSIST_MAX_SIZE (16 * 1024 * 1024)

#define POSITION_FILE "position"
#define POSITION_MAGIC "NUPOS01"

/* The position file's one record, in host byte order (the file never
 * leaves this machine). CHECK is FNV-1a over the bytes before it. */
struct pos_record {
        char magic[8];
        uint64_t story_id;
        int64_t frames;
        int64_t duration_ms;
        int64_t started_wall_ms;
        int64_t checkpoint_wall_ms;
        uint64_t check;
};

struct persist {
        char *dir;
        char *path;
        char *tmp_path;
        char *pos_path;
        char *last_text; /* what the file holds (or will, once queued writes land) */
        uint64_t last_write_us;
        uint64_t gen; /* loop: numbers every state text, newest highest */

        /* DESIGN: the writer thread takes the newest queued text and the
         * newest position record under `lock`; every write of the state
         * file (either thread) holds `write_lock` and skips a text older
         * than the one last written, so an async write that lost the race
         * with a synchronous one cannot put an older state back. */
        pthread_t writer;
        bool writer_started;
        pthread_mutex_t lock; /* guards the members up to write_lock */
        pthread_cond_t cond;
        char *pending_text;
        uint64_t pending_gen;
        bool have_pos, stop;
        struct pos_record pending_pos;
        int async_error;
        pthread_mutex_t write_lock; /* held across each state file write */
        uint64_t written_gen;
        int written_r; /* the outcome of writing written_gen */
        int pos_fd;    /* writer thread only */
};

static uint64_t pos_check(const struct pos_record *r) {
        const unsigned char *b = (const unsigned char *)r;
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < offsetof(struct pos_record, check); i++)
                h = (h ^ b[i]) * 1099511628211ULL;
        return h;
}

static void persist_story_done(struct persist_story *s) {
        free(s->audio);
        free(s->transcript);
        s->audio = s->transcript = NULL;
}

void persist_state_done(struct persist_state *st) {
        for (size_t i = 0; i < st->n_queue; i++)
                persist_story_done(&st->queue[i]);
        free(st->queue);
        if (st->has_on_air)
                persist_story_done(&st->on_air.story);
        json_object_put(st->schedule);
        memset(st, 0, sizeof *st);
}

/* ---- state -> JSON --------------------------------------------------- */

static struct json_object *persist_story_json(const struct persist_story *s) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_uint64(s->id));
        json_object_object_add(o, "audio", json_object_new_string(s->audio));
        json_object_object_add(o, "transcript", json_object_new_string(s->transcript));
        json_object_object_add(o, "start_frame", json_object_new_int64(s->start_frame));
        return o;
}

static struct json_object *on_air_to_json(const struct persist_on_air *a) {
        struct json_object *o = persist_story_json(&a->story);

        if (!o)
                return NULL;
        json_object_object_add(o, "frames", json_object_new_int64(a->frames));
        json_object_object_add(o, "duration_ms", json_object_new_int64(a->duration_ms));
        json_object_object_add(o, "started_wall_ms", json_object_new_int64(a->started_wall_ms));
        json_object_object_add(o, "checkpoint_wall_ms", json_object_new_int64(a->checkpoint_wall_ms));
        return o;
}

int persist_state_to_json(const struct persist_state *st, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *q = json_object_new_array();
        char *text;

        if (!o || !q) {
                json_object_put(q);
                return -ENOMEM;
        }
        json_object_object_add(o, "version", json_object_new_int(PERSIST_VERSION));
        json_object_object_add(o, "next_id", json_object_new_uint64(st->next_id));
        json_object_object_add(o, "rate", json_object_new_int(st->rate));
        for (size_t i = 0; i < st->n_queue; i++)
                json_object_array_add(q, persist_story_json(&st->queue[i]));
        json_object_object_add(o, "queue", q);
        json_object_object_add(o, "on_air", st->has_on_air ? on_air_to_json(&st->on_air) : NULL);
        json_object_object_add(o, "schedule", json_object_get(st->schedule));
        /* Pretty: an admin reads it, and a parse error's line means something. */
        text = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

/* ---- JSON -> state --------------------------------------------------- */

/* Field access with an error message naming the field. */
struct reader {
        char *error;
};

__attribute__((format(printf, 3, 4))) static int reader_fail(struct reader *rd, const char *field,
                                                             const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (rd->error)
                return -EBADMSG;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (asprintf(&rd->error, "%s: %s", field, msg ? msg : "invalid") < 0)
                rd->error = NULL;
        return -EBADMSG;
}

#define FIELD_MAX 128

/* O's member KEY, named PREFIX.KEY in FIELD; NULL when it is missing or not
 * of TYPE (recorded in RD: -EBADMSG). */
static struct json_object *get_member(struct reader *rd, struct json_object *o, const char *prefix,
                                      const char *key, enum json_type type, char field[static FIELD_MAX]) {
        static const char *const not_type[] = {
                [json_type_int] = "not an integer",
                [json_type_string] = "not a string",
                [json_type_array] = "not an array",
        };
        struct json_object *v;

        snprintf(field, FIELD_MAX, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (!json_object_object_get_ex(o, key, &v))
                (void)reader_fail(rd, field, "missing");
        else if (!json_object_is_type(v, type))
                (void)reader_fail(rd, field, "%s", not_type[type]);
        else
                return v;
        return NULL;
}

static int get_int64(struct reader *rd, struct json_object *o, const char *prefix, const char *key,
                     int64_t min, int64_t *ret) {
        char field[FIELD_MAX];
        struct json_object *v = get_member(rd, o, prefix, key, json_type_int, field);

        if (!v)
                return -EBADMSG;
        if (json_object_get_int64(v) < min)
                return reader_fail(rd, field, "%lld is below %lld", (long long)json_object_get_int64(v),
                                   (long long)min);
        *ret = json_object_get_int64(v);
        return 0;
}

static int get_path(struct reader *rd, struct json_object *o, const char *prefix, const char *key,
                    char **ret) {
        char field[FIELD_MAX];
        struct json_object *v = get_member(rd, o, prefix, key, json_type_string, field);

        if (!v)
                return -EBADMSG;
        if (json_object_get_string(v)[0] != '/')
                return reader_fail(rd, field, "not an absolute path");
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int story_from_json(struct reader *rd, struct json_object *o, const char *prefix,
                           struct persist_story *ret) {
        int64_t id;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return reader_fail(rd, prefix, "not an object");
        if ((r = get_int64(rd, o, prefix, "id", 1, &id)) < 0 ||
            (r = get_int64(rd, o, prefix, "start_frame", 0, &ret->start_frame)) < 0 ||
            (r = get_path(rd, o, prefix, "audio", &ret->audio)) < 0 ||
            (r = get_path(rd, o, prefix, "transcript", &ret->transcript)) < 0)
                return r;
        ret->id = (uint64_t)id;
        return 0;
}

static int on_air_from_json(struct reader *rd, struct json_object *o, struct persist_on_air *ret) {
        int r = story_from_json(rd, o, "on_air", &ret->story);

        if (r < 0)
                return r;
        if ((r = get_int64(rd, o, "on_air", "frames", 0, &ret->frames)) < 0 ||
            (r = get_int64(rd, o, "on_air", "duration_ms", -1, &ret->duration_ms)) < 0 ||
            (r = get_int64(rd, o, "on_air", "started_wall_ms", 0, &ret->started_wall_ms)) < 0 ||
            (r = get_int64(rd, o, "on_air", "checkpoint_wall_ms", 0, &ret->checkpoint_wall_ms)) < 0)
                return r;
        return 0;
}

static int queue_from_json(struct reader *rd, struct json_object *o, struct persist_state *st) {
        char field[FIELD_MAX];
        struct json_object *q = get_member(rd, o, "", "queue", json_type_array, field);
        size_t n;

        if (!q)
                return -EBADMSG;
        n = json_object_array_length(q);
        st->queue = calloc(n ? n : 1, sizeof *st->queue);
        if (!st->queue)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char prefix[32];
                int r;

                snprintf(prefix, sizeof prefix, "queue[%zu]", i);
                st->n_queue = i + 1; /* so that persist_state_done frees a half-read entry */
                r = story_from_json(rd, json_object_array_get_idx(q, i), prefix, &st->queue[i]);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++)
                        if (st->queue[k].id == st->queue[i].id)
                                return reader_fail(rd, prefix, "id %llu appears twice",
                                                   (unsigned long long)st->queue[i].id);
        }
        return 0;
}

static int state_from_object(struct reader *rd, struct json_object *o, struct persist_state *st) {
        struct json_object *v;
        int64_t version, next_id, rate;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return reader_fail(rd, "top level", "not an object");
        if ((r = get_int64(rd, o, "", "version", 0, &version)) < 0)
                return r;
        if (version != PERSIST_VERSION)
                return reader_fail(rd, "version", "%lld is not %d", (long long)version, PERSIST_VERSION);
        if ((r = get_int64(rd, o, "", "next_id", 1, &next_id)) < 0 ||
            (r = get_int64(rd, o, "", "rate", 1, &rate)) < 0)
                return r;
        if (rate > 1000000)
                return reader_fail(rd, "rate", "%lld is out of range", (long long)rate);
        st->next_id = (uint64_t)next_id;
        st->rate = (int)rate;
        if ((r = queue_from_json(rd, o, st)) < 0)
                return r;
        if (json_object_object_get_ex(o, "on_air", &v) && v) {
                st->has_on_air = true;
                if ((r = on_air_from_json(rd, v, &st->on_air)) < 0)
                        return r;
        }
        if (json_object_object_get_ex(o, "schedule", &v) && v)
                st->schedule = json_object_get(v);
        return 0;
}

/* "LINE:COLUMN (offset N)" of byte OFFSET, both from 1. */
static void describe_offset(const char *text, size_t offset, char *buf, size_t n) {
        size_t line = 1, col = 1;

        for (size_t i = 0; i < offset; i++, col++)
                if (text[i] == '\n') {
                        line++;
                        col = 0;
                }
        snprintf(buf, n, "%zu:%zu (offset %zu)", line, col, offset);
}

static struct json_object *parse_text(const char *text, size_t len, char **ret_error) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o = NULL;
        const char *why = NULL;
        size_t end;
        char where[96];

        if (!tok)
                return NULL;
        o = json_tokener_parse_ex(tok, text, (int)len);
        end = json_tokener_get_parse_end(tok);
        if (!o && json_tokener_get_error(tok) == json_tokener_continue)
                why = "unexpected end of data (a truncated file?)", end = len;
        else if (!o)
                why = json_tokener_error_desc(json_tokener_get_error(tok));
        else {
                while (end < len && strchr(" \t\r\n", text[end]))
                        end++;
                if (end < len || memchr(text, 0, len))
                        why = "data after the end of the state";
        }
        json_tokener_free(tok);
        if (why) {
                json_object_put(o);
                describe_offset(text, MIN(end, len), where, sizeof where);
                if (asprintf(ret_error, "%s: %s", where, why) < 0)
                        *ret_error = NULL;
                return NULL;
        }
        return o;
}

int persist_state_from_json(const char *text, size_t len, struct persist_state *ret, char **ret_error) {
        _cleanup_json_ struct json_object *o = NULL;
        struct persist_state st = {};
        struct reader rd = {};
        int r;

        memset(ret, 0, sizeof *ret);
        if (len == 0) {
                *ret_error = strdup("1:1 (offset 0): the file is empty");
                return -EBADMSG;
        }
        o = parse_text(text, len, ret_error);
        if (!o)
                return -EBADMSG;
        r = state_from_object(&rd, o, &st);
        if (r < 0) {
                persist_state_done(&st);
                if (r == -EBADMSG)
                        *ret_error = rd.error;
                else
                        free(rd.error);
                return r;
        }
        *ret = st;
        return 0;
}

/* ---- I/O ------------------------------------------------------------- */

int persist_new(const char *dir, struct persist **ret) {
        struct persist *p = calloc(1, sizeof *p);

        if (!p)
                return -ENOMEM;
        p->dir = strdup(dir);
        p->pos_fd = -1;
        pthread_mutex_init(&p->lock, NULL);
        pthread_mutex_init(&p->write_lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        if (!p->dir || asprintf(&p->path, "%s/" PERSIST_FILE, dir) < 0 ||
            asprintf(&p->tmp_path, "%s/" PERSIST_FILE ".tmp", dir) < 0 ||
            asprintf(&p->pos_path, "%s/" POSITION_FILE, dir) < 0) {
                persist_free(p);
                return -ENOMEM;
        }
        (void)mkdir(dir, 0755); /* the parent is the manager's business; errors show at save */
        *ret = p;
        return 0;
}

struct persist *persist_free(struct persist *p) {
        if (p) {
                if (p->writer_started) {
                        /* It writes what is queued, then ends. */
                        pthread_mutex_lock(&p->lock);
                        p->stop = true;
                        pthread_cond_signal(&p->cond);
                        pthread_mutex_unlock(&p->lock);
                        pthread_join(p->writer, NULL);
                }
                free(p->pending_text);
                closep(&p->pos_fd);
                pthread_cond_destroy(&p->cond);
                pthread_mutex_destroy(&p->lock);
                pthread_mutex_destroy(&p->write_lock);
                free(p->pos_path);
                free(p->dir);
                free(p->path);
                free(p->tmp_path);
                free(p->last_text);
                free(p);
        }
        return NULL;
}

const char *persist_path(const struct persist *p) {
        return p->path;
}

uint64_t persist_last_write_us(const struct persist *p) {
        return p->last_write_us;
}

void persist_invalidate(struct persist *p) {
        p->last_text = (free(p->last_text), NULL);
}

static int read_all(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        ssize_t n;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > PERSIST_MAX_SIZE)
                return -EFBIG;
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t)st.st_size && (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
                if (n < 0)
                        return -errno;
                len += (size_t)n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Renames the corrupt file aside (kept for a post-mortem) and says where. */
static int move_aside(struct persist *p, const char *why, char **ret_error) {
        _cleanup_free_ char *aside = NULL;
        int r = 0;

        if (asprintf(&aside, "%s.corrupt-%lld", p->path, (long long)wall_now_ms()) < 0)
                return -ENOMEM;
        if (rename(p->path, aside) < 0)
                r = -errno;
        else
                (void)fileio_fsync_dir(p->dir);
        if (asprintf(ret_error, "'%s':%s; %s '%s'", p->path, why,
                     r < 0 ? "could not move it aside" : "moved it to", aside) < 0)
                *ret_error = NULL;
        return -EBADMSG;
}

/* Takes the position file's record over the state file's position when
 * it is about the same story and newer (it is written every second, the
 * state file only at changes). */
static void load_position(struct persist *p, struct persist_state *st) {
        _cleanup_close_ int fd = -1;
        struct pos_record rec;

        if (!st->has_on_air)
                return;
        fd = open(p->pos_path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || pread(fd, &rec, sizeof rec, 0) != (ssize_t)sizeof rec)
                return;
        if (memcmp(rec.magic, POSITION_MAGIC, sizeof rec.magic) != 0 || rec.check != pos_check(&rec) ||
            rec.story_id != st->on_air.story.id || rec.checkpoint_wall_ms <= st->on_air.checkpoint_wall_ms ||
            rec.frames < 0)
                return;
        st->on_air.frames = rec.frames;
        st->on_air.duration_ms = rec.duration_ms;
        st->on_air.checkpoint_wall_ms = rec.checkpoint_wall_ms;
}

/* ---- the writer thread ---- */

static void writer_position(struct persist *p, const struct pos_record *rec) {
        if (p->pos_fd < 0)
                p->pos_fd = open(p->pos_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        /* No fsync: after a power cut an older position (or the state
         * file's) is good enough, and a torn record fails its check. */
        if (p->pos_fd >= 0 && pwrite(p->pos_fd, rec, sizeof *rec, 0) != (ssize_t)sizeof *rec)
                p->pos_fd = (closep(&p->pos_fd), -1); /* reopened next time */
}

static void *writer_thread(void *userdata) {
        struct persist *p = userdata;

        (void)pthread_setname_np(pthread_self(), "nextupd-persist");
        for (;;) {
                _cleanup_free_ char *text = NULL;
                struct pos_record rec;
                bool pos;
                uint64_t gen;
                int r = 0;

                pthread_mutex_lock(&p->lock);
                while (!p->pending_text && !p->have_pos && !p->stop)
                        pthread_cond_wait(&p->cond, &p->lock);
                text = TAKE_PTR(p->pending_text);
                gen = p->pending_gen;
                pos = p->have_pos;
                rec = p->pending_pos;
                p->have_pos = false;
                if (!text && !pos) {
                        pthread_mutex_unlock(&p->lock);
                        return NULL; /* stop, nothing left */
                }
                pthread_mutex_unlock(&p->lock);

                if (text) {
                        pthread_mutex_lock(&p->write_lock);
                        if (gen > p->written_gen) {
                                r = fileio_write_atomic(p->path, p->tmp_path, text, true);
                                p->written_gen = gen;
                                p->written_r = r;
                        }
                        pthread_mutex_unlock(&p->write_lock);
                        pthread_mutex_lock(&p->lock);
                        p->async_error = r < 0 ? r : 0;
                        pthread_mutex_unlock(&p->lock);
                }
                if (pos)
                        writer_position(p, &rec);
        }
}

static int writer_start(struct persist *p) {
        sigset_t all, old;
        int r;

        if (p->writer_started)
                return 0;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&p->writer, NULL, writer_thread, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        p->writer_started = r == 0;
        return r;
}

int persist_save_async(struct persist *p, const struct persist_state *st) {
        _cleanup_free_ char *text = NULL;
        char *copy;
        int r;

        r = persist_state_to_json(st, &text);
        if (r < 0)
                return r;
        if (p->last_text && strcmp(p->last_text, text) == 0)
                return 0;
        r = writer_start(p);
        if (r < 0)
                return r;
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        pthread_mutex_lock(&p->lock);
        free(p->pending_text); /* an older one not written yet: merged */
        p->pending_text = copy;
        p->pending_gen = ++p->gen;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        free(p->last_text);
        p->last_text = TAKE_PTR(text);
        return 1;
}

struct persist_write {
        char *text;
        uint64_t gen;
};

struct persist_write *persist_write_free(struct persist_write *w) {
        if (w) {
                free(w->text);
                free(w);
        }
        return NULL;
}

int persist_prepare(struct persist *p, const struct persist_state *st, struct persist_write **ret) {
        struct persist_write *w = calloc(1, sizeof *w);
        char *last;
        int r;

        if (!w)
                return -ENOMEM;
        r = persist_state_to_json(st, &w->text);
        last = r >= 0 ? strdup(w->text) : NULL;
        if (!last) {
                persist_write_free(w);
                return -ENOMEM;
        }
        /* Written even when the text is the last one: that one may still
         * be on its way to the disk, and the client is told it is there. */
        w->gen = ++p->gen;
        pthread_mutex_lock(&p->lock);
        if (p->pending_text && p->pending_gen < w->gen)
                p->pending_text = (free(p->pending_text), NULL); /* superseded */
        pthread_mutex_unlock(&p->lock);
        free(p->last_text);
        p->last_text = last;
        *ret = w;
        return 0;
}

int persist_write(struct persist *p, const struct persist_write *w) {
        int r;

        pthread_mutex_lock(&p->write_lock);
        if (w->gen > p->written_gen) {
                r = fileio_write_atomic(p->path, p->tmp_path, w->text, true);
                p->written_gen = w->gen;
                p->written_r = r;
        } else
                r = p->written_r; /* a newer text, holding this one's changes */
        pthread_mutex_unlock(&p->write_lock);
        pthread_mutex_lock(&p->lock);
        p->async_error = r < 0 ? r : 0;
        pthread_mutex_unlock(&p->lock);
        return r < 0 ? r : 0;
}

int persist_checkpoint(struct persist *p, const struct persist_on_air *a) {
        struct pos_record rec = {
                .magic = POSITION_MAGIC,
                .story_id = a->story.id,
                .frames = a->frames,
                .duration_ms = a->duration_ms,
                .started_wall_ms = a->started_wall_ms,
                .checkpoint_wall_ms = a->checkpoint_wall_ms,
        };
        int r;

        rec.check = pos_check(&rec);
        r = writer_start(p);
        if (r < 0)
                return r;
        pthread_mutex_lock(&p->lock);
        p->pending_pos = rec;
        p->have_pos = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

int persist_async_error(struct persist *p) {
        int r;

        pthread_mutex_lock(&p->lock);
        r = p->async_error;
        pthread_mutex_unlock(&p->lock);
        if (r < 0)
                persist_invalidate(p);
        return r;
}

int persist_load(struct persist *p, struct persist_state *ret, char **ret_error) {
        _cleanup_free_ char *text = NULL, *why = NULL;
        struct persist_state st;
        size_t len = 0;
        int r;

        /* A temp file is a write that never reached its rename: the state
         * file still holds the last complete state. */
        (void)unlink(p->tmp_path);
        r = read_all(p->path, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                if (asprintf(ret_error, "cannot read '%s': %s", p->path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        r = persist_state_from_json(text, len, &st, &why);
        if (r == -EBADMSG)
                return move_aside(p, why ? why : "invalid", ret_error);
        if (r < 0)
                return r;
        free(p->last_text);
        p->last_text = TAKE_PTR(text);
        load_position(p, &st);
        *ret = st;
        return 1;
}

int persist_save(struct persist *p, const struct persist_state *st) {
        _cleanup_free_ char *text = NULL;
        struct timespec a, b;
        uint64_t gen;
        int r;

        r = persist_state_to_json(st, &text);
        if (r < 0)
                return r;
        if (p->last_text && strcmp(p->last_text, text) == 0)
                return 0;
        gen = ++p->gen;
        pthread_mutex_lock(&p->lock);
        if (p->pending_text && p->pending_gen < gen)
                p->pending_text = (free(p->pending_text), NULL); /* superseded */
        pthread_mutex_unlock(&p->lock);
        clock_gettime(CLOCK_MONOTONIC, &a);
        pthread_mutex_lock(&p->write_lock);
        r = fileio_write_atomic(p->path, p->tmp_path, text, true);
        p->written_gen = gen;
        p->written_r = r;
        pthread_mutex_unlock(&p->write_lock);
        pthread_mutex_lock(&p->lock);
        p->async_error = r < 0 ? r : 0;
        pthread_mutex_unlock(&p->lock);
        clock_gettime(CLOCK_MONOTONIC, &b);
        p->last_write_us = (uint64_t)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000);
        if (r < 0) {
                /* After a failed directory fsync the rename may or may not
                 * have reached the disk: write again next time. */
                persist_invalidate(p);
                return r;
        }
        free(p->last_text);
        p->last_text = TAKE_PTR(text);
        return 1;
}
