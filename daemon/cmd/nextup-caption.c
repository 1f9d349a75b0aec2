/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextup-caption: the daemon's caption pipeline, offline. Parses the
 * transcript, cuts it into cues, scans the audio and times the cues exactly
 * as ingest does before air, then prints WebVTT, SRT or the nextup JSON on
 * stdout: for archives, and for checking a story before it airs. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <mpg123.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align.h"
#include "cache.h"
#include "capfmt.h"
#include "cleanup.h"
#include "decoder.h"
#include "segment.h"
#include "timing.h"
#include "log.h"
#include "transcript.h"

#define SCAN_RATE 44100

/* Exit statuses the daemon tells apart (see help()). */
#define EXIT_CUES_MISMATCH 4

enum format { FORMAT_VTT, FORMAT_SRT, FORMAT_JSON };

struct args {
        const char *audio;
        const char *transcript;
        enum format format;
        struct segment_opts seg;
        bool estimate;           /* --estimate: skip the forced aligner */
        bool require_aligned;    /* --require-aligned: exit 3 when the aligner fell back whole */
        const char *cues_digest; /* --cues-digest: exit 4 unless our cues hash to it */
        bool word_times;         /* --word-times: WebVTT inline timestamps */
        bool quiet;              /* --quiet: no progress */
        enum align_engine engine;
};

#define EXIT_FELL_BACK 3  /* --require-aligned: nothing matched, only the estimate was left */
#define PROGRESS_MIN_S 60 /* progress only for stories longer than this */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct transcript *, transcript_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cue_list *, cue_list_free);

static void help(void) {
        printf("Usage: nextup-caption [OPTIONS] AUDIO TRANSCRIPT\n"
               "Times the transcript's caption cues against the audio and prints them.\n\n"
               "  -f, --format=FORMAT   vtt (default), srt or json\n"
               "      --max-chars=N     characters per caption line (10..200, default 37)\n"
               "      --max-lines=N     lines per cue (1..5, default 2)\n"
               "      --speaker-mark=S  prefix of a cue after a speaker change (default '>>',\n"
               "                        '' for none)\n"
               "      --estimate        time cues by spoken length, without forced alignment\n"
               "      --engine=ENGINE   auto (default: the acoustic model for English, else\n"
               "                        espeak-ng), acoustic or espeak\n"
               "      --word-times      WebVTT: a <hh:mm:ss.mmm> timestamp before every word\n"
               "      --require-aligned exit with status 3 (printing nothing) when the story as a\n"
               "                        whole does not match its audio and only the estimate is\n"
               "                        left (passages that do not match are placed between\n"
               "                        their neighbours and do not count)\n"
               "  -q, --quiet           no progress on a terminal\n"
               "      --cues-digest=HEX exit with status 4 (printing nothing) unless the cues cut\n"
               "                        from TRANSCRIPT have this digest (the daemon passes the\n"
               "                        digest of its own cue list, so times never land on\n"
               "                        other cues)\n"
               "  -h, --help            show this help\n"
               "  -V, --version         show the version\n\n"
               "Exit status: 0 captions printed, 1 error, 2 usage, 3 fell back whole\n"
               "(--require-aligned), 4 cues differ from --cues-digest.\n");
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
        enum {
                ARG_MAX_CHARS = 0x100,
                ARG_MAX_LINES,
                ARG_SPEAKER_MARK,
                ARG_ESTIMATE,
                ARG_REQUIRE_ALIGNED,
                ARG_CUES_DIGEST,
                ARG_ENGINE,
                ARG_WORD_TIMES,
        };
        static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                                {"max-chars", required_argument, NULL, ARG_MAX_CHARS},
                                                {"max-lines", required_argument, NULL, ARG_MAX_LINES},
                                                {"speaker-mark", required_argument, NULL, ARG_SPEAKER_MARK},
                                                {"cues-digest", required_argument, NULL, ARG_CUES_DIGEST},
                                                {"estimate", no_argument, NULL, ARG_ESTIMATE},
                                                {"require-aligned", no_argument, NULL, ARG_REQUIRE_ALIGNED},
                                                {"engine", required_argument, NULL, ARG_ENGINE},
                                                {"word-times", no_argument, NULL, ARG_WORD_TIMES},
                                                {"quiet", no_argument, NULL, 'q'},
                                                {"help", no_argument, NULL, 'h'},
                                                {"version", no_argument, NULL, 'V'},
                                                {}};
        int c;

        while ((c = getopt_long(argc, argv, "f:qhV", options, NULL)) >= 0) {
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
                case ARG_SPEAKER_MARK:
                        a->seg.speaker_mark = optarg;
                        break;
                case ARG_CUES_DIGEST:
                        if (strlen(optarg) != CACHE_KEY_LEN) {
                                fprintf(stderr, "nextup-caption: --cues-digest: '%s' is not %d hex digits\n",
                                        optarg, CACHE_KEY_LEN);
                                return -EINVAL;
                        }
                        a->cues_digest = optarg;
                        break;
                case ARG_ESTIMATE:
                        a->estimate = true;
                        break;
                case ARG_REQUIRE_ALIGNED:
                        a->require_aligned = true;
                        break;
                case ARG_ENGINE:
                        if (strcmp(optarg, "auto") == 0)
                                a->engine = ALIGN_ENGINE_AUTO;
                        else if (strcmp(optarg, "acoustic") == 0)
                                a->engine = ALIGN_ENGINE_ACOUSTIC;
                        else if (strcmp(optarg, "espeak") == 0)
                                a->engine = ALIGN_ENGINE_ESPEAK;
                        else {
                                fprintf(stderr,
                                        "nextup-caption: unknown engine '%s' (auto, acoustic, espeak)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_WORD_TIMES:
                        a->word_times = true;
                        break;
                case 'q':
                        a->quiet = true;
                        break;
                case 'h':
                        help();
                        return 1;
                case 'V':
                        puts("nextup-caption " NEXTUP_VERSION);
                        return 1;
                default:
                        return -EINVAL;
                }
        }
        if (argc - optind != 2) {
                fprintf(stderr, "nextup-caption: expected AUDIO TRANSCRIPT\n");
                return -EINVAL;
        }
        a->audio = argv[optind];
        a->transcript = argv[optind + 1];
        return 0;
}

