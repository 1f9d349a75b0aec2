/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-dropbox: the naming rules (classify, unique stems) and the whole
 * watch -> settle -> check -> accept/quarantine path on a real sd-event
 * loop, inotify and worker, with take() recording what it was given. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mpg123.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "decoder.h"
#include "dropbox.h"
#include "segment.h"

static const char *source_dir(void) {
        const char *s = getenv("NEXTUP_SOURCE_DIR");

        return s ? s : ".";
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *path2(const char *a, const char *b) {
        char *s;

        assert_true(asprintf(&s, "%s/%s", a, b) >= 0);
        return s;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
        char *p = path2(dir, name);
        FILE *f = fopen(p, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        free(p);
}

static void write_text(const char *dir, const char *name, const char *text) {
        write_file(dir, name, text, strlen(text));
}

static void copy_tone(const char *dir, const char *name) {
        char *src = path2(source_dir(), "tests/fixtures/tone-1s.mp3");
        FILE *f = fopen(src, "re");
        char buf[1 << 16];
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, sizeof buf, f);
        assert_true(n > 1000 && n < sizeof buf);
        fclose(f);
        write_file(dir, name, buf, n);
        free(src);
}

static bool exists(const char *dir, const char *name) {
        char *p = path2(dir, name);
        bool r = access(p, F_OK) == 0;

        free(p);
        return r;
}

static char *read_text(const char *dir, const char *name) {
        char *p = path2(dir, name), *s = calloc(1, 4096);
        FILE *f = fopen(p, "re");

        assert_non_null(f);
        assert_true(fread(s, 1, 4095, f) > 0);
        fclose(f);
        free(p);
        return s;
}

static void rm_rf(const char *dir) {
        char *cmd;

        assert_true(asprintf(&cmd, "rm -rf '%s'", dir) >= 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

/* ---- pure helpers ---------------------------------------------------- */

static void test_classify(void **state) {
        size_t n = 0;

        assert_int_equal(dropbox_classify("news.mp3", &n), DROPBOX_AUDIO);
        assert_int_equal(n, 4);
        assert_int_equal(dropbox_classify("NEWS.MP3", &n), DROPBOX_AUDIO);
        assert_int_equal(dropbox_classify("news.v2.txt", &n), DROPBOX_TXT);
        assert_int_equal(n, 7);
        assert_int_equal(dropbox_classify("a.vtt", &n), DROPBOX_VTT);
        assert_int_equal(dropbox_classify("a.SRT", &n), DROPBOX_SRT);
        /* Hidden (partial uploads), other types, no extension: not stories. */
        assert_int_equal(dropbox_classify(".news.mp3", &n), DROPBOX_OTHER);
        assert_int_equal(dropbox_classify("news.mp3.part", &n), DROPBOX_OTHER);
        assert_int_equal(dropbox_classify("news.wav", &n), DROPBOX_OTHER);
        assert_int_equal(dropbox_classify("news", &n), DROPBOX_OTHER);
        assert_int_equal(dropbox_classify("news.error", &n), DROPBOX_OTHER);
}

static void test_unique_stem(void **state) {
        char tmpl[] = "/tmp/test-dropbox.XXXXXX";
        const char *exts[] = {".mp3", ".txt", ".error", NULL};
        char *dir = mkdtemp(tmpl), *s = NULL;

        assert_non_null(dir);
        assert_int_equal(dropbox_unique_stem(dir, "news", exts, &s), 0);
        assert_string_equal(s, "news");
        free(s);
        write_text(dir, "news.txt", "x");
        assert_int_equal(dropbox_unique_stem(dir, "news", exts, &s), 0);
        assert_string_equal(s, "news-1");
        free(s);
        /* Any one of the extensions taken moves the whole pair on. */
        write_text(dir, "news-1.error", "x");
        write_text(dir, "news-2.wav", "x"); /* not ours: no clash */
        assert_int_equal(dropbox_unique_stem(dir, "news", exts, &s), 0);
        assert_string_equal(s, "news-2");
        free(s);
        rm_rf(dir);
}

/* ---- the whole path -------------------------------------------------- */

struct taken {
        int n;
        char audio[4][512];
        char transcript[4][512];
        int position[4];
        struct audio_scan scan[4];
        uint64_t at_ms[4];
        int fail; /* > 0: refuse with this errno */
};

static int take(const char *audio, const char *transcript, int position, const struct audio_scan *scan,
                char **ret_error, void *userdata) {
        struct taken *t = userdata;

        assert_true(t->n < 4);
        assert_non_null(scan);
        t->scan[t->n] = *scan;
        snprintf(t->audio[t->n], sizeof t->audio[0], "%s", audio);
        snprintf(t->transcript[t->n], sizeof t->transcript[0], "%s", transcript);
        t->position[t->n] = position;
        t->at_ms[t->n] = now_ms();
        t->n++;
        if (t->fail) {
                *ret_error = strdup("refused by the test");
                return -t->fail;
        }
        return 0;
}

static int count_errors(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                n += strstr(de->d_name, ".error") != NULL;
        closedir(d);
        return n;
}

struct fixture {
        char tmpl[64];
        char *dir;
        char *accepted;
        char *quarantine;
        sd_event *e;
        struct dropbox_config c;
        struct taken taken;
};

static void fixture_init(struct fixture *f, int position, int settle_ms) {
        memset(f, 0, sizeof *f);
        strcpy(f->tmpl, "/tmp/test-dropbox.XXXXXX");
        f->dir = mkdtemp(f->tmpl);
        assert_non_null(f->dir);
        f->accepted = path2(f->dir, "accepted");
        f->quarantine = path2(f->dir, "quarantine");
        assert_int_equal(sd_event_new(&f->e), 0);
        f->c = (struct dropbox_config){.path = f->dir, .position = position, .settle_ms = settle_ms};
}

static void fixture_done(struct fixture *f) {
        sd_event_unref(f->e);
        rm_rf(f->dir);
        free(f->accepted);
        free(f->quarantine);
}

/* Runs the loop until PRED holds (or fails after 5 s). */
static void run_until(struct fixture *f, bool (*pred)(struct fixture *f)) {
        uint64_t end = now_ms() + 5000;

        while (!pred(f)) {
                assert_true(now_ms() < end);
                assert_true(sd_event_run(f->e, 20000) >= 0);
        }
}

static bool three_outcomes(struct fixture *f) {
        return f->taken.n == 1 && count_errors(f->quarantine) == 2;
}

static void test_take_and_quarantine(void **state) {
        struct fixture f;
        struct dropbox *b = NULL;
        uint64_t written;
        char *err;

        fixture_init(&f, -1, 200);
        /* There before the start, and a name already used in accepted/. */
        copy_tone(f.dir, "good.mp3");
        write_text(f.dir, "good.txt", "The council met on Tuesday. It voted for the new park.\n");
        assert_int_equal(mkdir(f.accepted, 0755), 0);
        write_text(f.accepted, "good.txt", "an older story of the same name");
        written = now_ms();
        assert_int_equal(dropbox_new(f.e, &f.c, 1, 44100, &SEGMENT_OPTS_DEFAULT, take, &f.taken, &b), 0);

        /* Arriving while watched. */
        copy_tone(f.dir, "badtext.mp3");
        write_text(f.dir, "badtext.vtt", "WEBVTT\n\n00:00:01.000 --> not a time\nHello there.\n");
        write_text(f.dir, "garbage.mp3", "This is not an MP3 file at all.\n");
        write_text(f.dir, "garbage.txt", "Some words to speak.\n");
        write_text(f.dir, "lonely.txt", "Waiting for its audio.\n");
        run_until(&f, three_outcomes);

        assert_int_equal(f.taken.n, 1);
        assert_true(f.taken.at_ms[0] >= written + 200); /* the settle time held */
        assert_int_equal(f.taken.position[0], -1);
        /* the check's decode comes along: the story is not decoded again */
        assert_int_equal(f.taken.scan[0].rate, 44100);
        assert_true(llabs((long long)f.taken.scan[0].frames - 44100) < 1200); /* tone-1s.mp3 */
        assert_true(strstr(f.taken.audio[0], "/accepted/good-1.mp3") != NULL);
        assert_true(strstr(f.taken.transcript[0], "/accepted/good-1.txt") != NULL);
        assert_true(exists(f.accepted, "good-1.mp3") && exists(f.accepted, "good-1.txt"));
        assert_false(exists(f.dir, "good.mp3") || exists(f.dir, "good.txt"));

        assert_true(exists(f.quarantine, "badtext.mp3") && exists(f.quarantine, "badtext.vtt"));
        err = read_text(f.quarantine, "badtext.error");
        assert_true(strncmp(err, "badtext.vtt:3:", 14) == 0); /* file:line of the bad cue */
        free(err);
        assert_true(exists(f.quarantine, "garbage.mp3") && exists(f.quarantine, "garbage.txt"));
        err = read_text(f.quarantine, "garbage.error");
        assert_true(strncmp(err, "garbage.mp3: not decodable:", 27) == 0);
        free(err);

        /* The lone transcript waits in place. */
        assert_true(exists(f.dir, "lonely.txt"));
        assert_false(exists(f.quarantine, "lonely.txt") || exists(f.accepted, "lonely.txt"));
        /* Its partner arrives by rename (moved in): now it is taken, next up. */
        dropbox_free(b);
        f.c.position = 0;
        assert_int_equal(dropbox_new(f.e, &f.c, 1, 44100, &SEGMENT_OPTS_DEFAULT, take, &f.taken, &b), 0);
        copy_tone(f.accepted, "..lonely.tmp");
        {
                char *from = path2(f.accepted, "..lonely.tmp"), *to = path2(f.dir, "lonely.mp3");
                assert_int_equal(rename(from, to), 0);
                free(from);
                free(to);
        }
        while (f.taken.n < 2)
                assert_true(sd_event_run(f.e, 20000) >= 0);
        assert_int_equal(f.taken.position[1], 0);
        assert_true(strstr(f.taken.audio[1], "/accepted/lonely.mp3") != NULL);
        dropbox_free(b);
        fixture_done(&f);
}

static bool one_error(struct fixture *f) {
        return count_errors(f->c.quarantine ? f->c.quarantine : f->quarantine) == 1;
}

/* A story the queue refuses goes from accepted/ to quarantine with the reason. */
static void test_take_refused(void **state) {
        struct fixture f;
        struct dropbox *b = NULL;
        char *err;

        fixture_init(&f, 3, 0);
        f.taken.fail = EINVAL;
        f.c.quarantine = path2(f.dir, "q/deeper"); /* custom, not there yet */
        assert_int_equal(dropbox_new(f.e, &f.c, 1, 44100, &SEGMENT_OPTS_DEFAULT, take, &f.taken, &b), 0);
        copy_tone(f.dir, "story.mp3");
        write_text(f.dir, "story.srt", "1\n00:00:00,000 --> 00:00:01,000\nA timed line.\n");
        run_until(&f, one_error);
        assert_int_equal(f.taken.position[0], 3);
        assert_true(strstr(f.taken.transcript[0], "/accepted/story.srt") != NULL);
        assert_true(exists(f.c.quarantine, "story.mp3") && exists(f.c.quarantine, "story.srt"));
        assert_false(exists(f.accepted, "story.mp3"));
        err = read_text(f.c.quarantine, "story.error");
        assert_string_equal(err, "refused by the test\n");
        free(err);
        dropbox_free(b);
        free(f.c.quarantine);
        fixture_done(&f);
}

/* A file still open for writing is not taken, however long it is quiet. */
static void test_open_file_waits(void **state) {
        struct fixture f;
        struct dropbox *b = NULL;
        char *p;
        int fd;
        uint64_t end;

        fixture_init(&f, -1, 0);
        assert_int_equal(dropbox_new(f.e, &f.c, 1, 44100, &SEGMENT_OPTS_DEFAULT, take, &f.taken, &b), 0);
        write_text(f.dir, "slow.txt", "Words for the slow story.\n");
        p = path2(f.dir, "slow.mp3");
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "\xff\xfb", 2), 2); /* IN_MODIFY, no close yet */
        end = now_ms() + 300;
        while (now_ms() < end)
                assert_true(sd_event_run(f.e, 20000) >= 0);
        assert_int_equal(f.taken.n, 0);
        assert_int_equal(count_errors(f.quarantine), 0);
        close(fd); /* IN_CLOSE_WRITE: now complete -> checked -> quarantined (2 bytes do not decode) */
        run_until(&f, one_error);
        assert_true(exists(f.quarantine, "slow.mp3"));
        dropbox_free(b);
        free(p);
        fixture_done(&f);
}

static int setup(void **state) {
        return mpg123_init() == MPG123_OK ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classify),
                cmocka_unit_test(test_unique_stem),
                cmocka_unit_test(test_take_and_quarantine),
                cmocka_unit_test(test_take_refused),
                cmocka_unit_test(test_open_file_waits),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}
