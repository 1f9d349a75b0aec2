/* SPDX-License-Identifier: GPL-3.0-or-later */
/* story.c: see story.h. The checks are cheap (open the audio, parse and
 * segment the transcript): decoding the audio is the ingest's job. */
#include "story.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "segment.h"
#include "transcript.h"

struct story *story_free(struct story *s) {
        if (!s)
                return NULL;
        free(s->title);
        free(s->audio_path);
        free(s->transcript_path);
        cue_list_free(s->cues);
        free(s);
        return NULL;
}

int story_check_transcript(const char *transcript, const struct segment_opts *opts,
                           struct cue_list **ret_cues, char **ret_title, char **ret_error) {
        struct transcript *t = NULL;
        struct cue_list *cues = NULL;
        int r;

        *ret_error = NULL;
        r = transcript_load(transcript, &t, ret_error);
        if (r < 0)
                return r;
        r = segment_transcript(t, opts, &cues);
        if (r >= 0 && ret_title && t->title && !(*ret_title = strdup(t->title)))
                r = -ENOMEM;
        transcript_free(t);
        if (r < 0) {
                cue_list_free(cues);
                return r == -EINVAL ? -ENODATA : r;
        }
        if (ret_cues)
                *ret_cues = cues;
        else
                cue_list_free(cues);
        return 0;
}

/* O_NONBLOCK, regular files only: a FIFO must not stall the loop thread
 * in open(). */
static int check_audio(const char *audio, char **ret_error) {
        int fd, r;

        r = fileio_open_regular(audio, 0, &fd, NULL);
        if (r >= 0)
                close(fd);
        else if (asprintf(ret_error, "audio '%s': %s", audio, fileio_strerror(r)) < 0)
                *ret_error = NULL;
        return r;
}

static struct story *story_alloc(const char *audio) {
        struct story *s = calloc(1, sizeof *s);

        if (!s)
                return NULL;
        s->duration_ms = -1;
        s->timing = TIMING_NONE;
        s->audio_path = strdup(audio);
        return s->audio_path ? s : story_free(s);
}

static char *title_of(const char *audio) {
        const char *b = strrchr(audio, '/');

        return strdup(b ? b + 1 : audio);
}

int story_build(const char *audio, const char *transcript, const struct segment_opts *opts,
                struct story **ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        struct story *s;
        int r;

        if (!audio || audio[0] != '/' || !transcript || transcript[0] != '/')
                return *ret_error = strdup("audio and transcript must be absolute paths"), -EINVAL;
        r = check_audio(audio, ret_error);
        if (r < 0)
                return r;
        s = story_alloc(audio);
        if (!s)
                return -ENOMEM;
        r = story_check_transcript(transcript, opts, &s->cues, &s->title, &error);
        if (r < 0) {
                story_free(s);
                /* The parser's and the loader's errors name the file (and
                 * the line) themselves: "PATH:LINE: what". */
                if ((error ? asprintf(ret_error, "transcript %s", error)
                           : asprintf(ret_error, "transcript '%s': %s", transcript,
                                      segment_strerror(r == -ENODATA ? -EINVAL : r))) < 0)
                        *ret_error = NULL;
                return r == -ENODATA ? -EINVAL : r;
        }
        s->transcript_path = strdup(transcript);
        if (!s->title)
                s->title = title_of(audio);
        if (!s->transcript_path || !s->title) {
                story_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int story_validate(const char *audio, const char *transcript, const struct segment_opts *opts,
                   char **ret_error) {
        struct story *s = NULL;
        int r;

        r = story_build(audio, transcript, opts, &s, ret_error);
        story_free(s);
        return r;
}

int story_check_length(const struct cue_list *cues, int64_t audio_ms, const char **ret_why) {
        uint64_t chars = 0, max = (uint64_t)(audio_ms > 0 ? audio_ms : 0) * STORY_CHARS_PER_S / 1000 +
                                  STORY_CHARS_SLACK;

        for (size_t i = 0; cues && i < cues->n_cues; i++)
                chars += cues->cues[i].spoken ? strlen(cues->cues[i].spoken) : 0;
        if (chars <= max)
                return 0;
        *ret_why = "too long for its audio (more text than anyone can say in that time)";
        return -EMSGSIZE;
}

int story_new_filler(const char *audio, struct story **ret) {
        struct story *s = story_alloc(audio);

        if (!s)
                return -ENOMEM;
        s->filler = true;
        s->title = title_of(audio);
        if (!s->title)
                return story_free(s), -ENOMEM;
        *ret = s;
        return 0;
}

struct json_object *story_to_json(const struct story *s) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "id", json_object_new_int64((int64_t)s->id));
        json_object_object_add(o, "title", json_object_new_string(s->title));
        json_object_object_add(o, "audio", json_object_new_string(s->audio_path));
        /* Filler has no transcript: null. */
        json_object_object_add(o, "transcript",
                               s->transcript_path ? json_object_new_string(s->transcript_path) : NULL);
        json_object_object_add(o, "duration_ms", json_object_new_int64(s->duration_ms));
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(s->timing)));
        json_object_object_add(o, "cues", json_object_new_int64(s->cues ? (int64_t)s->cues->n_cues : 0));
        if (s->filler)
                json_object_object_add(o, "filler", json_object_new_boolean(true));
        return o;
}
