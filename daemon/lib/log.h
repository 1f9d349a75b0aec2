/* SPDX-License-Identifier: GPL-3.0-or-later */
/* log.h: logging to stderr with <sd-daemon.h> priority prefixes, which
 * journald reads and a terminal still reads well. Thread-safe (one
 * line at a time under a lock); never blocks: lines wait in a bounded
 * buffer while stderr takes nothing, and are dropped (and counted) past it. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <syslog.h>

/* Writes what waits of the log (stderr stopped taking it for a while);
 * never blocks. Returns the bytes still waiting. Any thread; the loop
 * calls it once a second. */
size_t log_flush(void);

/* Messages above this priority (LOG_DEBUG > LOG_INFO ...) are dropped.
 * Set in main and again on reload; atomic, so any thread may log meanwhile. */
void log_set_max_level(int level);

/* Copies SRC into DST (SIZE bytes, NUL-terminated, cut short to fit)
 * with control characters but tab written as \n, \r or \xNN and bytes that
 * are not UTF-8 as \xNN: the result is one line of valid text. Returns
 * its length. log_internal() applies it to every message, so a quoted
 * file name or title can never forge a line or a "<N>" prefix. */
size_t log_escape(char *dst, size_t size, const char *src);

/* Logs one line (escaped, see log_escape); returns -abs(error) when error != 0, else 0. errno is set
 * to abs(error) first so "%m" prints it. */
int log_internal(int level, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_internal(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)
