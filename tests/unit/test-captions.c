/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-captions: the cue timer against a real sd-event loop and a real
 * audio clock. The test plays the playout thread's part by publishing
 * clock samples itself, then checks that every cue goes out at the moment
 * the clock says (never early, at most a few ms late), that a sink's
 * latency shifts it by exactly that much, that a moved or paused clock
 * moves or holds the cues, and what the jsonl, WebVTT and terminal sinks
 * write. Cue times are tens of milliseconds so the whole run stays short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "aclock.h"
#include "capfmt.h"
#include "captions.h"
#include "cleanup.h"
#include "config.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"

#define MS UINT64_C(1000000)
#define RATE 44100
/* Tolerated lateness: timers have 1 ms accuracy; the rest is scheduling
 * slack on a busy build machine. sd-event's default accuracy (250 ms)
 * would blow this by far. */
#define MAX_LATE_NS (10 * MS)
#define MAX_EARLY_NS (MS / 2)

/* ---- a recording sink ---- */

struct rec_cue {
        size_t index;
        uint64_t due_ns, seen_ns;
        int64_t lateness_us;
        int64_t start_ms, end_ms; /* as the sink was given them */
};

struct rec {
        int starts, ends;
        struct rec_cue cues[16];
        size_t n;
};

static int rec_story_start(struct sink *s, const struct story *st) {
        ((struct rec *)s->data)->starts++;
        return 0;
}

static int rec_cue(struct sink *s, const struct story *st, const struct cue *c, const struct cue_emit *e) {
        struct rec *r = s->data;

        assert_true(r->n < 16);
        r->cues[r->n++] = (struct rec_cue){e->index,       e->due_ns,   aclock_now_ns(),
                                           e->lateness_us, c->start_ms, c->end_ms};
        return 0;
}

static int rec_story_end(struct sink *s, const struct story *st) {
        ((struct rec *)s->data)->ends++;
        return 0;
}

static void rec_free(struct sink *s) {
}

static const struct sink_ops rec_ops = {
        .type = "rec",
        .story_start = rec_story_start,
        .cue = rec_cue,
        .story_end = rec_story_end,
        .free = rec_free,
};

static struct sink *rec_sink(struct rec *r, int latency_ms) {
        struct sink_config sc = {.type = SINK_TERMINAL, .latency_ms = latency_ms};
        struct sink *s;

        memset(r, 0, sizeof *r);
        assert_int_equal(sink_alloc(&rec_ops, "rec", &sc, r, &s), 0);
        return s;
}

/* ---- fixtures ---- */

struct fx {
        sd_event *e;
        struct aclock *clock;
        struct captions *caps;
        struct story *story;
        char dir[64];
};

static struct story *make_story(uint64_t id, const int64_t *starts, size_t n) {
        struct story *st = calloc(1, sizeof *st);

        assert_non_null(st);
        st->id = id;
        st->title = strdup("Short News");
        st->timing = TIMING_ESTIMATE;
        st->duration_ms = -1;
        st->cues = calloc(1, sizeof *st->cues);
        st->cues->cues = calloc(n, sizeof(struct cue));
        st->cues->n_cues = n;
        for (size_t i = 0; i < n; i++) {
                struct cue *c = &st->cues->cues[i];
                char buf[64];

                snprintf(buf, sizeof buf, "Cue number %zu.", i);
                c->text = strdup(buf);
                c->spoken = strdup(buf);
                c->sentence = i;
                c->start_ms = starts[i];
                /* 50 ms long, but never past the next cue's start: real cue
                 * lists never overlap (and the fan-out would hold it back) */
                c->end_ms = starts[i] < 0 ? -1 : starts[i] + 50;
                if (i + 1 < n && starts[i + 1] >= starts[i])
                        c->end_ms = MIN(c->end_ms, starts[i + 1]);
        }
        return st;
}

static struct aclock_sample publish(struct fx *f, uint64_t id, int64_t media_ms, uint64_t mono_ns,
                                    bool playing) {
        struct aclock_sample s = {
                .item_id = id,
                .frames = media_ms * RATE / 1000,
                .mono_ns = mono_ns,
                .rate = RATE,
                .playing = playing,
        };

        aclock_publish(f->clock, &s);
        return s;
}