static void vtt_escaped(FILE *f, const char *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '&')
                        fputs("&amp;", f);
                else if (p[i] == '<')
                        fputs("&lt;", f);
                else if (p[i] == '>')
                        fputs("&gt;", f);
                else
                        fputc(p[i], f);
        }
}

/* WebVTT with a timestamp tag before every word but a cue's first: each
 * word of the spoken text is found in order in the display text. */
static int write_vtt_words(FILE *f, const struct cue_list *cues, const struct align_report *rep) {
        size_t w = 0;

        fputs("WEBVTT\n\n", f);
        for (size_t k = 0; k < cues->n_cues; k++) {
                const struct cue *c = &cues->cues[k];
                const char *text = c->text, *at = text;
                char a[16], b[16];
                bool first = true;

                capfmt_timestamp(c->start_ms, '.', a);
                capfmt_timestamp(c->end_ms, '.', b);
                fprintf(f, "%s --> %s\n", a, b);
                for (; w < rep->n_words && rep->words[w].cue == k; w++) {
                        const struct align_word *aw = &rep->words[w];
                        size_t len = aw->byte_end - aw->byte_start;
                        const char *hit = memmem(at, strlen(at), c->spoken + aw->byte_start, len);

                        if (!hit)
                                continue;
                        vtt_escaped(f, at, (size_t)(hit - at));
                        if (!first) {
                                capfmt_timestamp(aw->start_ms, '.', a);
                                fprintf(f, "<%s>", a);
                        }
                        first = false;
                        vtt_escaped(f, hit, len);
                        at = hit + len;
                }
                vtt_escaped(f, at, strlen(at));
                fputs("\n\n", f);
        }
        return ferror(f) ? -EIO : 0;
}

