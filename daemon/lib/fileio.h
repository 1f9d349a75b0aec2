/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fileio.h: the few file-system helpers several modules need: creating a
 * directory with its parents, and replacing a small file atomically.
 * No state; any thread; they block (call them off the air path or accept
 * the cost). -errno on failure, nothing logged. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* mkdir -p PATH with MODE for every directory created. 0 also when PATH
 * already is a directory; -ENOTDIR when it (or a parent) is something
 * else. */
int fileio_mkdir_p(const char *path, mode_t mode);

/* Writes TEXT and a newline to TMP_PATH, fsyncs it and renames it over
 * PATH (same directory), so a reader sees the old file or the new one,
 * never a torn one. With SYNC_DIR the directory is fsync'd too, so the
 * rename itself survives a power cut. On failure TMP_PATH is removed (a
 * full disk gets its space back) and PATH is untouched. */
int fileio_write_atomic(const char *path, const char *tmp_path, const char *text, bool sync_dir);

/* Opens PATH read-only without ever blocking on it: O_NONBLOCK (a FIFO
 * opens at once instead of waiting for a writer), O_NOCTTY, O_CLOEXEC,
 * plus EXTRA_FLAGS (e.g. O_NOFOLLOW). Only a regular file is kept:
 * -EISDIR for a directory, -EINVAL for a FIFO, socket or device, -EPERM
 * for a file of /proc or /sys (their size and contents are synthesised
 * on read). The returned fd is a regular file, where O_NONBLOCK has no
 * effect on reads. *RET_ST (may be NULL) gets its fstat. */
int fileio_open_regular(const char *path, int extra_flags, int *ret_fd, struct stat *ret_st);

/* Reads the regular file at PATH (fileio_open_regular) whole into
 * *RET (NUL-terminated, *RET_LEN bytes, caller frees); -EFBIG past MAX
 * bytes. */
int fileio_read_regular(const char *path, size_t max, char **ret, size_t *ret_len);

/* The message for an error of fileio_open_regular/fileio_read_regular,
 * for replies and logs: "not found or not readable" (one answer for
 * both), "not a regular file", "too large", else strerror. */
const char *fileio_strerror(int r);

/* fsync(2) of the directory holding PATH's entries (PATH is the dir). */
int fileio_fsync_dir(const char *dir);