static void setup_caps(struct fx *f, struct sink **sinks, size_t n) {
        struct sink **arr = calloc(n, sizeof *arr);

        memcpy(arr, sinks, n * sizeof *arr);
        assert_int_equal(sd_event_new(&f->e), 0);
        assert_int_equal(aclock_new(&f->clock), 0);
        assert_int_equal(captions_new(f->e, f->clock, arr, n, &f->caps), 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
        return remove(path);
}

static int fx_setup(void **state) {
        struct fx *f = calloc(1, sizeof *f);

        strcpy(f->dir, "/tmp/test-captions-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        *state = f;
        return 0;
}

static int fx_teardown(void **state) {
        struct fx *f = *state;

        captions_free(f->caps);
        story_free(f->story);
        aclock_free(f->clock);
        sd_event_unref(f->e);
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

/* Runs the loop until *COUNT reaches WANT or TIMEOUT_MS pass. */
static void run_until(struct fx *f, const size_t *count, size_t want, int timeout_ms) {
        uint64_t end = aclock_now_ns() + (uint64_t)timeout_ms * MS;

        while (*count < want) {
                uint64_t now = aclock_now_ns();

                if (now >= end)
                        break;
                assert_true(sd_event_run(f->e, (end - now) / 1000 + 1) >= 0);
        }
}

static void run_for(struct fx *f, int ms) {
        size_t never = 0;

        run_until(f, &never, 1, ms);
}

static void assert_on_time(const struct rec_cue *c, uint64_t want_due) {
        assert_int_equal(c->due_ns, want_due);
        assert_true(c->seen_ns + MAX_EARLY_NS >= c->due_ns);
        assert_true(c->seen_ns <= c->due_ns + MAX_LATE_NS);
        assert_true(c->lateness_us >= -(int64_t)(MAX_EARLY_NS / 1000));
        assert_true(c->lateness_us <= (int64_t)(MAX_LATE_NS / 1000));
}

/* ---- tests ---- */

static char *slurp(const char *path) {
        FILE *fp = fopen(path, "re");
        char *buf = calloc(1, 65536);
        size_t n;

        assert_non_null(fp);
        n = fread(buf, 1, 65535, fp);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

static void check_jsonl_line(json_object *o, const struct aclock_sample *s, size_t i, int64_t start_ms) {
        static const char *const keys[] = {
                "story_id",        "title",       "cue_index",   "start_ms",       "end_ms",
                "speaker",         "text",        "timing",      "on_air_mono_us", "due_mono_us",
                "emitted_mono_us", "lateness_us", "due_wall_us", "heard_at"};
        json_object *v;
        int64_t due, emitted;

        assert_int_equal(json_object_object_length(o), ELEMENTSOF(keys));
        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                assert_true(json_object_object_get_ex(o, keys[k], &v));
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "story_id")), 1);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "title")), "Short News");
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "cue_index")), i);
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "start_ms")), start_ms);
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "end_ms")), start_ms + 50);
        assert_null(json_object_object_get(o, "speaker"));
        assert_string_equal(json_object_get_string(json_object_object_get(o, "timing")), "estimate");
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "on_air_mono_us")),
                         aclock_media_to_mono(s, 0, 0) / 1000);
        due = json_object_get_int64(json_object_object_get(o, "due_mono_us"));
        /* latency 40 ms: due = on_air + start + 40 ms, to the microsecond */
        assert_int_equal(due, aclock_media_to_mono(s, 0, 0) / 1000 + start_ms * 1000 + 40000);
        emitted = json_object_get_int64(json_object_object_get(o, "emitted_mono_us"));
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "lateness_us")), emitted - due);
        assert_true(emitted - due >= -500 && emitted - due <= (int64_t)(MAX_LATE_NS / 1000));
        /* the wall clock of the due time: the same instant as the mono one */
        {
                struct timespec mono, real;
                int64_t wall = json_object_get_int64(json_object_object_get(o, "due_wall_us")), off;
                char buf[40];

                clock_gettime(CLOCK_MONOTONIC, &mono);
                clock_gettime(CLOCK_REALTIME, &real);
                off = (real.tv_sec - mono.tv_sec) * 1000000 + (real.tv_nsec - mono.tv_nsec) / 1000;
                assert_true(llabs(wall - (due + off)) < 2000);
                assert_string_equal(json_object_get_string(json_object_object_get(o, "heard_at")),
                                    sink_format_wall(wall, buf, sizeof buf));
        }
}

