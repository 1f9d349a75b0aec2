/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-mediaroot.c: a path is accepted only when it resolves (after
 * symlinks and "..") under a root; a prefix that is not a folder boundary
 * does not count; missing and outside files give the same error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mediaroot.h"

static char dir[] = "/tmp/test-mediaroot.XXXXXX";

static void touch(const char *path) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fclose(f);
}

static void test_resolve(void **state) {
        char root[128], sibling[128], file[256], link[256], dotdot[256], outside[256], *real = NULL;
        char *roots[1];

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(root, sizeof root, "%s/media", dir);
        snprintf(sibling, sizeof sibling, "%s/media-other", dir);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_int_equal(mkdir(sibling, 0755), 0);
        snprintf(file, sizeof file, "%s/a.txt", root);
        touch(file);
        snprintf(outside, sizeof outside, "%s/b.txt", sibling);
        touch(outside);
        snprintf(link, sizeof link, "%s/link.txt", root);
        assert_int_equal(symlink(outside, link), 0);
        snprintf(dotdot, sizeof dotdot, "%s/../media-other/b.txt", root);
        roots[0] = root;

        assert_int_equal(mediaroot_resolve(roots, 1, file, &real), 0);
        assert_string_equal(real, file);
        free(real);
        real = NULL;
        /* "/x/media-other" starts with "/x/media" but is not under it. */
        assert_int_equal(mediaroot_resolve(roots, 1, outside, &real), -EACCES);
        assert_int_equal(mediaroot_resolve(roots, 1, link, &real), -EACCES);
        assert_int_equal(mediaroot_resolve(roots, 1, dotdot, &real), -EACCES);
        assert_int_equal(mediaroot_resolve(roots, 1, "/etc/shadow", &real), -EACCES);
        assert_int_equal(mediaroot_resolve(roots, 1, "/etc/no-such-file", &real), -EACCES);
        assert_int_equal(mediaroot_resolve(roots, 1, "relative.txt", &real), -EACCES);
        assert_null(real);

        unlink(link);
        unlink(file);
        unlink(outside);
        rmdir(root);
        rmdir(sibling);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve),
        };

        return cmocka_run_group_tests_name("mediaroot", tests, NULL, NULL);
}