static int json_add(struct json_object *o, const char *key, struct json_object *v) {
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* The nextup JSON: title, duration, the story-level timing (source:
 * aligned or estimate; engine; mean confidence; cues placed between
 * neighbours), and per cue its times, speaker, text, confidence and words. */
static int write_json(FILE *f, const struct transcript *t, int64_t duration_ms, const struct cue_list *cues,
                      int source, const struct align_report *rep) {
        struct json_object *root = json_object_new_object(), *timing = json_object_new_object();
        struct json_object *arr = json_object_new_array();
        size_t w = 0;
        int r = root && timing && arr ? 0 : -ENOMEM;

        if (r >= 0)
                r = json_add(root, "title", t->title ? json_object_new_string(t->title) : NULL);
        if (r >= 0)
                r = json_add(root, "duration_ms", json_object_new_int64(duration_ms));
        if (r >= 0)
                r = json_add(timing, "source", json_object_new_string(timing_source_to_string(source)));
        if (r >= 0 && rep) {
                r = json_add(timing, "engine", json_object_new_string(rep->engine));
                if (r >= 0)
                        r = json_add(timing, "confidence", json_object_new_double(rep->mean_confidence));
                if (r >= 0)
                        r = json_add(timing, "interpolated_cues",
                                     json_object_new_int64((int64_t)rep->n_interpolated));
        }
        if (r >= 0) {
                r = json_add(root, "timing", timing);
                timing = NULL;
        }
        for (size_t k = 0; r >= 0 && k < cues->n_cues; k++) {
                const struct cue *c = &cues->cues[k];
                struct json_object *o = json_object_new_object(), *words = json_object_new_array();

                r = o && words ? 0 : -ENOMEM;
                if (r >= 0)
                        r = json_add(o, "start_ms",
                                     json_object_new_int64(c->start_ms < 0 ? 0 : c->start_ms));
                if (r >= 0)
                        r = json_add(o, "end_ms", json_object_new_int64(c->end_ms < 0 ? 0 : c->end_ms));
                if (r >= 0)
                        r = json_add(o, "speaker", c->speaker ? json_object_new_string(c->speaker) : NULL);
                if (r >= 0)
                        r = json_add(o, "text", json_object_new_string(c->text));
                if (r >= 0 && rep && rep->confidence)
                        r = json_add(o, "confidence", json_object_new_double(rep->confidence[k]));
                for (; r >= 0 && rep && w < rep->n_words && rep->words[w].cue == k; w++) {
                        const struct align_word *aw = &rep->words[w];
                        struct json_object *wo = json_object_new_object();

                        r = wo ? 0 : -ENOMEM;
                        if (r >= 0)
                                r = json_add(
                                        wo, "text",
                                        json_object_new_string_len(c->spoken + aw->byte_start,
                                                                   (int)(aw->byte_end - aw->byte_start)));
                        if (r >= 0)
                                r = json_add(wo, "start_ms", json_object_new_int64(aw->start_ms));
                        if (r >= 0)
                                r = json_add(wo, "end_ms", json_object_new_int64(aw->end_ms));
                        if (r >= 0)
                                r = json_add(wo, "aligned", json_object_new_boolean(aw->aligned));
                        if (r >= 0 && json_object_array_add(words, wo) < 0)
                                r = -ENOMEM;
                        if (r < 0)
                                json_object_put(wo);
                }
                if (r >= 0 && rep) {
                        r = json_add(o, "words", words);
                        words = NULL;
                }
                json_object_put(words);
                if (r >= 0 && json_object_array_add(arr, o) < 0)
                        r = -ENOMEM;
                if (r < 0)
                        json_object_put(o);
        }
        if (r >= 0) {
                r = json_add(root, "cues", arr);
                arr = NULL;
        }
        if (r >= 0) {
                fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
                      f);
                fputc('\n', f);
                r = ferror(f) ? -EIO : 0;
        }
        json_object_put(arr);
        json_object_put(timing);
        json_object_put(root);
        return r;
}

/* FRAMES: the audio's length at SCAN_RATE. */
static int write_captions(const struct args *a, const struct transcript *t, int64_t frames,
                          const struct cue_list *cues, int source, const struct align_report *rep) {
        switch (a->format) {
        case FORMAT_VTT:
                return a->word_times && rep ? write_vtt_words(stdout, cues, rep) : capfmt_vtt(stdout, cues);
        case FORMAT_SRT:
                return capfmt_srt(stdout, cues);
        case FORMAT_JSON:
                return write_json(stdout, t, frames * 1000 / SCAN_RATE, cues, source, rep);
        }
        return -EINVAL;
}

struct progress {
        double total_s;
        bool shown;
};

static void show_progress(void *userdata, double done_s) {
        struct progress *p = userdata;

        fprintf(stderr, "\rnextup-caption: aligning %3.0f%% (%.0f of %.0f s)",
                100.0 * MIN(done_s / p->total_s, 1.0), MIN(done_s, p->total_s), p->total_s);
        p->shown = true;
}

/* The file's exact length at SCAN_RATE from decoder_open (mpg123_scan
 * reads the MPEG frame headers; libsndfile its header): no decode. */