/* Cues go out in order at their due times; a 40 ms sink runs exactly 40 ms
 * behind; the jsonl sink writes the documented fields. */
static void test_on_time_and_latency(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 50, 100, 150};
        struct sink_config jc = {.type = SINK_JSONL, .latency_ms = 40};
        struct sink *sinks[2];
        struct aclock_sample s;
        struct rec r;
        char path[128];
        char *text, *line, *save = NULL;
        size_t lines = 0;

        snprintf(path, sizeof path, "%s/captions.jsonl", f->dir);
        jc.path = path;
        sinks[0] = rec_sink(&r, 0);
        assert_int_equal(sink_new(NULL, &jc, &sinks[1]), 0);
        setup_caps(f, sinks, 2);
        f->story = make_story(1, starts, 4);

        s = publish(f, 1, 0, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        assert_int_equal(r.starts, 1);
        run_until(f, &r.n, 4, 1000);
        assert_int_equal(r.n, 4);
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(r.cues[i].index, i);
                assert_on_time(&r.cues[i], aclock_media_to_mono(&s, starts[i], 0));
        }
        /* the jsonl sink's last cue is due 40 ms after the recorder's: until
         * then the worst sink (jsonl) has emitted 3 (a loaded machine may be
         * past that moment already, when 4 is right) */
        if (aclock_now_ns() < aclock_media_to_mono(&s, starts[3], 40))
                assert_int_equal(captions_emitted(f->caps), 3);
        run_for(f, 60);
        assert_int_equal(captions_emitted(f->caps), 4);
        captions_story_ended(f->caps, f->story);
        assert_int_equal(captions_dropped(f->caps), 0);
        assert_int_equal(r.ends, 1);

        /* on_air, the 4 cues, off_air */
        text = slurp(path);
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                json_object *o = json_tokener_parse(line);
                const char *ev;

                assert_non_null(o);
                assert_true(lines < 6);
                ev = json_object_get_string(json_object_object_get(o, "event"));
                if (lines == 0 || lines == 5) {
                        assert_string_equal(ev, lines == 0 ? "on_air" : "off_air");
                        assert_int_equal(json_object_get_int64(json_object_object_get(o, "story_id")), 1);
                        assert_true(json_object_object_get_ex(o, "wall_us", NULL));
                        assert_true(json_object_object_get_ex(o, "time", NULL));
                } else {
                        assert_null(ev);
                        check_jsonl_line(o, &s, lines - 1, starts[lines - 1]);
                }
                lines++;
                json_object_put(o);
        }
        free(text);
        assert_int_equal(lines, 6);
}

/* When the device stalls the deadline moves: the timer armed for the old
 * due time re-reads the clock and waits again. */
