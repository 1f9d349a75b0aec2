/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-common.h: what nextupctl's command files share: the default
 * socket, connecting to it, and reading fields of a reply. Client side
 * only (nextupctl is one thread). */
#pragma once

struct json_object;

#define CTL_DEFAULT_SOCKET "/run/nextup/control.sock"

/* Connects a blocking Unix stream socket to PATH; *RET_FD on success.
 * -ENAMETOOLONG for a path sockaddr_un cannot hold, else -errno. */
int ctl_connect(const char *path, int *ret_fd);

/* O's string (or integer) member KEY, FALLBACK when O is NULL or the
 * member is missing, null or of another type. The string is O's. */
const char *ctl_json_str(struct json_object *o, const char *key, const char *fallback);
long long ctl_json_int(struct json_object *o, const char *key, long long fallback);

/* PATH made absolute for the daemon, which resolves nothing against our
 * working directory: an existing file's real path, else cwd/PATH so the
 * daemon's error names the full path. malloc'd; NULL with errno set. */
char *ctl_abs_path(const char *path);