static int audio_length(const char *path, int64_t *ret) {
        struct decoder *d = NULL;
        int64_t n;
        int r;

        r = decoder_open(path, SCAN_RATE, 1, &d);
        if (r < 0)
                return r;
        n = decoder_length(d);
        decoder_free(d);
        if (n <= 0)
                return n < 0 ? (int)n : -EINVAL;
        *ret = n;
        return 0;
}

/* The pipeline; every failure is reported here, naming the file. */
static int run(const struct args *a) {
        _cleanup_(transcript_freep) struct transcript *t = NULL;
        _cleanup_(cue_list_freep) struct cue_list *cues = NULL;
        _cleanup_free_ char *error = NULL;
        struct align_opts o = ALIGN_OPTS_DEFAULT;
        struct align_report rep = {};
        struct progress pr = {};
        /* Filled by a full decode only for the estimate: the aligner decodes
         * the file itself, so an aligned story is decoded here once. */
        struct audio_scan scan = {.rate = SCAN_RATE, .frames = -1, .first_voiced = -1, .last_voiced = -1};
        int64_t length = 0;
        bool have_rep = false;
        double total_s;
        int r, source;

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
                        segment_strerror(r));
                return r;
        }
        if (a->cues_digest) {
                char digest[CACHE_KEY_LEN + 1];

                r = cache_cues_digest(cues, digest);
                if (r < 0)
                        return r;
                if (strcmp(digest, a->cues_digest) != 0) {
                        fprintf(stderr,
                                "nextup-caption: '%s': its %zu cues differ from the caller's (digest %s, "
                                "expected %s): not timing them\n",
                                a->transcript, cues->n_cues, digest, a->cues_digest);
                        return -EXDEV;
                }
        }
        r = a->estimate ? decoder_scan(a->audio, SCAN_RATE, &scan) : audio_length(a->audio, &length);
        if (r < 0) {
                fprintf(stderr, "nextup-caption: '%s': cannot decode: %s\n", a->audio,
                        r == -EINVAL ? "not audio nextup can decode" : strerror(-r));
                return r;
        }
        if (a->estimate)
                length = scan.frames;
        total_s = (double)length / SCAN_RATE;
        pr.total_s = total_s;
        o.engine = a->engine;
        if (!a->quiet && total_s > PROGRESS_MIN_S && isatty(STDERR_FILENO)) {
                o.progress = show_progress;
                o.progress_userdata = &pr;
        }
        r = a->estimate ? timing_assign(cues, &scan) : timing_align_report(cues, a->audio, &scan, &o, &rep);
        if (pr.shown)
                fputs("\r\033[K", stderr);
        if (r == TIMING_ALIGNED)
                have_rep = true;
        if (r < 0) {
                fprintf(stderr, "nextup-caption: '%s': cannot time the captions: %s\n", a->audio,
                        r == -EINVAL ? "no speech found (the audio is silent)" : strerror(-r));
                return r;
        }
        if (a->require_aligned && r != TIMING_ALIGNED)
                return -ENOMSG; /* the aligner logged why */
        source = r;
        r = write_captions(a, t, scan.frames >= 0 ? scan.frames : length, cues, source,
                           have_rep ? &rep : NULL);
        align_report_done(&rep);
        if (r >= 0 && fflush(stdout) == EOF)
                r = -errno;
        if (r < 0)
                fprintf(stderr, "nextup-caption: cannot write the captions: %s\n", strerror(-r));
        return r;
}

int main(int argc, char *argv[]) {
        struct args a = {.format = FORMAT_VTT, .seg = SEGMENT_OPTS_DEFAULT, .engine = ALIGN_ENGINE_AUTO};
        int r;

        if (getenv("NEXTUP_CAPTION_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        r = parse_argv(argc, argv, &a);
        if (r > 0)
                return EXIT_SUCCESS;
        if (r < 0) {
                fprintf(stderr, "Try 'nextup-caption --help'.\n");
                return 2;
        }
        if (mpg123_init() != MPG123_OK) {
                fprintf(stderr, "nextup-caption: cannot initialise libmpg123\n");
                return EXIT_FAILURE;
        }
        r = run(&a);
        mpg123_exit();
        if (r == -ENOMSG)
                return EXIT_FELL_BACK;
        if (r == -EXDEV)
                return EXIT_CUES_MISMATCH;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