static void test_clock_moves(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {60, 120};
        struct sink *sinks[1];
        struct aclock_sample s;
        struct rec r;
        uint64_t t0 = aclock_now_ns();

        sinks[0] = rec_sink(&r, 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(1, starts, 2);
        publish(f, 1, 0, t0, true);
        captions_story_started(f->caps, f->story);
        run_for(f, 20);
        assert_int_equal(r.n, 0);
        /* the device took 30 ms longer than planned for the first frames */
        s = publish(f, 1, 0, t0 + 30 * MS, true);
        run_until(f, &r.n, 2, 1000);
        assert_int_equal(r.n, 2);
        assert_on_time(&r.cues[0], aclock_media_to_mono(&s, 60, 0));
        assert_int_equal(r.cues[0].due_ns, t0 + 90 * MS);
        assert_on_time(&r.cues[1], aclock_media_to_mono(&s, 120, 0));
}

/* A paused clock holds the cues; on resume they follow the new sample. */
static void test_pause_holds(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 50, 100, 150};
        struct sink *sinks[1];
        struct aclock_sample s;
        struct rec r;
        uint64_t t0 = aclock_now_ns();

        sinks[0] = rec_sink(&r, 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(1, starts, 4);
        publish(f, 1, 0, t0, true);
        captions_story_started(f->caps, f->story);
        run_until(f, &r.n, 2, 1000);
        assert_int_equal(r.n, 2);

        publish(f, 1, 70, aclock_now_ns(), false); /* paused at 70 ms */
        captions_replan(f->caps);
        run_for(f, 80); /* cue 2 would be due by now */
        assert_int_equal(r.n, 2);

        s = publish(f, 1, 70, aclock_now_ns(), true);
        captions_replan(f->caps);
        run_until(f, &r.n, 4, 1000);
        assert_int_equal(r.n, 4);
        assert_on_time(&r.cues[2], aclock_media_to_mono(&s, 100, 0));
        assert_on_time(&r.cues[3], aclock_media_to_mono(&s, 150, 0));
        assert_int_equal(r.cues[2].due_ns, s.mono_ns + 30 * MS);
        assert_int_equal(captions_emitted(f->caps), 4);
}

/* The story leaves the air: what is left is dropped and counted; the
 * counters start again with the next story. */
static void test_story_ended_drops(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 30, 5000, 6000};
        struct sink *sinks[1];
        struct story *next;
        struct rec r;

        sinks[0] = rec_sink(&r, 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(1, starts, 4);
        publish(f, 1, 0, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        run_until(f, &r.n, 2, 1000);
        captions_story_ended(f->caps, f->story);
        assert_int_equal(captions_emitted(f->caps), 2);
        assert_int_equal(captions_dropped(f->caps), 2);
        assert_int_equal(r.ends, 1);
        run_for(f, 20);
        assert_int_equal(r.n, 2);

        next = make_story(2, starts, 1);
        publish(f, 2, 0, aclock_now_ns(), true);
        captions_story_started(f->caps, next);
        assert_int_equal(captions_dropped(f->caps), 0);
        assert_int_equal(captions_emitted(f->caps), 1);
        assert_int_equal(r.starts, 2);
        captions_story_ended(f->caps, next);
        story_free(next);
}

/* Joining a story mid-way: a cue 3 s past is dropped, one 1.5 s past is
 * shown at once (late), later ones on time. */
static void test_midway_start(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 1500, 3030};
        struct sink *sinks[1];
        struct aclock_sample s;
        struct rec r;

        sinks[0] = rec_sink(&r, 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(1, starts, 3);
        s = publish(f, 1, 3000, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.cues[0].index, 1);
        assert_true(r.cues[0].lateness_us >= 1500000 && r.cues[0].lateness_us < 1500000 + 10000);
        assert_int_equal(captions_dropped(f->caps), 1);
        run_until(f, &r.n, 2, 1000);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.cues[1].index, 2);
        assert_on_time(&r.cues[1], aclock_media_to_mono(&s, 3030, 0));
        assert_int_equal(captions_emitted(f->caps), 2);
}

/* The playout thread has not published the story yet: no cue goes out,
 * and once it does the captions start by themselves. */
static void test_waits_for_clock(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 30};
        struct sink *sinks[1];
        struct aclock_sample s;
        struct rec r;

        sinks[0] = rec_sink(&r, 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(1, starts, 2);
        publish(f, 9, 4000, aclock_now_ns(), true); /* the previous story */
        captions_story_started(f->caps, f->story);
        run_for(f, 20);
        assert_int_equal(r.n, 0);
        s = publish(f, 1, 0, aclock_now_ns(), true);
        run_until(f, &r.n, 2, 1000);
        assert_int_equal(r.n, 2);
        /* found by the 5 ms retry, not by a replan */
        assert_true(r.cues[0].seen_ns <= s.mono_ns + 10 * MS);
        assert_on_time(&r.cues[1], aclock_media_to_mono(&s, 30, 0));
}

/* Untimed cues are held until timing arrives and captions_replan. */
static void test_untimed_held(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {-1, -1};
        struct sink *sinks[1];
        struct aclock_sample s;
        struct rec r;

        sinks[0] = rec_sink(&r, 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(1, starts, 2);
        s = publish(f, 1, 0, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        run_for(f, 20);
        assert_int_equal(r.n, 0);
        f->story->cues->cues[0].start_ms = 40;
        f->story->cues->cues[1].start_ms = 60;
        captions_replan(f->caps);
        run_until(f, &r.n, 2, 1000);
        assert_int_equal(r.n, 2);
        assert_on_time(&r.cues[0], aclock_media_to_mono(&s, 40, 0));
        assert_on_time(&r.cues[1], aclock_media_to_mono(&s, 60, 0));
}

static char *vtt_cue_text(const struct cue *c) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);

        assert_true(capfmt_vtt_cue(m, c) >= 0);
        fclose(m);
        return buf;
}

/* The archive folder is created; one file per story with the emitted
 * cues in story time. */
static void test_webvtt(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 20};
        struct sink_config sc = {.type = SINK_WEBVTT};
        struct sink *sinks[1];
        char dir[128], file[512], want[1024];
        _cleanup_free_ char *c0 = NULL, *c1 = NULL, *got = NULL;
        struct dirent *de;
        regex_t re;
        DIR *d;
        int n = 0;

        snprintf(dir, sizeof dir, "%s/archive/deeper", f->dir);
        sc.path = dir;
        assert_int_equal(sink_new(NULL, &sc, &sinks[0]), 0);
        setup_caps(f, sinks, 1);
        f->story = make_story(7, starts, 2);
        free(f->story->cues->cues[1].text);
        f->story->cues->cues[1].text = strdup(">> Two lines\nof text.");
        publish(f, 7, 0, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        run_for(f, 40);
        assert_int_equal(captions_emitted(f->caps), 2);
        captions_story_ended(f->caps, f->story);

        assert_int_equal(regcomp(&re, "^[0-9]{8}-[0-9]{6}-7\\.vtt$", REG_EXTENDED | REG_NOSUB), 0);
        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                assert_int_equal(regexec(&re, de->d_name, 0, NULL, 0), 0);
                snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
                n++;
        }
        closedir(d);
        regfree(&re);
        assert_int_equal(n, 1);

        c0 = vtt_cue_text(&f->story->cues->cues[0]);
        c1 = vtt_cue_text(&f->story->cues->cues[1]);
        snprintf(want, sizeof want, "WEBVTT\n\nNOTE Short News\n\n%s%s", c0, c1);
        got = slurp(file);
        assert_string_equal(got, want);
        assert_non_null(strstr(got, "00:00:00.020 --> 00:00:00.070"));
}

