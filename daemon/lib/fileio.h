/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fileio.h: the few file-system helpers several modules need: creating a
 * directory with its parents, and replacing a small file atomically.
 * No state; any thread; they block (call them off the air path or accept
 * the cost). -errno on failure, nothing logged. */
#pragma once

#include <stdbool.h>
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

/* fsync(2) of the directory holding PATH's entries (PATH is the dir). */
int fileio_fsync_dir(const char *dir);
