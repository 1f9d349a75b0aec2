/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fileio.c: see fileio.h. Kept apart so that the state file, the timing
 * cache, the dropbox, the control socket's directory and the WebVTT
 * archive share one mkdir -p and one write-then-rename, instead of each
 * carrying a copy with its own error conventions. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static int mkdir_one(const char *path, mode_t mode) {
        struct stat st;

        if (mkdir(path, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        /* EEXIST names any kind of file: only a directory will do. */
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fileio_mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        int r;

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/' || s[-1] == '/')
                        continue;
                *s = '\0';
                r = mkdir_one(p, mode);
                if (r < 0)
                        return r;
                *s = '/';
        }
        return mkdir_one(p, mode);
}

int fileio_fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

static int write_all(int fd, const char *text, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, text, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                text += n;
                len -= (size_t)n;
        }
        return 0;
}

int fileio_write_atomic(const char *path, const char *tmp_path, const char *text, bool sync_dir) {
        _cleanup_free_ char *dir = NULL;
        char *slash;
        int fd, r;

        fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, strlen(text));
        if (r >= 0)
                r = write_all(fd, "\n", 1);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp_path, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp_path); /* give the space back */
                return r;
        }
        if (!sync_dir)
                return 0;
        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash)
                return fileio_fsync_dir(".");
        slash[slash == dir ? 1 : 0] = '\0';
        return fileio_fsync_dir(dir);
}