/* A story on air with estimated times switches to aligned ones whose next
 * cue starts (and one even ends) before the end of the cue already shown:
 * every sink gets cues that never overlap or run backwards, each emitted
 * at the due time of the start it is given, and the archive holds the
 * same times. */
static void test_monotone(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0, 100, 200, 300};
        struct sink_config sc = {.type = SINK_WEBVTT};
        struct sink *sinks[2];
        struct cue *c;
        struct aclock_sample s;
        struct rec r;
        char dir[128], file[600] = "";
        _cleanup_free_ char *got = NULL;
        struct dirent *de;
        DIR *d;

        snprintf(dir, sizeof dir, "%s/archive", f->dir);
        sc.path = dir;
        sinks[0] = rec_sink(&r, 0);
        assert_int_equal(sink_new(NULL, &sc, &sinks[1]), 0);
        setup_caps(f, sinks, 2);
        f->story = make_story(9, starts, 4);
        c = f->story->cues->cues;
        c[0].end_ms = 90; /* the estimate: cue 0 shown 0..90 */
        s = publish(f, 9, 0, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        run_until(f, &r.n, 1, 1000);
        assert_int_equal(r.n, 1);
        /* alignment arrives: cue 1 said at 40..120, cue 2 at 60..80 (inside
         * cue 0's estimate), cue 3 at 130..180 */
        c[1].start_ms = 40, c[1].end_ms = 120;
        c[2].start_ms = 60, c[2].end_ms = 80;
        c[3].start_ms = 130, c[3].end_ms = 180;
        captions_replan(f->caps);
        run_until(f, &r.n, 4, 1000);
        assert_int_equal(r.n, 4);
        captions_story_ended(f->caps, f->story);
        for (size_t i = 1; i < 4; i++) {
                assert_true(r.cues[i].start_ms >= r.cues[i - 1].end_ms);
                assert_true(r.cues[i].end_ms >= r.cues[i].start_ms);
                assert_on_time(&r.cues[i], aclock_media_to_mono(&s, r.cues[i].start_ms, 0));
        }
        assert_int_equal(r.cues[1].start_ms, 90);
        assert_int_equal(r.cues[1].end_ms, 120);
        assert_int_equal(r.cues[2].start_ms, 120); /* ended before: shown for no time */
        assert_int_equal(r.cues[2].end_ms, 120);
        assert_int_equal(r.cues[3].start_ms, 130);
        assert_int_equal(r.cues[3].end_ms, 180);
        /* the story's own times are not touched */
        assert_int_equal(c[1].start_ms, 40);

        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
        closedir(d);
        got = slurp(file);
        assert_non_null(strstr(got, "00:00:00.000 --> 00:00:00.090\n"));
        assert_non_null(strstr(got, "00:00:00.090 --> 00:00:00.120\n"));
        assert_non_null(strstr(got, "00:00:00.120 --> 00:00:00.120\n"));
        assert_non_null(strstr(got, "00:00:00.130 --> 00:00:00.180\n"));
}

