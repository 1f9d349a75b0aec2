/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-fixture.h: what test-decoder.c and test-playout.c share: the
 * fixtures (tests/fixtures/, found through NEXTUP_SOURCE_DIR), a
 * temporary directory per test program, and the playout thread on a paced
 * wav or null output with its events. Static functions in a header: each
 * test program includes it once, after cmocka.h (static inline: a
 * program need not use them all). */
#pragma once

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aclock.h"
#include "output.h"
#include "playout.h"

#define RATE 44100
#define MS(x) ((uint64_t)(x)*1000000ULL)

/* How far an event's stamp may be from the time it names. The stamp is
 * taken when a paced write returns, and the thread that writes may wake
 * late: ~0.6 ms here, more on a loaded machine or in the sanitizer
 * builds. 5 or 20 ms still tell an exact start from the 100 ms idle
 * poll; the exact checks are on the frames. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define WAKE_SLACK_NS 20000000LL
#else
#define WAKE_SLACK_NS 5000000LL
#endif

static char tmpdir[64];

static inline const char *fixture(const char *name) {
        static char buf[4][1024];
        static int i;
        const char *src = getenv("NEXTUP_SOURCE_DIR");

        i = (i + 1) % 4;
        snprintf(buf[i], sizeof buf[i], "%s/tests/fixtures/%s", src ? src : ".", name);
        return buf[i];
}

static inline const char *tmpfile_path(const char *name) {
        static char buf[4][256];
        static int i;

        i = (i + 1) % 4;
        snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
        return buf[i];
}

/* cmocka group setup and teardown: a fresh /tmp/PREFIX.XXXXXX as tmpdir. */
static inline int tmpdir_setup(const char *prefix) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", prefix);
        return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int tmpdir_teardown(void **state) {
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static inline int wait_event(struct playout *p, struct playout_event *ev, int timeout_ms) {
        struct pollfd pfd = {.fd = playout_event_fd(p), .events = POLLIN};

        if (playout_next_event(p, ev) > 0)
                return 1;
        if (poll(&pfd, 1, timeout_ms) <= 0)
                return 0;
        return playout_next_event(p, ev);
}

static inline void expect_event(struct playout *p, enum playout_event_type type, uint64_t id,
                                struct playout_event *ret) {
        struct playout_event ev;

        assert_int_equal(wait_event(p, &ev, 3000), 1);
        if (ev.type != type || ev.item_id != id)
                fail_msg("expected event %d of #%llu, got %d of #%llu", type, (unsigned long long)id,
                         ev.type, (unsigned long long)ev.item_id);
        if (ret)
                *ret = ev;
}

static inline struct playout *start_playout(const char *driver, const char *file,
                                            struct aclock **ret_clock) {
        struct output_spec spec = {.driver = driver, .file = file, .rate = RATE, .channels = 2};
        struct output *out = NULL;
        struct playout *p = NULL;

        assert_int_equal(aclock_new(ret_clock), 0);
        assert_int_equal(output_open(&spec, &out), 0);
        assert_true(output_is_paced(out));
        assert_int_equal(playout_start(out, *ret_clock, RATE, 2, &p), 0);
        return p;
}

static inline void stop_playout(struct playout *p, struct aclock *clock) {
        assert_null(playout_stop(p));
        aclock_free(clock);
}
