/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fixture: where the shared story fixtures are. NEXTUP_SHARED_DIR when set,
 * else ../shared next to the source tree (NEXTUP_SOURCE_DIR, set by ctest).
 * A test whose fixture is missing skips and says which file it wanted. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The path of REL under the shared folder, or NULL after printing why the
 * test is skipped (the caller then calls skip()). Free with free(). */
static inline char *fixture_shared(const char *rel) {
        const char *shared = getenv("NEXTUP_SHARED_DIR"), *src = getenv("NEXTUP_SOURCE_DIR");
        char *path;

        if (shared && *shared) {
                if (asprintf(&path, "%s/%s", shared, rel) < 0)
                        return NULL;
        } else if (asprintf(&path, "%s/../shared/%s", src ? src : ".", rel) < 0)
                return NULL;
        if (access(path, R_OK) < 0) {
                print_message("skipped: fixture '%s' not found (set NEXTUP_SHARED_DIR)\n", path);
                free(path);
                return NULL;
        }
        return path;
}