/* Runs a three-cue story through a terminal sink; returns what it printed. */
static char *terminal_run(struct fx *f, bool show_speaker) {
        static const int64_t starts[] = {61200, 61210, 61220};
        struct sink_config sc = {.type = SINK_TERMINAL, .show_speaker = show_speaker};
        struct sink *sinks[1];
        struct cue *c;
        char path[128];
        int fd, saved;

        snprintf(path, sizeof path, "%s/stdout-%d", f->dir, show_speaker);
        assert_int_equal(sink_new(NULL, &sc, &sinks[0]), 0);
        assert_string_equal(sinks[0]->name, "terminal");
        setup_caps(f, sinks, 1);
        f->story = make_story(3, starts, 3);
        c = f->story->cues->cues;
        free(c[0].text);
        free(c[0].spoken);
        c[0] = (struct cue){strdup(">> Good morning.\nIt is Monday."),
                            strdup("Good morning. It is Monday."),
                            strdup("MARTIN"),
                            true,
                            0,
                            61200,
                            61210,
                            NULL,
                            0};
        c[1].speaker = strdup("MARTIN");
        free(c[2].text);
        free(c[2].spoken);
        c[2] = (struct cue){strdup(">> Thanks."),
                            strdup("Thanks."),
                            strdup("ROSA DIAZ"),
                            true,
                            1,
                            61220,
                            61230,
                            NULL,
                            0};

        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(saved >= 0 && fd >= 0);
        dup2(fd, STDOUT_FILENO);
        close(fd);
        publish(f, 3, 61200, aclock_now_ns(), true);
        captions_story_started(f->caps, f->story);
        run_for(f, 40);
        captions_story_ended(f->caps, f->story);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);

        assert_int_equal(captions_emitted(f->caps), 3);
        f->caps = captions_free(f->caps);
        f->story = story_free(f->story);
        f->clock = aclock_free(f->clock);
        f->e = sd_event_unref(f->e);
        return slurp(path);
}

static void test_terminal(void **state) {
        struct fx *f = *state;
        _cleanup_free_ char *with = terminal_run(f, true);
        _cleanup_free_ char *without = terminal_run(f, false);

        assert_string_equal(with, "=== On air: Short News ===\n"
                                  "[01:01.200] MARTIN: Good morning. It is Monday.\n"
                                  "[01:01.210] Cue number 1.\n"
                                  "[01:01.220] ROSA DIAZ: Thanks.\n");
        assert_string_equal(without, "=== On air: Short News ===\n"
                                     "[01:01.200] >> Good morning. It is Monday.\n"
                                     "[01:01.210] Cue number 1.\n"
                                     "[01:01.220] >> Thanks.\n");
}

