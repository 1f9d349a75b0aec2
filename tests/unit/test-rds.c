/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-rds: the RDS sink's timing and flags, driven through its ops on a
 * real sd-event loop with a FIFO as the encoder. A new text goes out at
 * once when the last one has stood dwell_ms, else exactly when it has (a
 * timer, never earlier); the A/B flag flips with each new text and stays
 * when the same text is sent again; now_next alternates the title and
 * "Next: ..." every dwell; the captions policy sends the title, then
 * chunks of at most 64 characters, skipping the oldest when speech runs
 * ahead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"

#define DWELL_MS 300

struct msg {
        uint64_t at_ms;
        unsigned char data[600];
        size_t len;
};

struct fx {
        char dir[64], fifo[96];
        int rfd;
        sd_event *e;
        struct sink *sink;
        struct msg msgs[32];
        size_t n;
};

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop for MS, collecting what the encoder got (one read per
 * message: the sink writes each whole, well under PIPE_BUF). */
static void run(struct fx *f, int ms) {
        uint64_t end = now_ms() + (uint64_t)ms;

        do {
                assert_true(sd_event_run(f->e, 2000) >= 0);
                for (;;) {
                        struct msg *m = &f->msgs[f->n];
                        ssize_t n = read(f->rfd, m->data, sizeof m->data);

                        if (n <= 0)
                                break;
                        assert_true(f->n < 31);
                        m->len = (size_t)n;
                        m->at_ms = now_ms();
                        f->n++;
                }
        } while (now_ms() < end);
}

