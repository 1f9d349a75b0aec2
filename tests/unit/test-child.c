/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-child.c: a contained helper gets an empty signal mask, its own
 * process group, the CPU limit; its output comes back; a crash is a wait
 * status, not our problem; a timeout or a cancel kills the whole group
 * (grandchildren too) and returns promptly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"

static const struct child_limits limits = {
        .timeout_ms = 5000, .cpu_s = 7, .as_bytes = 1ULL << 30, .max_output = 1 << 20};

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sh(const char *script, const struct child_limits *lim, int cancel_fd, int *status, char **out) {
        char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};

        return child_run(argv, lim, cancel_fd, status, out, NULL);
}

/* Zombies count as gone: init reaps them in its own time. */
static int alive(pid_t pid) {
        char path[64], buf[256];
        FILE *f;
        char *p;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        p = fgets(buf, sizeof buf, f);
        fclose(f);
        p = p ? strrchr(buf, ')') : NULL;
        return p && p[2] != 'Z' && p[2] != 'X';
}

static void test_output_and_contained_start(void **state) {
        sigset_t all, old;
        char *out = NULL;
        int status = -1;

        (void)state;
        /* The worker runs with every signal blocked: the child must not. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        assert_int_equal(
                sh("grep SigBlk /proc/self/status; ulimit -t; ps -o pgid= -p $$ | tr -d ' '; echo $$",
                   &limits, -1, &status, &out),
                0);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        {
                char blk[64];
                unsigned long cpu;
                int pgid, pid;

                assert_int_equal(sscanf(out, "SigBlk: %63s %lu %d %d", blk, &cpu, &pgid, &pid), 4);
                assert_string_equal(blk, "0000000000000000");
                assert_int_equal(cpu, 7);
                assert_int_equal(pgid, pid); /* a group of its own */
                assert_int_not_equal(pgid, getpgrp());
        }
        free(out);
}

static void test_crash_is_a_status(void **state) {
        char *out = NULL;
        int status = -1;

        (void)state;
        assert_int_equal(sh("echo partial; kill -SEGV $$", &limits, -1, &status, &out), 0);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGSEGV);
        free(out);
}

static void test_timeout_kills_the_group(void **state) {
        struct child_limits lim = limits;
        char pidfile[] = "/tmp/test-child.XXXXXX";
        char *out = NULL;
        char script[256];
        int status = -1, fd, r;
        double t0;
        FILE *f;
        int grandchild = 0;

        (void)state;
        fd = mkstemp(pidfile);
        assert_true(fd >= 0);
        close(fd);
        lim.timeout_ms = 300;
        snprintf(script, sizeof script, "sleep 30 & echo $! > %s; wait", pidfile);
        t0 = now_s();
        r = sh(script, &lim, -1, &status, &out);
        assert_int_equal(r, -ETIMEDOUT);
        assert_null(out);
        assert_true(now_s() - t0 < 2.0);
        f = fopen(pidfile, "re");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%d", &grandchild), 1);
        fclose(f);
        unlink(pidfile);
        for (int i = 0; i < 100 && alive(grandchild); i++)
                usleep(10000);
        assert_false(alive(grandchild));
}

static void test_cancel(void **state) {
        char *out = NULL;
        int status = -1, efd;
        uint64_t one = 1;
        double t0;

        (void)state;
        efd = eventfd(0, EFD_CLOEXEC);
        assert_true(efd >= 0);
        assert_int_equal(write(efd, &one, sizeof one), (ssize_t)sizeof one);
        t0 = now_s();
        assert_int_equal(sh("sleep 30", &limits, efd, &status, &out), -ECANCELED);
        assert_true(now_s() - t0 < 1.0);
        close(efd);
}

static void test_too_much_output(void **state) {
        struct child_limits lim = limits;
        char *out = NULL;
        int status = -1;

        (void)state;
        lim.max_output = 1000;
        assert_int_equal(sh("yes", &lim, -1, &status, &out), -EFBIG);
        assert_null(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_output_and_contained_start),
                cmocka_unit_test(test_crash_is_a_status),
                cmocka_unit_test(test_timeout_kills_the_group),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_too_much_output),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
