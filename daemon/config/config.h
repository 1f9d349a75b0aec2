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
        SINK_RDS,
        SINK_DLS,
        SINK_ICECAST,
        SINK_TCP,
};

enum rds_dialect {
        RDS_DIALECT_FIFO, /* PiFmRds / MiniRDS control FIFO: "RT text\n" (+ "RTP ...\n") */
        RDS_DIALECT_LINE, /* an ASCII line protocol from template */
        RDS_DIALECT_UECP, /* UECP frames (IEC 62106 / EBU SPB 490) */
};

enum rds_policy {
        RDS_POLICY_NOW_NEXT, /* the story's title, then what is Next Up */
        RDS_POLICY_CAPTIONS, /* the captions, in 64-character chunks at the dwell rate */
};

struct sink_config {
        enum sink_type type;
        char *path;        /* jsonl: file; webvtt: archive directory; rds: FIFO or file; dls: the
                              ODR-PadEnc DLS file; else NULL */
        int latency_ms;    /* 0..10000, added to the audio clock for this sink */
        bool show_speaker; /* terminal: print the speaker name */

        /* rds: exactly one of path, connect, udp, device */
        enum rds_dialect dialect; /* required */
        enum rds_policy policy;   /* default now_next */
        bool ascii;               /* charset = "ascii" (default "rds") */
        int dwell_ms;             /* 1000..60000, default 4000: minimum time a text stays */
        char *connect;            /* rds: TCP "host:port"; icecast: the server "host:port" */
        char *udp;                /* UDP "host:port" */
        char *device;             /* serial device */
        int baud;                 /* 1200..115200, default 9600 */
        char *template;           /* line dialect, default "RT={text}\r\n"; {text} and {ab} */
        bool rt_plus;             /* default true (fifo: RTP lines, uecp: ODA 0x46; line: none) */
        int site_address;         /* uecp: 0..1023, default 0 (all) */
        int encoder_address;      /* uecp: 0..63, default 0 (all) */
        int data_set;             /* uecp: DSN 0..255, default 0 (current) */
        int programme_service;    /* uecp: PSN 0..255, default 0 (main) */

        bool dl_plus; /* dls: DL Plus tags, default true */

        /* icecast: connect = server; mount; credentials = file of "user:password" */
        char *mount;
        char *credentials;

        char *listen; /* tcp: "HOST:PORT" (netaddr_parse), else NULL */
};

/* After a restart, what happens to the story that was on air. */
enum resume_policy {
        RESUME_AUTO,     /* position for stories longer than resume_min_s, else restart */
        RESUME_POSITION, /* continue where it was */
        RESUME_RESTART,  /* from the top */
        RESUME_DROP,     /* not again */
};

enum schedule_mode {
        SCHEDULE_HARD, /* cut the running item (fade_ms) and start on the exact frame */
        SCHEDULE_SOFT, /* becomes Next Up at its time, starts when the current item ends */
        SCHEDULE_WAIT, /* soft, unless the current item would end more than wait_s late: then hard */
};
/* "hard", "soft", "wait" (the config and control protocol words). */
const char *schedule_mode_to_string(enum schedule_mode m);
/* The mode named S, -EINVAL for NULL or another word. */
int schedule_mode_from_string(const char *s);
/* A days mask (bit 0 = Sunday) as the config writes it: "daily",
 * "weekdays", "weekends" or a list "mon,wed,fri", in BUF when a list. */
const char *schedule_days_to_string(unsigned days, char buf[static 32]);

enum filler_mode {
        FILLER_SHUFFLE, /* every MP3 of the folder, shuffled, reshuffled when all played */
        FILLER_LOOP,    /* the folder's MP3s in name order, over and over */
};

/* schedule = ( { time = "HH:MM[:SS]"; days = "daily"; mode = "hard"; ... } ) */
struct schedule_config {
        char *name;               /* default "schedule[N]" (N from 0) */
        int hour, minute, second; /* local time */
        unsigned days;            /* bit 0 = Sunday .. bit 6 = Saturday; "daily" (default), "weekdays",
                                     "weekends", or a list "mon,wed,fri" */
        enum schedule_mode mode;  /* default soft */
        int wait_s;               /* wait mode: 0..3600, default 30 */
        char *audio;              /* required */
        char *transcript;         /* required */
};

