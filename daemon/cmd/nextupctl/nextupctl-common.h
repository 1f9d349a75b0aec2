/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-common.h: what nextupctl's command files share: the default
 * socket, connecting to it, and reading fields of a reply. Client side
 * only (nextupctl is one thread). */
#pragma once

struct json_object;

#define CTL_DEFAULT_SOCKET "/run/nextup/control.sock"
#define CTL_REPLY_TIMEOUT_MS 10000
#define CTL_REPLY_MAX (64u * 1024u * 1024u)
#define CTL_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

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

/* CLOCK_MONOTONIC in ms: the base of the deadlines below. */
long long ctl_now_ms(void);
/* Sends REQ as one line on FD before DEADLINE (ctl_now_ms): 0, -ETIMEDOUT, -errno. */
int ctl_send(int fd, struct json_object *req, long long deadline);
/* One request on a fresh connection to PATH: sends REQ, *RET_REPLY the
 * reply line (caller frees). On failure prints why ("cannot connect",
 * no reply in time, closed) and returns -errno; a failed connect is
 * -ECONNREFUSED, -ENOENT ... as connect(2) said. */
int ctl_exchange(const char *path, struct json_object *req, char **ret_reply);
/* 0 for a well-formed {"ok":true} REPLY; else prints it (LINE: the raw
 * text) and returns -EBADMSG (not a reply) or -EREMOTEIO (ok false). */
int ctl_check_reply(struct json_object *reply, const char *line);
/* ctl_exchange and ctl_check_reply: *RET the parsed ok reply (caller puts). */
int ctl_request(const char *path, struct json_object *req, struct json_object **ret);
