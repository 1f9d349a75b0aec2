/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fileio: mkdir -p and the atomic replace shared by the state file,
 * the timing cache, the dropbox, the control socket and the archive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

struct fixture {
        char dir[64];
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);

        strcpy(f->dir, "/tmp/test-fileio.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        free(f);
        return system(cmd);
}

static char *slurp(const char *path) {
        static char buf[256];
        FILE *fp = fopen(path, "r");
        size_t n;

        if (!fp)
                return NULL;
        n = fread(buf, 1, sizeof buf - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        return buf;
}

static void test_mkdir_p(void **state) {
        struct fixture *f = *state;
        char path[128], file[128];
        struct stat st;

        snprintf(path, sizeof path, "%s/a//b/c/", f->dir);
        assert_int_equal(fileio_mkdir_p(path, 0755), 0);
        snprintf(path, sizeof path, "%s/a/b/c", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(fileio_mkdir_p(path, 0755), 0); /* already there */

        snprintf(file, sizeof file, "%s/plain", f->dir);
        assert_int_equal(fileio_write_atomic(file, file, "", false), 0);
        assert_int_equal(fileio_mkdir_p(file, 0755), -ENOTDIR); /* a file in the way */
        snprintf(path, sizeof path, "%s/plain/sub", f->dir);
        assert_int_equal(fileio_mkdir_p(path, 0755), -ENOTDIR);
}

static void test_write_atomic_replaces(void **state) {
        struct fixture *f = *state;
        char path[128], tmp[128];

        snprintf(path, sizeof path, "%s/state.json", f->dir);
        snprintf(tmp, sizeof tmp, "%s/state.json.tmp", f->dir);
        assert_int_equal(fileio_write_atomic(path, tmp, "{\"a\":1}", true), 0);
        assert_string_equal(slurp(path), "{\"a\":1}\n");
        assert_int_equal(fileio_write_atomic(path, tmp, "{\"a\":2}", false), 0);
        assert_string_equal(slurp(path), "{\"a\":2}\n");
        assert_int_equal(access(tmp, F_OK), -1); /* renamed, not left */
}

static void test_write_atomic_failure_keeps_old(void **state) {
        struct fixture *f = *state;
        char path[128], tmp[128];

        snprintf(path, sizeof path, "%s/keep", f->dir);
        snprintf(tmp, sizeof tmp, "%s/keep.tmp", f->dir);
        assert_int_equal(fileio_write_atomic(path, tmp, "old", false), 0);
        /* The temp file's directory does not exist: nothing is replaced. */
        snprintf(tmp, sizeof tmp, "%s/missing/keep.tmp", f->dir);
        assert_int_equal(fileio_write_atomic(path, tmp, "new", true), -ENOENT);
        assert_string_equal(slurp(path), "old\n");
        /* The rename fails (a directory is in the way): the temp file goes. */
        snprintf(path, sizeof path, "%s/adir", f->dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(tmp, sizeof tmp, "%s/adir.tmp", f->dir);
        assert_int_equal(fileio_write_atomic(path, tmp, "x", false), -EISDIR);
        assert_int_equal(access(tmp, F_OK), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_replaces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_failure_keeps_old, setup, teardown),
        };

        return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
