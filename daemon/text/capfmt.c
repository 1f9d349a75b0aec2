/* SPDX-License-Identifier: GPL-3.0-or-later */
/* capfmt.c: writes timed cues in the three formats people ask for: WebVTT
 * (browsers, archives), SRT (editors, older players) and the nextup JSON
 * (scripts). Untimed cues (start -1) are written at 0 rather than as an
 * invalid timestamp. Writes go to a caller's FILE; errors are reported
 * from ferror() once at the end of each call, since stdio buffers anyway. */
#include "capfmt.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

#include "segment.h"

#define TIMESTAMP_MAX_HOURS 99999

void capfmt_timestamp(int64_t ms, char sep, char *buf) {
        int64_t h;
        int m, s, frac;

        if (ms < 0)
                ms = 0;
        h = ms / 3600000;
        if (h > TIMESTAMP_MAX_HOURS)
                h = TIMESTAMP_MAX_HOURS;
        m = (int)(ms / 60000 % 60);
        s = (int)(ms / 1000 % 60);
        frac = (int)(ms % 1000);
        snprintf(buf, 16, "%02d:%02d:%02d%c%03d", (int)h, m, s, sep, frac);
}

static int check(FILE *f) {
        return ferror(f) ? -EIO : 0;
}

/* WebVTT payload: & < > escaped (so "-->" and tags cannot occur), and no
 * empty line, which would end the cue. */
static void write_vtt_text(FILE *f, const char *text) {
        char prev = '\n';

        for (const char *p = text; *p; prev = *p++) {
                if (*p == '&')
                        fputs("&amp;", f);
                else if (*p == '<')
                        fputs("&lt;", f);
                else if (*p == '>')
                        fputs("&gt;", f);
                else if (*p != '\n' || prev != '\n')
                        fputc(*p, f);
        }
}

static void write_times(FILE *f, const struct cue *c, char sep) {
        char a[16], b[16];

        capfmt_timestamp(c->start_ms, sep, a);
        capfmt_timestamp(c->end_ms, sep, b);
        fprintf(f, "%s --> %s\n", a, b);
}

int capfmt_vtt_cue(FILE *f, const struct cue *c) {
        write_times(f, c, '.');
        write_vtt_text(f, c->text);
        fputs("\n\n", f);
        return check(f);
}

int capfmt_vtt(FILE *f, const struct cue_list *l) {
        fputs("WEBVTT\n\n", f);
        for (size_t i = 0; i < l->n_cues; i++)
                capfmt_vtt_cue(f, &l->cues[i]);
        return check(f);
}

int capfmt_srt(FILE *f, const struct cue_list *l) {
        for (size_t i = 0; i < l->n_cues; i++) {
                char prev = '\n';

                fprintf(f, "%zu\n", i + 1);
                write_times(f, &l->cues[i], ',');
                for (const char *p = l->cues[i].text; *p; prev = *p++)
                        if (*p != '\n' || prev != '\n')
                                fputc(*p, f);
                fputs("\n\n", f);
        }
        return check(f);
}

static struct json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *cue_to_json(const struct cue *c) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_object_object_add(o, "start_ms", json_object_new_int64(c->start_ms < 0 ? 0 : c->start_ms)) <
                    0 ||
            json_object_object_add(o, "end_ms", json_object_new_int64(c->end_ms < 0 ? 0 : c->end_ms)) < 0 ||
            json_object_object_add(o, "speaker", json_string_or_null(c->speaker)) < 0 ||
            json_object_object_add(o, "text", json_object_new_string(c->text)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *list_to_json(const char *title, int64_t duration_ms, const struct cue_list *l) {
        struct json_object *root = json_object_new_object();
        struct json_object *cues = json_object_new_array();

        if (!root || !cues || json_object_object_add(root, "title", json_string_or_null(title)) < 0 ||
            json_object_object_add(root, "duration_ms", json_object_new_int64(duration_ms)) < 0)
                goto fail;
        for (size_t i = 0; i < l->n_cues; i++) {
                struct json_object *c = cue_to_json(&l->cues[i]);

                if (!c || json_object_array_add(cues, c) < 0) {
                        json_object_put(c);
                        goto fail;
                }
        }
        if (json_object_object_add(root, "cues", cues) < 0)
                goto fail;
        return root;
fail:
        json_object_put(cues);
        json_object_put(root);
        return NULL;
}

int capfmt_json(FILE *f, const char *title, int64_t duration_ms, const struct cue_list *l) {
        struct json_object *root = list_to_json(title, duration_ms, l);
        const char *s;

        if (!root)
                return -ENOMEM;
        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (s) {
                fputs(s, f);
                fputc('\n', f);
        }
        json_object_put(root);
        return s ? check(f) : -ENOMEM;
}
