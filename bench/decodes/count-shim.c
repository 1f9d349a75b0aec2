/* SPDX-License-Identifier: GPL-3.0-or-later */
/* count-shim.c: LD_PRELOAD for bench/decodes/run: counts the seconds of
 * audio libmpg123 decodes to PCM in this process (mpg123_read's output at
 * the stream's own format) and prints them at exit on stderr as
 * "decoded-seconds PID NAME S". mpg123_scan's header pass is not counted:
 * it reads frame headers, it does not decode. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <mpg123.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double decoded_s;

static void report(void) {
        char name[64] = "?";
        FILE *f = fopen("/proc/self/comm", "r");

        if (f) {
                if (fgets(name, sizeof name, f))
                        name[strcspn(name, "\n")] = '\0';
                fclose(f);
        }
        fprintf(stderr, "decoded-seconds %d %s %.3f\n", (int)getpid(), name, decoded_s);
}

__attribute__((constructor)) static void init(void) {
        atexit(report);
}

int mpg123_read(mpg123_handle *mh, void *out, size_t size, size_t *done) {
        static int (*real)(mpg123_handle *, void *, size_t, size_t *);
        long rate;
        int channels, encoding, r;

        if (!real)
                real = (int (*)(mpg123_handle *, void *, size_t, size_t *))dlsym(RTLD_NEXT, "mpg123_read");
        r = real(mh, out, size, done);
        if (done && *done > 0 && mpg123_getformat(mh, &rate, &channels, &encoding) == MPG123_OK && rate > 0)
                decoded_s += (double)*done / ((double)rate * channels * mpg123_encsize(encoding));
        return r;
}
