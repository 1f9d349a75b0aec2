/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-log.c: log lines are one line of valid text whatever a message
 * quotes (issue 8: a dropbox file named "x\n<0>nextupd: FORGED.mp3" wrote
 * a line the journal took at emergency priority). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void test_escape(void **state) {
        char buf[64];

        assert_int_equal(log_escape(buf, sizeof buf, "plain 'caf\xc3\xa9'\ttab"), 17);
        assert_string_equal(buf, "plain 'caf\xc3\xa9'\ttab");
        log_escape(buf, sizeof buf, "x\n<0>nextupd: FORGED.mp3");
        assert_string_equal(buf, "x\\n<0>nextupd: FORGED.mp3");
        log_escape(buf, sizeof buf, "a\rb\x1b[31mc\x7f");
        assert_string_equal(buf, "a\\rb\\x1b[31mc\\x7f");
        log_escape(buf, sizeof buf, "caf\xe9 \xc0\xaf \xed\xa0\x80 \xe2\x80");
        assert_string_equal(buf, "caf\\xe9 \\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x80");
        /* cut short, never in the middle of an escape or a character */
        assert_int_equal(log_escape(buf, 5, "ab\ncd"), 4);
        assert_string_equal(buf, "ab\\n");
        assert_int_equal(log_escape(buf, 5, "abc\xc3\xa9"), 3);
        assert_string_equal(buf, "abc");
}

/* The real logger, stderr redirected to a file: one line, with its
 * priority prefix and the forged one escaped. */
static void test_forged_line(void **state) {
        char path[] = "/tmp/test-log-XXXXXX", text[512] = "";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        FILE *f;
        size_t n;

        assert_true(fd >= 0 && saved >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        setenv("JOURNAL_STREAM", "1:1", 1);
        log_info("Queued '%s' from the dropbox", "x\n<0>nextupd: FORGED.mp3");
        fflush(stderr);
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        f = fdopen(fd, "r");
        rewind(f);
        n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        unlink(path);
        assert_string_equal(text, "<6>Queued 'x\\n<0>nextupd: FORGED.mp3' from the dropbox\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_forged_line),
        };

        return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
