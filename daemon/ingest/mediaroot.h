/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mediaroot.h: which files a client may have the daemon read. Audio and
 * transcripts must resolve, after every symlink, to a path under one of
 * the configured media roots (config media_roots). Any thread; no state. */
#pragma once

#include <stddef.h>

/* Resolves PATH with realpath(3) and checks that it is ROOT or under it
 * for one of ROOTS (each resolved the same way; a root that does not
 * resolve counts for nothing). 0 with *RET_REAL (caller frees); -EACCES
 * when PATH does not resolve (missing, unreadable folder) or lies outside
 * every root: callers say "not found or not readable" for both, so a
 * client learns nothing about files it may not read. -ENOMEM. */
int mediaroot_resolve(char *const *roots, size_t n_roots, const char *path, char **ret_real);
