/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nbout.h: bounded, non-blocking output to a descriptor that may stall
 * (stdout or stderr into a pipe nobody reads, a stopped terminal, a
 * journald stream socket). Whole lines are queued in a fixed buffer and
 * written without ever blocking; a line that does not fit is dropped and
 * counted, never waited for. The caller serialises calls (one thread, or
 * its own lock); the descriptor is looked at on every call, so a
 * redirected stdout (dup2) is followed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbout {
        int fd;
        size_t cap;       /* bytes the buffer holds */
        size_t len;       /* bytes waiting in buf */
        uint64_t dropped; /* lines dropped since the last nbout_take_dropped */
        char *buf;        /* cap bytes, allocated at the first line that must wait */
};

#define NBOUT_INIT(f, capacity) ((struct nbout){.fd = (f), .cap = (capacity)})

/* Queues the N bytes at DATA (a whole line or more) and writes what the
 * descriptor takes now. 0 when queued (or written), -ENOBUFS when dropped
 * (counted), -ENOMEM. */
int nbout_write(struct nbout *o, const char *data, size_t n);
/* Writes what is waiting, as far as the descriptor takes it now. Returns
 * the bytes still waiting. */
size_t nbout_flush(struct nbout *o);
/* Lines dropped since the last call (and resets the count). */
uint64_t nbout_take_dropped(struct nbout *o);
/* Frees the buffer (what waits is lost). */
void nbout_done(struct nbout *o);
