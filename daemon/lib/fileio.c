/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fileio.c: see fileio.h. Kept apart so that the state file, the timing
 * cache, the dropbox, the control socket's directory and the WebVTT
 * archive share one mkdir -p and one write-then-rename, instead of each
 * carrying a copy with its own error conventions. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
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

int fileio_open_regular(const char *path, int extra_flags, int *ret_fd, struct stat *ret_st) {
        _cleanup_close_ int fd = -1;
        struct statfs sfs;
        struct stat st;

        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | extra_flags);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC)
                return -EPERM;
        if (ret_st)
                *ret_st = st;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int fileio_read_regular(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap;
        struct stat st;
        int r;

        r = fileio_open_regular(path, 0, &fd, &st);
        if (r < 0)
                return r;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        /* The size is a hint: the file may grow while we read. */
        cap = (size_t)st.st_size + 1;
        buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, cap - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
                if (len == cap) {
                        char *p;

                        cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        p = realloc(buf, cap + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

const char *fileio_strerror(int r) {
        switch (r) {
        case -ENOENT:
        case -ENOTDIR:
        case -EACCES:
        case -EPERM:
        case -ELOOP:
                /* One answer: a client must not learn whether a file it
                 * may not read exists. */
                return "not found or not readable";
        case -EISDIR:
        case -EINVAL:
                return "not a regular file";
        case -EFBIG:
                return "too large";
        default:
                return strerror(-r);
        }
}
