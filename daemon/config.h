/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config.h: libconfig -> one immutable struct, validated up front.
 * Every error is reported as "FILE:LINE: message" (syntax errors, wrong
 * types, out-of-range values, unknown keys), all of them, not just the
 * first. Any thread; the result is never modified after config_load. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "output.h"

enum sink_type {
        SINK_TERMINAL,
        SINK_JSONL,
        SINK_WEBVTT,
};

struct sink_config {
        enum sink_type type;
        char *path;            /* jsonl: file; webvtt: archive directory; terminal: NULL */
        int latency_ms;        /* 0..10000, added to the audio clock for this sink */
        bool show_speaker;     /* terminal: print the speaker name */
};

struct startup_item {
        char *audio;           /* absolute (relative paths resolve against the config's directory) */
        char *transcript;
};

struct nextup_config {
        char *path;            /* the file this came from */

        /* output { } */
        char *output_driver;   /* default "default": libao's default driver, else "null" when there is no device */
        char *output_file;     /* file drivers (wav, raw, au) */
        struct output_option *output_options;
        size_t n_output_options;
        int rate;              /* 8000..192000, default 44100 */
        int channels;          /* 1..2, default 2 */

        /* control { } */
        char *control_socket;  /* default /run/nextup/control.sock */
        mode_t control_mode;   /* default 0660 */

        char *state_dir;       /* default /var/lib/nextup */
        int log_level;         /* LOG_ERR..LOG_DEBUG from "error".."debug", default info */

        /* captions { } */
        int max_chars;         /* 10..200, default 37 */
        int max_lines;         /* 1..5, default 2 */
        char *speaker_mark;    /* default ">>" */
        struct sink_config *sinks;
        size_t n_sinks;

        /* queue: stories put in Next Up at start-up */
        struct startup_item *startup;
        size_t n_startup;
};

/* Loads and validates PATH. On errors writes every one to ERRS as
 * "PATH:LINE: message\n" and returns -EINVAL; -errno when PATH cannot be
 * read (also written to ERRS). */
int config_load(const char *path, FILE *errs, struct nextup_config **ret);

struct nextup_config *config_free(struct nextup_config *c);
