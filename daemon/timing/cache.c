/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cache.c: see cache.h. One small JSON file per story:
 * {"version":2,"timing":"aligned","rate":44100,"frames":N,"first_voiced":N,
 *  "last_voiced":N,"cues":[[start_ms,end_ms],...]}; an aligned cue with
 * word times has them as a third element, [[text,start_ms,end_ms],...].
 * A file that fails to parse, is of another version (version 1 had no
 * word times, so its aligned stories are aligned again) or does not match
 * the cue count is treated as absent. */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cleanup.h"
#include "fileio.h"
#include "json-util.h"
#include "segment.h"

#define CACHE_FORMAT 2

static void xxh_statep(XXH3_state_t **s) {
        XXH3_freeState(*s);
}

int cache_key(const char *audio_path, const struct cue_list *cues, const char *salt, char *ret) {
        _cleanup_(xxh_statep) XXH3_state_t *st = XXH3_createState();
        _cleanup_close_ int fd = -1;
        char buf[65536];
        XXH128_hash_t h;
        ssize_t n;
        int r;

        if (!st)
                return -ENOMEM;
        r = fileio_open_regular(audio_path, 0, &fd, NULL);
        if (r < 0)
                return r;
        XXH3_128bits_reset(st);
        while ((n = read(fd, buf, sizeof buf)) > 0)
                XXH3_128bits_update(st, buf, (size_t)n);
        if (n < 0)
                return -errno;
        /* Unit separators keep "ab"+"c" apart from "a"+"bc". */
        for (size_t i = 0; i < cues->n_cues; i++) {
                XXH3_128bits_update(st, "\x1f", 1);
                XXH3_128bits_update(st, cues->cues[i].spoken, strlen(cues->cues[i].spoken));
        }
        XXH3_128bits_update(st, "\x1e", 1);
        XXH3_128bits_update(st, salt, strlen(salt));
        h = XXH3_128bits_digest(st);
        snprintf(ret, CACHE_KEY_LEN + 1, "%016llx%016llx", (unsigned long long)h.high64,
                 (unsigned long long)h.low64);
        return 0;
}

int cache_cues_digest(const struct cue_list *cues, char *ret) {
        _cleanup_(xxh_statep) XXH3_state_t *st = XXH3_createState();
        XXH128_hash_t h;

        if (!st)
                return -ENOMEM;
        XXH3_128bits_reset(st);
        for (size_t i = 0; i < cues->n_cues; i++) {
                const struct cue *c = &cues->cues[i];
                uint64_t sentence = c->sentence;

                XXH3_128bits_update(st, "\x1f", 1);
                XXH3_128bits_update(st, c->text, strlen(c->text) + 1);
                XXH3_128bits_update(st, c->spoken, strlen(c->spoken) + 1);
                XXH3_128bits_update(st, &sentence, sizeof sentence);
        }
        h = XXH3_128bits_digest(st);
        snprintf(ret, CACHE_KEY_LEN + 1, "%016llx%016llx", (unsigned long long)h.high64,
                 (unsigned long long)h.low64);
        return 0;
}

static int entry_path(const char *dir, const char *key, const char *suffix, char *buf, size_t n) {
        int k = snprintf(buf, n, "%s/%s.json%s", dir, key, suffix);

        return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static const struct {
        const char *name;
        enum timing_source source;
} sources[] = {
        {"estimate", TIMING_ESTIMATE},
        {"aligned", TIMING_ALIGNED},
        {"given", TIMING_GIVEN},
};

/* KEY's integer; clears *OK when it is missing or not an integer. */
static int64_t get_i64(struct json_object *o, const char *key, bool *ok) {
        int64_t v = 0;

        if (json_get_int(o, key, &v) <= 0)
                *ok = false;
        return v;
}

/* A cue's words entry: an array of [text, start_ms, end_ms]. */
static bool words_valid(struct json_object *w) {
        if (!json_object_is_type(w, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(w); i++) {
                struct json_object *e = json_object_array_get_idx(w, i);

                if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 3 ||
                    !json_object_is_type(json_object_array_get_idx(e, 0), json_type_string) ||
                    !json_object_is_type(json_object_array_get_idx(e, 1), json_type_int) ||
                    !json_object_is_type(json_object_array_get_idx(e, 2), json_type_int))
                        return false;
        }
        return true;
}

/* Replaces C's words with W's (checked by words_valid; NULL: none). */
static int load_words(struct json_object *w, struct cue *c) {
        size_t n = w ? json_object_array_length(w) : 0;
        struct cue tmp = {};

        tmp.words = n ? calloc(n, sizeof *tmp.words) : NULL;
        if (n && !tmp.words)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(w, i);

                tmp.words[i].text = strdup(json_object_get_string(json_object_array_get_idx(e, 0)));
                tmp.words[i].start_ms = json_object_get_int64(json_object_array_get_idx(e, 1));
                tmp.words[i].end_ms = json_object_get_int64(json_object_array_get_idx(e, 2));
                tmp.n_words = i + 1;
                if (!tmp.words[i].text) {
                        cue_words_clear(&tmp);
                        return -ENOMEM;
                }
        }
        cue_words_clear(c);
        c->words = tmp.words;
        c->n_words = tmp.n_words;
        return 0;
}

