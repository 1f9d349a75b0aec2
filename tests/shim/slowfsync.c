/* SPDX-License-Identifier: GPL-3.0-or-later */
/* slowfsync.c: an LD_PRELOAD shim standing in for a slow disk under one
 * directory: fsync(2) and fdatasync(2) of a file whose path starts with
 * $SLOWFSYNC_DIR first sleep $SLOWFSYNC_MS (default 300) milliseconds,
 * and say so on stderr (so a test can tell the shim was active). Other
 * files are synced at once. For tests only. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int under_dir(int fd) {
        const char *dir = getenv("SLOWFSYNC_DIR");
        char link[64], path[PATH_MAX];
        ssize_t n;

        if (!dir || !dir[0])
                return 0;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof path - 1);
        if (n < 0)
                return 0;
        path[n] = 0;
        return strncmp(path, dir, strlen(dir)) == 0;
}

static void delay(int fd) {
        const char *ms = getenv("SLOWFSYNC_MS");
        long v = ms ? strtol(ms, NULL, 10) : 300;
        struct timespec ts = {.tv_sec = v / 1000, .tv_nsec = (v % 1000) * 1000000L};

        if (!under_dir(fd))
                return;
        dprintf(STDERR_FILENO, "slowfsync: delaying fsync of fd %d by %ld ms\n", fd, v);
        while (nanosleep(&ts, &ts) < 0)
                ;
}

/* Resolved once, before any thread starts: a lazy first-call lookup from
 * two threads is a data race (TSan build). */
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

__attribute__((constructor)) static void resolve(void) {
        real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
}

int fsync(int fd) {
        delay(fd);
        return real_fsync(fd);
}

int fdatasync(int fd) {
        delay(fd);
        return real_fdatasync(fd);
}
