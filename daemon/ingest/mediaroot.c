/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mediaroot.c: see mediaroot.h. realpath(3) only looks at names and
 * metadata (it never opens the file), so a FIFO or device costs nothing
 * here; opening is the caller's, with fileio_open_regular. */
#include "mediaroot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static bool under(const char *path, const char *root) {
        size_t n = strlen(root);

        if (strcmp(root, "/") == 0)
                return true;
        return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mediaroot_resolve(char *const *roots, size_t n_roots, const char *path, char **ret_real) {
        _cleanup_free_ char *real = NULL;

        if (!path || path[0] != '/')
                return -EACCES;
        real = realpath(path, NULL);
        if (!real)
                return errno == ENOMEM ? -ENOMEM : -EACCES;
        for (size_t i = 0; i < n_roots; i++) {
                _cleanup_free_ char *root = realpath(roots[i], NULL);

                if (root && under(real, root)) {
                        *ret_real = TAKE_PTR(real);
                        return 0;
                }
        }
        return -EACCES;
}
