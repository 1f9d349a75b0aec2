/* SPDX-License-Identifier: GPL-3.0-or-later */
/* log.c: see log.h. One formatted line per call, queued whole under a
 * lock so lines from the threads never interleave, and written without
 * ever blocking (nbout.h): a journald stream or a pipe that stops reading
 * must not stall the event loop or the playout thread. Up to LOG_BUFFER
 * bytes wait for it; past that lines are dropped, and the first line that
 * gets through again says how many. The line is
 * escaped after formatting, so that nothing a message quotes (a file name
 * from a dropbox, a story title, a client's request) can end it and start
 * another one, "<0>" priority prefix and all. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbout.h"

#define LOG_BUFFER (64U << 10)

static atomic_int max_level = LOG_INFO;
static atomic_int prefix = -1; /* -1: not decided yet */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nbout out = NBOUT_INIT(STDERR_FILENO, LOG_BUFFER); /* under out_lock */

/* journald (and any pipe) gets "<N>" priority prefixes; a person at a
 * terminal gets plain lines. */
static bool want_prefix(void) {
        int p = atomic_load(&prefix);

        if (p < 0) {
                p = getenv("JOURNAL_STREAM") || !isatty(STDERR_FILENO);
                atomic_store(&prefix, p);
        }
        return p;
}

void log_set_max_level(int level) {
        atomic_store(&max_level, level);
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s) {
        size_t len;
        uint32_t cp, min;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xE0) == 0xC0)
                len = 2, cp = s[0] & 0x1F, min = 0x80;
        else if ((s[0] & 0xF0) == 0xE0)
                len = 3, cp = s[0] & 0x0F, min = 0x800;
        else if ((s[0] & 0xF8) == 0xF0)
                len = 4, cp = s[0] & 0x07, min = 0x10000;
        else
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((s[k] & 0xC0) != 0x80) /* also stops at the NUL */
                        return 0;
                cp = (cp << 6) | (s[k] & 0x3F);
        }
        return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : len;
}

size_t log_escape(char *dst, size_t size, const char *src) {
        const unsigned char *s = (const unsigned char *)src;
        size_t o = 0;

        if (size == 0)
                return 0;
        while (*s) {
                size_t n = utf8_len(s);
                char esc[8];

                if (n == 1 && (*s < 0x20 || *s == 0x7f) && *s != '\t') {
                        if (*s == '\n')
                                strcpy(esc, "\\n");
                        else if (*s == '\r')
                                strcpy(esc, "\\r");
                        else
                                snprintf(esc, sizeof esc, "\\x%02x", *s);
                } else if (n == 0) {
                        snprintf(esc, sizeof esc, "\\x%02x", *s);
                        n = 1;
                } else {
                        if (o + n >= size)
                                break;
                        memcpy(dst + o, s, n);
                        o += n;
                        s += n;
                        continue;
                }
                if (o + strlen(esc) >= size)
                        break;
                memcpy(dst + o, esc, strlen(esc));
                o += strlen(esc);
                s++;
        }
        dst[o] = '\0';
        return o;
}

/* Queues one line (with its newline); says first what was dropped. */
static void emit(const char *line, size_t n) {
        pthread_mutex_lock(&out_lock);
        if (nbout_flush(&out) == 0 && out.dropped > 0) {
                char note[160];
                int k = snprintf(note, sizeof note,
                                 "%sLog: %llu line(s) dropped: stderr was not being read\n",
                                 want_prefix() ? "<4>" : "", (unsigned long long)nbout_take_dropped(&out));

                (void)nbout_write(&out, note, (size_t)k);
        }
        (void)nbout_write(&out, line, n);
        pthread_mutex_unlock(&out_lock);
}

size_t log_flush(void) {
        size_t left;

        pthread_mutex_lock(&out_lock);
        left = nbout_flush(&out);
        pthread_mutex_unlock(&out_lock);
        return left;
}

/* What still waits at exit gets one more (non-blocking) try. */
__attribute__((destructor)) static void log_flush_at_exit(void) {
        (void)log_flush();
}

int log_internal(int level, int error, const char *fmt, ...) {
        int e = abs(error);

        if (level <= atomic_load(&max_level)) {
                char msg[2048], buf[4096];
                va_list ap;
                int n;

                n = want_prefix() ? snprintf(buf, sizeof buf, "<%d>", level) : 0;
                errno = e;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof msg, fmt, ap);
                va_end(ap);
                n += (int)log_escape(buf + n, sizeof buf - 1 - (size_t)n, msg);
                buf[n++] = '\n';
                emit(buf, (size_t)n);
        }
        return e ? -e : 0;
}
