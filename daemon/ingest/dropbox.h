/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dropbox.h: watched folders that queue the stories dropped into them.
 * A story is a pair NAME.mp3 + NAME.txt (or .vtt/.srt); it is taken once
 * both files are complete (closed after writing, or moved in) and quiet for
 * the folder's settle time, validated on a worker thread (transcript parse,
 * full decode scan), then moved to "<folder>/accepted/" and handed to the
 * take() callback, or moved to the quarantine folder with NAME.error
 * saying why. Loop thread only (sd-event), except the pure helpers. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

struct audio_scan;
struct dropbox;
struct dropbox_config;
struct segment_opts;

/* Loop thread. AUDIO and TRANSCRIPT are absolute paths inside accepted/;
 * POSITION is the folder's configured one (-1 append, 0 next up, N);
 * SCAN is the worker's decode of AUDIO at the dropbox's rate, so that
 * the story is not decoded again to be timed.
 * Returns >= 0 when queued, or -errno with *ret_error (malloc'd, may stay
 * NULL) saying why: the story then moves to quarantine. */
typedef int (*dropbox_take_t)(const char *audio, const char *transcript, int position,
                              const struct audio_scan *scan, char **ret_error, void *userdata);

/* Watches the N folders of CONFIGS (copied: the config may be freed
 * afterwards); files already there are taken after the settle time too.
 * RATE is the decode rate of the validation scan; SEG (copied) the
 * caption settings its transcript check segments with, the same as the
 * queue's (so that the cap on cues refuses what `add` refuses). A folder that cannot be
 * watched is logged and left out. -ENOMEM, or -errno when inotify or the
 * worker thread cannot start. */
int dropbox_new(sd_event *e, const struct dropbox_config *configs, size_t n, long rate,
                const struct segment_opts *seg, dropbox_take_t take, void *userdata, struct dropbox **ret);

/* Stops the watches; a validation in progress finishes first, its story
 * stays in the folder (taken on the next start). Accepts NULL. */
struct dropbox *dropbox_free(struct dropbox *d);

/* ---- pure helpers (any thread; exported for the tests) ---- */

enum dropbox_kind {
        DROPBOX_AUDIO, /* .mp3 */
        DROPBOX_VTT,   /* .vtt, preferred: carries its own times */
        DROPBOX_SRT,   /* .srt */
        DROPBOX_TXT,   /* .txt */
        _DROPBOX_KIND_MAX,
        DROPBOX_OTHER = -1, /* not part of a story (also hidden files: ".name.mp3.part") */
};

/* Classifies a file name (extension case-insensitive) and gives the
 * length of its stem (the name without the extension). */
enum dropbox_kind dropbox_classify(const char *name, size_t *ret_stem_len);

/* A stem for a story moving into DIR: STEM, else "STEM-1", "STEM-2"...,
 * the first for which no STEM<ext> exists for any of the NULL-terminated
 * EXTS. 0 with *ret malloc'd; -ENOMEM, -EEXIST after 9999 tries. */
int dropbox_unique_stem(const char *dir, const char *stem, const char *const *exts, char **ret);
