/* SPDX-License-Identifier: GPL-3.0-or-later */
/* story.h: a story (audio + timed cues) and the one way to make one from
 * its files. Every way in (add/insert, at, the schedule, a restored queue,
 * the dropbox, the filler) checks its files here, so a story refused by one
 * is refused by all with the same words. Loop thread, or the worker for
 * story_check_transcript. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "timing.h"

struct cue_list;
struct json_object;
struct segment_opts;

/* A control client that changed the air (SO_PEERCRED), for the as-run
 * log. */
struct story_peer {
        bool known;
        unsigned uid;
        int pid;
        char user[64];
};

struct story {
        uint64_t id; /* unique for the daemon's life, from 1 */
        char *title;
        char *audio_path;          /* absolute */
        char *transcript_path;     /* absolute; NULL for filler */
        struct cue_list *cues;     /* owned; NULL for filler */
        enum timing_source timing; /* TIMING_NONE until the ingest worker is done */
        int64_t duration_ms;       /* -1 until scanned */
        bool failed;               /* ingest found the audio unusable */
        int64_t start_frame;       /* > 0: starts there, not at the top (resumed after a restart) */
        /* As-run (manager-events.c) */
        int64_t aired_ms;            /* wall clock ms its first frame was handed to the device; 0 before */
        int64_t aired_from_ms;       /* media position it went on air from (0, or where it resumed) */
        int64_t scheduled_ms;        /* wall clock ms a clock event set it for; 0: not scheduled */
        bool filler;                 /* played from the filler folder */
        struct story_peer queued_by; /* add/insert; not kept across a restart */
        struct story_peer ended_by;  /* skip, or remove while on air */
};

struct story *story_free(struct story *s);

/* Loads TRANSCRIPT and segments it with OPTS: 0 when spoken text remains
 * (*RET_CUES and *RET_TITLE, NULL when it has none, are the caller's when
 * not NULL). -ENODATA: no spoken text; other -errno with *RET_ERROR set to
 * transcript_load's message (it names the file) or NULL. */
int story_check_transcript(const char *transcript, const struct segment_opts *opts,
                           struct cue_list **ret_cues, char **ret_title, char **ret_error);

/* A story from AUDIO and TRANSCRIPT: both absolute paths, AUDIO a regular
 * file we can open, TRANSCRIPT as story_check_transcript. Id 0, untimed,
 * duration unknown. On failure *RET_ERROR ("audio '/x.mp3': why",
 * "transcript '/x.txt': why") says why. */
int story_build(const char *audio, const char *transcript, const struct segment_opts *opts,
                struct story **ret, char **ret_error);
/* story_build's checks alone (the story is built and dropped). */
int story_validate(const char *audio, const char *transcript, const struct segment_opts *opts,
                   char **ret_error);
/* Whether CUES can be what AUDIO_MS of audio says: refused (-EMSGSIZE,
 * *RET_WHY static) when their spoken text is more than anyone can say in
 * that time (STORY_CHARS_PER_S per second, plus STORY_CHARS_SLACK for a
 * short clip): the wrong transcript, or a hostile one, before any work is
 * spent on it. A transcript shorter than its audio is fine (music, pauses).
 * Pure, any thread. */
#define STORY_CHARS_PER_S 40  /* fast speech is ~20 characters a second */
#define STORY_CHARS_SLACK 500 /* a jingle's long name, a short clip's credits */
int story_check_length(const struct cue_list *cues, int64_t audio_ms, const char **ret_why);
/* A filler story: AUDIO only (no transcript, no cues), titled by its file
 * name. -ENOMEM. */
int story_new_filler(const char *audio, struct story **ret);
/* The story as the control protocol and the event stream show it: id,
 * title, audio, transcript (null for filler), duration_ms, timing, cues
 * (and "filler": true). A new object. */
struct json_object *story_to_json(const struct story *s);