int cache_load(const char *dir, const char *key, struct cue_list *cues, struct audio_scan *ret_scan) {
        char path[PATH_MAX];
        struct json_object *root, *arr, *tv;
        struct audio_scan scan;
        enum timing_source source = TIMING_NONE;
        bool ok = true;
        int r;

        r = entry_path(dir, key, "", path, sizeof path);
        if (r < 0)
                return r;
        if (access(path, R_OK) < 0)
                return -errno;
        root = json_object_from_file(path);
        if (!root)
                return -EBADMSG;
        scan.rate = (int)get_i64(root, "rate", &ok);
        scan.frames = get_i64(root, "frames", &ok);
        scan.first_voiced = get_i64(root, "first_voiced", &ok);
        scan.last_voiced = get_i64(root, "last_voiced", &ok);
        if (json_object_object_get_ex(root, "timing", &tv))
                for (size_t i = 0; i < ELEMENTSOF(sources); i++)
                        if (strcmp(json_object_get_string(tv), sources[i].name) == 0)
                                source = sources[i].source;
        if (!ok || get_i64(root, "version", &ok) != CACHE_FORMAT || source == TIMING_NONE ||
            scan.rate <= 0 || !json_object_object_get_ex(root, "cues", &arr) ||
            !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) != cues->n_cues) {
                json_object_put(root);
                return -EBADMSG;
        }
        for (size_t i = 0; i < cues->n_cues; i++) {
                struct json_object *p = json_object_array_get_idx(arr, i);
                size_t len = json_object_is_type(p, json_type_array) ? json_object_array_length(p) : 0;

                if ((len != 2 && len != 3) || (len == 3 && !words_valid(json_object_array_get_idx(p, 2)))) {
                        json_object_put(root);
                        return -EBADMSG;
                }
        }
        for (size_t i = 0; i < cues->n_cues; i++) {
                struct json_object *p = json_object_array_get_idx(arr, i);

                r = load_words(json_object_array_get_idx(p, 2), &cues->cues[i]);
                if (r < 0) {
                        json_object_put(root);
                        return r;
                }
                cues->cues[i].start_ms = json_object_get_int64(json_object_array_get_idx(p, 0));
                cues->cues[i].end_ms = json_object_get_int64(json_object_array_get_idx(p, 1));
        }
        json_object_put(root);
        *ret_scan = scan;
        return (int)source;
}

static struct json_object *entry_to_json(const struct cue_list *cues, const struct audio_scan *scan,
                                         enum timing_source source) {
        struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

        json_object_object_add(o, "version", json_object_new_int(CACHE_FORMAT));
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(source)));
        json_object_object_add(o, "rate", json_object_new_int(scan->rate));
        json_object_object_add(o, "frames", json_object_new_int64(scan->frames));
        json_object_object_add(o, "first_voiced", json_object_new_int64(scan->first_voiced));
        json_object_object_add(o, "last_voiced", json_object_new_int64(scan->last_voiced));
        for (size_t i = 0; i < cues->n_cues; i++) {
                struct json_object *p = json_object_new_array();
                json_object_array_add(p, json_object_new_int64(cues->cues[i].start_ms));
                json_object_array_add(p, json_object_new_int64(cues->cues[i].end_ms));
                if (source == TIMING_ALIGNED && cues->cues[i].n_words) {
                        struct json_object *w = json_object_new_array();

                        for (size_t k = 0; k < cues->cues[i].n_words; k++) {
                                const struct cue_word *cw = &cues->cues[i].words[k];
                                struct json_object *e = json_object_new_array();

                                json_object_array_add(e, json_object_new_string(cw->text));
                                json_object_array_add(e, json_object_new_int64(cw->start_ms));
                                json_object_array_add(e, json_object_new_int64(cw->end_ms));
                                json_object_array_add(w, e);
                        }
                        json_object_array_add(p, w);
                }
                json_object_array_add(arr, p);
        }
        json_object_object_add(o, "cues", arr);
        return o;
}

int cache_store(const char *dir, const char *key, const struct cue_list *cues, const struct audio_scan *scan,
                enum timing_source source) {
        char path[PATH_MAX], tmp[PATH_MAX];
        struct json_object *o;
        const char *text;
        int r;

        r = fileio_mkdir_p(dir, 0755);
        if (r >= 0)
                r = entry_path(dir, key, "", path, sizeof path);
        if (r >= 0)
                r = entry_path(dir, key, ".tmp", tmp, sizeof tmp);
        if (r < 0)
                return r;
        o = entry_to_json(cues, scan, source);
        text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
        /* No directory fsync: a lost entry is only work to redo. */
        r = text ? fileio_write_atomic(path, tmp, text, false) : -ENOMEM;
        json_object_put(o);
        return r;
}