/* dropbox = ( { path = "/srv/dropbox/news"; position = -1; ... } ) */
struct dropbox_config {
        char *path;       /* watched folder, required */
        int position;     /* -1 append (default), 0 next up, N >= 1 that queue position */
        int settle_ms;    /* 0..600000, default 2000: quiet time after the last write */
        char *quarantine; /* default "<path>/quarantine" */
};

struct startup_item {
        char *audio; /* absolute (relative paths resolve against the config's directory) */
        char *transcript;
};

struct nextup_config {
        char *path; /* the file this came from */

        /* output { } */
        char *output_driver;       /* default "default": libao's default driver */
        bool output_fallback_null; /* output.fallback = "null": a paced null output when the
                                      device cannot be opened at start; default "none": an error */
        char *output_file;         /* file drivers (wav, raw, au) */
        struct output_option *output_options;
        size_t n_output_options;
        int rate;     /* 8000..192000, default 44100 */
        int channels; /* 1..2, default 2 */

        /* control { } */
        char *control_socket;        /* default /run/nextup/control.sock */
        mode_t control_mode;         /* default 0660 */
        gid_t control_gid;           /* control.group resolved; (gid_t)-1: the daemon's group */
        int control_idle_timeout_s;  /* 0..86400, default 60: an idle client is closed; 0 never */
        int control_max_connections; /* 1..10000, default 64: past it the oldest idle one is closed */
        /* Peers allowed to connect, besides root and the daemon's own user.
         * Default: no users and the group "nextup" when it exists. */
        uid_t *control_allow_uids;
        size_t n_control_allow_uids;
        gid_t *control_allow_gids;
        size_t n_control_allow_gids;

        char *state_dir; /* default /var/lib/nextup */
        int log_level;   /* LOG_ERR..LOG_DEBUG from "error".."debug", default info */

        /* http { } : NULL listen = no HTTP server */
        char *http_listen;    /* "HOST:PORT" (netaddr_parse) */
        int http_latency_ms;  /* 0..10000, default 0: the SSE feed's sink latency */
        int http_max_clients; /* 1..100000, default 2000: connections at once */

        /* captions { } */
        int max_chars;      /* 10..200, default 37 */
        int max_lines;      /* 1..5, default 2 */
        char *speaker_mark; /* default ">>" */
        struct sink_config *sinks;
        size_t n_sinks;

        /* playout { } */
        int gap_ms;  /* 0..10000, default 0: silence between items */
        int fade_ms; /* 0..10000, default 250: fade-out on hard cuts and when filler gives way */
        enum resume_policy resume; /* default auto */
        int resume_min_s;          /* 0..86400, default 300 */
        int stale_s; /* 0..604800, default 3600: an interrupted story older than this is dropped */

        /* filler { } */
        char *filler_path;            /* folder of MP3s (or one MP3); NULL: no filler */
        enum filler_mode filler_mode; /* default shuffle */

        /* silence { } : the detector on the output PCM */
        bool silence_enabled; /* default true */
        int silence_dbfs;     /* -96..0, default -50: below this RMS level is silence */
        int silence_ms;       /* 500..600000, default 10000: that long skips to the next item */

        /* as-run log */
        char *asrun_path; /* default "<state_dir>/asrun.jsonl" */

        struct schedule_config *schedule;
        size_t n_schedule;
        struct dropbox_config *dropboxes;
        size_t n_dropboxes;

        /* queue: stories put in Next Up at start-up */
        struct startup_item *startup;
        size_t n_startup;
};

/* Loads and validates PATH. On errors writes every one to ERRS as
 * "PATH:LINE: message\n" and returns -EINVAL; -errno when PATH cannot be
 * read (also written to ERRS). */
int config_load(const char *path, FILE *errs, struct nextup_config **ret);

struct nextup_config *config_free(struct nextup_config *c);