static void fx_start(struct fx *f, enum rds_dialect dialect, enum rds_policy policy) {
        struct sink_config sc = {
                .type = SINK_RDS,
                .dialect = dialect,
                .policy = policy,
                .dwell_ms = DWELL_MS,
                .rt_plus = false,
        };

        memset(f, 0, sizeof *f);
        strcpy(f->dir, "/tmp/test-rds-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->fifo, sizeof f->fifo, "%s/ctl", f->dir);
        assert_int_equal(mkfifo(f->fifo, 0600), 0);
        f->rfd = open(f->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        assert_true(f->rfd >= 0);
        sc.path = f->fifo;
        assert_int_equal(sd_event_new(&f->e), 0);
        assert_int_equal(sink_new(f->e, &sc, &f->sink), 0);
}

static void fx_stop(struct fx *f) {
        sink_free(f->sink);
        sd_event_unref(f->e);
        close(f->rfd);
        unlink(f->fifo);
        rmdir(f->dir);
}

static struct story *story(const char *title, const char *const *texts, size_t n) {
        struct story *st = calloc(1, sizeof *st);

        st->title = strdup(title);
        st->cues = calloc(1, sizeof *st->cues);
        st->cues->cues = calloc(n ? n : 1, sizeof(struct cue));
        st->cues->n_cues = n;
        for (size_t i = 0; i < n; i++) {
                st->cues->cues[i].text = strdup(texts[i]);
                st->cues->cues[i].spoken = strdup(texts[i]);
                st->cues->cues[i].start_ms = (int64_t)i * 100;
                st->cues->cues[i].end_ms = (int64_t)i * 100 + 100;
        }
        return st;
}

/* The RT text and A/B flag of UECP message M (one frame, no stuffing in
 * these texts). */
static void uecp_rt(const struct msg *m, char *text, int *ab) {
        const unsigned char *p = m->data;

        assert_int_equal(p[0], 0xFE);
        assert_int_equal(p[m->len - 1], 0xFF);
        assert_int_equal(p[5], 0x0A); /* MEC: RadioText */
        *ab = p[9] & 1;
        memcpy(text, p + 10, p[8] - 1u);
        text[p[8] - 1u] = '\0';
}

static void test_dwell_and_ab(void **state) {
        struct fx f;
        struct story *a = story("First story", NULL, 0), *b = story("Second story", NULL, 0);
        char text[80];
        int ab[6];
        uint64_t t0;

        fx_start(&f, RDS_DIALECT_UECP, RDS_POLICY_NOW_NEXT);
        t0 = now_ms();
        assert_int_equal(f.sink->ops->story_start(f.sink, a), 0);
        run(&f, 50);
        assert_int_equal(f.n, 1); /* at once: nothing was up */
        uecp_rt(&f.msgs[0], text, &ab[0]);
        assert_string_equal(text, "First story");
        assert_true(f.msgs[0].at_ms - t0 < 40);

        /* Next up 50 ms later: waits for the title's dwell, then the two
         * alternate every dwell */
        assert_int_equal(f.sink->ops->next_up(f.sink, b, 0), 0);
        run(&f, 3 * DWELL_MS + 100);
        assert_int_equal(f.n, 4);
        for (size_t i = 1; i < 4; i++) {
                uint64_t gap = f.msgs[i].at_ms - f.msgs[i - 1].at_ms;

                print_message("gap %llu ms\n", (unsigned long long)gap);
                assert_true(gap >= DWELL_MS - 15); /* the reader polls: its timestamps jitter */
                assert_true(gap <= DWELL_MS + 40);
                uecp_rt(&f.msgs[i], text, &ab[i]);
                assert_string_equal(text, i % 2 ? "Next: Second story" : "First story");
                assert_int_not_equal(ab[i], ab[i - 1]); /* new text: the flag flips */
        }

        /* nothing next: the title comes back after its dwell (if "Next" was
         * last up) and then stays, not sent again and again */
        assert_int_equal(f.sink->ops->next_up(f.sink, NULL, 0), 0);
        run(&f, 3 * DWELL_MS);
        uecp_rt(&f.msgs[f.n - 1], text, &ab[5]);
        assert_string_equal(text, "First story");
        assert_true(f.n <= 5);
        story_free(a);
        story_free(b);
        fx_stop(&f);
}

static void test_captions_policy(void **state) {
        static const char *const texts[] = {
                "Workers in Harbor Town began rebuilding\nthe old pier this week.",
                ">> Dr. Ellen Park of the U.S. Coast Guard says the wood was rotten and nobody was hurt at "
                "all, which is a relief for everyone.",
                "Fishing boats will dock nearby.",
                "Until then.",
        };
        struct story *st = story("Harbor Town Rebuilds Its Old Pier", texts, 4);
        struct cue_emit e = {0};
        struct fx f;

        fx_start(&f, RDS_DIALECT_FIFO, RDS_POLICY_CAPTIONS);
        assert_int_equal(f.sink->ops->story_start(f.sink, st), 0);
        run(&f, 20);
        assert_int_equal(f.n, 1);
        assert_memory_equal(f.msgs[0].data, "RT Harbor Town Rebuilds Its Old Pier\n", f.msgs[0].len);
        /* cue 0 while the title stands: waits for the dwell */
        assert_int_equal(f.sink->ops->cue(f.sink, st, &st->cues->cues[0], &e), 0);
        run(&f, DWELL_MS + 50);
        assert_int_equal(f.n, 2);
        assert_memory_equal(f.msgs[1].data,
                            "RT Workers in Harbor Town began rebuilding the old pier this week.\n",
                            f.msgs[1].len);
        /* cue 1 gives two chunks (cut at a word, <= 64), then cues 2 and 3
         * arrive before they could go out: the queue keeps the newest two */
        assert_int_equal(f.sink->ops->cue(f.sink, st, &st->cues->cues[1], &e), 0);
        assert_int_equal(f.sink->ops->cue(f.sink, st, &st->cues->cues[2], &e), 0);
        assert_int_equal(f.sink->ops->cue(f.sink, st, &st->cues->cues[3], &e), 0);
        run(&f, 3 * DWELL_MS + 50);
        assert_int_equal(f.n, 4);
        assert_memory_equal(f.msgs[2].data, "RT Fishing boats will dock nearby.\n", f.msgs[2].len);
        assert_memory_equal(f.msgs[3].data, "RT Until then.\n", f.msgs[3].len);
        for (size_t i = 0; i < f.n; i++)
                assert_true(f.msgs[i].len - 4 <= 64);
        assert_true(f.msgs[2].at_ms - f.msgs[1].at_ms >= DWELL_MS - 15);
        assert_true(f.msgs[3].at_ms - f.msgs[2].at_ms >= DWELL_MS - 15);
        assert_int_equal(f.sink->ops->story_end(f.sink, st), 0);
        story_free(st);
        fx_stop(&f);
}

/* A cue longer than 64 characters is cut on word boundaries. */
static void test_chunks(void **state) {
        static const char *const texts[] = {
                "Dr. Ellen Park of the U.S. Coast Guard says the wood was rotten and "
                "nobody was hurt."};
        struct story *st = story("T", texts, 1);
        struct cue_emit e = {0};
        struct fx f;

        fx_start(&f, RDS_DIALECT_FIFO, RDS_POLICY_CAPTIONS);
        assert_int_equal(f.sink->ops->story_start(f.sink, st), 0);
        run(&f, DWELL_MS + 20);
        assert_int_equal(f.sink->ops->cue(f.sink, st, &st->cues->cues[0], &e), 0);
        run(&f, 2 * DWELL_MS + 50);
        assert_int_equal(f.n, 3);
        assert_memory_equal(f.msgs[1].data,
                            "RT Dr. Ellen Park of the U.S. Coast Guard says the wood was rotten\n",
                            f.msgs[1].len);
        assert_memory_equal(f.msgs[2].data, "RT and nobody was hurt.\n", f.msgs[2].len);
        story_free(st);
        fx_stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dwell_and_ab),
                cmocka_unit_test(test_captions_policy),
                cmocka_unit_test(test_chunks),
        };

        signal(SIGPIPE, SIG_IGN); /* as nextupd */
        return cmocka_run_group_tests(tests, NULL, NULL);
}