/* Next up: the jsonl sink writes an event line (not a cue), the terminal a
 * "--- Next up:" line, and a sink without the op is simply skipped. */
static void test_next_up(void **state) {
        struct fx *f = *state;
        static const int64_t starts[] = {0};
        struct sink_config jc = {.type = SINK_JSONL}, tc = {.type = SINK_TERMINAL};
        struct sink *sinks[3];
        struct rec rec;
        char jpath[128], tpath[128];
        _cleanup_free_ char *jtext = NULL, *ttext = NULL;
        uint64_t t0 = aclock_now_ns();
        json_object *o[2];
        int fd, saved;

        snprintf(jpath, sizeof jpath, "%s/next.jsonl", f->dir);
        snprintf(tpath, sizeof tpath, "%s/stdout-next", f->dir);
        jc.path = jpath;
        assert_int_equal(sink_new(NULL, &jc, &sinks[0]), 0);
        assert_int_equal(sink_new(NULL, &tc, &sinks[1]), 0);
        sinks[2] = rec_sink(&rec, 0);
        setup_caps(f, sinks, 3);
        f->story = make_story(42, starts, 1);

        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(saved >= 0 && fd >= 0);
        dup2(fd, STDOUT_FILENO);
        close(fd);
        captions_next_up(f->caps, f->story);
        captions_next_up(f->caps, NULL);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);

        ttext = slurp(tpath);
        assert_string_equal(ttext, "--- Next up: Short News\n--- Next up: nothing\n");
        jtext = slurp(jpath);
        o[0] = json_tokener_parse(jtext);
        o[1] = json_tokener_parse(strchr(jtext, '\n') + 1);
        assert_non_null(o[0]);
        assert_non_null(o[1]);
        assert_string_equal(json_object_get_string(json_object_object_get(o[0], "event")), "next_up");
        assert_int_equal(json_object_get_int64(json_object_object_get(o[0], "story_id")), 42);
        assert_string_equal(json_object_get_string(json_object_object_get(o[0], "title")), "Short News");
        assert_false(json_object_object_get_ex(o[0], "cue_index", NULL));
        assert_true(json_object_get_int64(json_object_object_get(o[0], "mono_us")) >= (int64_t)(t0 / 1000));
        assert_true(json_object_get_int64(json_object_object_get(o[0], "mono_us")) <=
                    (int64_t)(aclock_now_ns() / 1000));
        assert_true(json_object_object_get_ex(o[1], "story_id", NULL));
        assert_null(json_object_object_get(o[1], "story_id"));
        assert_null(json_object_object_get(o[1], "title"));
        json_object_put(o[0]);
        json_object_put(o[1]);
        assert_int_equal(rec.starts + rec.ends + (int)rec.n, 0);
}

static void test_sink_new_errors(void **state) {
        struct fx *f = *state;
        struct sink_config sc = {.type = SINK_JSONL};
        struct sink *s = NULL;
        char path[128], want[160];

        snprintf(path, sizeof path, "%s/missing/captions.jsonl", f->dir);
        sc.path = path;
        assert_int_equal(sink_new(NULL, &sc, &s), -ENOENT);
        assert_null(s);
        sc.type = (enum sink_type)99;
        assert_int_equal(sink_new(NULL, &sc, &s), -EINVAL);

        snprintf(path, sizeof path, "%s/captions.jsonl", f->dir);
        sc.type = SINK_JSONL;
        assert_int_equal(sink_new(NULL, &sc, &s), 0);
        snprintf(want, sizeof want, "jsonl:'%s'", path);
        assert_string_equal(s->name, want);
        assert_null(sink_free(s));
        assert_null(sink_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_on_time_and_latency, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_clock_moves, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_pause_holds, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_story_ended_drops, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_midway_start, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_waits_for_clock, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_untimed_held, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_webvtt, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_monotone, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_terminal, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_next_up, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_sink_new_errors, fx_setup, fx_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
