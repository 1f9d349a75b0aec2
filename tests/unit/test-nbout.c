/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-nbout: bounded non-blocking output into a pipe nobody reads: no
 * call blocks, lines wait up to the buffer's size, then are dropped and
 * counted; what waited comes out in order once the pipe is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nbout.h"

/* A pipe of one page, filled: a blocking write to it would hang. */
static void full_pipe(int p[2]) {
        char junk[512];
        int fl;

        memset(junk, 'x', sizeof junk);
        assert_int_equal(pipe(p), 0);
        assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
        fl = fcntl(p[1], F_GETFL);
        fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
        while (write(p[1], junk, sizeof junk) > 0)
                ;
        fcntl(p[1], F_SETFL, fl); /* blocking again, as a shell hands it over */
}

static size_t drain(int fd, char *buf, size_t size) {
        size_t n = 0;
        ssize_t k;

        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        while (n < size && (k = read(fd, buf + n, size - n)) > 0)
                n += (size_t)k;
        return n;
}

static void test_full_pipe_drops_then_recovers(void **state) {
        struct nbout o = NBOUT_INIT(-1, 64);
        char line[32], got[16384];
        int p[2], queued = 0, dropped = 0;
        size_t n;

        (void)state;
        full_pipe(p);
        o.fd = p[1];
        for (int i = 0; i < 20; i++) {
                int k = snprintf(line, sizeof line, "line %02d\n", i); /* 8 bytes */
                int r = nbout_write(&o, line, (size_t)k);

                assert_true(r == 0 || r == -ENOBUFS);
                if (r == 0)
                        queued++;
                else
                        dropped++;
        }
        assert_int_equal(queued, 8); /* 64 bytes of 8-byte lines */
        assert_int_equal(dropped, 12);
        assert_int_equal(o.len, 64);
        assert_int_equal(nbout_take_dropped(&o), 12);
        assert_int_equal(nbout_take_dropped(&o), 0);

        n = drain(p[0], got, sizeof got);
        assert_true(n >= 4096 - 512);
        assert_int_equal(nbout_flush(&o), 0);
        n = drain(p[0], got, sizeof got);
        got[n] = 0;
        assert_string_equal(got, "line 00\nline 01\nline 02\nline 03\nline 04\nline 05\nline 06\nline 07\n");
        /* room again: straight through, nothing kept */
        assert_int_equal(nbout_write(&o, "more\n", 5), 0);
        assert_int_equal(o.len, 0);
        n = drain(p[0], got, sizeof got);
        assert_int_equal(n, 5);
        nbout_done(&o);
        close(p[0]);
        close(p[1]);
}

/* A reader gone: lines are dropped (counted), nothing blocks or raises
 * SIGPIPE's default. */
static void test_reader_gone(void **state) {
        struct nbout o = NBOUT_INIT(-1, 64);
        int p[2];

        (void)state;
        assert_int_equal(pipe(p), 0);
        close(p[0]);
        o.fd = p[1];
        signal(SIGPIPE, SIG_IGN);
        assert_int_equal(nbout_write(&o, "x\n", 2), -ENOBUFS);
        assert_int_equal(nbout_take_dropped(&o), 1);
        nbout_done(&o);
        close(p[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_pipe_drops_then_recovers),
                cmocka_unit_test(test_reader_gone),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
