/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextup-caption: the daemon's caption pipeline, offline. Parses the
 * transcript, cuts it into cues, scans the audio and times the cues exactly
 * as ingest does before air, then prints WebVTT, SRT or the nextup JSON on
 * stdout: for archives, and for checking a story before it airs. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <limits.h>
#include <mpg123.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capfmt.h"
#include "cleanup.h"
#include "decoder.h"
#include "segment.h"
#include "timing.h"
#include "log.h"
#include "transcript.h"

#define SCAN_RATE 44100

enum format { FORMAT_VTT, FORMAT_SRT, FORMAT_JSON };

struct args {
        const char *audio;
        const char *transcript;
        enum format format;
        struct segment_opts seg;
        bool estimate;        /* --estimate: skip the forced aligner */
        bool require_aligned; /* --require-aligned: exit 3 when the aligner fell back */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct transcript *, transcript_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cue_list *, cue_list_free);

static void help(void) {
        printf("Usage: nextup-caption [OPTIONS] AUDIO TRANSCRIPT\n"
               "Times the transcript's caption cues against the audio and prints them.\n\n"
               "  -f, --format=FORMAT   vtt (default), srt or json\n"
               "      --max-chars=N     characters per caption line (10..200, default 37)\n"
               "      --max-lines=N     lines per cue (1..5, default 2)\n"
               "      --estimate        time cues by spoken length, without forced alignment\n"
               "      --require-aligned exit with status 3 (printing nothing) when forced alignment\n"
               "                        fails and only the estimate is left\n"
               "  -h, --help            show this help\n");
}

static int parse_int(const char *s, int min, int max, int *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
                return -ERANGE;
        *ret = (int)v;
        return 0;
}

static int parse_format(const char *s, enum format *ret) {
        if (strcmp(s, "vtt") == 0)
                *ret = FORMAT_VTT;
        else if (strcmp(s, "srt") == 0)
                *ret = FORMAT_SRT;
        else if (strcmp(s, "json") == 0)
                *ret = FORMAT_JSON;
        else
                return -EINVAL;
        return 0;
}

/* 1: done (--help), 0: go on, -EINVAL: usage error (reported). */
static int parse_argv(int argc, char *argv[], struct args *a) {
        enum { ARG_MAX_CHARS = 0x100, ARG_MAX_LINES, ARG_ESTIMATE, ARG_REQUIRE_ALIGNED };
        static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                                {"max-chars", required_argument, NULL, ARG_MAX_CHARS},
                                                {"max-lines", required_argument, NULL, ARG_MAX_LINES},
                                                {"estimate", no_argument, NULL, ARG_ESTIMATE},
                                                {"require-aligned", no_argument, NULL, ARG_REQUIRE_ALIGNED},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        int c;

        while ((c = getopt_long(argc, argv, "f:h", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        if (parse_format(optarg, &a->format) < 0) {
                                fprintf(stderr, "nextup-caption: unknown format '%s' (vtt, srt, json)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_MAX_CHARS:
                        if (parse_int(optarg, 10, 200, &a->seg.max_chars) < 0) {
                                fprintf(stderr, "nextup-caption: --max-chars: '%s' is not in 10..200\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_MAX_LINES:
                        if (parse_int(optarg, 1, 5, &a->seg.max_lines) < 0) {
                                fprintf(stderr, "nextup-caption: --max-lines: '%s' is not in 1..5\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_ESTIMATE:
                        a->estimate = true;
                        break;
                case ARG_REQUIRE_ALIGNED:
                        a->require_aligned = true;
                        break;
                case 'h':
                        help();
                        return 1;
                default:
                        return -EINVAL;
                }
        }
        if (argc - optind != 2) {
                fprintf(stderr, "nextup-caption: expected AUDIO TRANSCRIPT (see --help)\n");
                return -EINVAL;
        }
        a->audio = argv[optind];
        a->transcript = argv[optind + 1];
        return 0;
}

static int write_captions(const struct args *a, const struct transcript *t, const struct audio_scan *scan,
                          const struct cue_list *cues) {
        switch (a->format) {
        case FORMAT_VTT:
                return capfmt_vtt(stdout, cues);
        case FORMAT_SRT:
                return capfmt_srt(stdout, cues);
        case FORMAT_JSON:
                return capfmt_json(stdout, t->title,
                                   scan->frames * 1000 / (scan->rate > 0 ? scan->rate : SCAN_RATE), cues);
        }
        return -EINVAL;
}

/* The pipeline; every failure is reported here, naming the file. */
static int run(const struct args *a) {
        _cleanup_(transcript_freep) struct transcript *t = NULL;
        _cleanup_(cue_list_freep) struct cue_list *cues = NULL;
        _cleanup_free_ char *error = NULL;
        struct audio_scan scan;
        int r;

        r = transcript_load(a->transcript, &t, &error);
        if (r < 0) {
                if (error)
                        fprintf(stderr, "nextup-caption: %s\n", error);
                else
                        fprintf(stderr, "nextup-caption: '%s': %s\n", a->transcript, strerror(-r));
                return r;
        }
        r = segment_transcript(t, &a->seg, &cues);
        if (r < 0) {
                fprintf(stderr, "nextup-caption: '%s': cannot make captions: %s\n", a->transcript,
                        r == -EINVAL ? "no cues" : strerror(-r));
                return r;
        }
        r = decoder_scan(a->audio, SCAN_RATE, &scan);
        if (r < 0) {
                fprintf(stderr, "nextup-caption: '%s': cannot decode: %s\n", a->audio,
                        r == -EINVAL ? "no MPEG audio found" : strerror(-r));
                return r;
        }
        r = a->estimate ? timing_assign(cues, &scan) : timing_align(cues, a->audio, &scan);
        if (r < 0) {
                fprintf(stderr, "nextup-caption: '%s': cannot time the captions: %s\n", a->audio,
                        r == -EINVAL ? "no speech found (the audio is silent)" : strerror(-r));
                return r;
        }
        if (a->require_aligned && r != TIMING_ALIGNED)
                return -ENOMSG; /* the aligner logged why */
        r = write_captions(a, t, &scan, cues);
        if (r >= 0 && fflush(stdout) == EOF)
                r = -errno;
        if (r < 0)
                fprintf(stderr, "nextup-caption: cannot write the captions: %s\n", strerror(-r));
        return r;
}

int main(int argc, char *argv[]) {
        struct args a = {.format = FORMAT_VTT, .seg = SEGMENT_OPTS_DEFAULT};
        int r;

        if (getenv("NEXTUP_CAPTION_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        r = parse_argv(argc, argv, &a);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        if (mpg123_init() != MPG123_OK) {
                fprintf(stderr, "nextup-caption: cannot initialise libmpg123\n");
                return EXIT_FAILURE;
        }
        r = run(&a);
        mpg123_exit();
        if (r == -ENOMSG)
                return 3;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
