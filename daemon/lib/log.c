/* SPDX-License-Identifier: GPL-3.0-or-later */
/* log.c: see log.h. One formatted line per call, written with a single
 * fputs so lines from the two threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int max_level = LOG_INFO;
static atomic_int prefix = -1; /* -1: not decided yet */

/* journald (and any pipe) gets "<N>" priority prefixes; a person at a
 * terminal gets plain lines. */
static bool want_prefix(void) {
        int p = atomic_load(&prefix);

        if (p < 0) {
                p = getenv("JOURNAL_STREAM") || !isatty(STDERR_FILENO);
                atomic_store(&prefix, p);
        }
        return p;
}

void log_set_max_level(int level) {
        atomic_store(&max_level, level);
}

int log_internal(int level, int error, const char *fmt, ...) {
        int e = abs(error);

        if (level <= atomic_load(&max_level)) {
                char buf[2048];
                va_list ap;
                int n;

                n = want_prefix() ? snprintf(buf, sizeof buf, "<%d>", level) : 0;
                errno = e;
                va_start(ap, fmt);
                vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
                va_end(ap);
                fprintf(stderr, "%s\n", buf);
        }
        return e ? -e : 0;
}
